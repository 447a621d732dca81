from django.urls import Resolver404, resolve
from django.utils.translation import gettext_lazy as _

from panel.nav import nav_for, role_of

ROLE_LABELS = {
    "superadmin": _("Superadmin"),
    "reseller": _("Reseller"),
    "domainadmin": _("Domain admin"),
}


def panel(request) -> dict:
    user = getattr(request, "user", None)
    try:
        current = resolve(request.path_info).url_name
    except Resolver404:
        current = None
    return {
        "nav": nav_for(user) if user is not None else [],
        "nav_current": current,
        "role_label": ROLE_LABELS.get(role_of(user) or "", ""),
        "owner": getattr(request, "owner", None),
    }
