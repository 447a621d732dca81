"""Snapshots of each host's Postfix queue (one per host per minute), for the panel's charts.
Imported by mailhost/models.py so Django registers the model with the app."""

from __future__ import annotations

from django.db import models


class QueueSnapshot(models.Model):
    """One host's queue at one minute: counts per queue, per age bucket (qshape's columns) and
    totals; `detail` keeps the top domains, sender domains and deferral reasons (bounded)."""

    host = models.ForeignKey(
        "mailhost.MailHost", on_delete=models.CASCADE, related_name="queue_snapshots"
    )
    taken_at = models.DateTimeField(help_text="The minute it was taken (seconds dropped)")
    incoming = models.PositiveIntegerField(default=0)
    active = models.PositiveIntegerField(default=0)
    deferred = models.PositiveIntegerField(default=0)
    hold = models.PositiveIntegerField(default=0)
    maildrop = models.PositiveIntegerField(default=0)
    corrupt = models.PositiveIntegerField(default=0)
    messages = models.PositiveIntegerField(default=0)
    recipients = models.PositiveIntegerField(default=0)
    size_bytes = models.BigIntegerField(default=0)
    age = models.JSONField(default=list, help_text="Messages per qshape age bucket")
    detail = models.JSONField(default=dict)

    QUEUE_FIELDS = ("incoming", "active", "deferred", "hold", "maildrop", "corrupt")

    class Meta:
        ordering = ["-taken_at", "host_id"]
        constraints = [
            models.UniqueConstraint(fields=["host", "taken_at"], name="queue_snapshot_minute")
        ]
        indexes = [models.Index(fields=["taken_at"], name="queue_snapshot_taken")]

    def __str__(self) -> str:
        return f"{self.host_id} @ {self.taken_at:%Y-%m-%d %H:%M}: {self.messages}"
