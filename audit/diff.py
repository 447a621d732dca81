"""The one shape of `AuditEvent.changes`: `{field: {"before": x, "after": y}}` (a create has
before null, a delete after null). Secrets never appear: a field named in SECRET_FIELDS is
recorded as a marker ("(secret)", "(changed)"), whatever the caller passed."""

import datetime
import decimal
import uuid
from typing import Any

SECRET_FIELDS = frozenset(
    {
        "password",
        "password_hash",
        "current_password",
        "new_password",
        "secret",
        "secret_hash",
        "token",
        "key",
        "key_hash",
        "hashed_key",
        "recovery_codes",
        "totp_key",
        "verification_token",
    }
)
SECRET = "(secret)"
CHANGED = "(changed)"


def plain(value: Any) -> Any:
    """A JSON value for a field: dates as ISO text, model instances by name, lists kept."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, list | tuple | set | frozenset):
        items = [plain(v) for v in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    return str(value)


def snapshot(obj: Any, fields) -> dict[str, Any]:
    """The named fields of `obj` as plain values (secret fields as a marker)."""
    return {f: (SECRET if f in SECRET_FIELDS else plain(getattr(obj, f))) for f in fields}


def _pair(field: str, before: Any, after: Any) -> dict[str, Any]:
    if field in SECRET_FIELDS:
        return {
            "before": None if before is None else SECRET,
            "after": None if after is None else (CHANGED if before is not None else SECRET),
        }
    return {"before": plain(before), "after": plain(after)}


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Fields whose value differs between two snapshots (a key missing on one side is null)."""
    result = {}
    for field in [*before, *(k for k in after if k not in before)]:
        b, a = plain(before.get(field)), plain(after.get(field))
        if b != a or (field in SECRET_FIELDS and field in after):
            result[field] = _pair(field, before.get(field), after.get(field))
    return result


def created(after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f: _pair(f, None, v) for f, v in after.items()}


def deleted(before: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f: _pair(f, v, None) for f, v in before.items()}


def secret_changed(*fields: str) -> dict[str, dict[str, Any]]:
    """A secret was replaced: that it changed, never what it was or became."""
    return {f: {"before": SECRET, "after": CHANGED} for f in fields}


def scrub(changes: Any) -> Any:
    """The last guard before a row is written: any value under a secret field's name, at any
    depth, becomes the marker."""
    if isinstance(changes, dict):
        out = {}
        for key, value in changes.items():
            if key in SECRET_FIELDS and not _is_marker(value):
                out[key] = (
                    _pair(key, value.get("before"), value.get("after"))
                    if isinstance(value, dict) and set(value) <= {"before", "after"}
                    else SECRET
                )
            else:
                out[key] = scrub(value)
        return out
    if isinstance(changes, list):
        return [scrub(v) for v in changes]
    return changes


def _is_marker(value: Any) -> bool:
    return isinstance(value, dict) and set(value.values()) <= {None, SECRET, CHANGED}
