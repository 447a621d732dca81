"""Input shapes and output representations. Serializers never save: views hand validated data to
the services (domains.services, accounts.services, api.services)."""

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from drf_spectacular.utils import OpenApiExample, extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from accounts.models import Reseller, User
from api.models import APIKey
from audit.models import AuditEvent
from domains import units
from domains.models import (
    Alias,
    AliasDomain,
    AppPassword,
    Domain,
    Mailbox,
    RelayRecipient,
    SenderGrant,
    TrashItem,
)
from domains.normalize import display_domain

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
ADDRESS_MAX = 320


def count_field(**kwargs):
    return serializers.IntegerField(min_value=0, max_value=INT32_MAX, **kwargs)


def bytes_field(**kwargs):
    """A size in bytes (any whole number up to int64), e.g. a reseller's pool."""
    return serializers.IntegerField(min_value=0, max_value=INT64_MAX, **kwargs)


def quota_field(**kwargs):
    """A quota in bytes: binary units (1 GiB = 1073741824 bytes), at most
    MAILADMIN_MAX_QUOTA_BYTES (default 16 TiB); the service enforces the same bound."""
    limit = settings.MAILADMIN_MAX_QUOTA_BYTES
    kwargs["help_text"] = (
        f"{kwargs.get('help_text', 'Bytes; 0 = unlimited')}. Binary units: 1 GiB = "
        f"1073741824 bytes; at most {units.format_size(limit)} ({limit})."
    )
    return serializers.IntegerField(
        min_value=0,
        max_value=limit,
        error_messages={"max_value": f"At most {units.format_size(limit)} ({limit} bytes)."},
        **kwargs,
    )


def unicode_address(address: str) -> str:
    """`local@domain` (or `@domain`) with the domain as people read it."""
    local, at, domain = address.rpartition("@")
    return f"{local}{at}{display_domain(domain)}" if at else display_domain(address)


# --- Domains ------------------------------------------------------------------------------------


class VerificationRecordSerializer(serializers.Serializer):
    type = serializers.CharField(help_text="Always TXT")
    name = serializers.CharField(help_text="The record's name: _mailadmin-verify.<domain>")
    value = serializers.CharField(help_text="The record's value: mailadmin-verify=<token>")


def _verification_record(obj):
    """What to publish to prove a pending (alias) domain; null once it is verified."""
    if obj.is_verified:
        return None
    return {
        "type": "TXT",
        "name": obj.verification_record_name,
        "value": obj.verification_record_value,
    }


class _Ownership(serializers.Serializer):
    verified = serializers.BooleanField(source="is_verified", read_only=True)
    verified_at = serializers.DateTimeField(read_only=True, allow_null=True)
    verification_record = serializers.SerializerMethodField(
        help_text="While pending: the DNS record to publish, then POST .../verify/."
    )

    @extend_schema_field(VerificationRecordSerializer(allow_null=True))
    def get_verification_record(self, obj):
        return _verification_record(obj)


class DomainSerializer(_Ownership, serializers.ModelSerializer):
    name_unicode = serializers.CharField(source="display_name", read_only=True)
    mailbox_count = serializers.IntegerField(read_only=True)
    alias_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Domain
        fields = [
            "id",
            "name",
            "name_unicode",
            "kind",
            "transport",
            "relay_accept_all",
            "verified",
            "verified_at",
            "verification_record",
            "description",
            "active",
            "reseller",
            "max_mailboxes",
            "max_aliases",
            "max_quota_per_mailbox",
            "total_quota",
            "default_quota",
            "mailbox_count",
            "alias_count",
            "created",
            "modified",
        ]
        read_only_fields = fields


