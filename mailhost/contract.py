"""The SQL contract between the panel and the mail servers, owned in one place.

Postfix and Dovecot read a small set of relations in the panel's PostgreSQL database
(docs/lookups.md). This module owns all of it: the relations' names, their bodies (one current
`.sql` file each under `mailhost/sql/`), what the mail servers' role may do with each, and the
exact queries Postfix and Dovecot send (the generated configuration uses these strings).

The lookup relations are plain tables keyed by the exact string the daemons look up (a full
address, `@domain`, or a domain), so every lookup is one probe of a unique or plain b-tree index
with a trivial plan. They hold derived data only: statement triggers on the panel's tables mark
what changed and a deferred trigger rewrites the affected rows at commit (`sql/maintenance.sql`),
so a change is live the moment its transaction commits and nothing that writes rows can forget.

`install()` drops and recreates the whole contract from the current files and rebuilds the
tables from the panel's rows, keeping the mail role's grants. Only the migration named in
`INSTALLED_BY` runs it: when the contract changes, add a migration that calls `migration_step`
and put its name there (older ones then do nothing, since the files describe only the newest
schema).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from psycopg import sql

SQL_DIR = Path(__file__).resolve().parent / "sql"
INSTALLED_BY = "0005_mailbox_row_trigger"

READ = ("SELECT",)
READ_WRITE = ("SELECT", "INSERT", "UPDATE", "DELETE")


@dataclass(frozen=True)
class Relation:
    name: str
    mail_role_privileges: tuple[str, ...]
    # False: the table is a Django model's (the file adds only its trigger).
    owned: bool = True

    @property
    def sql_file(self) -> Path:
        return SQL_DIR / f"{self.name}.sql"


RELATIONS: tuple[Relation, ...] = (
    Relation("mail_domains", READ),
    Relation("mail_transports", READ),
    Relation("mail_mailboxes", READ),
    Relation("mail_aliases", READ),
    Relation("mail_sender_logins", READ),
    Relation("mail_relay_recipients", READ),
    Relation("mail_passdb", READ),
    Relation("mail_userdb", READ),
    Relation("mail_quota_usage", READ_WRITE, owned=False),
    Relation("mail_app_passwords", READ),
)
LOOKUP_TABLES = tuple(r.name for r in RELATIONS if r.owned)
QUOTA_USAGE_TABLE = "mail_quota_usage"
# Functions the mail role calls from its queries.
MAIL_ROLE_FUNCTIONS = ("mail_tempfail(text)", "mail_app_password_used(bigint)")
MAINTENANCE_FILE = SQL_DIR / "maintenance.sql"

# Views of the first contract (domains migrations 0002/0003); the tables replace them.
_OLD_VIEWS = (
    "mail_domains",
    "mail_mailboxes",
    "mail_aliases",
    "mail_sender_logins",
    "mail_passdb",
    "mail_userdb",
)

# --- What Postfix and Dovecot send ---------------------------------------------------------------
# Postfix substitutes %s with the lookup key (lowercased, quotes escaped).
POSTFIX_MAPS: dict[str, str] = {
    # Local and alias domains in one list: Postfix asks virtual_alias_domains first for every
    # domain it resolves, so a separate alias list cost one more query per address. An alias
    # domain's addresses exist only in virtual_alias_maps, so unknown ones are still refused.
    "virtual_mailbox_domains": (
        "SELECT domain FROM mail_domains WHERE domain='%s' AND kind IN ('local','alias')"
    ),
    "relay_domains": (
        "SELECT domain FROM mail_domains WHERE domain='%s' AND kind IN ('relay','backup')"
    ),
    "relay_recipient_maps": "SELECT 'OK' FROM mail_relay_recipients WHERE address='%s'",
    # One query per address: the address's own row (a busy mailbox) before its domain's (a relay
    # next hop). %d also makes Postfix skip the query for the bare-domain and parent-domain keys
    # it asks after the address (only user@domain keys have a domain part).
    "transport_maps": (
        "SELECT transport FROM mail_transports WHERE key IN ('%s','%d') "
        "ORDER BY length(key) DESC LIMIT 1"
    ),
    "virtual_mailbox_maps": "SELECT maildir FROM mail_mailboxes WHERE address='%s'",
    "virtual_alias_maps": "SELECT goto FROM mail_aliases WHERE address='%s'",
    "smtpd_sender_login_maps": "SELECT login FROM mail_sender_logins WHERE sender='%s'",
    # Port 25's sender check (smtpd_sender_restrictions = check_sender_access): a MAIL FROM that
    # belongs to a login here, by its address or by a grant of its whole domain, is refused to a
    # client that did not log in. %d keeps it to user@domain keys: Postfix skips the query for
    # the bare domain, parent domain and user@ keys an access map is also asked.
    "owned_senders": (
        "SELECT 'REJECT Log in to send as this address (it belongs to a mailbox here)' "
        "FROM mail_sender_logins WHERE sender IN ('%s', '@%d') LIMIT 1"
    ),
}

# Dovecot: %u = user name, %s = service. The service picks the protocol flag; anything else is
# refused. A busy mailbox (Maildir operation pending) fails the query: a temporary failure.
DOVECOT_PASSWORD_QUERY = (
    "SELECT username AS user, "
    "CASE WHEN busy THEN mail_tempfail(username) ELSE password END AS password "
    "FROM mail_passdb WHERE username = '%u' AND "
    "CASE '%s' WHEN 'imap' THEN allow_imap WHEN 'pop3' THEN allow_pop3 "
    "WHEN 'smtp' THEN allow_smtp WHEN 'submission' THEN allow_smtp ELSE false END"
)
DOVECOT_ITERATE_QUERY = "SELECT username AS user FROM mail_userdb"

# Dovecot's second passdb, asked when the mailbox password did not match: app passwords, keyed
# by the SHA-256 of the password typed, for this user and this service's protocol only. The row
# also returns the hash for Dovecot to verify the password against ({SHA256.HEX}), and
# mail_app_password_used() records the login (it returns '').
DOVECOT_APP_PASSWORD_QUERY = (
    "SELECT username AS user, "
    "CASE WHEN busy THEN mail_tempfail(username) "
    "ELSE '{SHA256.HEX}' || secret_hash || mail_app_password_used(app_password_id) END "
    "AS password "
    "FROM mail_app_passwords WHERE secret_hash = '%{sha256:password}' AND username = '%u' AND "
    "protocol = CASE '%s' WHEN 'imap' THEN 'imap' WHEN 'pop3' THEN 'pop3' "
    "WHEN 'smtp' THEN 'smtp' WHEN 'submission' THEN 'smtp' END"
)


def dovecot_user_query(*, vmail_root: str, uid: int, gid: int) -> str:
    """The userdb query with the vmail root, uid and gid of a deployment in it. `tempfail` is
    returned (non-NULL) only for a busy mailbox: Dovecot then fails the lookup temporarily."""
    root = _sql_literal_body(vmail_root.rstrip("/") + "/")
    return (
        f"SELECT '{root}' || maildir AS home, {int(uid)} AS uid, {int(gid)} AS gid, "
        "quota_rule, CASE WHEN busy THEN 'yes' END AS tempfail "
        "FROM mail_userdb WHERE username = '%u'"
    )


def _sql_literal_body(value: str) -> str:
    """The inside of a SQL string literal, also safe from Dovecot's %-expansion."""
    return value.replace("'", "''").replace("%", "%%")


