"""Mail-host operations: what a worker does with an operation row, host registration, Maildir
lifecycle, quota. Writes are keyword-only and transactional; commands come from
`mailhost.commands` (allowlisted argv lists, no shell)."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit import diff
from audit.origin import Origin
from audit.services import audit_record
from domains.models import Mailbox, QuotaUsage
from mailhost import commands, dispatch
from mailhost.models import MAILDIR_KINDS, ArchivedMaildir, MailHost, Operation, QuotaWarning

log = logging.getLogger(__name__)
Kind = Operation.Kind
State = Operation.State
ARCHIVE_DIR = ".archive"
QUOTA_LEVELS = (95, 80)
# Longer than a task's hard time limit (mailhost.tasks.LIMITS): a run older than this is dead.
RUNNING_GRACE_SECONDS = 330


class OperationFailed(Exception):
    """Permanent: recorded verbatim on the row, not retried (a broken configuration)."""


class TransientError(Exception):
    """Retried with backoff (a command that timed out, a host that is not ready)."""


# --- The outbox recorder behind domains.hostwork ---------------------------------------------


def _maildir_hosts():
    return list(MailHost.objects.filter(role__in=[MailHost.Role.MAIL, MailHost.Role.STORE]))


class OutboxRecorder:
    """Installed into `domains.hostwork` by MailhostConfig.ready(): the core's Maildir requests
    become operation rows, one per host that stores mail."""

    def request(self, *, kind: str, actor: Any, address: str, args: dict[str, Any]) -> None:
        if kind in (Kind.MAILDIR_RESTORE, Kind.MAILDIR_PURGE):
            _trash_archives(kind, actor=actor, address=address, args=args)
            return
        hosts = _maildir_hosts() or [None]
        for host in hosts:
            op_args = dict(args)
            if kind == Kind.MAILDIR_ARCHIVE:
                # Kept at least as long as the trash item it belongs to can be restored.
                days = max(
                    settings.MAILADMIN_MAILDIR_RETENTION_DAYS,
                    settings.MAILADMIN_TRASH_RETENTION_DAYS,
                )
                archive = ArchivedMaildir.objects.create(
                    address=address,
                    host=host,
                    path=_archive_path(args["maildir"]),
                    purge_after=timezone.now() + timedelta(days=days),
                    trash_item_id=args.get("trash_id"),
                )
                op_args["archive_id"] = archive.pk
            dispatch.record(kind, host=host, args=op_args, mailbox_address=address, actor=actor)

    def address_pending(self, address: str) -> bool:
        return _address_pending(address)


def _trash_archives(kind: str, *, actor: Any, address: str, args: dict[str, Any]) -> None:
    """A trash item restored (its Maildirs move back into the restored mailbox, which stays
    busy until they have) or purged (its archives are purged now, or by beat's archive purge
    once archived)."""
    archives = list(
        ArchivedMaildir.objects.select_for_update().filter(
            trash_item_id=args["trash_id"], address=address, restored_at=None, purged_at=None
        )
    )
    if kind == Kind.MAILDIR_RESTORE and archives:
        Mailbox.objects.filter(address=address).update(maildir_busy=True)
    for archive in archives:
        if kind == Kind.MAILDIR_RESTORE:
            dispatch.record(
                Kind.MAILDIR_RESTORE,
                host=archive.host,
                args={"archive_id": archive.pk, "to": args["to"]},
                mailbox_address=address,
                actor=actor,
            )
            continue
        ArchivedMaildir.objects.filter(pk=archive.pk).update(purge_after=timezone.now())
        if archive.archived_at is not None:
            dispatch.record(
                Kind.MAILDIR_PURGE, host=archive.host, args={"archive_id": archive.pk}, actor=actor
            )


def _address_pending(address: str) -> bool:
    return Operation.objects.filter(
        mailbox_address=address,
        kind__in=MAILDIR_KINDS,
        state__in=[State.PENDING, State.RUNNING, State.FAILED],
    ).exists()


def _archive_path(maildir: str) -> str:
    stamp = timezone.now().strftime("%Y%m%dT%H%M%S%f")
    return f"{ARCHIVE_DIR}/{maildir.strip('/')}.{stamp}/"


# --- Running an operation ----------------------------------------------------------------------


def operation_run(*, operation_id: int, final_attempt: bool = False) -> str:
    """Run one operation on this host, once: a row already done (a message sent twice, a sweep
    racing the first send) is skipped. Permanent errors mark it failed with the error verbatim;
    transient ones are raised for the task to retry, and mark it failed on the final attempt."""
    with transaction.atomic():
        op = Operation.objects.select_for_update().filter(pk=operation_id).first()
        if op is None or op.state in (State.DONE, State.FAILED):
            return "skipped"
        if (
            op.state == State.RUNNING
            and op.started_at
            and op.started_at > timezone.now() - (timedelta(seconds=RUNNING_GRACE_SECONDS))
        ):
            # A duplicate message while another worker runs it: that run's result counts. Past
            # the hard time limit the other worker is gone, and this one takes over.
            return "running elsewhere"
        op.state = State.RUNNING
        op.attempts += 1
        op.started_at = timezone.now()
        op.save(update_fields=["state", "attempts", "started_at"])
    handler = HANDLERS[op.kind]
    try:
        out = handler(op)
    except OperationFailed as exc:
        _finish(op, State.FAILED, error=str(exc))
        return "failed"
    except (TransientError, subprocess.TimeoutExpired, OSError) as exc:
        if final_attempt:
            _finish(op, State.FAILED, error=str(exc))
            return "failed"
        Operation.objects.filter(pk=op.pk).update(state=State.PENDING, last_error=str(exc))
        raise TransientError(str(exc)) from exc
    except Exception as exc:  # a bug: visible on the row, retryable by hand
        log.exception("operation %s", op.pk)
        _finish(op, State.FAILED, error=f"{type(exc).__name__}: {exc}")
        return "failed"
    _finish(op, State.DONE, output=out or "")
    return "done"


@transaction.atomic
def _finish(op: Operation, state: str, *, error: str = "", output: str = "") -> None:
    Operation.objects.filter(pk=op.pk).update(
        state=state, last_error=error, output=output, finished_at=timezone.now()
    )
    if op.mailbox_address and state == State.DONE and not _address_pending(op.mailbox_address):
        # The lookups answer for this address again (the triggers rewrite its rows at commit).
        for mailbox in Mailbox.objects.filter(address=op.mailbox_address, maildir_busy=True):
            mailbox.maildir_busy = False
            mailbox.save(update_fields=["maildir_busy", "modified"])


@transaction.atomic
def operation_retry(*, actor, operation: Operation, origin: Origin | None = None) -> Operation:
    """Send a failed operation (or one stuck pending) again, from the UI or the API."""
    op = Operation.objects.select_for_update().get(pk=operation.pk)
    if op.state == State.DONE:
        raise ValidationError({"state": ["This operation has finished; it cannot be retried."]})
    if (
        op.state == State.RUNNING
        and op.started_at
        and op.started_at
        > timezone.now() - timedelta(seconds=settings.MAILADMIN_OPERATION_RESEND_SECONDS)
    ):
        raise ValidationError({"state": ["This operation is running now."]})
    before = op.state
    op.state = State.PENDING
    op.dispatched_at = None
    op.save(update_fields=["state", "dispatched_at"])
    audit_record(
        actor=actor,
        action="operation.retry",
        obj=op,
        changes={
            "kind": {"before": op.kind, "after": op.kind},
            **diff.diff({"state": before}, {"state": op.state}),
        },
        origin=origin,
    )
    transaction.on_commit(lambda: dispatch.enqueue(op.pk), robust=True)
    return op


def operation_purge_finished() -> int:
    cutoff = timezone.now() - timedelta(days=settings.MAILADMIN_OPERATION_KEEP_DAYS)
    deleted, _ = Operation.objects.filter(state=State.DONE, finished_at__lt=cutoff).delete()
    return deleted


# --- What this host is (settings of the worker's process) ---------------------------------


def _here() -> dict[str, str]:
    return {
        "name": settings.MAILHOST_NAME,
        "role": settings.MAILHOST_ROLE,
        "postfix_dir": settings.MAILHOST_POSTFIX_DIR,
        "dovecot_conf": settings.MAILHOST_DOVECOT_CONF,
        "vmail_root": settings.MAIL_VMAIL_ROOT,
    }


def _version(name: str, arg: str) -> str:
    if not arg:
        return ""
    try:
        proc = commands.run(name, arg, timeout=20)
    except (OSError, subprocess.TimeoutExpired, commands.CommandRefused, RuntimeError):
        return ""
    return proc.stdout.strip()[:80] if proc.returncode == 0 else ""


def host_register_here() -> MailHost | None:
    """Called when this process's worker is ready: insert or refresh its MailHost row."""
    here = _here()
    if not here["name"]:
        return None
    with transaction.atomic():
        host, created = MailHost.objects.update_or_create(
            name=here["name"],
            defaults={
                "role": here["role"],
                "postfix_dir": here["postfix_dir"],
                "dovecot_conf": here["dovecot_conf"],
                "vmail_root": here["vmail_root"],
                "postfix_version": _version("postconf_version", here["postfix_dir"]),
                "dovecot_version": _version("dovecot_version", here["dovecot_conf"]),
                "last_heartbeat": timezone.now(),
            },
        )
        if created:
            audit_record(
                actor=None, action="mailhost.register", obj=host, changes=diff.created(here)
            )
    return host