class _DomainLimits(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Domain.Kind.choices, required=False)
    transport = serializers.CharField(
        max_length=255,
        required=False,
        allow_blank=True,
        help_text="Relay domains: smtp:/lmtp: to a public next hop. Superadmins only.",
    )
    relay_accept_all = serializers.BooleanField(
        required=False,
        help_text="Relay and backup domains: accept any recipient instead of the listed "
        "relay recipients.",
    )
    description = serializers.CharField(max_length=255, required=False, allow_blank=True)
    active = serializers.BooleanField(required=False)
    max_mailboxes = count_field(required=False)
    max_aliases = count_field(required=False)
    max_quota_per_mailbox = quota_field(required=False)
    total_quota = quota_field(required=False)
    default_quota = quota_field(required=False)


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "A local domain",
            value={
                "name": "münchen.example",
                "kind": "local",
                "description": "Customer 42",
                "max_mailboxes": 100,
                "max_aliases": 200,
                "max_quota_per_mailbox": 10737418240,
                "total_quota": 107374182400,
                "default_quota": 2147483648,
                "reseller": None,
            },
            request_only=True,
        ),
        OpenApiExample(
            "A backup MX domain",
            value={"name": "backup-mx.example", "kind": "backup", "relay_accept_all": True},
            request_only=True,
        ),
    ]
)
class DomainCreateSerializer(_DomainLimits):
    name = serializers.CharField(max_length=300, help_text="Unicode or IDNA (A-label) name")
    verified = serializers.BooleanField(
        required=False,
        help_text="Superadmins only: false asks for the DNS check; default true for "
        "superadmins. Everyone else's domains start pending.",
    )
    reseller = serializers.PrimaryKeyRelatedField(
        queryset=Reseller.objects.none(),
        required=False,
        allow_null=True,
        help_text="Superadmins only; a reseller's domains always go to its own pool.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        user = getattr(request, "user", None)
        field = self.fields["reseller"]
        if user is None or not user.is_authenticated:
            return
        if user.is_superadmin:
            field.queryset = Reseller.objects.all()
        elif user.reseller_id:
            field.queryset = Reseller.objects.filter(pk=user.reseller_id)


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "New limits",
            value={
                "description": "Customer 42, gold plan",
                "max_mailboxes": 200,
                "total_quota": 214748364800,
            },
            request_only=True,
        ),
    ]
)
class DomainUpdateSerializer(_DomainLimits):
    pass


class AliasDomainSerializer(_Ownership, serializers.ModelSerializer):
    name_unicode = serializers.CharField(source="__str__", read_only=True)
    target = serializers.CharField(source="target.name", read_only=True)
    target_unicode = serializers.CharField(source="target.display_name", read_only=True)
    target_id = serializers.IntegerField(read_only=True)

    class Meta:
        model = AliasDomain
        fields = [
            "id",
            "name",
            "name_unicode",
            "target",
            "target_unicode",
            "target_id",
            "active",
            "verified",
            "verified_at",
            "verification_record",
            "created",
            "modified",
        ]
        read_only_fields = fields


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "An alias domain",
            value={"name": "example.net", "target": "example.com"},
            request_only=True,
        ),
    ]
)
class AliasDomainCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=300)
    target = serializers.CharField(max_length=300, help_text="Name of the target domain")
    active = serializers.BooleanField(required=False, default=True)
    verified = serializers.BooleanField(required=False, help_text="As for domains")


@extend_schema_serializer(
    examples=[
        OpenApiExample("Check the DNS record", value={"force": False}, request_only=True),
    ]
)
class VerifySerializer(serializers.Serializer):
    force = serializers.BooleanField(
        required=False, default=False, help_text="Superadmins only: mark verified without DNS."
    )


# --- Relay recipients ---------------------------------------------------------------------------


class RelayRecipientSerializer(serializers.ModelSerializer):
    domain = serializers.CharField(source="domain.name", read_only=True)
    address_unicode = serializers.SerializerMethodField()

    class Meta:
        model = RelayRecipient
        fields = [
            "id",
            "address",
            "address_unicode",
            "domain",
            "domain_id",
            "local_part",
            "created",
        ]
        read_only_fields = fields

    def get_address_unicode(self, obj) -> str:
        return unicode_address(obj.address)


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "A recipient of a backup domain",
            value={"address": "user@backup.example"},
            request_only=True,
        ),
    ]
)
class RelayRecipientCreateSerializer(serializers.Serializer):
    address = serializers.CharField(
        max_length=ADDRESS_MAX, help_text="An address at a relay or backup domain"
    )


@extend_schema_serializer(
    examples=[
        OpenApiExample("Switch off", value={"active": False}, request_only=True),
    ]
)
class AliasDomainUpdateSerializer(serializers.Serializer):
    active = serializers.BooleanField(required=False)


# --- Mailboxes ----------------------------------------------------------------------------------


