"""The mail data model. PostgreSQL views over these tables (docs/lookups.md) are what Postfix and
Dovecot read; writes go through domains.services, which owns validation and limits."""

from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from domains import verification
from domains.normalize import display_domain


class Domain(models.Model):
    class Kind(models.TextChoices):
        LOCAL = "local", _("Local mailboxes")
        RELAY = "relay", _("Relay to a next hop")
        BACKUP = "backup", _("Backup MX")

    name = models.CharField(max_length=253, unique=True, help_text="IDNA A-label, lowercase")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.LOCAL)
    transport = models.CharField(
        max_length=255, blank=True, help_text="Postfix transport for relay domains"
    )
    description = models.CharField(max_length=255, blank=True)
    active = models.BooleanField(default=True)
    # Ownership: a domain claimed by a reseller or domain admin is pending (verified_at NULL) until
    # its DNS proves the claim; pending domains are in no lookup Postfix or Dovecot reads.
    verified_at = models.DateTimeField(null=True, blank=True)
    verification_token = models.CharField(max_length=64, blank=True, default="", db_default="")
    # Relay and backup domains: accept any recipient (True) or only the listed RelayRecipients.
    relay_accept_all = models.BooleanField(default=False, db_default=False)
    reseller = models.ForeignKey(
        "accounts.Reseller",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="domains",
    )
    # Limits; 0 means unlimited.
    max_mailboxes = models.PositiveIntegerField(default=0)
    max_aliases = models.PositiveIntegerField(default=0)
    max_quota_per_mailbox = models.PositiveBigIntegerField(default=0)
    total_quota = models.PositiveBigIntegerField(default=0)
    default_quota = models.PositiveBigIntegerField(default=0)
    created = models.DateTimeField(auto_now_add=True)
    modified = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=models.Q(name=Lower("name")), name="domain_lower")
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return display_domain(self.name)

    @property
    def is_verified(self) -> bool:
        return self.verified_at is not None

    @property
    def verification_record_name(self) -> str:
        return verification.record_name(self.name)

    @property
    def verification_record_value(self) -> str:
        return verification.record_value(self.verification_token)


class AliasDomain(models.Model):
    """`name` answers for every address of `target`."""

    name = models.CharField(max_length=253, unique=True)
    target = models.ForeignKey(Domain, on_delete=models.CASCADE, related_name="alias_domains")
    active = models.BooleanField(default=True)
    # Ownership, as for Domain: pending (NULL) alias domains are in no lookup.
    verified_at = models.DateTimeField(null=True, blank=True)
    verification_token = models.CharField(max_length=64, blank=True, default="", db_default="")
    created = models.DateTimeField(auto_now_add=True)
    modified = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return display_domain(self.name)

    @property
    def display_name(self) -> str:
        return display_domain(self.name)

    @property
    def is_verified(self) -> bool:
        return self.verified_at is not None

    @property
    def verification_record_name(self) -> str:
        return verification.record_name(self.name)

    @property
    def verification_record_value(self) -> str:
        return verification.record_value(self.verification_token)


class Mailbox(models.Model):
    domain = models.ForeignKey(Domain, on_delete=models.CASCADE, related_name="mailboxes")
    local_part = models.CharField(max_length=64)
    # Stored lowercase `local@domain`: the key Postfix and Dovecot look up.
    address = models.CharField(max_length=320, unique=True)
    name = models.CharField(max_length=255, blank=True)
    password = models.CharField(max_length=255, help_text="Hash with its {SCHEME} prefix")
    quota_bytes = models.PositiveBigIntegerField(default=0, help_text="0 = unlimited")
    active = models.BooleanField(default=True)
    allow_imap = models.BooleanField(default=True)
    allow_pop3 = models.BooleanField(default=True)
    allow_smtp = models.BooleanField(default=True, help_text="SMTP submission (SASL)")
    # Forwarding: when forwards exist, mail goes to them, plus here when keep_copy is set.
    keep_copy = models.BooleanField(default=True)
    maildir = models.CharField(max_length=400, help_text="Relative to the vmail root")
    # A Maildir operation (move, archive, restore) for this mailbox has not finished yet: the
    # lookups answer a temporary failure for it, so mail waits in the sender's queue and nothing
    # is delivered into a directory that is being moved.
    maildir_busy = models.BooleanField(default=False, db_default=False)
    created = models.DateTimeField(auto_now_add=True)
    modified = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["address"]
        verbose_name_plural = "mailboxes"
        constraints = [
            models.UniqueConstraint(fields=["domain", "local_part"], name="mailbox_domain_local"),
            models.CheckConstraint(
                condition=models.Q(address=Lower("address")), name="mailbox_address_lower"
            ),
        ]

    def __str__(self) -> str:
        return self.address


