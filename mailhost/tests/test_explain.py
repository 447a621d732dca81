"""Every lookup of docs/lookups.md is one index probe at 100k mailboxes: EXPLAIN shows a single
index scan of one lookup table, no join and no sequential scan. The data is bulk-inserted with
generate_series (the triggers fill the lookup tables), then ANALYZEd."""

import hashlib
import json

import pytest
from django.db import connection

from mailhost import contract
from mailhost.tests.lookup_queries import POSTFIX_MAPS, QUERIES, render

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

DOMAINS = 1000
PER_DOMAIN = 100  # 100k mailboxes, 100k aliases
LARGE_TABLES = {
    "domains_domain",
    "domains_aliasdomain",
    "domains_mailbox",
    "domains_mailboxforward",
    "domains_alias",
    "domains_aliasrecipient",
    "domains_sendergrant",
    "domains_relayrecipient",
    "mail_quota_usage",
    "domains_apppassword",
    *contract.LOOKUP_TABLES,
}

BULK_SQL = [
    f"""INSERT INTO domains_domain (name, kind, transport, description, active, max_mailboxes,
            max_aliases, max_quota_per_mailbox, total_quota, default_quota, created, modified,
            verified_at)
        SELECT 'd' || i || '.example', CASE WHEN i % 100 = 1 THEN 'relay' ELSE 'local' END,
               CASE WHEN i % 100 = 1 THEN 'smtp:[mx' || i || '.example]:25' ELSE '' END,
               '', i % 50 <> 7, 0, 0, 0, 0, 0, now(), now(), now()
          FROM generate_series(0, {DOMAINS - 1}) AS i""",
    """INSERT INTO domains_aliasdomain (name, target_id, active, created, modified, verified_at)
        SELECT 'ad' || substr(name, 2), id, true, now(), now(), now() FROM domains_domain""",
    f"""INSERT INTO domains_mailbox (domain_id, local_part, address, name, password, quota_bytes,
            active, allow_imap, allow_pop3, allow_smtp, keep_copy, maildir, created, modified)
        SELECT d.id, 'user' || j, 'user' || j || '@' || d.name, '', '{{SHA512-CRYPT}}$6$x$y',
               1000000, j % 20 <> 3, true, j % 2 = 0, true, j % 10 <> 5,
               d.name || '/user' || j || '/', now(), now()
          FROM domains_domain d CROSS JOIN generate_series(0, {PER_DOMAIN - 1}) AS j""",
    """INSERT INTO domains_mailboxforward (mailbox_id, address)
        SELECT id, 'fwd-' || address FROM domains_mailbox WHERE id % 10 = 0""",
    """INSERT INTO domains_alias (domain_id, local_part, address, active, description,
            created, modified)
        SELECT domain_id, 'alias-' || local_part, 'alias-' || address,
               right(local_part, 2) <> '31', '', now(), now()
          FROM domains_mailbox""",
    """INSERT INTO domains_alias (domain_id, local_part, address, active, description,
            created, modified)
        SELECT id, '', '@' || name, true, '', now(), now() FROM domains_domain WHERE id % 3 = 0""",
    """INSERT INTO domains_aliasrecipient (alias_id, address)
        SELECT a.id, CASE WHEN a.local_part = '' THEN 'user1@' || d.name
                          ELSE substr(a.address, 7) END
          FROM domains_alias a JOIN domains_domain d ON d.id = a.domain_id""",
    """INSERT INTO domains_aliasrecipient (alias_id, address)
        SELECT id, 'external' || id || '@elsewhere.example' FROM domains_alias WHERE id % 4 = 0""",
    """INSERT INTO domains_sendergrant (mailbox_id, local_part, domain_id, created)
        SELECT m.id, 'grant' || m.id, d.id, now()
          FROM domains_mailbox m JOIN domains_domain d ON d.id = m.domain_id
         WHERE m.id % 10 = 0""",
    """INSERT INTO domains_relayrecipient (domain_id, local_part, address, created)
        SELECT d.id, 'rcpt' || j, 'rcpt' || j || '@' || d.name, now()
          FROM domains_domain d CROSS JOIN generate_series(0, 9999) AS j
         WHERE d.kind = 'relay'""",
    """INSERT INTO mail_quota_usage (username, bytes, messages)
        SELECT address, 1000, 10 FROM domains_mailbox WHERE id % 2 = 0""",
    """INSERT INTO domains_apppassword (mailbox_id, name, protocol, secret_hash, created)
        SELECT id, 'app', (ARRAY['imap', 'pop3', 'smtp'])[1 + id % 3],
               encode(sha256(('secret' || id)::bytea), 'hex'), now()
          FROM domains_mailbox WHERE id % 5 = 0""",
]

