"""Sizes in bytes, the one place that reads, writes and bounds them (forms, pages, API, services).

Binary units throughout: 1 KiB = 1024 bytes, 1 GiB = 1024 MiB, as Dovecot counts quotas. A
quota above `MAILADMIN_MAX_QUOTA_BYTES` (default 16 TiB) is refused for everyone, operators
included: at that size it is a typo, and it keeps every sum of quotas far from the int64 columns.
"""

import re
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ValidationError

KIB = 1024
MIB = 1024**2
GIB = 1024**3
TIB = 1024**4
PIB = 1024**5
EIB = 1024**6
# Units a person may type and read; the single letters are Dovecot's shorthand (binary too).
FACTORS = {
    "B": 1,
    "KiB": KIB,
    "MiB": MIB,
    "GiB": GIB,
    "TiB": TIB,
    "PiB": PIB,
    "EiB": EIB,
}
_SHORT = {"K": KIB, "M": MIB, "G": GIB, "T": TIB, "P": PIB, "E": EIB}
_READ = {name.lower(): factor for name, factor in (FACTORS | _SHORT).items()}
_SIZE_RE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*$")


def max_quota_bytes() -> int:
    return settings.MAILADMIN_MAX_QUOTA_BYTES


def format_size(value: int | None) -> str:
    """Bytes for people, in the largest binary unit that keeps a number of at least 1:
    1073741824 -> "1 GiB", 1610612736 -> "1.5 GiB", 0 -> "0 B"."""
    if value is None:
        return ""
    value = int(value)
    for name in ("EiB", "PiB", "TiB", "GiB", "MiB", "KiB"):
        factor = FACTORS[name]
        if abs(value) >= factor:
            text = f"{value / factor:.1f}".removesuffix(".0")
            return f"{text} {name}"
    return f"{value} B"


def parse_size(text: str | int) -> int:
    """ "10 GiB", "512MiB", "1.5 TiB", "2G" (binary, as Dovecot reads it) or plain bytes -> bytes.
    Decimal units (GB, MB) are refused rather than guessed: they are not what quotas count in."""
    if isinstance(text, int) and not isinstance(text, bool):
        number, unit = Decimal(text), "B"
    else:
        match = _SIZE_RE.match(str(text))
        if not match:
            raise ValidationError("Give a size such as 500 MiB or 10 GiB.", code="invalid")
        number, unit = Decimal(match.group(1)), match.group(2) or "B"
    factor = _READ.get(unit.lower())
    if factor is None:
        raise ValidationError(
            f"Unknown unit {unit!r}; use B, KiB, MiB, GiB or TiB (1 GiB = 1024 MiB).",
            code="invalid",
        )
    try:
        return int(number * factor)
    except InvalidOperation as exc:
        raise ValidationError("Give a size such as 500 MiB or 10 GiB.", code="invalid") from exc


def check_quota(field: str, value: int) -> int:
    """`value` (bytes, already a whole number >= 0) within the documented maximum, or a field
    error naming `field`."""
    limit = max_quota_bytes()
    if value > limit:
        raise ValidationError(
            {
                field: [
                    ValidationError(
                        f"At most {format_size(limit)} ({limit} bytes).", code="max_quota"
                    )
                ]
            }
        )
    return value


def percent_used(used: int | None, quota: int | None) -> float | None:
    """Share of `quota` used, in percent with two decimals (may pass 100); None when unlimited."""
    if not quota:
        return None
    return round(100.0 * (used or 0) / quota, 2)
