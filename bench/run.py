"""The benchmark suite's driver: `scripts/bench` (or `python -m bench`), sizes as options.

Each size gets a scratch database named after the configured one (`<NAME>_<label>`), created,
migrated and loaded afresh (bench.loader); results go to a JSON file and to the generated part
of docs/benchmarks.md. Every figure the targets speak of is a ratio of two measurements taken in
the same run on the same machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg import sql

REPO = Path(__file__).resolve().parent.parent
DEFAULT_JSON = REPO / "docs" / "benchmarks.json"
DEFAULT_MARKDOWN = REPO / "docs" / "benchmarks.md"

TARGETS = {
    "lookup_ratio": 0.85,
    "accept_ratio": 0.9,
    "connections_at_100": 20,
    "delivered_ratio": 0.95,
    "page_median_ratio": 1.5,
}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="scripts/bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--mailboxes", type=int, default=1_000_000, help="the large size (items 1-5, 7)")
    p.add_argument("--small-mailboxes", type=int, default=1_000, help="item 7's comparison size")
    p.add_argument("--page-sizes", default="100,100000", help="item 6: two mailbox counts")
    p.add_argument("--passes", type=int, default=3)
    p.add_argument("--pgbench-seconds", type=float, default=10)
    p.add_argument("--pgbench-transactions", type=int, default=0, help="instead of seconds")
    p.add_argument("--messages", type=int, default=2000, help="SMTP messages per pass")
    p.add_argument("--connections", type=int, default=8, help="reused SMTP sessions per pass")
    p.add_argument("--concurrent", type=int, default=100, help="item 4: concurrent SMTP sessions")
    p.add_argument("--proxymap-processes", type=int, default=None)
    p.add_argument("--requests", type=int, default=30, help="item 6: requests per page")
    p.add_argument("--writes", type=int, default=50, help="item 7: mailboxes created per size")
    p.add_argument("--only", default="", help="comma list of: load,lookups,smtp,pages,writes")
    p.add_argument("--reuse", action="store_true",
                   help="use an already loaded scratch database of the same size")  # fmt: skip
    p.add_argument("--json", type=Path, default=DEFAULT_JSON)
    p.add_argument("--markdown", type=Path, default=DEFAULT_MARKDOWN)
    p.add_argument("--no-markdown", action="store_true")
    p.add_argument("--tiny", action="store_true", help="CI size: seconds, not a measurement")
    args = p.parse_args(argv)
    if args.tiny:
        args.mailboxes, args.small_mailboxes, args.page_sizes = 200, 20, "20,200"
        args.passes, args.pgbench_transactions, args.messages = 1, 20, 6
        args.connections, args.concurrent, args.requests, args.writes = 2, 4, 2, 2
    return args


# --- databases -----------------------------------------------------------------------------


def _admin_dsn(settings_dict: dict, dbname: str) -> str:
    parts = {
        "host": settings_dict.get("HOST") or "127.0.0.1",
        "port": str(settings_dict.get("PORT") or 5432),
        "user": settings_dict.get("USER") or "postgres",
        "dbname": dbname,
    }
    if settings_dict.get("PASSWORD"):
        parts["password"] = settings_dict["PASSWORD"]
    return " ".join(f"{k}={v}" for k, v in parts.items())


class Databases:
    """Scratch databases next to the configured one; Django's default connection is pointed at
    one of them at a time (and back at the original at the end)."""

    def __init__(self):
        from django.db import connections

        self.conn = connections["default"]
        self.settings = self.conn.settings_dict
        self.original = self.settings["NAME"]

    def name(self, label: str) -> str:
        return f"{self.original}_{label}"

    def dsn(self, dbname: str) -> str:
        return _admin_dsn(self.settings, dbname)

    def pgbench_args(self, dbname: str) -> list[str]:
        s = self.settings
        return ["-h", s.get("HOST") or "127.0.0.1", "-p", str(s.get("PORT") or 5432),
                "-U", s.get("USER") or "postgres", dbname]  # fmt: skip

    def exists(self, dbname: str) -> bool:
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as admin:
            return bool(
                admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [dbname]).fetchone()
            )

    def create(self, dbname: str) -> None:
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(dbname)))  # fmt: skip
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))

    def drop(self, dbname: str) -> None:
        self.use(self.original)
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(dbname)))  # fmt: skip

    def use(self, dbname: str) -> None:
        self.conn.close()
        self.settings["NAME"] = dbname

    def restore(self) -> None:
        self.use(self.original)


def prepare(dbs: Databases, label: str, mailboxes: int, *, reuse: bool) -> tuple[str, dict]:
    """A migrated database holding `mailboxes` (and the proportional rest), loaded by COPY."""
    from django.core.management import call_command

    from bench.loader import Spec, load, spot_check

    dbname = dbs.name(label)
    spec = Spec.for_mailboxes(mailboxes)
    if reuse and dbs.exists(dbname):
        dbs.use(dbname)
        with psycopg.connect(dbs.dsn(dbname), autocommit=True) as conn:
            failures = spot_check(conn, spec)
        if not failures:
            return dbname, {"reused": True, "spec": spec.__dict__}
    dbs.create(dbname)
    dbs.use(dbname)
    t = time.perf_counter()
    call_command("migrate", verbosity=0)
    migrate_s = time.perf_counter() - t
    with psycopg.connect(dbs.dsn(dbname), autocommit=True) as conn:
        result = load(conn, spec)
        result["spot_check_failures"] = spot_check(conn, spec)
    result["seconds"]["migrate"] = migrate_s
    if result["spot_check_failures"]:
        raise RuntimeError(
            f"lookup tables inconsistent after load: {result['spot_check_failures']}"
        )
    return dbname, result


# --- the machine ---------------------------------------------------------------------------


def _first_line(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        return "unknown"


def machine(dsn: str) -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    except (OSError, ValueError):
        mem_kb = 0
    with psycopg.connect(dsn, autocommit=True) as conn:
        pg = conn.execute("SHOW server_version").fetchone()[0]
        pg_settings = dict(conn.execute(
            "SELECT name, setting || coalesce(unit, '') FROM pg_settings WHERE name IN "
            "('shared_buffers', 'max_connections', 'work_mem', 'synchronous_commit', 'fsync')"
        ).fetchall())  # fmt: skip
    postconf = shutil.which("postconf") or "/usr/sbin/postconf"
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "postgresql": pg,
        "postgresql_settings": pg_settings,
        "postfix": _first_line([postconf, "-d", "-h", "mail_version"]),
        "dovecot": _first_line([shutil.which("dovecot") or "/usr/sbin/dovecot", "--version"]),
        "pgbench": _first_line([shutil.which("pgbench") or "pgbench", "--version"]),
    }


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


# --- the run ---------------------------------------------------------------------------------


def main(argv=None) -> dict:
    args = parse_args(argv)
    only = {s.strip() for s in args.only.split(",") if s.strip()} or {
        "load", "lookups", "smtp", "pages", "writes"}  # fmt: skip
    from bench import lookups, mailflow, web

    dbs = Databases()
    results: dict = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "tiny": args.tiny,
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "machine": machine(dbs.dsn("postgres")),
        "targets": TARGETS,
        "load_average": {"start": load_average()},
    }
    big = f"m{args.mailboxes}"
    try:
        _items(results, args, dbs, only, big, lookups, mailflow, web)
    finally:
        dbs.restore()
        results["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
        for proc in _CLEANUPS:
            proc.wait()
        results["verdict"] = verdict(results, args)
        # Written even when an item failed: the others' figures are not lost.
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1, default=str) + "\n")
        if not args.no_markdown:
            from bench.report import write_markdown

            write_markdown(args.markdown, results)
    return results


def _items(results, args, dbs, only, big, lookups, mailflow, web) -> None:
    from mailhost.mailconfig import MailConfig

    dbname, results["load"] = prepare(dbs, big, args.mailboxes, reuse=args.reuse)
    results["load_average"]["after load"] = load_average()
    from bench.loader import Spec

    spec = Spec.for_mailboxes(args.mailboxes)
    if "lookups" in only:
        with psycopg.connect(dbs.dsn(dbname), autocommit=True) as conn:
            results["lookups"] = lookups.run(
                conn, spec, dsn_args=dbs.pgbench_args(dbname),
                user_query=MailConfig.from_settings().user_query, passes=args.passes,
                seconds=args.pgbench_seconds, transactions=args.pgbench_transactions,
            )  # fmt: skip
        results["load_average"]["after lookups"] = load_average()
    if "smtp" in only:
        results["smtp"] = _smtp(dbs, dbname, spec, args, mailflow)
        results["load_average"]["after smtp"] = load_average()
    if "writes" in only:
        results["writes"] = {"large": web.writes(spec, count=args.writes)}
    if "pages" in only:
        results["pages"] = {}
        for size in (int(s) for s in args.page_sizes.split(",")):
            if size == args.mailboxes:
                dbs.use(dbname)
            else:
                dbs.use(prepare(dbs, f"m{size}", size, reuse=args.reuse)[0])
            results["pages"][str(size)] = web.pages(Spec.for_mailboxes(size),
                                                    requests=args.requests)  # fmt: skip
        results["load_average"]["after pages"] = load_average()
    if "writes" in only:
        small_db, _ = prepare(dbs, f"m{args.small_mailboxes}", args.small_mailboxes,
                              reuse=args.reuse)  # fmt: skip
        dbs.use(small_db)
        results["writes"]["small"] = web.writes(
            Spec.for_mailboxes(args.small_mailboxes), count=args.writes
        )
        results["load_average"]["after writes"] = load_average()


_CLEANUPS: list[subprocess.Popen] = []


def _smtp(dbs: Databases, dbname: str, spec, args, mailflow) -> dict:
    from mailhost.mailrole import ensure_mail_role

    dbs.use(dbname)
    ensure_mail_role(role=mailflow.ROLE, password=mailflow.ROLE_PASSWORD)
    root = Path(tempfile.mkdtemp(prefix="bench-stack-", dir="/tmp"))
    config = {}
    if args.proxymap_processes:
        config["proxymap_process_limit"] = args.proxymap_processes
    s = dbs.settings
    try:
        with psycopg.connect(dbs.dsn(dbname), autocommit=True) as conn:
            return mailflow.run(
                conn, spec, root=root, db_name=dbname, db_host=s.get("HOST") or "127.0.0.1",
                db_port=int(s.get("PORT") or 5432), stats_dsn=dbs.dsn("postgres"),
                passes=args.passes, messages=args.messages, connections=args.connections,
                concurrent_sessions=args.concurrent, config=config,
                stats_wait=0.5 if args.tiny else 11, warmup=not args.tiny,
            )  # fmt: skip
    finally:
        # Tens of thousands of Maildirs: removed in the background while the run goes on.
        _CLEANUPS.append(subprocess.Popen(["rm", "-rf", "--", str(root)]))


def verdict(results: dict, args) -> dict:
    """Each target: the measured ratio (or count) and whether it is met."""
    out: dict = {}
    for case in results.get("lookups", {}).get("cases", [])[1:]:
        out[f"lookup: {case['lookup']}"] = {
            "value": round(case["ratio_median"], 3), "target": f">= {TARGETS['lookup_ratio']}",
            "met": case["ratio_median"] >= TARGETS["lookup_ratio"]}  # fmt: skip
    smtp = results.get("smtp")
    if smtp:
        summ = smtp["summary"]
        out["SMTP accept vs hash maps"] = {
            "value": round(summ["accept_ratio"], 3), "target": f">= {TARGETS['accept_ratio']}",
            "met": summ["accept_ratio"] >= TARGETS["accept_ratio"]}  # fmt: skip
        out["delivery vs hash maps"] = {
            "value": round(summ["delivered_ratio"], 3),
            "target": f">= {TARGETS['delivered_ratio']}",
            "met": summ["delivered_ratio"] >= TARGETS["delivered_ratio"]}  # fmt: skip
        peak = smtp["concurrent"]["peak_connections"]
        out[f"connections at {smtp['concurrent']['connections']} SMTP sessions"] = {
            "value": peak, "target": f"<= {TARGETS['connections_at_100']}",
            "met": peak <= TARGETS["connections_at_100"]}  # fmt: skip
    pages = results.get("pages")
    if pages and len(pages) == 2:
        small, large = (pages[k] for k in sorted(pages, key=int))
        for name in small:
            ratio = large[name]["median_ms"] / small[name]["median_ms"]
            same = large[name]["queries"] == small[name]["queries"]
            out[f"page: {name}"] = {
                "value": round(ratio, 3),
                "queries": [small[name]["queries"], large[name]["queries"]],
                "target": f"same queries, median <= {TARGETS['page_median_ratio']}x",
                "met": same and ratio <= TARGETS["page_median_ratio"]}  # fmt: skip
    writes = results.get("writes")
    if writes and "small" in writes:
        for op in writes["large"]:
            ratio = writes["large"][op]["median_ms"] / writes["small"][op]["median_ms"]
            out[f"write: mailbox {op}"] = {"value": round(ratio, 3), "target": "report",
                                           "met": None}  # fmt: skip
    return out
