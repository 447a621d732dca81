from django.conf import settings
from django.db import models


class AuditEvent(models.Model):
    """One row per change made through the services: who (and through which channel, from which
    address, with which API key), what, to which object, and each field's before and after
    (`audit.diff`). The tenant columns are written with the event, so it stays visible to the
    right reseller and domain admins after the object is gone."""

    class Channel(models.TextChoices):
        WEB = "web", "web"
        API = "api", "API"
        CLI = "cli", "command line"
        IMPORT = "import", "import"
        SYSTEM = "system", "system"

    created = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    # The actor's name when the event was written: kept when the user is deleted, and the only
    # name of an actor without a panel user (an OS user, a mailbox owner).
    # Database defaults too, so rows written by SQL (bulk loads, tests) need not name them.
    actor_label = models.CharField(max_length=150, blank=True, default="", db_default="")
    channel = models.CharField(
        max_length=8, choices=Channel.choices, default=Channel.SYSTEM, db_default=Channel.SYSTEM
    )
    source_ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=200, blank=True, default="", db_default="")
    # Plain values, no foreign keys: the key may be deleted, and the core does not import api.
    api_key_id = models.BigIntegerField(null=True, blank=True)
    api_key_label = models.CharField(max_length=150, blank=True, default="", db_default="")
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=400, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    # Whose the object was (audit.services.scope_of): plain ids that outlive the rows.
    reseller_id = models.BigIntegerField(null=True, blank=True)
    domain_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [
            models.Index(fields=["object_type", "object_id"], name="audit_object"),
            # The audit log's search matches an action exactly, beside the object's name and
            # type by substring (pg_trgm indexes, audit migration 0002): every arm indexed.
            models.Index(fields=["action"], name="audit_action"),
            # A reseller's and a domain admin's lists, newest first.
            models.Index(fields=["reseller_id", "-created", "-id"], name="audit_reseller"),
            models.Index(fields=["domain_id", "-created", "-id"], name="audit_domain"),
            models.Index(fields=["channel", "-created"], name="audit_channel"),
        ]

    def __str__(self) -> str:
        return f"{self.created:%Y-%m-%d %H:%M} {self.action} {self.object_repr}"
