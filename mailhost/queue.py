"""The Postfix queue of one mail host, read as a stream and acted on through an allowlist.

`postqueue -c DIR -j` prints one JSON object per queued message. Everything here reads that
output line by line from the subprocess's pipe, so memory does not depend on the queue's length:

- `summarise()` keeps counters only. Per-domain, per-sender-domain and per-reason counters are
  `BoundedCounter`s: the first `cap` distinct keys are counted exactly, later new keys are added
  up under `OTHER` ("(other)"), so a queue of a million distinct domains costs `cap` rows.
- `queue_page()` keeps the requested page and a match count, nothing else (no cap on the queue:
  page 5,000 of a 1,000,000-message queue works, it just reads further).
- `run_action()` selects ids from the same stream into a temporary file, then feeds that file to
  `postsuper ... -` on stdin, so an action on a filter never holds the list of ids in memory.

Only the commands in `ALLOWED` run, as argv lists (no shell); queue ids, queue names and filters
are validated before any command is built (`QueueInputError` names the field).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import idna

QUEUE_NAMES = ("maildrop", "incoming", "active", "deferred", "hold", "corrupt")
# qshape's columns: minutes; a message older than the last edge goes into "1280+".
AGE_EDGES = (5, 10, 20, 40, 80, 160, 320, 640, 1280)
AGE_LABELS = tuple(str(m) for m in AGE_EDGES) + ("1280+",)
OTHER = "(other)"
MAX_DOMAINS = 1000  # distinct recipient/sender domains counted exactly in a summary
MAX_REASONS = 200  # distinct normalised deferral reasons counted exactly
MAX_REASON_LENGTH = 200
MAX_PAGE_SIZE = 500
MAX_FILTER_LENGTH = 254
ACTIONS = ("flush", "hold", "release", "requeue", "delete")
MAX_PASSES = 5  # walks of the queue for one hold/release/delete on a filter
COMMAND_TIMEOUT = 600  # seconds: a hung postqueue/postsuper is killed, never waited on forever

# Postfix queue ids: short (hex, enable_long_queue_ids=no) and long (base-52 time, "z", base-51
# inode; see Postfix's mail_queue.h). Nothing else ever reaches a command line.
SHORT_ID_RE = re.compile(r"[0-9A-F]{6,16}")
LONG_ID_RE = re.compile(
    r"[0-9BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz]{10,16}z"
    r"[0-9BCDFGHJKLMNPQRSTVWXYbcdfghjklmnpqrstvwxy]{1,16}"
)
_DOMAIN_CHARS_RE = re.compile(r"[a-z0-9.-]+")

# Command -> the options it may receive. `-c` (config dir) is added by `_argv` itself.
ALLOWED: dict[str, frozenset[str]] = {
    "postqueue": frozenset({"-j", "-f", "-i"}),
    "postsuper": frozenset({"-h", "-H", "-r", "-d"}),
}
POSTSUPER_OPTION = {"hold": "-h", "release": "-H", "requeue": "-r", "delete": "-d"}
SBIN_DIRS = ("/usr/sbin", "/usr/bin", "/sbin", "/bin")


class QueueError(RuntimeError):
    """A queue command failed; the message carries its stderr verbatim."""


class QueueInputError(ValueError):
    """Bad input (a queue id, a filter field): `field` names it, like a form error."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


# --- validation ------------------------------------------------------------------------------


def validate_queue_id(value: str, field: str = "queue_id") -> str:
    value = (value or "").strip()
    if not (SHORT_ID_RE.fullmatch(value) or LONG_ID_RE.fullmatch(value)):
        raise QueueInputError(field, "Not a Postfix queue id.")
    return value


def validate_queue_name(value: str, field: str = "queue") -> str:
    value = (value or "").strip().lower()
    if value and value not in QUEUE_NAMES:
        raise QueueInputError(field, f"Unknown queue; choose one of {', '.join(QUEUE_NAMES)}.")
    return value


def validate_domain(value: str, field: str) -> str:
    """A domain to match (a queued message may name any domain, so no policy check here: only
    a well-formed name, in the A-label form Postfix prints)."""
    value = (value or "").strip().rstrip(".").lower()
    if not value:
        return ""
    try:
        value = idna.encode(value, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError) as exc:
        raise QueueInputError(field, "Enter a valid domain name.") from exc
    if len(value) > 253 or not _DOMAIN_CHARS_RE.fullmatch(value) or ".." in value:
        raise QueueInputError(field, "Enter a valid domain name.")
    return value


