"""Panel login throttling through django-axes (settings AXES_*): who a login attempt is counted
against, and how long a lockout lasts.

A lockout lasts MAILADMIN_LOGIN_COOLOFF_SECONDS after AXES_FAILURE_LIMIT failures, and doubles
with every further AXES_FAILURE_LIMIT failures (attempts during a lockout count too), up to
MAILADMIN_LOGIN_COOLOFF_MAX_SECONDS. Counting is per account name as typed (lowercased: `Admin`
and `admin` are one account) and, separately, per source address, so a name that does not exist
is throttled exactly like one that does.
"""

from datetime import timedelta

from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum

# The keyword a login passes its account name under: Django's forms use `username`; a mailbox
# login may pass the address as `username` (preferred) or `address`.
USERNAME_KEYS = ("username", "address", "email")


def login_username(request, credentials) -> str | None:
    source = credentials or getattr(request, "POST", None) or {}
    for key in USERNAME_KEYS:
        value = source.get(key)
        if value:
            return str(value).strip().lower()[:255]
    return None


def _failures(request) -> int:
    """Failures recorded for this request's account name or source address, whichever is more."""
    counts = [0]
    username = login_username(request, getattr(request, "axes_credentials", None))
    ip_address = getattr(request, "axes_ip_address", None)
    for field, value in (("username", username), ("ip_address", ip_address)):
        if value:
            total = AccessAttempt.objects.filter(**{field: value}).aggregate(
                n=Sum("failures_since_start")
            )["n"]
            counts.append(total or 0)
    return max(counts)


def cool_off(request=None) -> timedelta:
    base = settings.MAILADMIN_LOGIN_COOLOFF_SECONDS
    if request is None:
        return timedelta(seconds=base)
    lockouts = _failures(request) // settings.AXES_FAILURE_LIMIT
    seconds = base * 2 ** min(max(0, lockouts - 1), 32)
    return timedelta(seconds=min(seconds, settings.MAILADMIN_LOGIN_COOLOFF_MAX_SECONDS))
