"""The panel's forms parse what a person typed; the services decide whether it may be done.
Field names are the services' keyword names, so a service's error lands next to its field."""

import re

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from accounts.models import Reseller
from audit.models import AuditEvent
from audit.selectors import OBJECT_TYPES
from domains.models import Domain
from domains.normalize import normalize_domain
from panel.fields import AddressListField, SizeField
from panel.once import OnceForm


def add_service_errors(form: forms.Form, exc: ValidationError) -> None:
    """Put a service's {field: [messages]} next to the form's fields (or above the form)."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)


def _count(label, **kwargs):
    return forms.IntegerField(
        label=label,
        min_value=0,
        max_value=2**31 - 1,
        initial=0,
        required=False,
        help_text=_("0 = unlimited"),
        **kwargs,
    )


LIMIT_FIELDS = (
    "max_mailboxes",
    "max_aliases",
    "max_quota_per_mailbox",
    "total_quota",
    "default_quota",
    "max_domains",
    "max_quota_bytes",
)


def _limits_or_zero(data: dict) -> dict:
    """An empty limit means unlimited (0), as the help text says."""
    return {k: (0 if k in LIMIT_FIELDS and v is None else v) for k, v in data.items()}


def address_in(domain: Domain, typed: str) -> str:
    """The full address for what was typed into a local-part box: `name`, or `name@` this very
    domain (in any spelling). Another domain is refused here rather than quietly replaced, and the
    split is at the last `@`, so `a@other.example@here` is left whole for the service to refuse."""
    local = typed.strip()
    if "@" in local:
        local, _at, typed_domain = local.rpartition("@")
        try:
            same = normalize_domain(typed_domain) == domain.name
        except ValidationError:
            same = False
        if not same:
            raise ValidationError(
                _("Give the part before the @ only: the address is in %(domain)s."),
                code="other_domain",
                params={"domain": domain.display_name},
            )
    return f"{local}@{domain.name}"


def _size(label, **kwargs):
    kwargs.setdefault("help_text", _("0 = unlimited"))
    return SizeField(label=label, **kwargs)


class DomainLimitsForm(forms.Form):
    description = forms.CharField(label=_("Description"), max_length=255, required=False)
    active = forms.BooleanField(label=_("Active"), required=False, initial=True)
    kind = forms.ChoiceField(label=_("Kind"), choices=Domain.Kind.choices, initial="local")
    transport = forms.CharField(
        label=_("Next hop"),
        max_length=255,
        required=False,
        help_text=_("Relay domains only, e.g. smtp:[mx.example.net]:25"),
    )
    max_mailboxes = _count(_("Mailboxes at most"))
    max_aliases = _count(_("Aliases at most"))
    max_quota_per_mailbox = _size(_("Quota per mailbox at most"), required=False)
    total_quota = _size(_("Total quota"), required=False)
    default_quota = _size(_("Default mailbox quota"), required=False)

    ADMIN_FIELDS = (
        "active",
        "kind",
        "transport",
        "max_mailboxes",
        "max_aliases",
        "max_quota_per_mailbox",
        "total_quota",
        "default_quota",
    )

    def __init__(self, *args, can_administer: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        if not can_administer:
            for name in self.ADMIN_FIELDS:
                del self.fields[name]

    def service_data(self) -> dict:
        return _limits_or_zero({k: v for k, v in self.cleaned_data.items() if k != "form_token"})


class DomainCreateForm(OnceForm, DomainLimitsForm):
    name = forms.CharField(
        label=_("Domain name"), max_length=300, help_text=_("e.g. example.com or münchen.example")
    )
    reseller = forms.ModelChoiceField(
        label=_("Reseller"),
        queryset=Reseller.objects.none(),
        required=False,
        empty_label=_("— none (the operator's) —"),
    )
    field_order = ["name", "kind", "transport", "description", "reseller"]

    def __init__(self, *args, resellers=None, **kwargs):
        super().__init__(*args, **kwargs)
        if resellers is None:
            del self.fields["reseller"]
        else:
            self.fields["reseller"].queryset = resellers


class DomainDeleteForm(forms.Form):
    confirm = forms.BooleanField(label=_("Yes, delete the domain and everything in it"))


class MailboxFields(forms.Form):
    name = forms.CharField(label=_("Display name"), max_length=255, required=False)
    quota_bytes = _size(
        _("Quota"), required=False, help_text=_("0 = unlimited; empty = the domain's default")
    )
    active = forms.BooleanField(label=_("Active"), required=False, initial=True)
    allow_imap = forms.BooleanField(label=_("IMAP"), required=False, initial=True)
    allow_pop3 = forms.BooleanField(label=_("POP3"), required=False, initial=True)
    allow_smtp = forms.BooleanField(label=_("Sending (SMTP)"), required=False, initial=True)
    forward_to = AddressListField(
        label=_("Forward to"), required=False, help_text=_("One address per line")
    )
    keep_copy = forms.BooleanField(
        label=_("Keep a copy in this mailbox"), required=False, initial=True
    )


class MailboxCreateForm(OnceForm, MailboxFields):
    address = forms.CharField(
        label=_("Address"),
        max_length=64,
        widget=forms.TextInput(attrs={"autocapitalize": "none", "spellcheck": "false"}),
    )
    password = forms.CharField(
        label=_("Password"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("Leave empty to generate a strong one, shown once."),
    )
    field_order = ["address", "name", "password", "quota_bytes"]

    def __init__(self, *args, domain: Domain, **kwargs):
        super().__init__(*args, **kwargs)
        self.domain = domain

    def clean_address(self) -> str:
        return address_in(self.domain, self.cleaned_data["address"])


class MailboxEditForm(MailboxFields):
    pass


class PasswordResetForm(forms.Form):
    password = forms.CharField(
        label=_("New password"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("Leave empty to generate a strong one, shown once."),
    )


class MailboxRenameForm(forms.Form):
    address = forms.CharField(
        label=_("New address"),
        max_length=320,
        help_text=_(
            "The mail moves with it; until the move is done, mail for it waits in the sender's "
            "queue."
        ),
    )


class SenderGrantForm(forms.Form):
    address = forms.CharField(
        label=_("May also send as"),
        max_length=320,
        help_text=_("An address in your domains, or @domain for any address there"),
    )


class AliasFields(forms.Form):
    recipients = AddressListField(label=_("Recipients"), help_text=_("One address per line"))
    description = forms.CharField(label=_("Description"), max_length=255, required=False)
    active = forms.BooleanField(label=_("Active"), required=False, initial=True)


class AliasCreateForm(OnceForm, AliasFields):
    address = forms.CharField(
        label=_("Address"),
        max_length=64,
        required=False,
        widget=forms.TextInput(attrs={"autocapitalize": "none", "spellcheck": "false"}),
    )
    catchall = forms.BooleanField(
        label=_("Catch-all: every address of the domain that nothing else answers"),
        required=False,
    )
    field_order = ["address", "catchall", "recipients"]

    def __init__(self, *args, domain: Domain, **kwargs):
        super().__init__(*args, **kwargs)
        self.domain = domain

    def clean(self):
        data = super().clean()
        typed = (data.get("address") or "").strip()
        if data.get("catchall"):
            data["address"] = f"@{self.domain.name}"
        elif not typed:
            self.add_error("address", _("Give the address, or tick catch-all."))
        else:
            try:
                data["address"] = address_in(self.domain, typed)
            except ValidationError as exc:
                self.add_error("address", exc)
        return data


class AliasEditForm(AliasFields):
    pass


class AliasDomainForm(OnceForm):
    name = forms.CharField(
        label=_("Alias domain name"),
        max_length=300,
        help_text=_("Every address of this domain then answers under that name too."),
    )


class ResellerFields(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    active = forms.BooleanField(label=_("Active"), required=False, initial=True)
    max_domains = _count(_("Domains at most"))
    max_mailboxes = _count(_("Mailboxes at most"))
    max_aliases = _count(_("Aliases at most"))
    max_quota_bytes = _size(_("Quota to hand out at most"), required=False)

    def service_data(self) -> dict:
        return _limits_or_zero({k: v for k, v in self.cleaned_data.items() if k != "form_token"})


class ResellerCreateForm(OnceForm, ResellerFields):
    pass


class ResellerEditForm(ResellerFields):
    pass


class AuditFilterForm(forms.Form):
    """The audit log's filters; field names are audit.selectors.audit_event_list's (`actor`
    is its `who`, `object` its `search`)."""

    actor = forms.CharField(label=_("Who"), required=False, max_length=150)
    object = forms.CharField(label=_("Object"), required=False, max_length=320)
    action = forms.CharField(label=_("Action"), required=False, max_length=64)
    object_type = forms.ChoiceField(
        label=_("Object type"),
        required=False,
        choices=[("", _("any"))] + [(t, t) for t in OBJECT_TYPES],
    )
    channel = forms.ChoiceField(
        label=_("Channel"), required=False, choices=[("", _("any")), *AuditEvent.Channel.choices]
    )
    domain = forms.CharField(label=_("Domain"), required=False, max_length=253)
    since = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )


class OwnerLoginForm(forms.Form):
    address = forms.CharField(
        label=_("Mailbox address"),
        max_length=320,
        widget=forms.EmailInput(attrs={"autocomplete": "username", "autofocus": True}),
    )
    password = forms.CharField(
        label=_("Mail password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class OwnerPasswordForm(forms.Form):
    current_password = forms.CharField(
        label=_("Current password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    password = forms.CharField(
        label=_("New password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password_again = forms.CharField(
        label=_("New password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self):
        data = super().clean()
        if data.get("password") and data.get("password") != data.get("password_again"):
            self.add_error("password_again", _("The two new passwords differ."))
        return data


class OwnerForwardingForm(forms.Form):
    forward_to = AddressListField(
        label=_("Forward my mail to"), required=False, help_text=_("One address per line")
    )
    keep_copy = forms.BooleanField(
        label=_("Keep a copy in my mailbox"), required=False, initial=True
    )


# --- Panel users ---------------------------------------------------------------------------------


class DomainNamesField(forms.CharField):
    """Domain names typed one per line (or separated by commas/spaces): a list of names for the
    service, which resolves each within the actor's reach."""

    widget = forms.Textarea(attrs={"rows": 3, "autocapitalize": "none", "spellcheck": "false"})

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", 100_000)
        super().__init__(**kwargs)

    def prepare_value(self, value):
        if isinstance(value, list | tuple):
            return "\n".join(str(v) for v in value)
        return value

    def clean(self, value):
        text = super().clean(value) or ""
        names = [n for n in re.split(r"[\s,]+", text) if n]
        if len(names) > 1000:
            raise ValidationError(_("At most 1000 domains."))
        return list(dict.fromkeys(names))