def _validate_text(value: str, field: str) -> str:
    value = (value or "").strip().lower()
    if len(value) > MAX_FILTER_LENGTH:
        raise QueueInputError(field, f"At most {MAX_FILTER_LENGTH} characters.")
    if any(ch.isspace() or ord(ch) < 32 for ch in value):
        raise QueueInputError(field, "No spaces or control characters.")
    return value


@dataclass(frozen=True)
class QueueFilter:
    """What a list or an action selects. Empty fields match everything; text fields match a part
    of the address (case-insensitive), domains match the whole domain."""

    queue: str = ""
    queue_id: str = ""
    sender: str = ""
    recipient: str = ""
    sender_domain: str = ""
    recipient_domain: str = ""
    search: str = ""  # any of: queue id, sender, a recipient

    FIELDS = (
        "queue",
        "queue_id",
        "sender",
        "recipient",
        "sender_domain",
        "recipient_domain",
        "search",
    )

    @classmethod
    def build(cls, **raw: str) -> QueueFilter:
        """Validate raw input (form or API); raises QueueInputError naming the field."""
        unknown = set(raw) - set(cls.FIELDS)
        if unknown:
            name = sorted(unknown)[0]
            raise QueueInputError(name, "Unknown filter.")
        queue_id = (raw.get("queue_id") or "").strip()
        return cls(
            queue=validate_queue_name(raw.get("queue", "")),
            queue_id=validate_queue_id(queue_id) if queue_id else "",
            sender=_validate_text(raw.get("sender", ""), "sender"),
            recipient=_validate_text(raw.get("recipient", ""), "recipient"),
            sender_domain=validate_domain(raw.get("sender_domain", ""), "sender_domain"),
            recipient_domain=validate_domain(raw.get("recipient_domain", ""), "recipient_domain"),
            search=_validate_text(raw.get("search", ""), "search"),
        )

    def is_empty(self) -> bool:
        return not any(getattr(self, f) for f in self.FIELDS)

    def as_dict(self) -> dict[str, str]:
        return {f: getattr(self, f) for f in self.FIELDS if getattr(self, f)}

    def matches(self, entry: QueueEntry) -> bool:
        if self.queue and entry.queue_name != self.queue:
            return False
        if self.queue_id and entry.queue_id != self.queue_id:
            return False
        sender = entry.sender.lower()
        if self.sender and self.sender not in sender:
            return False
        if self.sender_domain and domain_of(sender) != self.sender_domain:
            return False
        rcpts = [r.lower() for r, _reason in entry.recipients]
        if self.recipient and not any(self.recipient in r for r in rcpts):
            return False
        if self.recipient_domain and not any(domain_of(r) == self.recipient_domain for r in rcpts):
            return False
        if self.search:
            term = self.search
            if not (
                term in entry.queue_id.lower() or term in sender or any(term in r for r in rcpts)
            ):
                return False
        return True


# --- reading the queue -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QueueEntry:
    queue_name: str
    queue_id: str
    arrival_time: int
    message_size: int
    sender: str
    recipients: tuple[tuple[str, str], ...]  # (address, delay_reason or "")
    forced_expire: bool = False

    @classmethod
    def from_json(cls, obj: dict) -> QueueEntry:
        recipients = tuple(
            (str(r.get("address", "")), str(r.get("delay_reason", "") or ""))
            for r in obj.get("recipients") or ()
            if isinstance(r, dict)
        )
        return cls(
            queue_name=str(obj.get("queue_name", "")),
            queue_id=str(obj.get("queue_id", "")),
            arrival_time=int(obj.get("arrival_time") or 0),
            message_size=int(obj.get("message_size") or 0),
            sender=str(obj.get("sender", "")),
            recipients=recipients,
            forced_expire=bool(obj.get("forced_expire", False)),
        )

    def as_dict(self, now: float | None = None) -> dict:
        now = time.time() if now is None else now
        return {
            "queue_name": self.queue_name,
            "queue_id": self.queue_id,
            "arrival_time": self.arrival_time,
            "age_seconds": max(0, int(now - self.arrival_time)),
            "message_size": self.message_size,
            "sender": self.sender,
            "recipients": [{"address": a, "delay_reason": d} for a, d in self.recipients],
            "forced_expire": self.forced_expire,
        }


