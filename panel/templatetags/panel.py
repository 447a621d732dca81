import re

from django import template
from django.utils.translation import gettext as _

from domains import units
from domains.normalize import display_domain

register = template.Library()


@register.filter
def size(value) -> str:
    """Bytes in binary units, as people read quotas: 1073741824 -> "1 GiB"."""
    if value in (None, ""):
        return ""
    return units.format_size(int(value))


@register.filter
def quota(value) -> str:
    """A quota or limit in bytes; 0 means unlimited."""
    return size(value) if value else _("unlimited")


@register.filter
def percent(used, limit) -> int | None:
    """Whole percent of `limit` used (capped at 100 for the bar); None when unlimited."""
    if not limit:
        return None
    return min(100, int(100 * (used or 0) / limit))


@register.inclusion_tag("panel/usage.html")
def usage(label, used, limit, in_bytes=False):
    share = percent(used, limit)
    exact = units.percent_used(used, limit)
    return {
        "label": label,
        "used": used or 0,
        "limit": limit,
        "share": share,
        # The figure says how far over a mailbox is (130%); only the bar stops at 100.
        "shown": None if exact is None else int(exact),
        "level": "" if share is None else "high" if share >= 90 else "mid" if share >= 75 else "",
        "in_bytes": in_bytes,
    }


@register.simple_tag(takes_context=True)
def query_with(context, **changes) -> str:
    """The current query string with some parameters changed (pagination, sorting)."""
    query = context["request"].GET.copy()
    for key, value in changes.items():
        if value in (None, ""):
            query.pop(key, None)
        else:
            query[key] = value
    return query.urlencode()


@register.simple_tag(takes_context=True)
def page_query(context, param: str, number: int) -> str:
    """The current query string pointing `param` (which page of which list) at `number`."""
    query = context["request"].GET.copy()
    query[param] = number
    return query.urlencode()


_ACE = re.compile(r"[a-z0-9.-]*xn--[a-z0-9.-]+", re.IGNORECASE)


@register.filter
def unicode(text) -> str:
    """Names as people read them: every IDNA A-label name in `text` (a domain, an address, an
    audit line) in its Unicode form. Stored and machine-read values keep the A-label."""
    return _ACE.sub(lambda match: display_domain(match.group()), str(text or ""))


@register.filter
def diff_rows(changes) -> list[tuple[str, object, object]]:
    """An audit event's changes as (field, before, after) rows; a value recorded before the
    before/after shape shows as its after."""
    if not isinstance(changes, dict):
        return []
    rows = []
    for field, value in changes.items():
        if isinstance(value, dict) and set(value) <= {"before", "after"}:
            rows.append((field, _shown(value.get("before")), _shown(value.get("after"))))
        else:
            rows.append((field, None, _shown(value)))
    return rows


def _shown(value):
    """A list as "a, b" ("[]" when empty, so it differs from no value at all)."""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) if value else "[]"
    return value