class QuotaUsageField(serializers.Serializer):
    bytes = serializers.IntegerField()
    messages = serializers.IntegerField()
    updated_at = serializers.DateTimeField(allow_null=True)


def _usage(mailbox: Mailbox):
    try:
        usage = mailbox.quota_usage
    except ObjectDoesNotExist:
        usage = None
    if usage is None:
        return {"bytes": 0, "messages": 0, "updated_at": None}
    return {"bytes": usage.bytes, "messages": usage.messages, "updated_at": usage.updated_at}


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "A new address in the same domain",
            value={"address": "robert@example.com"},
            request_only=True,
        )
    ]
)
class MailboxRenameSerializer(serializers.Serializer):
    address = serializers.CharField(max_length=320)


class MailboxSerializer(serializers.ModelSerializer):
    domain = serializers.CharField(source="domain.name", read_only=True)
    address_unicode = serializers.SerializerMethodField(
        help_text="The address as people read it (Unicode domain); `address` is the stored key"
    )
    forward_to = serializers.SerializerMethodField()
    usage = serializers.SerializerMethodField()
    quota_used_percent = serializers.SerializerMethodField(
        help_text="usage.bytes against quota_bytes in percent (may pass 100); null: unlimited"
    )

    class Meta:
        model = Mailbox
        fields = [
            "id",
            "address",
            "address_unicode",
            "domain",
            "domain_id",
            "local_part",
            "name",
            "quota_bytes",
            "quota_used_percent",
            "active",
            "allow_imap",
            "allow_pop3",
            "allow_smtp",
            "keep_copy",
            "forward_to",
            "usage",
            "maildir_busy",
            "created",
            "modified",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_forward_to(self, obj) -> list[str]:
        return [f.address for f in obj.forwards.all()]

    @extend_schema_field(QuotaUsageField)
    def get_usage(self, obj):
        return _usage(obj)

    def get_address_unicode(self, obj) -> str:
        return unicode_address(obj.address)

    @extend_schema_field(serializers.FloatField(allow_null=True))
    def get_quota_used_percent(self, obj):
        return units.percent_used(_usage(obj)["bytes"], obj.quota_bytes)


class _MailboxWritable(serializers.Serializer):
    name = serializers.CharField(max_length=255, required=False, allow_blank=True)
    quota_bytes = quota_field(required=False, help_text="0 = unlimited; default: the domain's")
    active = serializers.BooleanField(required=False)
    allow_imap = serializers.BooleanField(required=False)
    allow_pop3 = serializers.BooleanField(required=False)
    allow_smtp = serializers.BooleanField(required=False)
    keep_copy = serializers.BooleanField(required=False)
    forward_to = serializers.ListField(
        child=serializers.CharField(max_length=ADDRESS_MAX),
        required=False,
        help_text="Forward mail to these addresses (keep_copy keeps it here too); at most "
        "MAILADMIN_MAX_FORWARDS (default 50)",
    )
    password = serializers.CharField(
        write_only=True,
        required=False,
        max_length=1024,
        trim_whitespace=False,
        style={"input_type": "password"},
        help_text="Plaintext; hashed by the server. Never returned.",
    )
    password_hash = serializers.CharField(
        write_only=True,
        required=False,
        max_length=1024,
        help_text="A ready hash with its {SCHEME} prefix ({ARGON2ID}, {BLF-CRYPT}, "
        "{SHA512-CRYPT}), e.g. from a migration. Never returned.",
    )


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "A mailbox of 2 GiB",
            value={
                "address": "alice@example.com",
                "name": "Alice",
                "password": "a-long-password-1",
                "quota_bytes": 2147483648,
                "allow_pop3": False,
            },
            request_only=True,
        ),
        OpenApiExample(
            "A mailbox that forwards and keeps a copy",
            value={
                "address": "carol@example.com",
                "password": "a-long-password-2",
                "quota_bytes": 1073741824,
                "forward_to": ["carol@elsewhere.example"],
                "keep_copy": True,
            },
            request_only=True,
        ),
    ]
)
class MailboxCreateSerializer(_MailboxWritable):
    address = serializers.CharField(max_length=ADDRESS_MAX)


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "A larger quota and a new name",
            value={"name": "Bob B.", "quota_bytes": 5368709120},
            request_only=True,
        ),
        OpenApiExample(
            "Forward without a copy",
            value={"forward_to": ["bob@elsewhere.example"], "keep_copy": False},
            request_only=True,
        ),
    ]
)
class MailboxUpdateSerializer(_MailboxWritable):
    pass