def binary(name: str) -> str:
    if name not in ALLOWED:
        raise QueueError(f"{name} is not an allowed queue command")
    found = shutil.which(name)
    if found:
        return found
    for d in SBIN_DIRS:
        path = os.path.join(d, name)
        if os.access(path, os.X_OK):
            return path
    raise QueueError(f"{name} not found: is Postfix installed on this host?")


def _argv(command: str, config_dir: str, *args: str) -> list[str]:
    """The argv of an allowlisted command: options from ALLOWED, operands already validated."""
    allowed = ALLOWED[command]
    options = [a for a in args if a.startswith("-") and a != "-"]
    bad = [a for a in options if a not in allowed]
    if bad:
        raise QueueError(f"option {bad[0]} is not allowed for {command}")
    if not config_dir or not os.path.isabs(config_dir):
        raise QueueError("the Postfix config directory must be an absolute path")
    return [binary(command), "-c", config_dir, *args]


def stream_lines(argv: list[str], *, timeout: float = COMMAND_TIMEOUT) -> Iterator[str]:
    """The stdout lines of a command, read as they come (the pipe is never read whole). The
    process is killed if the consumer stops early or the deadline passes; a non-zero exit
    raises QueueError with its stderr."""
    deadline = time.monotonic() + timeout
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err, text=True
        )
        finished = False
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                if time.monotonic() > deadline:
                    raise QueueError(f"{os.path.basename(argv[0])} took over {timeout:.0f}s")
                yield line
            finished = True
        finally:
            if not finished:
                proc.kill()
            proc.stdout.close()
            rc = proc.wait()
        if rc != 0:
            err.seek(0)
            message = err.read().decode(errors="replace").strip()
            raise QueueError(f"{os.path.basename(argv[0])} failed (exit {rc}): {message}")


def parse_lines(lines: Iterable[str]) -> Iterator[QueueEntry]:
    """One QueueEntry per JSON line; blank lines are skipped, a malformed line is an error (a
    partial picture of the queue must not pass for the whole)."""
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as exc:
            raise QueueError(f"postqueue -j line {number} is not JSON: {exc}") from exc
        if not isinstance(obj, dict):
            raise QueueError(f"postqueue -j line {number} is not an object")
        yield QueueEntry.from_json(obj)


def entries(config_dir: str) -> Iterator[QueueEntry]:
    """The queue of the Postfix instance configured in `config_dir`, streamed."""
    return parse_lines(stream_lines(_argv("postqueue", config_dir, "-j")))


# --- summary ---------------------------------------------------------------------------------


class BoundedCounter:
    """Counts per key for at most `cap` distinct keys; later new keys add up under OTHER. Each
    key holds `width` counters (e.g. one per age bucket)."""

    __slots__ = ("cap", "width", "rows")

    def __init__(self, cap: int, width: int = 1):
        self.cap = cap
        self.width = width
        self.rows: dict[str, list[int]] = {}

    def add(self, key: str, column: int = 0, amount: int = 1) -> None:
        row = self.rows.get(key)
        if row is None:
            if len(self.rows) >= self.cap:
                key = OTHER
                row = self.rows.get(OTHER)
            if row is None:
                row = self.rows[key] = [0] * self.width
        row[column] += amount

    def top(self, n: int) -> list[tuple[str, list[int]]]:
        """The `n` biggest rows by their total, OTHER last when present."""
        ranked = sorted(
            ((k, v) for k, v in self.rows.items() if k != OTHER),
            key=lambda kv: (-sum(kv[1]), kv[0]),
        )[:n]
        if OTHER in self.rows:
            ranked.append((OTHER, self.rows[OTHER]))
        return ranked


def age_bucket(age_seconds: float) -> int:
    minutes = age_seconds / 60
    for i, edge in enumerate(AGE_EDGES):
        if minutes <= edge:
            return i
    return len(AGE_EDGES)


def domain_of(address: str) -> str:
    if "@" not in address:
        return "(local)" if address else "(bounce)"
    return address.rsplit("@", 1)[1].lower().rstrip(".") or "(local)"


