"""Item 2: every query the generated configuration sends, in the simple query protocol (as
Postfix's and Dovecot's pgsql clients send them), through pgbench against a bare primary-key
SELECT in the same run, round robin, with the plans printed.

Keys follow issue 10: a random mailbox number n, its domain d = n // per_domain, substituted
into the query text by pgbench (`u:n@d:d.test`), so every transaction probes a new key.
"""

from __future__ import annotations

import re
import shutil
import statistics
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.loader import Spec
from mailhost import contract


@dataclass(frozen=True)
class Case:
    name: str
    query: str  # with pgbench variables in place of the daemon's %-keys
    sets: tuple[str, ...]  # pgbench \set lines
    example: str  # the same query with one concrete key, for EXPLAIN


def _postfix(template: str, key: str, domain: str = "") -> str:
    # Postfix expands %s (the key) and %d (its domain part); keys here hold no quotes.
    return template.replace("%s", key).replace("%d", domain)


def _dovecot(template: str, user: str) -> str:
    return template.replace("%u", user).replace("%s", "imap").replace("%%", "%")


def cases(spec: Spec, *, user_query: str) -> list[Case]:
    per = spec.per_domain
    n_sets = (f"\\set n random(0, {spec.mailboxes - 1})", f"\\set d :n / {per}")
    ad_mailboxes = max(1, min(spec.mailboxes, spec.alias_domains * per))
    ad_sets = (f"\\set n random(0, {ad_mailboxes - 1})", f"\\set d :n / {per}")
    k_sets = (f"\\set k random(0, {spec.aliases - 1})", f"\\set d :k % {spec.domains}")
    g_sets = (
        f"\\set k random(0, {spec.grants - 1})",
        f"\\set d (:k * {max(1, spec.mailboxes // spec.grants)}) / {per}",
    )
    r_sets = (f"\\set r random(0, {spec.relay_domains - 1})",)
    maps = contract.POSTFIX_MAPS
    user, dom = "u:n@d:d.test", "d:d.test"
    ex_user, ex_dom = (
        spec.mailbox(spec.mailboxes // 2),
        f"d{spec.domain_of(spec.mailboxes // 2)}.test",
    )
    table = [
        ("primary key (baseline)", "SELECT address FROM domains_mailbox WHERE id = :i",
         (f"\\set i random(1, {spec.mailboxes})",),
         f"SELECT address FROM domains_mailbox WHERE id = {spec.mailboxes // 2 + 1}"),
        ("virtual_mailbox_domains", _postfix(maps["virtual_mailbox_domains"], dom), n_sets,
         _postfix(maps["virtual_mailbox_domains"], ex_dom)),
        ("virtual_mailbox_domains (an alias domain)",
         _postfix(maps["virtual_mailbox_domains"], "ad:d.test"), ad_sets,
         _postfix(maps["virtual_mailbox_domains"], "ad0.test")),
        ("relay_domains (a local domain: miss)", _postfix(maps["relay_domains"], dom), n_sets,
         _postfix(maps["relay_domains"], ex_dom)),
        ("relay_recipient_maps", _postfix(maps["relay_recipient_maps"], "@r:r.test"), r_sets,
         _postfix(maps["relay_recipient_maps"], "@r0.test")),
        ("transport_maps (a mailbox: miss)", _postfix(maps["transport_maps"], user, dom), n_sets,
         _postfix(maps["transport_maps"], ex_user, ex_dom)),
        ("virtual_mailbox_maps", _postfix(maps["virtual_mailbox_maps"], user), n_sets,
         _postfix(maps["virtual_mailbox_maps"], ex_user)),
        ("virtual_alias_maps (a mailbox)", _postfix(maps["virtual_alias_maps"], user), n_sets,
         _postfix(maps["virtual_alias_maps"], ex_user)),
        ("virtual_alias_maps (an alias)", _postfix(maps["virtual_alias_maps"], "a:k@d:d.test"),
         k_sets, _postfix(maps["virtual_alias_maps"], spec.alias(0))),
        ("virtual_alias_maps (an alias-domain address)",
         _postfix(maps["virtual_alias_maps"], "u:n@ad:d.test"), ad_sets,
         _postfix(maps["virtual_alias_maps"], spec.mailbox_at_alias_domain(0))),
        ("virtual_alias_maps (an unknown address)",
         _postfix(maps["virtual_alias_maps"], "x:n@d:d.test"), n_sets,
         _postfix(maps["virtual_alias_maps"], "x1@" + ex_dom)),
        ("smtpd_sender_login_maps", _postfix(maps["smtpd_sender_login_maps"], user), n_sets,
         _postfix(maps["smtpd_sender_login_maps"], ex_user)),
        ("smtpd_sender_login_maps (a grant)",
         _postfix(maps["smtpd_sender_login_maps"], "g:k@d:d.test"), g_sets,
         _postfix(maps["smtpd_sender_login_maps"], spec.grant(0))),
        ("owned_senders (an outside sender: miss)",
         _postfix(maps["owned_senders"], "s:n@elsewhere.example", "elsewhere.example"),
         n_sets[:1],
         _postfix(maps["owned_senders"], "s1@elsewhere.example", "elsewhere.example")),
        ("Dovecot password_query", _dovecot(contract.DOVECOT_PASSWORD_QUERY, user), n_sets,
         _dovecot(contract.DOVECOT_PASSWORD_QUERY, ex_user)),
        ("Dovecot user_query", _dovecot(user_query, user), n_sets, _dovecot(user_query, ex_user)),
    ]  # fmt: skip
    return [Case(*row) for row in table]


TPS = re.compile(r"tps = ([0-9.]+) \((?:without initial connection time|excluding connections)")


def pgbench(
    script: Path, *, dsn_args: list[str], seconds: float, clients: int, transactions: int
) -> float:
    binary = shutil.which("pgbench") or "/usr/lib/postgresql/15/bin/pgbench"
    argv = [binary, "-n", "-M", "simple", "-c", str(clients), "-j", str(min(clients, 2)),
            "-f", str(script), *dsn_args]  # fmt: skip
    argv += ["-t", str(transactions)] if transactions else ["-T", str(max(1, int(seconds)))]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"pgbench failed: {out.stderr[-2000:]}")
    found = TPS.search(out.stdout)
    if not found:
        raise RuntimeError(f"no tps in pgbench output: {out.stdout[-2000:]}")
    return float(found.group(1))


