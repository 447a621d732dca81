"""Items 3-5: the real Postfix + Dovecot of `mailhost.stack`, with production process timings,
once with the generated `proxy:pgsql:` maps and once with static `hash:` maps built from the
same lookup tables (Dovecot unchanged), alternating, several passes.

Each pass sends messages over reused SMTP connections to port 25, each with several recipients
never used before in the run (a mailbox, a mailbox in alias-domain form, an alias), so no
process cache helps. It reports messages accepted per second (last 250 after DATA), delivered
per second (queue empty, every copy in a Maildir), the SQL transactions the database saw per
message (pg_stat_database, with the lookup tables' index scans per relation) and the peak number
of PostgreSQL connections of the mail role (sampled every 20 ms).
"""

from __future__ import annotations

import itertools
import os
import random
import re
import smtplib
import statistics
import subprocess
import threading
import time
from pathlib import Path

import psycopg

from bench.loader import Spec
from mailhost import contract
from mailhost import stack as mailstack

ROLE = "mailstack_bench"
ROLE_PASSWORD = "mailstack-bench-password"
SENDER_DOMAIN = "sender.example"

# The static equivalent of each map, from the lookup tables Postfix reads.
HASH_SOURCES = {
    "virtual_mailbox_domains": (
        "SELECT domain, 'OK' FROM mail_domains WHERE kind IN ('local', 'alias')"
    ),
    "relay_domains": "SELECT domain, 'OK' FROM mail_domains WHERE kind IN ('relay', 'backup')",
    "relay_recipient_maps": "SELECT address, 'OK' FROM mail_relay_recipients",
    "transport_maps": "SELECT key, transport FROM mail_transports",
    "virtual_mailbox_maps": "SELECT address, maildir FROM mail_mailboxes",
    "virtual_alias_maps": (
        "SELECT address, string_agg(goto, ',' ORDER BY goto) FROM mail_aliases GROUP BY address"
    ),
    "smtpd_sender_login_maps": (
        "SELECT sender, string_agg(login, ',' ORDER BY login) FROM mail_sender_logins"
        " GROUP BY sender"
    ),
    # An access map is asked user@domain, then domain: `@domain` grants become `domain` keys.
    "owned_senders": (
        "SELECT DISTINCT CASE WHEN sender LIKE '@%%' THEN substr(sender, 2) ELSE sender END,"
        " 'REJECT Log in to send as this address (it belongs to a mailbox here)'"
        " FROM mail_sender_logins"
    ),
}


def start(root: Path, *, db_name: str, db_host: str, db_port: int, config: dict | None = None):
    """The stack with production timings (no 10-use/10-second recycling)."""
    overrides = {"short_lived_processes": False, **(config or {})}
    running, info = mailstack.up(
        root, hostname="mx.bench.test", db_host=db_host, db_port=db_port, db_name=db_name,
        db_role=ROLE, db_password=ROLE_PASSWORD, config=overrides,
        timeout=120,  # a loaded shared machine once took more than the default 30 s
    )  # fmt: skip
    if not info["database_ok"]:
        mailstack.down(root)
        raise RuntimeError(f"the stack cannot read the database: {info['database_error']}")
    return running


def build_hash_maps(conn, stack) -> dict[str, str]:
    """Write and postmap one hash table per map; returns {map name: 'hash:PATH'}."""
    out_dir = stack.postfix_dir / "hash"
    out_dir.mkdir(exist_ok=True)
    specs = {}
    postmap = mailstack.which("postmap")
    for name, query in HASH_SOURCES.items():
        path = out_dir / name
        with conn.cursor() as cur, open(path, "w") as fh:
            with cur.copy(f"COPY ({query.replace('%%', '%')}) TO STDOUT") as copy:
                for key, value in copy.rows():
                    fh.write(f"{key} {value}\n")
        subprocess.run([postmap, "-c", str(stack.postfix_dir), f"hash:{path}"], check=True,
                       capture_output=True, timeout=600)  # fmt: skip
        specs[name] = f"hash:{path}"
    return specs


def _main_cf(stack) -> Path:
    return stack.postfix_dir / "main.cf"


def _master_cf(stack) -> Path:
    return stack.postfix_dir / "master.cf"