class MailboxForward(models.Model):
    mailbox = models.ForeignKey(Mailbox, on_delete=models.CASCADE, related_name="forwards")
    address = models.CharField(max_length=320)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["mailbox", "address"], name="mailbox_forward_unique")
        ]

    def __str__(self) -> str:
        return self.address


class Alias(models.Model):
    """`local@domain`, or `@domain` (local_part '') for a catch-all."""

    domain = models.ForeignKey(Domain, on_delete=models.CASCADE, related_name="aliases")
    local_part = models.CharField(max_length=64, blank=True)
    address = models.CharField(max_length=320, unique=True)
    active = models.BooleanField(default=True)
    description = models.CharField(max_length=255, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    modified = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["address"]
        verbose_name_plural = "aliases"
        constraints = [
            models.UniqueConstraint(fields=["domain", "local_part"], name="alias_domain_local"),
            models.CheckConstraint(
                condition=models.Q(address=Lower("address")), name="alias_address_lower"
            ),
        ]

    def __str__(self) -> str:
        return self.address

    @property
    def is_catchall(self) -> bool:
        return self.local_part == ""


class AliasRecipient(models.Model):
    alias = models.ForeignKey(Alias, on_delete=models.CASCADE, related_name="recipients")
    # Indexed: "which aliases point to this mailbox" drives sender identities and loop checks.
    address = models.CharField(max_length=320, db_index=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["alias", "address"], name="alias_recipient_unique")
        ]

    def __str__(self) -> str:
        return self.address


class SenderGrant(models.Model):
    """An extra address a mailbox may use as MAIL FROM (local_part '' = any address of the domain).
    The grant belongs to a domain served here and goes when that domain goes."""

    mailbox = models.ForeignKey(Mailbox, on_delete=models.CASCADE, related_name="sender_grants")
    local_part = models.CharField(max_length=64, blank=True)
    domain = models.ForeignKey(Domain, on_delete=models.CASCADE, related_name="sender_grants")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["domain", "local_part"]
        indexes = [models.Index(fields=["domain", "local_part"], name="sendergrant_key")]
        constraints = [
            models.UniqueConstraint(
                fields=["mailbox", "domain", "local_part"], name="sendergrant_unique"
            )
        ]

    def __str__(self) -> str:
        return self.address

    @property
    def address(self) -> str:
        return f"{self.local_part}@{self.domain.name}"