ROLE_CHOICES = [
    ("domainadmin", _("Domain admin")),
    ("reseller", _("Reseller login")),
    ("superadmin", _("Superadmin")),
]


class UserCreateForm(OnceForm):
    username = forms.CharField(
        label=_("User name"),
        max_length=150,
        widget=forms.TextInput(attrs={"autocapitalize": "none", "spellcheck": "false"}),
        help_text=_("Letters, digits and @ . + - _ only."),
    )
    email = forms.CharField(label=_("E-mail"), max_length=254, required=False)
    role = forms.ChoiceField(label=_("Role"), choices=ROLE_CHOICES, initial="domainadmin")
    reseller = forms.ModelChoiceField(
        label=_("Reseller"),
        queryset=Reseller.objects.none(),
        required=False,
        empty_label=_("— none (the operator's) —"),
        help_text=_("A reseller login's pool; a domain admin of a pool manages its domains only."),
    )
    domains = DomainNamesField(
        label=_("Domains"), help_text=_("Domain admins: the domains it manages, one per line.")
    )
    password = forms.CharField(
        label=_("Password"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("Leave empty to generate a strong one, shown once."),
    )

    def __init__(self, *args, resellers=None, **kwargs):
        super().__init__(*args, **kwargs)
        if resellers is None:  # a reseller: its own domain admins, in its own pool
            del self.fields["role"]
            del self.fields["reseller"]
        else:
            self.fields["reseller"].queryset = resellers

    def service_data(self) -> dict:
        data = {k: v for k, v in self.cleaned_data.items() if k not in ("form_token", "password")}
        data.setdefault("role", "domainadmin")
        return data


class UserEditForm(forms.Form):
    email = forms.CharField(label=_("E-mail"), max_length=254, required=False)
    active = forms.BooleanField(label=_("Active"), required=False)
    domains = DomainNamesField(
        label=_("Domains"), help_text=_("The domains it manages, one per line.")
    )

    def __init__(self, *args, is_domain_admin: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        if not is_domain_admin:
            del self.fields["domains"]


# --- The Postfix queue (superadmins) -----------------------------------------------------------

QUEUE_CHOICES = [
    ("", _("All queues")),
    ("incoming", _("incoming")),
    ("active", _("active")),
    ("deferred", _("deferred")),
    ("hold", _("hold")),
    ("maildrop", _("maildrop")),
    ("corrupt", _("corrupt")),
]
QUEUE_ACTION_CHOICES = [
    ("flush", _("Flush (try now)")),
    ("hold", _("Hold")),
    ("release", _("Release")),
    ("requeue", _("Requeue")),
    ("delete", _("Delete")),
]
QUEUE_FILTER_FIELDS = (
    "queue",
    "search",
    "sender",
    "recipient",
    "sender_domain",
    "recipient_domain",
)


class QueueFilterForm(forms.Form):
    """The list's search; mailhost.queue validates the values (the service names the field)."""

    queue = forms.ChoiceField(label=_("Queue"), choices=QUEUE_CHOICES, required=False)
    search = forms.CharField(label=_("Search"), required=False, max_length=254)
    sender = forms.CharField(label=_("Sender contains"), required=False, max_length=254)
    recipient = forms.CharField(label=_("Recipient contains"), required=False, max_length=254)
    sender_domain = forms.CharField(label=_("Sender domain"), required=False, max_length=253)
    recipient_domain = forms.CharField(label=_("Recipient domain"), required=False, max_length=253)

    def filters(self) -> dict[str, str]:
        return {f: v for f in QUEUE_FILTER_FIELDS if (v := self.cleaned_data.get(f))}


class QueueActionForm(QueueFilterForm):
    """An action on one message (`queue_id`) or on every message the filter fields select."""

    action = forms.ChoiceField(label=_("Action"), choices=QUEUE_ACTION_CHOICES)
    queue_id = forms.CharField(label=_("Queue id"), required=False, max_length=40)
    confirm = forms.BooleanField(
        label=_("Yes, delete every message this filter selects"), required=False
    )

    def clean(self):
        data = super().clean()
        if data.get("action") == "delete" and not data.get("queue_id") and not data.get("confirm"):
            self.add_error("confirm", _("Confirm the deletion of every selected message."))
        return data


class SecondFactorForm(forms.Form):
    code = forms.CharField(
        label=_("Code"),
        max_length=64,
        help_text=_("The 6 digits your authenticator app shows, or one of your recovery codes."),
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "autofocus": True, "inputmode": "text"}
        ),
    )


class TwoFactorPolicyForm(forms.Form):
    require_superadmin = forms.BooleanField(label=_("Superadmins"), required=False)
    require_reseller = forms.BooleanField(label=_("Resellers"), required=False)
    require_domain_admin = forms.BooleanField(label=_("Domain admins"), required=False)


class AppPasswordForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100, help_text=_("e.g. Phone, Laptop"))
    protocol = forms.ChoiceField(
        label=_("For"),
        choices=[
            ("imap", "IMAP"),
            ("pop3", "POP3"),
            ("smtp", _("SMTP (sending)")),
        ],
    )


class UserPasswordForm(OwnerPasswordForm):
    """A panel user changes its own password: the same three fields as a mailbox owner's."""