def host_heartbeat_here() -> str:
    name = settings.MAILHOST_NAME
    if not name:
        return ""
    if not MailHost.objects.filter(name=name).update(last_heartbeat=timezone.now()):
        host_register_here()
    return name


# --- Reload and configuration -------------------------------------------------------------


def _host_paths(op: Operation) -> tuple[str, str]:
    here = _here()
    if op.host_id and op.host.name != here["name"]:
        # Routing sent it to the wrong worker: never act on another host's behalf.
        raise TransientError(f"operation for {op.host.name} reached {here['name'] or 'no host'}")
    return here["postfix_dir"], here["dovecot_conf"]


def _reload(op: Operation) -> str:
    postfix_dir, dovecot_conf = _host_paths(op)
    if not postfix_dir and not dovecot_conf:
        raise OperationFailed(
            "This host has neither MAILHOST_POSTFIX_DIR nor MAILHOST_DOVECOT_CONF."
        )
    # Check everything first: one broken configuration reloads nothing.
    notes = []
    if postfix_dir:
        proc = commands.run("postfix_check", postfix_dir)
        if proc.returncode != 0 or proc.stderr.strip():
            raise OperationFailed(f"postfix check failed:\n{commands.output(proc)}")
    if dovecot_conf:
        proc = commands.run("doveconf_check", dovecot_conf)
        if proc.returncode != 0:
            raise OperationFailed(f"doveconf -n failed:\n{commands.output(proc)}")
    if postfix_dir:
        proc = commands.run("postfix_reload", postfix_dir)
        if proc.returncode != 0:
            raise TransientError(f"postfix reload failed:\n{commands.output(proc)}")
        notes.append(commands.output(proc) or "postfix reloaded")
    if dovecot_conf:
        proc = commands.run("doveadm_reload", dovecot_conf)
        if proc.returncode != 0:
            raise TransientError(f"doveadm reload failed:\n{commands.output(proc)}")
        notes.append(commands.output(proc) or "dovecot reloaded")
    return "\n".join(notes)