class RelayRecipient(models.Model):
    """A recipient a relay or backup domain accepts (Postfix relay_recipient_maps), so port 25
    does not take mail for any address there unless the domain says `relay_accept_all`."""

    domain = models.ForeignKey(Domain, on_delete=models.CASCADE, related_name="relay_recipients")
    local_part = models.CharField(max_length=64)
    address = models.CharField(max_length=320, unique=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["address"]
        constraints = [
            models.UniqueConstraint(fields=["domain", "local_part"], name="relay_recipient_unique"),
            models.CheckConstraint(
                condition=models.Q(address=Lower("address")), name="relay_recipient_lower"
            ),
        ]

    def __str__(self) -> str:
        return self.address


class QuotaUsage(models.Model):
    """Written by Dovecot (quota_clone through a SQL dict) under `username`; a trigger ties the row
    to its mailbox by key, so it goes with the mailbox."""

    mailbox = models.OneToOneField(
        Mailbox, primary_key=True, on_delete=models.CASCADE, related_name="quota_usage"
    )
    username = models.CharField(max_length=320, unique=True)
    # db_default: Dovecot inserts one counter at a time.
    bytes = models.BigIntegerField(default=0, db_default=0)
    messages = models.BigIntegerField(default=0, db_default=0)
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "mail_quota_usage"

    def __str__(self) -> str:
        return f"{self.username}: {self.bytes} bytes"


def maildir_for(local_part: str, domain_name: str) -> str:
    return f"{domain_name}/{local_part}/"


# An importable name of the choice set (drf-spectacular's ENUM_NAME_OVERRIDES in settings).
DomainKind = Domain.Kind


class AppPassword(models.Model):
    """A generated password for one mail protocol of one mailbox (a phone's IMAP, a printer's
    SMTP), so the main password need not be typed into every device. Only the SHA-256 of the
    secret is stored: the secret is 140 random bits (accounts cannot pick it), so a fast hash
    cannot be brute-forced and Dovecot can look it up by its hash in one index probe
    (docs/security.md, docs/lookups.md `mail_app_passwords`). Never valid for the web panel."""

    class Protocol(models.TextChoices):
        IMAP = "imap", "IMAP"
        POP3 = "pop3", "POP3"
        SMTP = "smtp", "SMTP"

    mailbox = models.ForeignKey(Mailbox, on_delete=models.CASCADE, related_name="app_passwords")
    name = models.CharField(max_length=100)
    protocol = models.CharField(max_length=4, choices=Protocol.choices)
    secret_hash = models.CharField(max_length=64, unique=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["mailbox", "name", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.protocol})"

    @property
    def last_used_at(self):
        """When Dovecot last accepted it (to the minute), or None: written by the passdb query's
        `mail_app_password_used()` (docs/lookups.md)."""
        try:
            return self.use.last_used_at
        except AppPasswordUse.DoesNotExist:
            return None


class AppPasswordUse(models.Model):
    """The last successful login with an app password, written by Dovecot's passdb query through
    a SECURITY DEFINER function (the mail role has no privilege on this table itself)."""

    app_password = models.OneToOneField(
        AppPassword, primary_key=True, on_delete=models.CASCADE, related_name="use"
    )
    last_used_at = models.DateTimeField()

    class Meta:
        db_table = "mail_app_password_use"

    def __str__(self) -> str:
        return f"{self.app_password_id}: {self.last_used_at}"


class TrashItem(models.Model):
    """A deleted domain or mailbox, kept restorable until `purge_after` (docs/architecture.md,
    "The trash"). Deleting moves the object and every row that went with it into `payload` (the
    serialized rows, primary keys kept) and deletes the live rows, so no lookup, selector or
    limit sees it; restoring saves the rows back. The payload holds the same password hashes the
    live rows held: it is never shown by a face nor put in an audit event."""

    class Kind(models.TextChoices):
        DOMAIN = "domain", _("Domain")
        MAILBOX = "mailbox", _("Mailbox")

    kind = models.CharField(max_length=10, choices=Kind.choices)
    object_id = models.BigIntegerField(help_text="The deleted object's id, kept on restore")
    # The domain name or the mailbox address.
    name = models.CharField(max_length=320, db_index=True)
    # The owner while it is in the trash: the reseller whose pool it belonged to (None: the
    # operator's) and, for a mailbox, its domain (plain values: the domain may be trashed too).
    reseller = models.ForeignKey(
        "accounts.Reseller",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="trash_items",
    )
    domain_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    domain_name = models.CharField(max_length=253, blank=True)
    deleted_at = models.DateTimeField()
    deleted_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    purge_after = models.DateTimeField(db_index=True)
    # What a listing shows without reading the payload: {"mailboxes": 2, "aliases": 1, ...}.
    contents = models.JSONField(default=dict, blank=True)
    payload = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-deleted_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.name}"

    @property
    def display_name(self) -> str:
        if self.kind == self.Kind.DOMAIN:
            return display_domain(self.name)
        local, _, domain = self.name.rpartition("@")
        return f"{local}@{display_domain(domain)}"


class TrashName(models.Model):
    """A name a trash item keeps reserved for its owner: a domain's name and its alias domains'
    names, or a mailbox's address and those of the aliases that went with it."""

    item = models.ForeignKey(TrashItem, on_delete=models.CASCADE, related_name="names")
    name = models.CharField(max_length=320, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "name"], name="trashname_unique"),
        ]

    def __str__(self) -> str:
        return self.name


# An importable name of the choice set (drf-spectacular's ENUM_NAME_OVERRIDES in settings).
TrashItemKind = TrashItem.Kind