def explain(conn, case: Case) -> dict:
    with conn.cursor() as cur:
        cur.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + case.example)
        lines = [r[0] for r in cur.fetchall()]
    planning = next((ln for ln in lines if ln.startswith("Planning Time")), "")
    return {"query": case.example, "plan": lines, "planning": planning}


def run(conn, spec: Spec, *, dsn_args: list[str], user_query: str, passes: int = 3,
        seconds: float = 10, clients: int = 4, transactions: int = 0) -> dict:  # fmt: skip
    """Round robin: every pass runs every case once, the baseline first; each case's ratio in a
    pass is its tps over that pass's baseline, and the result is the median over passes."""
    all_cases = cases(spec, user_query=user_query)
    workdir = Path(tempfile.mkdtemp(prefix="bench-pgbench-"))
    scripts = {}
    for i, case in enumerate(all_cases):
        path = workdir / f"case{i}.sql"
        path.write_text("\n".join(case.sets) + "\n" + case.query + ";\n")
        scripts[case.name] = path
    results: dict[str, dict] = {c.name: {"tps": [], "ratio": []} for c in all_cases}
    try:
        for _ in range(passes):
            base = None
            for case in all_cases:
                tps = pgbench(scripts[case.name], dsn_args=dsn_args, seconds=seconds,
                              clients=clients, transactions=transactions)  # fmt: skip
                if base is None:
                    base = tps
                results[case.name]["tps"].append(tps)
                results[case.name]["ratio"].append(tps / base if base else 0.0)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    out = []
    for case in all_cases:
        r = results[case.name]
        out.append({
            "lookup": case.name,
            "query": case.query,
            "tps_median": statistics.median(r["tps"]),
            "ratio_median": statistics.median(r["ratio"]),
            "ratios": r["ratio"],
            **explain(conn, case),
        })  # fmt: skip
    return {"passes": passes, "seconds_per_run": seconds, "clients": clients, "cases": out}
