"""Typed helpers that read settings from the environment, in one place.

Every helper refuses a value it cannot read: the process stops at start-up with an
ImproperlyConfigured error naming the variable (a typo such as `DEBUG=ture` must not quietly mean
"off"). Each variable `NAME` may instead be given as `NAME_FILE`, the path of a file holding the
value (compose and Kubernetes secrets), as healthchecks does; setting both is an error.
"""

import os
import re
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _raw(name: str) -> str | None:
    """The variable's value, from NAME or the file NAME_FILE names; None when neither is set."""
    value = os.environ.get(name)
    path = os.environ.get(f"{name}_FILE")
    if path:
        if value:
            raise ImproperlyConfigured(f"Set {name} or {name}_FILE, not both.")
        try:
            with open(path, encoding="utf-8") as handle:
                # A trailing newline is how editors and `echo` end a file, not part of a secret.
                return handle.read().rstrip("\r\n")
        except OSError as exc:
            raise ImproperlyConfigured(
                f"{name}_FILE: cannot read {path!r} ({exc.strerror})."
            ) from exc
    return value


def env_str(name: str, default: str = "", *, pattern: str | None = None) -> str:
    """A string; with `pattern`, a value that does not match it (whole) is refused."""
    value = _raw(name)
    if value is None or value == "":
        return default
    if pattern is not None and not re.fullmatch(pattern, value):
        raise ImproperlyConfigured(f"{name} has an invalid value {value!r}.")
    return value


def env_choice(name: str, default: str, choices: Iterable[str]) -> str:
    allowed = list(choices)
    value = env_str(name, default)
    if value not in allowed:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(allowed)}, not {value!r}.")
    return value


def env_bool(name: str, default: bool = False) -> bool:
    value = _raw(name)
    if value is None or value.strip() == "":
        return default
    word = value.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name} must be a boolean (1/0, true/false, yes/no, on/off), not {value!r}."
    )


def env_int(
    name: str, default: int, *, min_value: int | None = 0, max_value: int | None = None
) -> int:
    """A whole number, at least `min_value` (0 unless told) and at most `max_value`."""
    value = _raw(name)
    if value is None or value.strip() == "":
        return default
    try:
        number = int(value.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}.") from None
    if min_value is not None and number < min_value:
        raise ImproperlyConfigured(f"{name} must be at least {min_value}, not {number}.")
    if max_value is not None and number > max_value:
        raise ImproperlyConfigured(f"{name} must be at most {max_value}, not {number}.")
    return number


def env_float(name: str, default: float, *, min_value: float = 0.0) -> float:
    value = _raw(name)
    if value is None or value.strip() == "":
        return default
    try:
        number = float(value.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, not {value!r}.") from None
    if not number >= min_value or number == float("inf"):  # also refuses nan
        raise ImproperlyConfigured(f"{name} must be a finite number of at least {min_value}.")
    return number


def env_url(name: str, default: str = "", *, schemes: Iterable[str]) -> str:
    """A URL with one of `schemes`. The value is never echoed: it may hold a password."""
    allowed = set(schemes)
    value = env_str(name, default)
    if not value:
        return value
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 -- raises ValueError on a port that is not a number
    except ValueError:
        raise ImproperlyConfigured(f"{name} is not a valid URL.") from None
    if parts.scheme not in allowed:
        raise ImproperlyConfigured(
            f"{name} must be a URL starting with one of "
            f"{', '.join(sorted(s + '://' for s in allowed))}."
        )
    if not parts.netloc and not parts.path:
        raise ImproperlyConfigured(f"{name} is not a valid URL: it names no host or path.")
    return value


def env_list(
    name: str, default: str = "", *, item: Callable[[str], bool] | None = None
) -> list[str]:
    """Comma-separated items; an item with inner whitespace, or one `item` refuses, is an error."""
    value = _raw(name)
    if value is None:
        value = default
    items = [part.strip() for part in value.split(",") if part.strip()]
    for entry in items:
        if any(ch.isspace() for ch in entry) or (item is not None and not item(entry)):
            raise ImproperlyConfigured(
                f"{name} has an invalid item {entry!r} (items are separated by commas)."
            )
    return items
