"""The generated part of docs/benchmarks.md: the machine, the load, and one table per item.
Only the text between the markers is rewritten; the analysis around it is kept."""

from __future__ import annotations

from pathlib import Path

START = "<!-- bench:generated:start -->"
END = "<!-- bench:generated:end -->"


def _f(value, digits=2) -> str:
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def render(r: dict) -> str:
    m = r["machine"]
    pg_settings = ", ".join(f"{k}={v}" for k, v in m["postgresql_settings"].items())
    lines = [
        f"Run {r['started']} → {r['finished']}{' (tiny: not a measurement)' if r['tiny'] else ''}.",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB RAM, Linux {m['kernel']};"
        f" PostgreSQL {m['postgresql']} ({pg_settings});"
        f" Postfix {m['postfix']}; Dovecot {m['dovecot']}; {m['pgbench']}; Python {m['python']}.",
        "",
        "Load average (1/5/15 min) during the run, the machine being shared: "
        + "; ".join(f"{k}: {v}" for k, v in r["load_average"].items())
        + ".",
        "",
    ]
    load = r.get("load", {})
    if "seconds" in load:
        s = load["seconds"]
        rows = load.get("rows", {})
        lines += [
            "### 1. Data",
            "",
            f"{rows.get('domains_mailbox', '?')} mailboxes, {rows.get('domains_domain', '?')}"
            f" domains, {rows.get('domains_alias', '?')} aliases,"
            f" {rows.get('domains_aliasdomain', '?')} alias domains,"
            f" {rows.get('domains_sendergrant', '?')} sender grants,"
            f" {rows.get('domains_mailboxforward', '?')} forwards: COPY"
            f" {sum(v for k, v in s.items() if k.startswith('copy')):.1f} s, lookup tables rebuilt"
            f" in {s.get('mail_lookup_rebuild', 0) + s.get('lookup indexes', 0):.1f} s,"
            f" **{s['total']:.1f} s** in all (migrations {s.get('migrate', 0):.1f} s before);"
            f" spot checks: {'all hold' if not load.get('spot_check_failures') else 'FAILED'}.",
            "",
        ]
    if "lookups" in r:
        lk = r["lookups"]
        lines += [
            f"### 2. Lookups (pgbench -M simple, {lk['clients']} clients, {lk['passes']} passes"
            " round robin, ratio to the primary-key SELECT of the same pass, median)",
            "",
            "| lookup | tps | ratio | planning |",
            "|---|---|---|---|",
        ]
        for c in lk["cases"]:
            lines.append(
                f"| {c['lookup']} | {c['tps_median']:.0f} | **{c['ratio_median']:.2f}** |"
                f" {c['planning'].replace('Planning Time: ', '')} |"
            )
        lines += ["", "<details><summary>Plans</summary>", ""]
        for c in lk["cases"]:
            lines += [f"`{c['query']}`", "", "```", *c["plan"], "```", ""]
        lines += ["</details>", ""]
    if "smtp" in r:
        sm = r["smtp"]
        su = sm["summary"]
        p0 = sm["passes"][0]
        lines += [
            f"### 3–5. SMTP through the real Postfix + Dovecot ({p0['messages']} messages per pass,"
            f" {p0['recipients'] / p0['messages']:.1f} new recipients each, {p0['connections']}"
            " reused sessions, pgsql and hash alternating)",
            "",
            "| | pgsql maps (ours) | hash maps | ratio |",
            "|---|---|---|---|",
            f"| accepted, messages/s (median) | {su['pgsql']['accept_per_s']:.1f} |"
            f" {su['hash']['accept_per_s']:.1f} | **{su['accept_ratio']:.2f}** |",
            f"| delivered end to end, messages/s | {su['pgsql']['delivered_per_s']:.1f} |"
            f" {su['hash']['delivered_per_s']:.1f} | **{su['delivered_ratio']:.2f}** |",
            f"| SQL transactions per message | {su['pgsql']['sql_per_message']:.1f} |"
            f" {su['hash']['sql_per_message']:.1f} | |",
            f"| peak PostgreSQL connections (mail role) | {su['pgsql']['peak_connections']} |"
            f" {su['hash']['peak_connections']} | |",
            "",
            f"Every copy delivered in every pass: {su['all_delivered']}. Hash tables built in"
            f" {sm['hash_build_seconds']:.1f} s.",
            "",
            "Lookup-table scans per message (pgsql passes): "
            + ", ".join(
                f"{k} {v}"
                for k, v in next(p for p in sm["passes"] if p["variant"] == "pgsql")[
                    "relation_scans_per_message"
                ].items()
            )
            + ".",
            "",
            "| pass | variant | accepted/s | delivered/s | SQL/msg | peak conns | refused"
            " | errors |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for i, p in enumerate(sm["passes"], 1):
            lines.append(
                f"| {i} | {p['variant']} | {p['accept_per_s']:.1f} | {p['delivered_per_s']:.1f} |"
                f" {p['sql_per_message']:.1f} | {p['peak_connections']} | {p['refused_count']} |"
                f" {p['error_count']} |"
            )
        lines += _cpu_profile(su)
        c = sm["concurrent"]
        lines += [
            "",
            f"**4. Connections:** {c['connections']} concurrent SMTP sessions ({c['messages']}"
            f" messages, {c['accept_per_s']:.1f} accepted/s): peak **{c['peak_connections']}**"
            f" PostgreSQL connections of the mail role (configured bound"
            f" {sm['max_db_connections_configured']}); refused {c['refused_count']},"
            f" errors {c['error_count']}.",
            "",
        ]
    if "pages" in r and r["pages"]:
        sizes = sorted(r["pages"], key=int)
        lines += [
            "### 6. Pages and API (median / p95 ms, queries)",
            "",
            "| page | " + " | ".join(f"{s} mailboxes" for s in sizes) + " | median ratio |",
            "|---|" + "---|" * len(sizes) + "---|",
        ]
        for name in r["pages"][sizes[0]]:
            cells = [
                f"{r['pages'][s][name]['median_ms']:.1f} / {r['pages'][s][name]['p95_ms']:.1f}"
                f" ms, {r['pages'][s][name]['queries']} q"
                for s in sizes
            ]
            ratio = (
                r["pages"][sizes[-1]][name]["median_ms"] / r["pages"][sizes[0]][name]["median_ms"]
            )
            lines.append(f"| {name} | " + " | ".join(cells) + f" | **{ratio:.2f}** |")
        lines.append("")
    if "writes" in r and "small" in r["writes"]:
        w = r["writes"]
        big, small = r["options"]["mailboxes"], r["options"]["small_mailboxes"]
        lines += [
            "### 7. Writes through the services"
            f" (median / p95 ms, {w['large']['create']['n']} each)",
            "",
            f"| operation | {small} mailboxes | {big} mailboxes | median ratio |",
            "|---|---|---|---|",
        ]
        for op in w["large"]:
            a, b = w["small"][op], w["large"][op]
            lines.append(
                f"| mailbox {op} | {a['median_ms']:.1f} / {a['p95_ms']:.1f} |"
                f" {b['median_ms']:.1f} / {b['p95_ms']:.1f} |"
                f" **{b['median_ms'] / a['median_ms']:.2f}** |"
            )
        lines.append("")
    lines += ["### Targets", "", "| target | measured | wanted | met |", "|---|---|---|---|"]
    for name, v in r["verdict"].items():
        met = {True: "yes", False: "**no**", None: "—"}[v["met"]]
        lines.append(f"| {name} | {_f(v['value'])} | {v['target']} | {met} |")
    return "\n".join(lines) + "\n"


def _cpu_profile(su: dict) -> list[str]:
    """Where the time goes: CPU per message by process in both variants, while messages were
    being accepted and over the whole pass (until every copy was delivered)."""
    acc = [su[v].get("cpu_ms_per_message_accepting") for v in ("pgsql", "hash")]
    whole = [su[v].get("cpu_ms_per_message") or {} for v in ("pgsql", "hash")]
    if not acc[0] or not acc[1]:
        return []
    every = set(acc[0]) | set(acc[1]) | set(whole[0]) | set(whole[1])
    commands = sorted(every, key=lambda c: -(acc[0].get(c, 0) + acc[1].get(c, 0)))
    lines = [
        "",
        "CPU per message by process (ms, median over passes, every process on the machine by"
        " command name), while messages were being accepted (the machine"
        f" {su['pgsql']['machine_busy_accepting']:.0%} busy in the pgsql passes,"
        f" {su['hash']['machine_busy_accepting']:.0%} in the hash passes) and over the whole"
        " pass, until every copy was delivered:",
        "",
        "| process | accepting: pgsql | hash | difference"
        " | whole pass: pgsql | hash | difference |",
        "|---|---|---|---|---|---|---|",
    ]

    def cells(pair, pick) -> str:
        a, b = (sum(v for c, v in side.items() if pick(c)) for side in pair)
        return f"{a:.2f} | {b:.2f} | {a - b:+.2f}"

    shown = [c for c in commands if max(acc[0].get(c, 0), acc[1].get(c, 0)) >= 0.05]
    for name in shown:
        lines.append(
            f"| {name} | {cells(acc, lambda c, n=name: c == n)}"
            f" | {cells(whole, lambda c, n=name: c == n)} |"
        )
    rest = lambda c: c not in shown  # noqa: E731
    lines.append(f"| other | {cells(acc, rest)} | {cells(whole, rest)} |")
    lines.append(f"| **all** | {cells(acc, lambda c: True)} | {cells(whole, lambda c: True)} |")
    return lines


def write_markdown(path: Path, results: dict) -> None:
    body = f"{START}\n{render(results)}{END}"
    if path.exists():
        text = path.read_text()
        if START in text and END in text:
            head, rest = text.split(START, 1)
            tail = rest.split(END, 1)[1]
            path.write_text(head + body + tail)
            return
    path.write_text("# Benchmarks\n\nGenerated by `scripts/bench`.\n\n" + body + "\n")
