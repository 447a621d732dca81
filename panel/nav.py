"""The header's navigation: one list, each entry a URL name, its label and who sees it. A new
page joins the header by adding a line here."""

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

EVERYONE = ("superadmin", "reseller", "domainadmin")


@dataclass(frozen=True)
class NavItem:
    url_name: str
    label: str
    roles: tuple[str, ...] = EVERYONE


NAV = [
    NavItem("dashboard", _("Dashboard")),
    NavItem("domain_list", _("Domains")),
    NavItem("reseller_list", _("Resellers"), ("superadmin",)),
    NavItem("reseller_list", _("My pool"), ("reseller",)),
    NavItem("user_list", _("Users"), ("superadmin", "reseller")),
    NavItem("trash_list", _("Trash")),
    NavItem("audit_log", _("Audit log")),
    NavItem("queue_overview", _("Mail queue"), ("superadmin",)),
    NavItem("host_list", _("Mail hosts"), ("superadmin",)),
    NavItem("operation_list", _("Operations"), ("superadmin",)),
    NavItem("api_keys", _("API keys")),
    NavItem("two_factor", _("Two-factor login")),
    NavItem("two_factor_policy", _("Two-factor rule"), ("superadmin",)),
]


def role_of(user) -> str | None:
    if not getattr(user, "is_authenticated", False):
        return None
    if user.is_superadmin:
        return "superadmin"
    return user.role


def nav_for(user) -> list[NavItem]:
    role = role_of(user)
    return [item for item in NAV if role in item.roles]
