import django_filters
from django.core.exceptions import ValidationError
from django.db.models import Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from accounts.models import Reseller, User
from api.models import APIKey
from domains.models import Alias, AliasDomain, Domain, Mailbox, RelayRecipient, SenderGrant
from domains.normalize import normalize_address, normalize_domain


class StrictBooleanFilter(django_filters.TypedChoiceFilter):
    """`true`/`false` (or 1/0); anything else is a 400, not silently ignored."""

    def __init__(self, **kwargs):
        kwargs.setdefault("choices", [(v, v) for v in ("true", "false", "1", "0")])
        kwargs.setdefault("coerce", lambda value: value in ("true", "1", True))
        super().__init__(**kwargs)


def _domain_name(value: str) -> str | None:
    try:
        return normalize_domain(value)
    except ValidationError:
        return None


class _DomainNameFilter(django_filters.CharFilter):
    """`?domain=example.com` (Unicode or A-label); a name that cannot exist matches nothing."""

    def __init__(self, field_name: str, **kwargs):
        kwargs.setdefault("help_text", "Domain name (Unicode or A-label)")
        super().__init__(field_name=field_name, **kwargs)

    def filter(self, qs, value):
        if value in ("", None):
            return qs
        name = _domain_name(value)
        if name is None:
            return qs.none()
        return qs.filter(**{self.field_name: name})


class _SearchFilter(django_filters.CharFilter):
    def __init__(self, fields: list[str], **kwargs):
        self.search_fields = fields
        kwargs.setdefault("help_text", "Case-insensitive substring search")
        kwargs.setdefault("max_length", 320)
        super().__init__(field_name=fields[0], **kwargs)

    def filter(self, qs, value):
        value = (value or "").strip()
        if not value:
            return qs
        q = Q()
        for field in self.search_fields:
            q |= Q(**{f"{field}__icontains": value})
        return qs.filter(q)


@extend_schema_field(OpenApiTypes.BOOL)
class VerifiedFilter(StrictBooleanFilter):
    def filter(self, qs, value):
        if value in ("", None):
            return qs
        return qs.filter(verified_at__isnull=not value)


class DomainFilter(django_filters.FilterSet):
    active = StrictBooleanFilter()
    verified = VerifiedFilter(help_text="false: pending domains (not yet proven by DNS)")
    search = _SearchFilter(["name", "description"])

    reseller = django_filters.NumberFilter(field_name="reseller_id")

    class Meta:
        model = Domain
        fields = ["active", "kind"]


class AliasDomainFilter(django_filters.FilterSet):
    active = StrictBooleanFilter()
    domain = _DomainNameFilter("target__name", label="target domain")
    search = _SearchFilter(["name"])

    class Meta:
        model = AliasDomain
        fields = ["active"]


class RelayRecipientFilter(django_filters.FilterSet):
    domain = _DomainNameFilter("domain__name")
    search = _SearchFilter(["address"])

    class Meta:
        model = RelayRecipient
        fields = []


class MailboxFilter(django_filters.FilterSet):
    active = StrictBooleanFilter()
    domain = _DomainNameFilter("domain__name")
    search = _SearchFilter(["address", "name"])

    class Meta:
        model = Mailbox
        fields = ["active"]


class AliasFilter(django_filters.FilterSet):
    active = StrictBooleanFilter()
    domain = _DomainNameFilter("domain__name")
    search = _SearchFilter(["address", "description"])
    recipient = django_filters.CharFilter(method="filter_recipient", max_length=320)

    class Meta:
        model = Alias
        fields = ["active"]

    def filter_recipient(self, qs, name, value):
        try:
            address = normalize_address(value)
        except ValidationError:
            return qs.none()
        return qs.filter(recipients__address=address)


class SenderIdentityFilter(django_filters.FilterSet):
    domain = _DomainNameFilter("mailbox__domain__name", label="the mailbox's domain")
    mailbox = django_filters.CharFilter(method="filter_mailbox", max_length=320)
    search = _SearchFilter(["mailbox__address", "domain__name", "local_part"])

    class Meta:
        model = SenderGrant
        fields: list[str] = []

    def filter_mailbox(self, qs, name, value):
        return qs.filter(mailbox__address=value.strip().lower())


class QuotaUsageFilter(MailboxFilter):
    pass


class ResellerFilter(django_filters.FilterSet):
    active = StrictBooleanFilter()
    search = _SearchFilter(["name"])

    class Meta:
        model = Reseller
        fields = ["active"]


class APIKeyFilter(django_filters.FilterSet):
    search = _SearchFilter(["name", "prefix"])
    revoked = django_filters.BooleanFilter(
        field_name="revoked_at", lookup_expr="isnull", exclude=True
    )

    class Meta:
        model = APIKey
        fields = ["read_only"]


class UserFilter(django_filters.FilterSet):
    search = _SearchFilter(["username", "email"], max_length=150)
    role = django_filters.ChoiceFilter(choices=User.Role.choices)
    active = StrictBooleanFilter(field_name="is_active")
    domain = _DomainNameFilter("managed_domains__name")
    reseller = django_filters.NumberFilter(field_name="reseller_id", help_text="Reseller id")

    class Meta:
        model = User
        fields = []