class AppPasswordSerializer(serializers.ModelSerializer):
    mailbox = serializers.CharField(source="mailbox.address", read_only=True)
    last_used_at = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="Last login Dovecot accepted (to the minute)"
    )

    class Meta:
        model = AppPassword
        fields = ["id", "mailbox", "name", "protocol", "created", "last_used_at"]
        read_only_fields = fields


class AppPasswordCreatedSerializer(AppPasswordSerializer):
    password = serializers.CharField(
        read_only=True,
        help_text="The app password. Shown only this once; only its SHA-256 is stored.",
    )

    class Meta(AppPasswordSerializer.Meta):
        fields = [*AppPasswordSerializer.Meta.fields, "password"]
        read_only_fields = fields


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "IMAP on a phone", value={"name": "Phone", "protocol": "imap"}, request_only=True
        )
    ]
)
class AppPasswordCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    # A CharField, checked by the service: DRF's ChoiceField error repeats the input, and a
    # lone surrogate in it cannot be rendered (a 500).
    protocol = serializers.CharField(
        max_length=16,
        help_text="The one protocol it logs in to: imap, pop3 or smtp (submission)",
    )


class QuotaUsageSerializer(serializers.ModelSerializer):
    mailbox_id = serializers.IntegerField(source="id", read_only=True)
    bytes = serializers.SerializerMethodField()
    messages = serializers.SerializerMethodField()
    percent = serializers.SerializerMethodField()
    updated_at = serializers.SerializerMethodField()

    class Meta:
        model = Mailbox
        fields = [
            "id",
            "mailbox_id",
            "address",
            "quota_bytes",
            "bytes",
            "messages",
            "percent",
            "updated_at",
        ]
        read_only_fields = fields

    def get_bytes(self, obj) -> int:
        return _usage(obj)["bytes"]

    def get_messages(self, obj) -> int:
        return _usage(obj)["messages"]

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_updated_at(self, obj):
        return _usage(obj)["updated_at"]

    @extend_schema_field(serializers.FloatField(allow_null=True))
    def get_percent(self, obj):
        return units.percent_used(_usage(obj)["bytes"], obj.quota_bytes)


# --- Aliases ------------------------------------------------------------------------------------


class AliasSerializer(serializers.ModelSerializer):
    domain = serializers.CharField(source="domain.name", read_only=True)
    address_unicode = serializers.SerializerMethodField()
    recipients = serializers.SerializerMethodField()
    recipients_unicode = serializers.SerializerMethodField()
    is_catchall = serializers.BooleanField(read_only=True)

    class Meta:
        model = Alias
        fields = [
            "id",
            "address",
            "address_unicode",
            "domain",
            "domain_id",
            "local_part",
            "is_catchall",
            "recipients",
            "recipients_unicode",
            "active",
            "description",
            "created",
            "modified",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_recipients(self, obj) -> list[str]:
        return [r.address for r in obj.recipients.all()]

    def get_address_unicode(self, obj) -> str:
        return unicode_address(obj.address)

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_recipients_unicode(self, obj) -> list[str]:
        return [unicode_address(r.address) for r in obj.recipients.all()]


def recipients_field(**kwargs):
    return serializers.ListField(
        child=serializers.CharField(max_length=ADDRESS_MAX),
        allow_empty=False,
        help_text="At most MAILADMIN_MAX_ALIAS_RECIPIENTS (default 500)",
        **kwargs,
    )


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "An alias with two recipients",
            value={
                "address": "sales@example.com",
                "recipients": ["bob@example.com", "team@elsewhere.example"],
                "description": "Sales team",
            },
            request_only=True,
        ),
        OpenApiExample(
            "A catch-all",
            value={"address": "@example.com", "recipients": ["bob@example.com"]},
            request_only=True,
        ),
    ]
)
class AliasCreateSerializer(serializers.Serializer):
    address = serializers.CharField(max_length=ADDRESS_MAX, help_text="`user@domain` or `@domain`")
    recipients = recipients_field()
    active = serializers.BooleanField(required=False, default=True)
    description = serializers.CharField(max_length=255, required=False, allow_blank=True)


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "New recipients",
            value={"recipients": ["bob@example.com"], "active": True},
            request_only=True,
        ),
    ]
)
class AliasUpdateSerializer(serializers.Serializer):
    recipients = recipients_field(required=False)
    active = serializers.BooleanField(required=False)
    description = serializers.CharField(max_length=255, required=False, allow_blank=True)