def use_maps(stack, pgsql_config: tuple[str, str], hash_specs: dict[str, str] | None) -> None:
    """Switch Postfix to the generated main.cf and master.cf (None) or to the same with hash
    maps; reload. `pgsql_config` is the generated (main.cf, master.cf)."""
    text, master = pgsql_config
    if hash_specs:
        # Plain hash tables: no pipemap in front (a hash domain list costs nothing to ask).
        text = re.sub(r"pipemap:\{regexp:\S+, (proxy:pgsql:\S+)\}", r"\1", text)
        text = re.sub(r"^proxy_read_maps = .*$", "", text, flags=re.M)
        for name, spec in hash_specs.items():
            text = text.replace(f"proxy:pgsql:{stack.cfg.pgsql_dir}/{name}.cf", spec)
        assert "pgsql:" not in text, "a map was left on pgsql"
        # trivial-rewrite's own pgsql maps (master.cf -o) give way to main.cf's hash tables.
        master = re.sub(r"^  -o \w+=\S*pgsql:\S+\n", "", master, flags=re.M)
        assert "pgsql:" not in master, "a master.cf map was left on pgsql"
    _main_cf(stack).write_text(text)
    _master_cf(stack).write_text(master)
    postfix = mailstack.which("postfix")
    subprocess.run([postfix, "-c", str(stack.postfix_dir), "reload"], check=True,
                   capture_output=True, timeout=60)  # fmt: skip
    time.sleep(1.0)  # the old smtpd processes finish their current session and exit


class Recipients:
    """Recipients never used before in this run: mailboxes not forwarded elsewhere (their
    mail would sit in the outbound queue), their alias-domain form, aliases pointing at them."""

    def __init__(self, spec: Spec, seed: int = 10):
        self.spec = spec
        rng = random.Random(seed)
        step = spec.forward_step()
        per = spec.per_domain
        ad_limit = min(spec.mailboxes, spec.alias_domains * per)
        self._plain = self._stream(rng, spec.mailboxes, lambda n: not step or n % step)
        self._ad = self._stream(rng, ad_limit, lambda n: not step or n % step)
        self._alias = self._stream(
            rng, spec.aliases, lambda k: not step or spec.alias_target(k) % step
        )

    @staticmethod
    def _stream(rng, size, ok):
        order = list(range(size))
        rng.shuffle(order)
        # Cycles only at sizes too small for the run (--tiny); never at the measured sizes.
        return itertools.cycle([i for i in order if ok(i)] or [0])

    def message(self) -> list[str]:
        s = self.spec
        rcpts = [s.mailbox(next(self._plain)), s.mailbox_at_alias_domain(next(self._ad)),
                 s.alias(next(self._alias))]  # fmt: skip
        return list(dict.fromkeys(rcpts))


class Sampler(threading.Thread):
    """Peak PostgreSQL connections of the mail role, every 20 ms (from the `postgres` database,
    so the sampler's own queries are not counted as the mail stack's)."""

    def __init__(self, dsn: str, role: str):
        super().__init__(daemon=True)
        self.dsn, self.role = dsn, role
        self.peak = 0
        self._done = threading.Event()

    def run(self):
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            while not self._done.is_set():
                row = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE usename = %s", [self.role]
                ).fetchone()
                self.peak = max(self.peak, row[0])
                time.sleep(0.02)

    def stop(self) -> int:
        self._done.set()
        self.join(5)
        return self.peak


class CpuProfile(threading.Thread):
    """Where the CPU goes during a pass: CPU time of every process on the machine by command
    name (postgres, proxymap, trivial-rewrite, smtpd, lmtp...), read from /proc every 0.2 s so
    processes that start and exit within the pass are counted too, and how busy the machine was.
    `mark()` returns the totals since the start."""

    TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")

    def __init__(self):
        super().__init__(daemon=True)
        self._first = self._processes()
        self._last = dict(self._first)
        self._stat0 = self._machine()
        self._lock = threading.Lock()
        self._done = threading.Event()

    @staticmethod
    def _processes() -> dict[tuple[str, str], tuple[str, int]]:
        found = {}
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                raw = Path(f"/proc/{pid}/stat").read_text()
            except OSError:
                continue
            comm = raw[raw.index("(") + 1 : raw.rindex(")")]
            if comm.startswith("kworker/"):  # named after their current work item
                comm = "kworker"
            fields = raw[raw.rindex(")") + 2 :].split()
            # fields[19] is the start time: a recycled pid is another process
            found[(pid, fields[19])] = (comm, int(fields[11]) + int(fields[12]))
        return found

    @staticmethod
    def _machine() -> tuple[int, int]:
        ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        return sum(ticks), ticks[3] + ticks[4]  # all, idle + iowait

    def run(self):
        while not self._done.wait(0.2):
            seen = self._processes()
            with self._lock:
                self._last.update(seen)

    def mark(self) -> dict:
        seen = self._processes()
        total, idle = self._machine()
        with self._lock:
            self._last.update(seen)
            by_command: dict[str, float] = {}
            for key, (comm, ticks) in self._last.items():
                spent = ticks - self._first.get(key, (comm, 0))[1]
                if spent > 0:
                    by_command[comm] = by_command.get(comm, 0) + spent * self.TICK_MS
        all_ticks, idle_ticks = total - self._stat0[0], idle - self._stat0[1]
        return {
            "cpu_ms": dict(sorted(by_command.items(), key=lambda kv: -kv[1])),
            "busy": (all_ticks - idle_ticks) / all_ticks if all_ticks else 0.0,
        }

    def stop(self) -> None:
        self._done.set()
        self.join(5)