_REASON_RULES = (
    (re.compile(r"<[^<>\s]*@[^<>\s]*>"), "<address>"),
    (re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"), "<address>"),
    (re.compile(r"\[[0-9a-fA-F:.]+\](?::\d+)?"), "[<ip>]"),
    (re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b"), "<ip>"),
    (re.compile(r"\b(?:[a-z0-9-]+\.)+[a-z][a-z0-9-]+\b", re.I), "<host>"),
    # numbers, except SMTP replies (451) and enhanced status codes (4.7.1)
    (re.compile(r"(?<![\d.])\b(?![245]\d\d\b)(?![245]\.\d{1,3}\.\d{1,3}\b)\d+(?:\.\d+)*\b"), "N"),
    (re.compile(r"\s+"), " "),
)


def normalise_reason(reason: str) -> str:
    """A deferral reason without the parts that differ per message (addresses, hosts, IPs,
    counters), so 'connect to mx1.a.example[192.0.2.1]:25: Connection timed out' and the same
    for b.example count as one reason."""
    text = reason.strip()
    for pattern, replacement in _REASON_RULES:
        text = pattern.sub(replacement, text)
    return text[:MAX_REASON_LENGTH]


@dataclass
class QueueSummary:
    """Counters over one pass of the queue; its size does not depend on the queue's length."""

    now: float = field(default_factory=time.time)
    messages: int = 0
    recipients: int = 0
    size_bytes: int = 0
    oldest_arrival: int | None = None
    by_queue: dict[str, int] = field(default_factory=lambda: dict.fromkeys(QUEUE_NAMES, 0))
    # queue name -> one count per age bucket
    age_by_queue: dict[str, list[int]] = field(
        default_factory=lambda: {q: [0] * len(AGE_LABELS) for q in QUEUE_NAMES}
    )
    # recipient domain -> per age bucket; a message counts once per distinct recipient domain
    by_domain: BoundedCounter = field(
        default_factory=lambda: BoundedCounter(MAX_DOMAINS, len(AGE_LABELS))
    )
    by_sender_domain: BoundedCounter = field(default_factory=lambda: BoundedCounter(MAX_DOMAINS))
    # normalised deferral reason -> recipients deferred for it
    reasons: BoundedCounter = field(default_factory=lambda: BoundedCounter(MAX_REASONS))

    def add(self, entry: QueueEntry) -> None:
        queue = entry.queue_name if entry.queue_name in self.by_queue else "corrupt"
        bucket = age_bucket(self.now - entry.arrival_time)
        self.messages += 1
        self.size_bytes += entry.message_size
        self.by_queue[queue] += 1
        self.age_by_queue[queue][bucket] += 1
        if entry.arrival_time and (
            self.oldest_arrival is None or entry.arrival_time < self.oldest_arrival
        ):
            self.oldest_arrival = entry.arrival_time
        self.by_sender_domain.add(domain_of(entry.sender))
        seen: set[str] = set()
        for address, reason in entry.recipients:
            self.recipients += 1
            domain = domain_of(address)
            if domain not in seen:
                seen.add(domain)
                self.by_domain.add(domain, bucket)
            if reason:
                self.reasons.add(normalise_reason(reason))

    @property
    def age_totals(self) -> list[int]:
        return [sum(col) for col in zip(*self.age_by_queue.values(), strict=True)]

    def as_dict(self, top: int = 20) -> dict:
        """JSON-ready: what the snapshot stores and the API returns."""
        return {
            "taken_at": int(self.now),
            "messages": self.messages,
            "recipients": self.recipients,
            "size_bytes": self.size_bytes,
            "oldest_arrival": self.oldest_arrival,
            "by_queue": dict(self.by_queue),
            "age_buckets": list(AGE_LABELS),
            "age_totals": self.age_totals,
            "age_by_queue": {q: list(v) for q, v in self.age_by_queue.items()},
            "top_domains": [
                {"domain": d, "total": sum(row), "by_age": list(row)}
                for d, row in self.by_domain.top(top)
            ],
            "top_sender_domains": [
                {"domain": d, "total": row[0]} for d, row in self.by_sender_domain.top(top)
            ],
            "top_reasons": [{"reason": r, "count": row[0]} for r, row in self.reasons.top(top)],
        }


def summarise(stream: Iterable[QueueEntry], now: float | None = None) -> QueueSummary:
    summary = QueueSummary(now=time.time() if now is None else now)
    for entry in stream:
        summary.add(entry)
    return summary


def merge_summaries(parts: Iterable[dict]) -> dict:
    """The sum of several hosts' `as_dict()` summaries (the panel's "all hosts" view)."""
    total: dict = {
        "messages": 0,
        "recipients": 0,
        "size_bytes": 0,
        "oldest_arrival": None,
        "by_queue": dict.fromkeys(QUEUE_NAMES, 0),
        "age_buckets": list(AGE_LABELS),
        "age_totals": [0] * len(AGE_LABELS),
        "age_by_queue": {q: [0] * len(AGE_LABELS) for q in QUEUE_NAMES},
    }
    domains: dict[str, list[int]] = {}
    reasons: dict[str, int] = {}
    senders: dict[str, int] = {}
    for part in parts:
        for key in ("messages", "recipients", "size_bytes"):
            total[key] += part.get(key, 0)
        oldest = part.get("oldest_arrival")
        if oldest and (total["oldest_arrival"] is None or oldest < total["oldest_arrival"]):
            total["oldest_arrival"] = oldest
        for q, n in part.get("by_queue", {}).items():
            total["by_queue"][q] = total["by_queue"].get(q, 0) + n
        for i, n in enumerate(part.get("age_totals", [])[: len(AGE_LABELS)]):
            total["age_totals"][i] += n
        for q, row in part.get("age_by_queue", {}).items():
            target = total["age_by_queue"].setdefault(q, [0] * len(AGE_LABELS))
            for i, n in enumerate(row[: len(AGE_LABELS)]):
                target[i] += n
        for d in part.get("top_domains", []):
            row = domains.setdefault(d["domain"], [0] * len(AGE_LABELS))
            for i, n in enumerate(d["by_age"][: len(AGE_LABELS)]):
                row[i] += n
        for r in part.get("top_reasons", []):
            reasons[r["reason"]] = reasons.get(r["reason"], 0) + r["count"]
        for s in part.get("top_sender_domains", []):
            senders[s["domain"]] = senders.get(s["domain"], 0) + s["total"]
    total["top_domains"] = [
        {"domain": d, "total": sum(row), "by_age": row}
        for d, row in sorted(domains.items(), key=lambda kv: (kv[0] == OTHER, -sum(kv[1])))
    ]
    total["top_reasons"] = [
        {"reason": r, "count": n}
        for r, n in sorted(reasons.items(), key=lambda kv: (kv[0] == OTHER, -kv[1]))
    ]
    total["top_sender_domains"] = [
        {"domain": d, "total": n}
        for d, n in sorted(senders.items(), key=lambda kv: (kv[0] == OTHER, -kv[1]))
    ]
    return total


# --- the list ----------------------------------------------------------------------------------


@dataclass
class QueuePage:
    items: list[QueueEntry]
    total: int  # messages matching the filter
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))

    def as_dict(self) -> dict:
        now = time.time()
        return {
            "count": self.total,
            "page": self.page,
            "page_size": self.page_size,
            "pages": self.pages,
            "results": [e.as_dict(now) for e in self.items],
        }


