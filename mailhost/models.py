"""Mail hosts and the operations queued for them (the outbox). docs/architecture.md, "Mail-host
operations", and /work/wt/notes/ops-interface.md describe how they are used."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# Every worker consumes its own queue plus these two: BROADCAST_QUEUE is a fan-out (each worker
# gets a copy; lossy for a worker that is not connected, so only heartbeats use it) and ANY_QUEUE
# is shared (one worker takes each message) for operations that any host may run.
BROADCAST_QUEUE = "broadcast"
ANY_QUEUE = "mailhost"
HOST_QUEUE_PREFIX = "host."


def host_queue(name: str) -> str:
    return f"{HOST_QUEUE_PREFIX}{name}"


MAILDIR_KINDS = ("maildir_move", "maildir_archive", "maildir_restore")


class MailHost(models.Model):
    """A mail host, as its worker registers it (`services.host_register`) and keeps it alive
    (`services.host_heartbeat`)."""

    class Role(models.TextChoices):
        MAIL = "mail", _("Postfix and Dovecot")
        MX = "mx", _("Postfix only")
        STORE = "store", _("Dovecot only")

    name = models.CharField(max_length=100, unique=True)
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MAIL)
    postfix_version = models.CharField(max_length=40, blank=True)
    dovecot_version = models.CharField(max_length=80, blank=True)
    # What this host's worker serves: `postfix -c postfix_dir`, `doveadm -c dovecot_conf`.
    postfix_dir = models.CharField(max_length=400, blank=True)
    dovecot_conf = models.CharField(max_length=400, blank=True)
    vmail_root = models.CharField(max_length=400, blank=True)
    last_heartbeat = models.DateTimeField(null=True, blank=True)
    registered_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def queue(self) -> str:
        return host_queue(self.name)

    @property
    def runs_postfix(self) -> bool:
        return self.role in (self.Role.MAIL, self.Role.MX)

    @property
    def runs_dovecot(self) -> bool:
        return self.role in (self.Role.MAIL, self.Role.STORE)

    @property
    def is_down(self) -> bool:
        """Silent for longer than MAILADMIN_HOST_DOWN_SECONDS."""
        if self.last_heartbeat is None:
            return True
        limit = timedelta(seconds=settings.MAILADMIN_HOST_DOWN_SECONDS)
        return timezone.now() - self.last_heartbeat > limit


class Operation(models.Model):
    """One piece of work for a mail host, written in the transaction of the change that needs it
    and dispatched after commit (`dispatch.enqueue`). The task message carries only the id."""

    class Kind(models.TextChoices):
        RELOAD = "reload", _("Check and reload Postfix and Dovecot")
        PUSH_CONFIG = "push_config", _("Write the generated configuration and reload")
        MAILDIR_MOVE = "maildir_move", _("Move a Maildir (rename)")
        MAILDIR_ARCHIVE = "maildir_archive", _("Archive a Maildir (delete)")
        MAILDIR_RESTORE = "maildir_restore", _("Restore an archived Maildir")
        MAILDIR_PURGE = "maildir_purge", _("Purge an archived Maildir")
        QUOTA_RECALC = "quota_recalc", _("Recalculate quota")
        QUOTA_WARN = "quota_warn", _("Deliver a quota warning")
        QUEUE_ACTION = "queue_action", _("Act on the Postfix queue")

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    kind = models.CharField(max_length=30, choices=Kind.choices)
    # Null: any host may run it (ANY_QUEUE). Broadcast work is one row per host (`dispatch`).
    host = models.ForeignKey(
        MailHost, null=True, blank=True, on_delete=models.PROTECT, related_name="operations"
    )
    # Ids and the few values the work needs once the rows are gone (a deleted mailbox's Maildir).
    args = models.JSONField(default=dict, blank=True)
    # The mailbox whose Maildir this touches: it stays `maildir_busy` while this is unfinished.
    mailbox_address = models.CharField(max_length=320, blank=True, db_index=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    output = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True, db_index=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [models.Index(fields=["state", "dispatched_at"], name="operation_sweep")]

    def __str__(self) -> str:
        where = self.host.name if self.host_id else _("any host")
        return f"#{self.pk} {self.kind} @ {where} ({self.state})"

    @property
    def queue(self) -> str:
        return host_queue(self.host.name) if self.host_id else ANY_QUEUE

    @property
    def unfinished(self) -> bool:
        return self.state in (self.State.PENDING, self.State.RUNNING)


class ArchivedMaildir(models.Model):
    """A deleted mailbox's Maildir, kept under `<vmail>/.archive/` until `purge_after`."""

    address = models.CharField(max_length=320, db_index=True)
    host = models.ForeignKey(
        MailHost, null=True, blank=True, on_delete=models.PROTECT, related_name="archives"
    )
    path = models.CharField(max_length=400, help_text="Relative to the vmail root")
    archived_at = models.DateTimeField(null=True, blank=True)
    purge_after = models.DateTimeField()
    restored_at = models.DateTimeField(null=True, blank=True)
    purged_at = models.DateTimeField(null=True, blank=True)
    # The trash item (domains.TrashItem) whose deletion archived it: restoring the item puts
    # this Maildir back, purging it purges this archive. A plain id: the item goes on restore.
    trash_item_id = models.BigIntegerField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["-purge_after", "-id"]

    def __str__(self) -> str:
        return f"{self.address} → {self.path}"


class QuotaWarning(models.Model):
    """The highest warning level sent to a mailbox; lowered when usage drops below it, so each
    crossing warns once."""

    mailbox = models.OneToOneField(
        "domains.Mailbox", primary_key=True, on_delete=models.CASCADE, related_name="quota_warning"
    )
    level = models.PositiveSmallIntegerField(default=0, help_text="0, 80 or 95 (per cent)")
    changed_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.mailbox_id}: {self.level}%"


# Importable names of the choice sets (drf-spectacular's ENUM_NAME_OVERRIDES in settings).
OperationKind = Operation.Kind
OperationState = Operation.State
MailHostRole = MailHost.Role

# The Postfix queue's snapshots live in their own module; importing it registers the model here.
from mailhost.queue_models import QueueSnapshot  # noqa: E402, F401