# --- Installing ----------------------------------------------------------------------------------


def _mail_roles(cursor) -> list[str]:
    """Roles other than the owner that hold privileges on a contract relation now."""
    cursor.execute(
        """
        SELECT DISTINCT a.grantee::regrole::text
          FROM pg_class c, aclexplode(c.relacl) a
         WHERE c.relname = ANY (%s) AND c.relnamespace = 'public'::regnamespace
           AND a.grantee <> 0 AND a.grantee <> c.relowner
        """,
        [[r.name for r in RELATIONS]],
    )
    return [row[0].strip('"') for row in cursor.fetchall()]


def _functions(cursor) -> list[str]:
    cursor.execute(
        """
        SELECT p.oid::regprocedure::text
          FROM pg_proc p
         WHERE p.pronamespace = 'public'::regnamespace AND p.proname LIKE 'mail\\_%'
        """
    )
    return [row[0] for row in cursor.fetchall()]


def uninstall(cursor) -> None:
    for table in ("domains_domain", "domains_aliasdomain", "domains_mailbox",
                  "domains_mailboxforward", "domains_alias", "domains_aliasrecipient",
                  "domains_sendergrant", "domains_relayrecipient",
                  "domains_apppassword"):  # fmt: skip
        for trigger in ("mail_lookup_ins", "mail_lookup_upd", "mail_lookup_del",
                        "mail_lookup_trunc"):  # fmt: skip
            cursor.execute(
                sql.SQL("DROP TRIGGER IF EXISTS {} ON {}")
                .format(sql.Identifier(trigger), sql.Identifier(table))
                .as_string(cursor.connection)
            )
    cursor.execute("DROP TRIGGER IF EXISTS mail_quota_usage_bind ON mail_quota_usage")
    for name in _OLD_VIEWS:
        cursor.execute(
            "SELECT 1 FROM pg_views WHERE schemaname = 'public' AND viewname = %s", [name]
        )
        if cursor.fetchone():
            cursor.execute(
                sql.SQL("DROP VIEW {}").format(sql.Identifier(name)).as_string(cursor.connection)
            )
    cursor.execute("DROP TABLE IF EXISTS mail_lookup_dirty")
    for name in LOOKUP_TABLES:
        cursor.execute(
            sql.SQL("DROP TABLE IF EXISTS {}")
            .format(sql.Identifier(name))
            .as_string(cursor.connection)
        )
    for function in _functions(cursor):
        cursor.execute(f"DROP FUNCTION IF EXISTS {function} CASCADE")