def _push_config(op: Operation) -> str:
    """Write the configuration `mailconfig` renders for this host, then check and reload."""
    from mailhost import mailconfig

    postfix_dir, dovecot_conf = _host_paths(op)
    if not postfix_dir:
        raise OperationFailed("This host has no MAILHOST_POSTFIX_DIR to write into.")
    cfg = _host_mailconfig()
    output = Path(postfix_dir).parent
    written = mailconfig.write(cfg, output)
    return f"wrote {len(written)} files under {output}\n" + _reload(op)


def _host_mailconfig():
    from mailhost import mailconfig
    from mailhost import stack as mailstack

    root = settings.MAILHOST_STACK_ROOT
    if root:  # a `manage.py mailstack` instance: the same generator with the stack's paths
        running = mailstack.Stack.load(root)
        if running is None:
            raise OperationFailed(f"no mail stack at {root}")
        return running.cfg
    return mailconfig.MailConfig.from_settings()


@transaction.atomic
def reload_request(
    *,
    actor,
    host: MailHost | None = None,
    push_config: bool = False,
    origin: Origin | None = None,
):
    """A reload (optionally after writing fresh configuration) on one host, or on every host."""
    kind = Kind.PUSH_CONFIG if push_config else Kind.RELOAD
    hosts = [host] if host is not None else None
    ops = dispatch.record_broadcast(kind, hosts=hosts, actor=actor)
    for op in ops:
        audit_record(actor=actor, action=f"operation.{kind}", obj=op, origin=origin)
    return ops


