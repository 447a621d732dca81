"""Bulk loader: synthetic domains, mailboxes, aliases, alias domains, sender grants and forwards
written straight into the panel's tables with COPY, then the lookup tables rebuilt once.

The statement triggers that keep the lookup tables (mailhost/sql/maintenance.sql) are bypassed
while loading (`session_replication_role = replica`, which also skips the foreign-key checks: the
generator only writes ids it has just written) and `mail_lookup_rebuild()` recomputes every
lookup row from the committed base rows afterwards, in the same transaction. `load()` takes any
psycopg 3 connection, so a CSV import can reuse `copy_rows()` with its own rows.

Names (n = mailbox number, d = its domain, k = alias/grant/alias-domain number):
    domain       d{d}.test                 mailbox      u{n}@d{n // per_domain}.test
    alias domain ad{k}.test -> d{k}.test   alias        a{k}@d{k % domains}.test -> a mailbox there
    grant        g{k}@d{..}.test, sent by mailbox u{k * step}
    forward      u{n}@... also to fwd{n}@elsewhere.example (keeping a copy)
    relay domain r{k}.test (smtp:[mx.r{k}.test]:25, accepts all recipients)
    empty domain e{k}.test (local, no mailboxes: only below 500 mailboxes, up to 50 domains)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass

from mailhost.contract import LOOKUP_TABLES

# A real hash of "bench-password" (cheap rounds): the benchmark never logs in, Dovecot only
# looks users up, but the services accept nothing else.
PASSWORD_HASH = (
    "{SHA512-CRYPT}$6$rounds=1000$benchsalt$CyTloOiCHw0hwUCEL4KBSJE6/8Z7ItZTLOqF5RXRcZ3Mf1YwmlnmAF"
    "y8X2n7sFrO3q/Lcp2MJiS6/MknC399Y0"
)
CHUNK_ROWS = 20_000

BASE_TABLES = (
    "domains_domain",
    "domains_aliasdomain",
    "domains_mailbox",
    "domains_mailboxforward",
    "domains_alias",
    "domains_aliasrecipient",
    "domains_sendergrant",
    "domains_relayrecipient",
)


# The panel's domain list shows 50 rows a page: every data set has at least that many domains.
MIN_DOMAINS = 50


@dataclass(frozen=True)
class Spec:
    """How much to load. The defaults of `for_mailboxes` follow issue 10's proportions: 10
    mailboxes per domain, one alias per 10 mailboxes, one alias domain per 10 domains, one grant
    per 10 mailboxes, one forward per 100 mailboxes."""

    mailboxes: int
    domains: int
    aliases: int
    alias_domains: int
    grants: int
    forwards: int
    relay_domains: int = 1
    # Local domains without mailboxes (e{i}.test), so that a small data set still fills the
    # panel's domain list page and its figure compares like for like with a large one.
    empty_domains: int = 0

    @classmethod
    def for_mailboxes(cls, mailboxes: int) -> Spec:
        domains = max(1, mailboxes // 10)
        return cls(
            mailboxes=mailboxes,
            domains=domains,
            aliases=max(1, mailboxes // 10),
            alias_domains=max(1, domains // 10),
            grants=max(1, mailboxes // 10),
            forwards=max(1, mailboxes // 100),
            relay_domains=max(1, domains // 1000),
            empty_domains=max(0, MIN_DOMAINS - domains),
        )

    @property
    def per_domain(self) -> int:
        return max(1, -(-self.mailboxes // self.domains))

    # --- the names the generator writes, for the benchmarks' keys -----------------------------
    def domain_of(self, n: int) -> int:
        return n // self.per_domain

    def mailbox(self, n: int) -> str:
        return f"u{n}@d{self.domain_of(n)}.test"

    def mailbox_at_alias_domain(self, n: int) -> str:
        """Mailbox n's address in its domain's alias domain (needs domain_of(n) < alias_domains)."""
        return f"u{n}@ad{self.domain_of(n)}.test"

    def alias(self, k: int) -> str:
        return f"a{k}@d{k % self.domains}.test"

    def grant(self, k: int) -> str:
        return f"g{k}@d{self.domain_of(self.grant_mailbox(k))}.test"

    def grant_mailbox(self, k: int) -> int:
        return k * max(1, self.mailboxes // self.grants)

    def alias_target(self, k: int) -> int:
        """The mailbox number alias k points at: one in the alias's own domain."""
        d = k % self.domains
        n = d * self.per_domain + (k // self.domains) % self.per_domain
        return n if n < self.mailboxes else d * self.per_domain

    def forward_step(self) -> int:
        return max(1, self.mailboxes // self.forwards) if self.forwards else 0


def _rows_domains(spec: Spec, now: str) -> Iterator[str]:
    for d in range(spec.domains):
        yield f"{d + 1}\td{d}.test\tlocal\t\t\tt\t0\t0\t0\t0\t0\t{now}\t{now}\t\\N\t{now}\t\tf\n"
    for r in range(spec.relay_domains):
        i = spec.domains + r + 1
        yield (
            f"{i}\tr{r}.test\trelay\tsmtp:[mx.r{r}.test]:25\t\tt\t0\t0\t0\t0\t0\t{now}\t{now}"
            f"\t\\N\t{now}\t\tt\n"
        )
    for e in range(spec.empty_domains):
        i = spec.domains + spec.relay_domains + e + 1
        yield f"{i}\te{e}.test\tlocal\t\t\tt\t0\t0\t0\t0\t0\t{now}\t{now}\t\\N\t{now}\t\tf\n"


def _rows_alias_domains(spec: Spec, now: str) -> Iterator[str]:
    for k in range(min(spec.alias_domains, spec.domains)):
        yield f"{k + 1}\tad{k}.test\tt\t{now}\t{now}\t{k + 1}\t{now}\t\n"


def _rows_mailboxes(spec: Spec, now: str) -> Iterator[str]:
    per, step = spec.per_domain, spec.forward_step()
    for n in range(spec.mailboxes):
        d = n // per
        keep = "t"
        yield (
            f"{n + 1}\tu{n}\tu{n}@d{d}.test\t\t{PASSWORD_HASH}\t0\tt\tt\tt\tt\t{keep}"
            f"\td{d}.test/u{n}/\t{now}\t{now}\t{d + 1}\tf\n"
        )
    del step


def _rows_forwards(spec: Spec) -> Iterator[str]:
    step = spec.forward_step()
    if not step:
        return
    for i, n in enumerate(range(0, spec.mailboxes, step)):
        if i >= spec.forwards:
            break
        yield f"{i + 1}\tfwd{n}@elsewhere.example\t{n + 1}\n"


def _rows_aliases(spec: Spec, now: str) -> Iterator[str]:
    for k in range(spec.aliases):
        d = k % spec.domains
        yield f"{k + 1}\ta{k}\ta{k}@d{d}.test\tt\t\t{now}\t{now}\t{d + 1}\n"


def _rows_alias_recipients(spec: Spec) -> Iterator[str]:
    for k in range(spec.aliases):
        n = spec.alias_target(k)
        yield f"{k + 1}\t{spec.mailbox(n)}\t{k + 1}\n"


def _rows_grants(spec: Spec, now: str) -> Iterator[str]:
    for k in range(spec.grants):
        n = spec.grant_mailbox(k)
        if n >= spec.mailboxes:
            break
        d = spec.domain_of(n)
        yield f"{k + 1}\tg{k}\t{now}\t{n + 1}\t{d + 1}\n"


COPIES: tuple[tuple[str, str, Callable[[Spec, str], Iterable[str]]], ...] = (
    (
        "domains_domain",
        "id, name, kind, transport, description, active, max_mailboxes, max_aliases, "
        "max_quota_per_mailbox, total_quota, default_quota, created, modified, reseller_id, "
        "verified_at, verification_token, relay_accept_all",
        _rows_domains,
    ),
    (
        "domains_aliasdomain",
        "id, name, active, created, modified, target_id, verified_at, verification_token",
        _rows_alias_domains,
    ),
    (
        "domains_mailbox",
        "id, local_part, address, name, password, quota_bytes, active, allow_imap, allow_pop3, "
        "allow_smtp, keep_copy, maildir, created, modified, domain_id, maildir_busy",
        _rows_mailboxes,
    ),
    ("domains_mailboxforward", "id, address, mailbox_id", lambda s, now: _rows_forwards(s)),
    (
        "domains_alias",
        "id, local_part, address, active, description, created, modified, domain_id",
        _rows_aliases,
    ),
    (
        "domains_aliasrecipient",
        "id, address, alias_id",
        lambda s, now: _rows_alias_recipients(s),
    ),
    ("domains_sendergrant", "id, local_part, created, mailbox_id, domain_id", _rows_grants),
)


def copy_rows(cursor, table: str, columns: str, rows: Iterable[str]) -> int:
    """COPY tab-separated text lines (one row each, newline-terminated) into `table`."""
    count = 0
    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        buf: list[str] = []
        for line in rows:
            buf.append(line)
            if len(buf) >= CHUNK_ROWS:
                copy.write("".join(buf))
                count += len(buf)
                buf.clear()
        if buf:
            copy.write("".join(buf))
            count += len(buf)
    return count


def _drop_indexes(cur, tables, *, keep_primary_keys: bool) -> list[str]:
    """Drop the tables' unique constraints and plain indexes (and primary keys unless kept:
    foreign keys need the base tables' ones); returns the statements that restore them."""
    kinds = ["u"] if keep_primary_keys else ["p", "u"]
    cur.execute(
        """SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid)
             FROM pg_constraint c
            WHERE c.conrelid::regclass::text = ANY (%s) AND c.contype = ANY (%s)""",
        [list(tables), kinds],
    )
    constraints = cur.fetchall()
    cur.execute(
        """SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
             FROM pg_index i
            WHERE i.indrelid::regclass::text = ANY (%s)
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)""",
        [list(tables)],
    )
    indexes = cur.fetchall()
    restore = []
    for table, name, definition in constraints:
        cur.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        restore.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    for name, definition in indexes:
        cur.execute(f"DROP INDEX {name}")
        restore.append(definition)
    return restore


def load(conn, spec: Spec, *, empty_first: bool = True) -> dict:
    """Load `spec` into the panel's tables of `conn` (psycopg 3, superuser: the triggers are
    bypassed) and rebuild the lookup tables. One transaction; returns counts and timings."""
    timings: dict[str, float] = {}
    counts: dict[str, int] = {}
    start = time.perf_counter()
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("SELECT now()::text")
        now = cur.fetchone()[0]
        if empty_first:
            # TRUNCATE's own trigger would rebuild the (empty) lookups: bypass it too.
            cur.execute("SET LOCAL session_replication_role = replica")
            cur.execute(
                "TRUNCATE " + ", ".join(BASE_TABLES) + ", mail_quota_usage, audit_auditevent"
                " RESTART IDENTITY CASCADE"
            )
        cur.execute("SET LOCAL session_replication_role = replica")
        cur.execute("SET LOCAL synchronous_commit = off")
        cur.execute("SET LOCAL maintenance_work_mem = '512MB'")
        # Indexes are built once after the COPY rather than kept up to date row by row (about
        # twice as fast); the primary keys stay, foreign keys point at them.
        restore = _drop_indexes(cur, BASE_TABLES, keep_primary_keys=True)
        for table, columns, rows in COPIES:
            t = time.perf_counter()
            counts[table] = copy_rows(cur, table, columns, rows(spec, now))
            timings[f"copy {table}"] = time.perf_counter() - t
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                f" coalesce((SELECT max(id) FROM {table}), 0) + 1, false)"
            )
        t = time.perf_counter()
        for statement in restore:
            cur.execute(statement)
        timings["base indexes"] = time.perf_counter() - t
        cur.execute("SET LOCAL session_replication_role = origin")
        t = time.perf_counter()
        cur.execute("ANALYZE " + ", ".join(BASE_TABLES))
        cur.execute("SET LOCAL work_mem = '256MB'")
        # Likewise the lookup tables: filled without indexes, then indexed once.
        restore = _drop_indexes(cur, LOOKUP_TABLES, keep_primary_keys=False)
        cur.execute("SELECT mail_lookup_rebuild()")
        timings["mail_lookup_rebuild"] = time.perf_counter() - t
        t = time.perf_counter()
        for statement in restore:
            cur.execute(statement)
        timings["lookup indexes"] = time.perf_counter() - t
    t = time.perf_counter()
    with conn.cursor() as cur:
        cur.execute(
            "ANALYZE mail_domains, mail_transports, mail_mailboxes, mail_aliases, "
            "mail_sender_logins, mail_relay_recipients, mail_passdb, mail_userdb"
        )
    timings["analyze"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - start
    return {"spec": asdict(spec), "rows": counts, "seconds": timings}


def spot_check(conn, spec: Spec) -> list[str]:
    """A few lookups that must answer after a load (issue 10: the lookup relations are
    consistent). Returns the failures, empty when all hold."""
    last = spec.mailboxes - 1
    checks = [
        ("SELECT maildir FROM mail_mailboxes WHERE address = %s", spec.mailbox(last),
         f"d{spec.domain_of(last)}.test/u{last}/"),
        ("SELECT goto FROM mail_aliases WHERE address = %s", spec.mailbox(0), spec.mailbox(0)),
        ("SELECT goto FROM mail_aliases WHERE address = %s", spec.alias(0),
         spec.mailbox(spec.alias_target(0))),
        ("SELECT goto FROM mail_aliases WHERE address = %s", spec.mailbox_at_alias_domain(0),
         spec.mailbox(0)),
        ("SELECT kind FROM mail_domains WHERE domain = %s", f"d{spec.domains - 1}.test", "local"),
        ("SELECT kind FROM mail_domains WHERE domain = %s", "ad0.test", "alias"),
        ("SELECT login FROM mail_sender_logins WHERE sender = %s", spec.grant(0),
         spec.mailbox(spec.grant_mailbox(0))),
        ("SELECT transport FROM mail_transports WHERE key = %s", "r0.test",
         "smtp:[mx.r0.test]:25"),
        ("SELECT username FROM mail_passdb WHERE username = %s", spec.mailbox(last),
         spec.mailbox(last)),
    ]  # fmt: skip
    failures = []
    with conn.cursor() as cur:
        for query, key, expected in checks:
            cur.execute(query, [key])
            got = sorted(r[0] for r in cur.fetchall())
            if expected not in got:
                failures.append(f"{query} [{key}]: expected {expected!r}, got {got!r}")
        cur.execute("SELECT count(*) FROM mail_mailboxes")
        n = cur.fetchone()[0]
        if n != spec.mailboxes:
            failures.append(f"mail_mailboxes has {n} rows, expected {spec.mailboxes}")
    return failures