def db_counters(conn) -> dict[str, int]:
    """Transactions of the database and index scans of each lookup table (flushed by the
    backends at most once a second; read after a pause)."""
    row = conn.execute(
        "SELECT xact_commit, xact_rollback FROM pg_stat_database WHERE datname = current_database()"
    ).fetchone()
    counters = {"xact_commit": row[0], "xact_rollback": row[1]}
    for name, scans in conn.execute(
        "SELECT relname, coalesce(idx_scan, 0) + coalesce(seq_scan, 0) FROM pg_stat_user_tables"
        " WHERE relname = ANY (%s)",
        [[*contract.LOOKUP_TABLES, contract.QUOTA_USAGE_TABLE]],
    ):
        counters[name] = scans
    return counters


def _queue_files(stack) -> int:
    total = 0
    for sub in ("maildrop", "incoming", "active", "deferred", "hold"):
        for _dirpath, _dirs, files in os.walk(Path(stack.cfg.postfix_queue_dir) / sub):
            total += len(files)
    return total


def send(port: int, messages: list[tuple[str, list[str]]], connections: int) -> dict:
    """Send over `connections` reused SMTP sessions in parallel; returns counts and seconds."""
    chunks = [messages[i::connections] for i in range(connections)]
    refused: list = []
    errors: list = []
    lock = threading.Lock()

    def worker(chunk):
        try:
            client = smtplib.SMTP("127.0.0.1", port, local_hostname="client.bench.test",
                                  timeout=120)  # fmt: skip
            client.ehlo()
        except Exception as exc:  # noqa: BLE001 - reported, not raised, in the summary
            with lock:
                errors.append(repr(exc))
            barrier.wait()
            return
        barrier.wait()
        try:
            for sender, rcpts in chunk:
                body = (f"From: <{sender}>\r\nTo: <{rcpts[0]}>\r\nSubject: bench\r\n\r\n"
                        "benchmark message\r\n")  # fmt: skip
                try:
                    bad = client.sendmail(sender, rcpts, body)
                except smtplib.SMTPException as exc:
                    with lock:
                        errors.append(repr(exc))
                    continue
                if bad:
                    with lock:
                        refused.append(bad)
            client.quit()
        except Exception as exc:  # noqa: BLE001
            with lock:
                errors.append(repr(exc))

    threads = [threading.Thread(target=worker, args=(c,), daemon=True) for c in chunks if c]
    barrier = threading.Barrier(len(threads) + 1)
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    return {
        "seconds": time.perf_counter() - start,
        "refused": refused[:5],
        "refused_count": len(refused),
        "errors": errors[:5],
        "error_count": len(errors),
    }


def one_pass(stack, conn, *, variant: str, recipients: Recipients, messages: int,
             connections: int, stats_dsn: str, stats_wait: float,
             delivery_timeout: float = 600) -> dict:  # fmt: skip
    log = stack.postfix_log
    log_start = log.stat().st_size
    batch = [(f"s{i}@{SENDER_DOMAIN}", recipients.message()) for i in range(messages)]
    copies = sum(len(r) for _s, r in batch)
    before = db_counters(conn)
    sampler = Sampler(stats_dsn, ROLE)
    sampler.start()
    cpu = CpuProfile()
    cpu.start()
    start = time.perf_counter()
    sent = send(stack.ports["smtp"], batch, connections)
    accepted_at = time.perf_counter()
    cpu_accepting = cpu.mark()
    deadline = accepted_at + delivery_timeout
    while _queue_files(stack) and time.perf_counter() < deadline:
        time.sleep(0.05)
    delivered_at = time.perf_counter()
    cpu_delivering = cpu.mark()
    cpu.stop()
    peak = sampler.stop()
    # An idle backend that flushed its statistics less than a second ago flushes the rest 10 s
    # later (PGSTAT_IDLE_INTERVAL): wait for it, or the counts land in the next pass.
    time.sleep(stats_wait)
    after = db_counters(conn)
    with open(log, "rb") as fh:
        fh.seek(log_start)
        text = fh.read().decode("latin-1")
    statuses = {s: len(re.findall(rf"status={s}\b", text)) for s in ("sent", "deferred", "bounced")}
    diff = {k: after[k] - before.get(k, 0) for k in after}
    return {
        "variant": variant,
        "messages": messages,
        "recipients": copies,
        "connections": connections,
        "accept_per_s": messages / (accepted_at - start),
        "delivered_per_s": messages / (delivered_at - start),
        "delivered_all": statuses["sent"] >= copies and not _queue_files(stack),
        "statuses": statuses,
        "sql_per_message": diff["xact_commit"] / messages,
        "sql_rollbacks": diff["xact_rollback"],
        "relation_scans_per_message": {
            k: round(v / messages, 2) for k, v in diff.items() if k.startswith("mail_") and v
        },
        "peak_connections": peak,
        # CPU ms per message by command, while messages were being accepted and in all.
        "cpu_ms_per_message_accepting": _per_message(cpu_accepting["cpu_ms"], messages),
        "cpu_ms_per_message": _per_message(cpu_delivering["cpu_ms"], messages),
        "machine_busy_accepting": round(cpu_accepting["busy"], 3),
        **{k: v for k, v in sent.items() if k != "seconds"},
    }