def queue_page(
    stream: Iterable[QueueEntry], flt: QueueFilter, *, page: int = 1, page_size: int = 50
) -> QueuePage:
    """One page of the matching messages, in the order postqueue reports them, and the number
    of matches. Only the page is kept; the stream is read to the end for the count."""
    if page < 1:
        raise QueueInputError("page", "Pages start at 1.")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise QueueInputError("page_size", f"Between 1 and {MAX_PAGE_SIZE}.")
    start = (page - 1) * page_size
    items: list[QueueEntry] = []
    total = 0
    for entry in stream:
        if flt.matches(entry):
            if start <= total < start + page_size:
                items.append(entry)
            total += 1
    return QueuePage(items=items, total=total, page=page, page_size=page_size)


# --- actions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActionResult:
    action: str
    selected: int  # ids handed to the command
    affected: int | None  # what postsuper reported doing (None: postqueue reports nothing)
    output: str

    def as_dict(self) -> dict:
        return {
            "action": self.action,
            "selected": self.selected,
            "affected": self.affected,
            "output": self.output,
        }


_POSTSUPER_COUNT_RE = re.compile(r"postsuper: (?:[A-Z][a-z]+(?: [a-z]+)*): (\d+) messages?")


def _run(argv: list[str], stdin_lines: Iterable[str] | None = None) -> tuple[int, str, int]:
    """Run a command, feeding `stdin_lines` one by one; returns (rc, stderr+stdout, lines fed)."""
    fed = 0
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE if stdin_lines is not None else subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            if stdin_lines is not None:
                assert proc.stdin is not None
                try:
                    for line in stdin_lines:
                        proc.stdin.write(line + "\n")
                        fed += 1
                finally:
                    proc.stdin.close()
            rc = proc.wait(timeout=COMMAND_TIMEOUT)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        out.seek(0)
        return rc, out.read().decode(errors="replace").strip(), fed