def install(cursor) -> None:
    """(Re)create every contract relation from the current files and fill the tables."""
    roles = _mail_roles(cursor)
    uninstall(cursor)
    for relation in RELATIONS:
        cursor.execute(relation.sql_file.read_text())
    cursor.execute(MAINTENANCE_FILE.read_text())
    for function in _functions(cursor):
        cursor.execute(f"REVOKE ALL ON FUNCTION {function} FROM PUBLIC")
    cursor.execute("SELECT mail_lookup_rebuild()")
    for role in roles:
        grant(cursor, role)


def grant(cursor, role: str) -> None:
    """Give `role` exactly what the mail servers need: the lookups, quota write-back, and the
    functions their queries call."""
    ident = sql.Identifier(role)
    conn = cursor.connection
    for relation in RELATIONS:
        cursor.execute(
            sql.SQL("GRANT {} ON {} TO {}")
            .format(
                sql.SQL(", ").join(sql.SQL(p) for p in relation.mail_role_privileges),
                sql.Identifier(relation.name),
                ident,
            )
            .as_string(conn)
        )
    for function in MAIL_ROLE_FUNCTIONS:
        cursor.execute(
            sql.SQL("GRANT EXECUTE ON FUNCTION {} TO {}")
            .format(sql.SQL(function), ident)
            .as_string(conn)
        )


def migration_step(name: str):
    """A RunPython pair for the migration called `name`: it installs the contract when it is
    the current one (`INSTALLED_BY`) and does nothing otherwise; backwards, it removes it."""

    def forward(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql" and name == INSTALLED_BY:
            with schema_editor.connection.cursor() as cursor:
                install(cursor)

    def backward(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql" and name == INSTALLED_BY:
            with schema_editor.connection.cursor() as cursor:
                uninstall(cursor)

    return forward, backward