def _per_message(cpu_ms: dict[str, float], messages: int) -> dict[str, float]:
    return {k: round(v / messages, 3) for k, v in cpu_ms.items() if v / messages >= 0.005}


def run(conn, spec: Spec, *, root: Path, db_name: str, db_host: str, db_port: int,
        stats_dsn: str, passes: int, messages: int, connections: int,
        concurrent_sessions: int, config: dict | None = None, stats_wait: float = 11,
        warmup: bool = True) -> dict:  # fmt: skip
    """Alternate pgsql and hash passes; then one pass at `concurrent_sessions` connections."""
    stack = start(root, db_name=db_name, db_host=db_host, db_port=db_port, config=config)
    try:
        pgsql_config = (_main_cf(stack).read_text(), _master_cf(stack).read_text())
        t = time.perf_counter()
        hash_specs = build_hash_maps(conn, stack)
        hash_build = time.perf_counter() - t
        recipients = Recipients(spec)
        runs = []
        # Warm up both variants (process start, connections, page cache): not counted.
        for specs in (None, hash_specs) if warmup else ():
            use_maps(stack, pgsql_config, specs)
            one_pass(stack, conn, variant="warmup", recipients=recipients,
                     messages=max(4, messages // 10), connections=connections,
                     stats_dsn=stats_dsn, stats_wait=stats_wait)  # fmt: skip
        for _ in range(passes):
            for variant, specs in (("pgsql", None), ("hash", hash_specs)):
                use_maps(stack, pgsql_config, specs)
                runs.append(one_pass(stack, conn, variant=variant, recipients=recipients,
                                     messages=messages, connections=connections,
                                     stats_dsn=stats_dsn, stats_wait=stats_wait))  # fmt: skip
        use_maps(stack, pgsql_config, None)
        concurrent = one_pass(stack, conn, variant="pgsql", recipients=recipients,
                              messages=max(concurrent_sessions * 2, messages // 2),
                              connections=concurrent_sessions, stats_dsn=stats_dsn,
                              stats_wait=stats_wait)  # fmt: skip
        return {"hash_build_seconds": hash_build, "passes": runs,
                "concurrent": concurrent, "summary": summarize(runs),
                "max_db_connections_configured": stack.cfg.max_db_connections}  # fmt: skip
    finally:
        mailstack.down(root)


def summarize(runs: list[dict]) -> dict:
    """Medians per variant, and the ratio of each pgsql pass to the hash pass after it."""
    out: dict = {}
    for variant in ("pgsql", "hash"):
        rs = [r for r in runs if r["variant"] == variant]
        out[variant] = {
            k: statistics.median(r[k] for r in rs)
            for k in ("accept_per_s", "delivered_per_s", "sql_per_message", "peak_connections")
        }
    pairs = list(zip([r for r in runs if r["variant"] == "pgsql"],
                     [r for r in runs if r["variant"] == "hash"], strict=False))  # fmt: skip
    out["accept_ratio"] = statistics.median(p["accept_per_s"] / h["accept_per_s"] for p, h in pairs)
    out["delivered_ratio"] = statistics.median(
        p["delivered_per_s"] / h["delivered_per_s"] for p, h in pairs
    )
    out["all_delivered"] = all(r["delivered_all"] for r in runs)
    for variant in ("pgsql", "hash"):
        rs = [r for r in runs if r["variant"] == variant and "cpu_ms_per_message_accepting" in r]
        for key in ("cpu_ms_per_message_accepting", "cpu_ms_per_message"):
            commands = {c for r in rs for c in r[key]}
            out[variant][key] = {
                c: round(statistics.median(r[key].get(c, 0) for r in rs), 3) for c in commands
            }
        out[variant]["machine_busy_accepting"] = (
            statistics.median(r["machine_busy_accepting"] for r in rs) if rs else None
        )
    return out
