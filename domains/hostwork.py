"""The core's port to work that must happen on a mail host (a Maildir move or archive).

A core service that needs such work calls `request(...)` inside its own transaction; the recorder
behind it (installed by the `mailhost` app at start-up, `mailhost/apps.py`) writes the durable
operation row in that same transaction and dispatches it after commit. The core so never imports
mailhost or Celery, and nothing is lost if the broker is down: the row commits with the change.
"""

from __future__ import annotations

from typing import Any, Protocol

MAILDIR_MOVE = "maildir_move"
MAILDIR_ARCHIVE = "maildir_archive"
# The trash (domains.trash): put back, or purge, the Maildirs archived when trash item
# `args["trash_id"]` was deleted.
MAILDIR_RESTORE = "maildir_restore"
MAILDIR_PURGE = "maildir_purge"


class Recorder(Protocol):
    def request(self, *, kind: str, actor: Any, address: str, args: dict[str, Any]) -> None: ...

    def address_pending(self, address: str) -> bool: ...


_recorder: Recorder | None = None


def install(recorder: Recorder) -> None:
    global _recorder
    _recorder = recorder


def _installed() -> Recorder:
    if _recorder is None:
        raise RuntimeError("No mail-host work recorder installed (is 'mailhost' an installed app?)")
    return _recorder


def request(*, kind: str, actor: Any, address: str, args: dict[str, Any]) -> None:
    """Record work for the Maildir of `address`; call inside the change's transaction."""
    _installed().request(kind=kind, actor=actor, address=address, args=args)


def address_pending(address: str) -> bool:
    """Whether unfinished Maildir work exists for `address` (a re-created mailbox waits for it)."""
    return _installed().address_pending(address)