# --- Sender identities --------------------------------------------------------------------------


class SenderIdentitySerializer(serializers.ModelSerializer):
    mailbox = serializers.CharField(source="mailbox.address", read_only=True)
    mailbox_unicode = serializers.SerializerMethodField()
    address = serializers.CharField(read_only=True)
    address_unicode = serializers.SerializerMethodField()

    class Meta:
        model = SenderGrant
        fields = [
            "id",
            "mailbox",
            "mailbox_unicode",
            "mailbox_id",
            "address",
            "address_unicode",
            "created",
        ]
        read_only_fields = fields

    def get_mailbox_unicode(self, obj) -> str:
        return unicode_address(obj.mailbox.address)

    def get_address_unicode(self, obj) -> str:
        return unicode_address(obj.address)


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "May send as an address",
            value={"mailbox": "bob@example.com", "address": "sales@example.com"},
            request_only=True,
        ),
        OpenApiExample(
            "May send as any address of a domain",
            value={"mailbox": "bob@example.com", "address": "@example.com"},
            request_only=True,
        ),
    ]
)
class SenderIdentityCreateSerializer(serializers.Serializer):
    mailbox = serializers.CharField(max_length=ADDRESS_MAX, help_text="Address of the mailbox")
    address = serializers.CharField(
        max_length=ADDRESS_MAX, help_text="Address it may send as; `@domain` for any there"
    )


# --- Resellers and the caller -------------------------------------------------------------------


class UsageSerializer(serializers.Serializer):
    domains = serializers.IntegerField()
    mailboxes = serializers.IntegerField()
    aliases = serializers.IntegerField()
    quota_bytes = serializers.IntegerField(help_text="Sum of the mailboxes' quotas")


class ResellerSerializer(serializers.ModelSerializer):
    usage = serializers.SerializerMethodField()

    class Meta:
        model = Reseller
        fields = [
            "id",
            "name",
            "active",
            "max_domains",
            "max_mailboxes",
            "max_aliases",
            "max_quota_bytes",
            "usage",
            "created",
            "modified",
        ]
        read_only_fields = fields

    @extend_schema_field(UsageSerializer)
    def get_usage(self, obj):
        return {
            "domains": obj.used_domains,
            "mailboxes": obj.used_mailboxes,
            "aliases": obj.used_aliases,
            "quota_bytes": obj.used_quota_bytes or 0,
        }


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "A larger pool",
            value={"max_mailboxes": 1000, "max_quota_bytes": 2199023255552},
            request_only=True,
        ),
    ]
)
class ResellerWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    active = serializers.BooleanField(required=False)
    max_domains = count_field(required=False)
    max_mailboxes = count_field(required=False)
    max_aliases = count_field(required=False)
    max_quota_bytes = bytes_field(
        required=False,
        help_text="The pool's quota in bytes (binary units: 1 GiB = 1073741824); 0 = unlimited",
    )


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "A reseller with a pool",
            value={
                "name": "Acme Hosting",
                "max_domains": 10,
                "max_mailboxes": 500,
                "max_aliases": 1000,
                "max_quota_bytes": 1099511627776,
            },
            request_only=True,
        ),
    ]
)
class ResellerCreateSerializer(ResellerWriteSerializer):
    name = serializers.CharField(max_length=100)


class KeyInfoSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    prefix = serializers.CharField()
    read_only = serializers.BooleanField()
    expires_at = serializers.DateTimeField(allow_null=True)


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.CharField()
    role = serializers.ChoiceField(choices=User.Role.choices)
    reseller = ResellerSerializer(allow_null=True, help_text="Your pool: limits and usage")
    usage = UsageSerializer(help_text="What you manage now")
    api_key = KeyInfoSerializer(allow_null=True, help_text="The key this request used")