# --- Maildirs -----------------------------------------------------------------------------------


def _vmail() -> Path:
    return Path(settings.MAIL_VMAIL_ROOT)


def _under_vmail(rel: str) -> Path:
    root = _vmail().resolve()
    if not rel or rel.startswith("/"):
        raise OperationFailed(f"refusing a path outside the vmail root: {rel!r}")
    path = (root / rel.rstrip("/")).resolve()
    if path == root or root not in path.parents:
        raise OperationFailed(f"refusing a path outside the vmail root: {rel!r}")
    return path


def _chown_parents(path: Path) -> None:
    root = _vmail().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    for parent in [path.parent, *path.parent.parents]:
        if parent == root or root not in parent.parents:
            break
        try:
            os.chown(parent, settings.MAIL_UID, settings.MAIL_GID)
        except PermissionError:
            pass


def _kick(address: str) -> None:
    dovecot_conf = settings.MAILHOST_DOVECOT_CONF
    if dovecot_conf and address:
        # exit 68 = nobody to kick; anything else is logged but must not block the move (nor
        # does an address doveadm could read as an option, which is never passed)
        try:
            proc = commands.run("doveadm_kick", dovecot_conf, address, timeout=30)
        except commands.CommandRefused as exc:
            log.warning("doveadm kick skipped: %s", exc)
            return
        if proc.returncode not in (0, 68):
            log.warning("doveadm kick %s: %s", address, commands.output(proc))


def _merge(src: Path, dst: Path) -> None:
    """Move src's entries into an existing dst (mail delivered to both sides): message files
    keep their unique Maildir names; Dovecot indexes rebuild themselves."""
    for entry in src.iterdir():
        target = dst / entry.name
        if not target.exists():
            entry.rename(target)
        elif entry.is_dir() and target.is_dir():
            _merge(entry, target)
    shutil.rmtree(src, ignore_errors=True)


def _move(src: Path, dst: Path) -> str:
    if not src.exists():
        return f"nothing at {src} (already moved, or never received mail)"
    if dst.exists():
        _merge(src, dst)
        return f"merged {src} into {dst}"
    _chown_parents(dst)
    src.rename(dst)
    return f"moved {src} to {dst}"


def _maildir_move(op: Operation) -> str:
    _host_paths(op)
    _kick(op.args.get("old_address", ""))
    return _move(_under_vmail(op.args["from"]), _under_vmail(op.args["to"]))


