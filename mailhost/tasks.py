"""Thin Celery tasks: load ids, call a service (mailhost.services). Routing is decided by
`mailhost.dispatch`, never here. Every task is acknowledged late (settings), idempotent and
time-limited; `run_operation` retries transient failures with exponential backoff and jitter."""

from __future__ import annotations

import random

from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings

from mailhost import dispatch, services

# Hard limit kills a stuck command's worker child; the soft one lets the service record the error.
LIMITS = {"soft_time_limit": 240, "time_limit": 300}


def backoff(retries: int) -> float:
    """Exponential backoff with full jitter: up to 2**retries × base seconds, capped."""
    base = settings.MAILADMIN_OPERATION_RETRY_BASE_SECONDS
    return random.uniform(base, min(base * 2**retries, 600))


@shared_task(bind=True, name="mailhost.run_operation", acks_late=True, **LIMITS)
def run_operation(self, operation_id: int) -> str:
    try:
        return services.operation_run(
            operation_id=operation_id,
            final_attempt=self.request.retries >= settings.MAILADMIN_OPERATION_MAX_RETRIES,
        )
    except services.TransientError as exc:
        raise self.retry(exc=exc, countdown=backoff(self.request.retries)) from exc


@shared_task(name="mailhost.sweep", acks_late=True, **LIMITS)
def sweep() -> int:
    return dispatch.sweep()


@shared_task(name="mailhost.heartbeat", acks_late=True, soft_time_limit=20, time_limit=30)
def heartbeat() -> str:
    """Sent to the broadcast queue by beat: every connected worker answers for its host."""
    return services.host_heartbeat_here()


@shared_task(name="mailhost.purge_archives", acks_late=True, **LIMITS)
def purge_archives() -> int:
    return services.archive_purge_due()


@shared_task(name="mailhost.quota_recalc_all", acks_late=True, **LIMITS)
def quota_recalc_all() -> int:
    return len(services.quota_recalc_request(actor=None, address=None))


@shared_task(name="mailhost.quota_check", acks_late=True, **LIMITS)
def quota_check() -> int:
    return services.quota_warnings_check()


@shared_task(name="mailhost.purge_operations", acks_late=True, **LIMITS)
def purge_operations() -> int:
    return services.operation_purge_finished()


@shared_task(name="domains.verify_pending", acks_late=True, **LIMITS)
def verify_pending_domains() -> dict:
    from domains.services import verify_pending_domains as verify

    return verify()


@shared_task(name="audit.purge", acks_late=True, **LIMITS)
def purge_audit_events() -> int:
    """Beat, daily: audit events past MAILADMIN_AUDIT_RETENTION_DAYS (the core has no tasks)."""
    from audit.services import audit_purge

    return audit_purge()


@shared_task(name="domains.trash_purge_expired", acks_late=True, **LIMITS)
def trash_purge_expired() -> int:
    from domains.services import trash_purge_expired as purge

    return purge()


@worker_ready.connect
def register_host(**_kwargs) -> None:
    """A mail host's worker registers its host as soon as it is ready (beat's broadcast
    heartbeat keeps it alive afterwards)."""
    services.host_register_here()


# The Postfix queue's tasks live in their own module; imported here so the worker's
# autodiscovery (which imports `mailhost.tasks`) registers them too.
from mailhost import queue_tasks  # noqa: E402, F401