# --- API keys -----------------------------------------------------------------------------------


class APIKeySerializer(serializers.ModelSerializer):
    prefix = serializers.CharField(source="display_prefix", read_only=True)
    user = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = APIKey
        fields = [
            "id",
            "name",
            "prefix",
            "user",
            "read_only",
            "expires_at",
            "allowed_networks",
            "created",
            "last_used_at",
            "revoked_at",
        ]
        read_only_fields = fields


class APIKeyCreatedSerializer(APIKeySerializer):
    key = serializers.CharField(read_only=True, help_text="The full key. Shown only this once.")

    class Meta(APIKeySerializer.Meta):
        fields = [*APIKeySerializer.Meta.fields, "key"]
        read_only_fields = fields


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "A read-only key for one network",
            value={
                "name": "billing sync",
                "read_only": True,
                "expires_at": None,
                "allowed_networks": ["192.0.2.0/24"],
            },
            request_only=True,
        ),
    ]
)
class APIKeyCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    read_only = serializers.BooleanField(required=False, default=False)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)
    allowed_networks = serializers.ListField(
        child=serializers.CharField(max_length=64),
        required=False,
        max_length=100,
        help_text="CIDR networks the key may be used from (empty: anywhere)",
    )


# --- Deleting a domain that is not empty --------------------------------------------------------


class DomainContentsSerializer(serializers.Serializer):
    mailboxes = serializers.IntegerField()
    aliases = serializers.IntegerField()
    alias_domains = serializers.IntegerField()
    sender_grants = serializers.IntegerField()
    relay_recipients = serializers.IntegerField()


class DomainNotEmptySerializer(serializers.Serializer):
    detail = serializers.ListField(child=serializers.CharField())
    contents = DomainContentsSerializer(help_text="What would go with the domain")


# --- Panel users --------------------------------------------------------------------------------


class UserSerializer(serializers.ModelSerializer):
    email = serializers.CharField(read_only=True, help_text="May be empty")
    active = serializers.BooleanField(source="is_active", read_only=True)
    role = serializers.SerializerMethodField()
    domains = serializers.SerializerMethodField(help_text="Domains a domain admin manages")
    domains_unicode = serializers.SerializerMethodField(help_text="The same, in Unicode")

    class Meta:
        model = User
        fields = [
            "id",
            "username",
            "email",
            "role",
            "reseller",
            "domains",
            "domains_unicode",
            "active",
            "last_login",
            "date_joined",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=User.Role.choices))
    def get_role(self, obj) -> str:
        return "superadmin" if obj.is_superadmin else obj.role

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_domains(self, obj) -> list[str]:
        return [d.name for d in obj.managed_domains.all()]

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_domains_unicode(self, obj) -> list[str]:
        return [d.display_name for d in obj.managed_domains.all()]


class UserCreatedSerializer(UserSerializer):
    password = serializers.CharField(
        read_only=True,
        allow_null=True,
        help_text="The generated password when none was sent. Shown only this once.",
    )

    class Meta(UserSerializer.Meta):
        fields = [*UserSerializer.Meta.fields, "password"]
        read_only_fields = fields


class UserCreateSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    email = serializers.CharField(max_length=254, required=False, allow_blank=True)
    role = serializers.ChoiceField(
        choices=User.Role.choices,
        default="domainadmin",
        help_text="Resellers may create domain admins only.",
    )
    reseller = serializers.PrimaryKeyRelatedField(
        queryset=Reseller.objects.none(),
        required=False,
        allow_null=True,
        help_text="Superadmins: the pool of a reseller login or domain admin. A reseller's "
        "domain admins always belong to its own pool.",
    )
    domains = serializers.ListField(
        child=serializers.CharField(max_length=300),
        required=False,
        max_length=1000,
        help_text="Names of the domains a domain admin manages",
    )
    password = serializers.CharField(
        max_length=4096,
        required=False,
        write_only=True,
        trim_whitespace=False,
        help_text="Omit it to have a strong one generated and returned once.",
    )
    active = serializers.BooleanField(required=False, default=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_superadmin:
            self.fields["reseller"].queryset = Reseller.objects.all()
        elif user is not None and user.is_authenticated and user.reseller_id:
            self.fields["reseller"].queryset = Reseller.objects.filter(pk=user.reseller_id)


class UserUpdateSerializer(serializers.Serializer):
    email = serializers.CharField(max_length=254, required=False, allow_blank=True)
    active = serializers.BooleanField(required=False)
    domains = serializers.ListField(
        child=serializers.CharField(max_length=300),
        required=False,
        max_length=1000,
        help_text="The whole list of the domain admin's domains (within your reach)",
    )


class UserPasswordSerializer(serializers.Serializer):
    password = serializers.CharField(
        max_length=4096,
        required=False,
        write_only=True,
        trim_whitespace=False,
        help_text="Omit it to have a strong one generated and returned once.",
    )


class UserPasswordSetSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    password = serializers.CharField(
        allow_null=True, help_text="The generated password, shown only this once; null if sent."
    )


# --- Audit trail --------------------------------------------------------------------------------


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "A mailbox's quota raised through the API",
            response_only=True,
            value={
                "id": 4711,
                "created": "2026-11-27T10:15:00Z",
                "actor": "res-acme",
                "channel": "api",
                "source_ip": "192.0.2.10",
                "api_key_id": 12,
                "api_key": "mak_ab12cd34 (billing sync)",
                "action": "mailbox.update",
                "object_type": "domains.mailbox",
                "object_id": "301",
                "object": "bob@example.com",
                "domain_id": 7,
                "changes": {"quota_bytes": {"before": 1073741824, "after": 2147483648}},
            },
        )
    ]
)
class AuditEventSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(
        source="actor_label", read_only=True, help_text="Who acted, as named then; empty: system"
    )
    api_key = serializers.CharField(
        source="api_key_label", read_only=True, help_text="The key's public prefix and name"
    )
    object = serializers.CharField(source="object_repr", read_only=True)
    changes = serializers.JSONField(
        read_only=True,
        help_text='{field: {"before": x, "after": y}}; secrets appear as "(secret)"/"(changed)"',
    )

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "created",
            "actor",
            "channel",
            "source_ip",
            "api_key_id",
            "api_key",
            "action",
            "object_type",
            "object_id",
            "object",
            "domain_id",
            "changes",
        ]
        read_only_fields = fields


class TrashItemSerializer(serializers.ModelSerializer):
    """A deleted domain or mailbox while it can be restored. Its rows (the payload, which holds
    password hashes) are never shown; `contents` counts what went with it."""

    name_unicode = serializers.CharField(source="display_name", read_only=True)
    # The user who deleted it; null when the system did (or the user is gone).
    deleted_by = serializers.CharField(
        source="deleted_by.username", read_only=True, allow_null=True
    )
    contents = serializers.DictField(child=serializers.IntegerField(), read_only=True)

    class Meta:
        model = TrashItem
        fields = [
            "id",
            "kind",
            "object_id",
            "name",
            "name_unicode",
            "reseller",
            "domain_id",
            "domain_name",
            "contents",
            "deleted_at",
            "deleted_by",
            "purge_after",
        ]
        read_only_fields = fields


class AuditFilterSerializer(serializers.Serializer):
    """The audit list's query parameters (a bad one is a 400 naming it)."""

    actor = serializers.CharField(required=False, max_length=150, help_text="Who, by substring")
    action = serializers.CharField(required=False, max_length=64, help_text="e.g. mailbox.update")
    object_type = serializers.CharField(
        required=False, max_length=64, help_text="e.g. domains.mailbox"
    )
    channel = serializers.ChoiceField(required=False, choices=AuditEvent.Channel.values)
    domain = serializers.CharField(
        required=False, max_length=253, help_text="Domain name (Unicode or A-label) or id"
    )
    since = serializers.DateField(required=False, help_text="From this day (inclusive)")
    until = serializers.DateField(required=False, help_text="To this day (inclusive)")
    search = serializers.CharField(
        required=False, max_length=320, help_text="The object by substring, or the exact action"
    )


class TrashRestoredSerializer(serializers.Serializer):
    """What came back: the domain or mailbox under the id it had (`/domains/{id}/` or
    `/mailboxes/{id}/` again)."""

    kind = serializers.ChoiceField(choices=TrashItem.Kind.choices)
    id = serializers.IntegerField()
    name = serializers.CharField()