def _maildir_archive(op: Operation) -> str:
    _host_paths(op)
    archive = ArchivedMaildir.objects.get(pk=op.args["archive_id"])
    _kick(op.mailbox_address)
    out = _move(_under_vmail(op.args["maildir"]), _under_vmail(archive.path))
    ArchivedMaildir.objects.filter(pk=archive.pk).update(archived_at=timezone.now())
    return out


def _maildir_restore(op: Operation) -> str:
    _host_paths(op)
    archive = ArchivedMaildir.objects.get(pk=op.args["archive_id"])
    if archive.archived_at is None:
        # A trash item restored before its archive ran: wait for it (retried with backoff).
        raise TransientError(f"{archive.path} is not archived yet")
    _kick(op.mailbox_address)
    out = _move(_under_vmail(archive.path), _under_vmail(op.args["to"]))
    ArchivedMaildir.objects.filter(pk=archive.pk).update(restored_at=timezone.now())
    return out


def _maildir_purge(op: Operation) -> str:
    _host_paths(op)
    archive = ArchivedMaildir.objects.get(pk=op.args["archive_id"])
    path = _under_vmail(archive.path)
    if ARCHIVE_DIR not in path.parts:
        raise OperationFailed(f"not an archive: {path}")
    shutil.rmtree(path, ignore_errors=True)
    ArchivedMaildir.objects.filter(pk=archive.pk).update(purged_at=timezone.now())
    return f"purged {path}"


@transaction.atomic
def archive_restore(*, actor, archive: ArchivedMaildir, origin: Origin | None = None) -> Operation:
    """Put an archived Maildir back into the mailbox that now has its address (create the
    mailbox first); mail it received since is kept beside the restored mail."""
    archive = ArchivedMaildir.objects.select_for_update().get(pk=archive.pk)
    if archive.restored_at or archive.purged_at:
        raise ValidationError({"archive": ["This archive was already restored or purged."]})
    if archive.archived_at is None:
        raise ValidationError({"archive": ["This Maildir is not archived yet."]})
    mailbox = Mailbox.objects.select_for_update().filter(address=archive.address).first()
    if mailbox is None:
        raise ValidationError(
            {"address": [f"Create the mailbox {archive.address} first, then restore into it."]}
        )
    mailbox.maildir_busy = True
    mailbox.save(update_fields=["maildir_busy", "modified"])
    op = dispatch.record(
        Kind.MAILDIR_RESTORE,
        host=archive.host,
        args={"archive_id": archive.pk, "to": mailbox.maildir},
        mailbox_address=archive.address,
        actor=actor,
    )
    audit_record(
        actor=actor,
        action="mailbox.maildir_restore",
        obj=mailbox,
        changes={"archive": {"before": archive.path, "after": None}},
        origin=origin,
    )
    return op


def archive_purge_due() -> int:
    """Beat: archives past their retention are deleted on their host."""
    due = ArchivedMaildir.objects.filter(
        purge_after__lt=timezone.now(),
        purged_at__isnull=True,
        restored_at__isnull=True,
        archived_at__isnull=False,
    ).select_related("host")
    count = 0
    for archive in due:
        with transaction.atomic():
            pending = Operation.objects.filter(
                kind=Kind.MAILDIR_PURGE, args__archive_id=archive.pk
            ).exclude(state=State.FAILED)
            if not pending.exists():
                dispatch.record(
                    Kind.MAILDIR_PURGE, host=archive.host, args={"archive_id": archive.pk}
                )
                count += 1
    return count


# --- Quota --------------------------------------------------------------------------------------