def _affected(output: str) -> int:
    return sum(int(m.group(1)) for m in _POSTSUPER_COUNT_RE.finditer(output))


def run_action(
    config_dir: str,
    *,
    action: str,
    queue_id: str = "",
    flt: QueueFilter | None = None,
    stream: Iterable[QueueEntry] | None = None,
) -> ActionResult:
    """flush / hold / release / requeue / delete one message (`queue_id`) or every message the
    filter selects. An empty filter is refused except for flush (`postqueue -f`: everything)."""
    if action not in ACTIONS:
        raise QueueInputError("action", f"Unknown action; choose one of {', '.join(ACTIONS)}.")
    if bool(queue_id) == bool(flt is not None and not flt.is_empty()):
        if not queue_id and action == "flush":
            rc, output, _ = _run(_argv("postqueue", config_dir, "-f"))
            if rc != 0:
                raise QueueError(f"postqueue -f failed (exit {rc}): {output}")
            return ActionResult(action, 0, None, output)
        raise QueueInputError("filter", "Name one queue id or at least one filter, not both.")

    if queue_id:
        ids: Iterable[str] = [validate_queue_id(queue_id)]
    else:
        assert flt is not None
        ids = _select(config_dir, flt, action, stream)

    if action == "flush":
        # postqueue -i takes one id per run; flush(8) does the work asynchronously.
        count, outputs = 0, []
        for qid in ids:
            rc, output, _ = _run(_argv("postqueue", config_dir, "-i", qid))
            if rc != 0:
                raise QueueError(f"postqueue -i {qid} failed (exit {rc}): {output}")
            count += 1
            if output and len(outputs) < 20:
                outputs.append(output)
        return ActionResult(action, count, None, "\n".join(outputs))

    option = POSTSUPER_OPTION[action]
    argv = _argv("postsuper", config_dir, option, "-")
    if queue_id:
        rc, output, fed = _run(argv, stdin_lines=ids)
        if rc != 0:
            raise QueueError(f"postsuper {option} failed (exit {rc}): {output}")
        return ActionResult(action, fed, _affected(output), output[-4000:])

    # Mail moves between queues while showq walks them (deferred -> active -> deferred), so one
    # pass can miss a message. Hold, release and delete take the selected messages out of the
    # next pass's reach, so passes repeat until one changes nothing (at most MAX_PASSES).
    # Requeue gives messages new ids, so it runs once, like flush.
    passes = MAX_PASSES if action in ("hold", "release", "delete") else 1
    selected = affected = 0
    outputs: list[str] = []
    for _ in range(passes):
        # Spool the selected ids to a file and act once the walk is over: moving or deleting
        # queue files while showq walks the same directories would make it skip more of them.
        with tempfile.TemporaryFile("w+") as spool:
            for qid in _select(config_dir, flt, action, stream):
                spool.write(qid + "\n")
            spool.seek(0)
            rc, output, fed = _run(argv, stdin_lines=(line.rstrip("\n") for line in spool))
        if rc != 0:
            raise QueueError(f"postsuper {option} failed (exit {rc}): {output}")
        done = _affected(output)
        selected += fed
        affected += done
        if output:
            outputs.append(output)
        if not done or stream is not None:
            break
    return ActionResult(action, selected, affected, "\n".join(outputs)[-4000:])


def _select(
    config_dir: str, flt: QueueFilter, action: str, stream: Iterable[QueueEntry] | None
) -> Iterator[str]:
    """Ids of the messages `action` applies to among those `flt` selects: hold skips held mail,
    release takes only held mail. Each id is validated again before it reaches a command."""
    source = entries(config_dir) if stream is None else stream
    for entry in source:
        if action == "hold" and entry.queue_name == "hold":
            continue
        if action == "release" and entry.queue_name != "hold":
            continue
        if flt.matches(entry):
            yield validate_queue_id(entry.queue_id)