# (map, key): the shapes Postfix asks for; keys point at rows that exist and at rows that do not.
POSTFIX_KEYS = [
    "d500.example",
    "ad500.example",
    "nothere.example",
    "user50@d500.example",
    "alias-user50@d500.example",
    "user50@ad500.example",
    "alias-user50@ad500.example",
    "grant5000@d500.example",
    "nobody@d500.example",
    "@d501.example",
    "@ad501.example",
]
DOVECOT_KEYS = ["user50@d500.example", "nobody@d500.example"]


def nodes(plan: dict) -> list[dict]:
    """Every node of the plan tree (subplans and CTEs included)."""
    found = [plan]
    for child in plan.get("Plans", []):
        found.extend(nodes(child))
    return found


def scans(plan: dict) -> list[tuple[str, str]]:
    """(node type, relation) of every node that reads a relation."""
    return [
        (n["Node Type"], n["Relation Name"])
        for n in nodes(plan)
        if "Relation Name" in n and n["Node Type"] != "ModifyTable"
    ]


def seq_scans(plan: dict) -> list[str]:
    """Relations read by a Seq Scan anywhere in the plan tree (subplans and CTEs included)."""
    found = []
    if plan.get("Node Type") == "Seq Scan":
        found.append(plan.get("Relation Name"))
    for child in plan.get("Plans", []):
        found.extend(seq_scans(child))
    return found


def explain(cursor, query: str) -> dict:
    cursor.execute("EXPLAIN (FORMAT JSON) " + query)
    document = cursor.fetchone()[0]
    if isinstance(document, str):
        document = json.loads(document)
    return document[0]["Plan"]


def load_bulk(cursor) -> None:
    for statement in BULK_SQL:
        cursor.execute(statement)
    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the lookup tables are written at commit
    for table in sorted(LARGE_TABLES):
        cursor.execute(f"ANALYZE {table}")


def lookups() -> list[tuple[str, str]]:
    """(description, query) for every lookup of docs/lookups.md but the iterate query, which
    lists every user by design."""
    result = []
    for m in POSTFIX_MAPS:
        for key in POSTFIX_KEYS:
            if "%d" in QUERIES[m]:  # Postfix asks such a map only for user@domain keys
                if key.startswith("@") or "@" not in key:
                    continue
                result.append((f"{m} {key!r}", render(m, s=key, d=key.rpartition("@")[2])))
            else:
                result.append((f"{m} {key!r}", render(m, s=key)))
    for query in ("password_query", "user_query"):
        for service in ("imap", "pop3", "submission"):
            for key in DOVECOT_KEYS:
                result.append((f"{query} {key!r} {service}", render(query, u=key, s=service)))
    for service in ("imap", "pop3", "submission"):
        for key in DOVECOT_KEYS:
            for typed in ("secret5", "not an app password"):
                digest = hashlib.sha256(typed.encode()).hexdigest()
                result.append(
                    (
                        f"app_password_query {key!r} {service} {typed!r}",
                        render(
                            "app_password_query", u=key, s=service, **{"{sha256:password}": digest}
                        ),
                    )
                )
    result.append(
        (
            "quota usage write",
            "UPDATE mail_quota_usage SET bytes = 5 WHERE username = 'user50@d500.example'",
        )
    )
    return result


def test_every_lookup_is_one_index_probe_at_100k_mailboxes(db):
    with connection.cursor() as cursor:
        load_bulk(cursor)
        cursor.execute("SELECT count(*) FROM domains_mailbox")
        assert cursor.fetchone()[0] == DOMAINS * PER_DOMAIN

        # The data answers like real rows...
        cursor.execute(render("virtual_alias_maps", s="user50@ad500.example"))
        assert cursor.fetchall() == [("user50@d500.example",)]
        cursor.execute(render("smtpd_sender_login_maps", s="alias-user50@ad500.example"))
        assert cursor.fetchall() == [("user50@d500.example",)]
        # ... and the walker sees a sequential scan when there is one.
        plan = explain(cursor, "SELECT * FROM mail_mailboxes WHERE maildir = 'x'")
        assert "mail_mailboxes" in seq_scans(plan)

        # A table of a few rows (few relay domains, no busy mailbox) may be read whole: that is
        # the probe there. (Counted in rows, not pages: rolled-back rows of earlier tests leave
        # dead pages behind.)
        cursor.execute(
            "SELECT relname FROM pg_class WHERE relname = ANY (%s) AND reltuples <= 100",
            [list(contract.LOOKUP_TABLES)],
        )
        one_page = {row[0] for row in cursor.fetchall()}
        assert one_page == {"mail_transports"}
        failures = {}
        for description, query in lookups():
            plan = explain(cursor, query)
            read = scans(plan)
            joins = [n["Node Type"] for n in nodes(plan) if "Join" in n["Node Type"]]
            probe = len(read) == 1 and (
                read[0][0] in ("Index Scan", "Index Only Scan") or read[0][1] in one_page
            )
            if joins or not probe:
                failures[description] = read + joins
        assert failures == {}