def _quota_recalc(op: Operation) -> str:
    _, dovecot_conf = _host_paths(op)
    if not dovecot_conf:
        raise OperationFailed("This host has no MAILHOST_DOVECOT_CONF.")
    address = op.args.get("address")
    if address:
        proc = commands.run("doveadm_quota_recalc", dovecot_conf, address)
    else:
        proc = commands.run("doveadm_quota_recalc_all", dovecot_conf)
    if proc.returncode != 0:
        raise OperationFailed(f"doveadm quota recalc failed:\n{commands.output(proc)}")
    if not address:
        return commands.output(proc) or "recalculated every user"
    # What Dovecot counts now (the panel's copy follows at the mailbox's next change).
    proc = commands.run("doveadm_quota_get", dovecot_conf, address)
    return commands.output(proc)


@transaction.atomic
def quota_recalc_request(
    *, actor, address: str | None, origin: Origin | None = None
) -> list[Operation]:
    """`doveadm quota recalc` for one mailbox (by its address) or for all, on every host that
    stores mail."""
    args = {}
    if address:
        mailbox = Mailbox.objects.filter(address=address.strip().lower()).first()
        if mailbox is None:
            raise ValidationError({"address": [f"There is no mailbox {address}."]})
        args = {"address": mailbox.address, "mailbox_id": mailbox.pk}
    hosts = _maildir_hosts() or None
    ops = dispatch.record_broadcast(Kind.QUOTA_RECALC, hosts=hosts, args=args, actor=actor)
    for op in ops:
        audit_record(
            actor=actor,
            action="operation.quota_recalc",
            obj=op,
            changes=diff.created(args),
            origin=origin,
        )
    return ops


def _quota_warn(op: Operation) -> str:
    _, dovecot_conf = _host_paths(op)
    level = int(op.args["level"])
    address = op.mailbox_address
    message = (
        f"From: postmaster@{address.split('@', 1)[1]}\n"
        f"To: {address}\n"
        f"Subject: Your mailbox is {level}% full\n"
        "Auto-Submitted: auto-generated\n"
        "Content-Type: text/plain; charset=utf-8\n\n"
        f"Your mailbox {address} has used {level}% or more of its quota.\n"
        "Delete or archive some messages, or ask your administrator for more space.\n"
    )
    proc = commands.run_save(dovecot_conf, address, message)
    if proc.returncode != 0:
        raise TransientError(f"doveadm save failed:\n{commands.output(proc)}")
    return f"warned {address} at {level}%"


def quota_level(used: int, quota: int) -> int:
    if quota <= 0:
        return 0
    for level in QUOTA_LEVELS:
        if used * 100 >= quota * level:
            return level
    return 0


def quota_warnings_check() -> int:
    """Beat: compare each limited mailbox's usage with the last warning level; a higher level
    sends one message (an operation on the mail host) and flags the dashboard; a lower one just
    lowers the mark, so the next crossing warns again."""
    sent = 0
    usage = QuotaUsage.objects.filter(mailbox__quota_bytes__gt=0).select_related("mailbox")
    marks = dict(QuotaWarning.objects.values_list("mailbox_id", "level"))
    for row in usage.iterator():
        level = quota_level(row.bytes, row.mailbox.quota_bytes)
        mark = marks.get(row.mailbox_id, 0)
        if level == mark:
            continue
        with transaction.atomic():
            QuotaWarning.objects.update_or_create(mailbox=row.mailbox, defaults={"level": level})
            if level > mark:
                for host in _maildir_hosts() or [None]:
                    dispatch.record(
                        Kind.QUOTA_WARN,
                        host=host,
                        args={"level": level},
                        mailbox_address=row.mailbox.address,
                    )
                    sent += 1
    return sent


HANDLERS = {
    Kind.RELOAD: _reload,
    Kind.PUSH_CONFIG: _push_config,
    Kind.MAILDIR_MOVE: _maildir_move,
    Kind.MAILDIR_ARCHIVE: _maildir_archive,
    Kind.MAILDIR_RESTORE: _maildir_restore,
    Kind.MAILDIR_PURGE: _maildir_purge,
    Kind.QUOTA_RECALC: _quota_recalc,
    Kind.QUOTA_WARN: _quota_warn,
}
