"""The mail servers' role, logged in for real over TCP: it reads the lookup views and writes quota
usage, and nothing else. transaction=True: the role's connection must see committed rows."""

import os

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection
from psycopg import sql

from domains import services
from domains.models import Mailbox, QuotaUsage
from domains.tests.helpers import make_alias, make_domain, make_mailbox
from mailhost.contract import LOOKUP_TABLES
from mailhost.tests.lookup_queries import render

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("cheap_mail_hashing"),
]

# Per run, so parallel test runs on the same cluster do not re-grant each other's role.
ROLE = f"mailtest_{os.getpid()}"
ROLE_PASSWORD = "mail-role-secret"

# What Dovecot's quota_clone writes through its SQL dict, one counter per statement.
QUOTA_UPSERT = (
    "INSERT INTO mail_quota_usage (username, {column}) VALUES (%s, %s) "
    "ON CONFLICT (username) DO UPDATE SET {column} = EXCLUDED.{column}"
)
FORBIDDEN = [
    "SELECT password FROM accounts_user",
    "SELECT password FROM domains_mailbox",
    "SELECT * FROM domains_domain",
    "SELECT * FROM domains_alias",
    "SELECT * FROM accounts_reseller",
    "SELECT * FROM audit_auditevent",
    "SELECT session_data FROM django_session",
    "SELECT * FROM django_migrations",
    "UPDATE domains_mailbox SET password = 'x'",
    "CREATE TABLE mail_owned (id int)",
    "SELECT * FROM domains_apppassword",
    "SELECT * FROM mail_app_password_use",
    "INSERT INTO mail_app_password_use (app_password_id, last_used_at) VALUES (1, now())",
]


@pytest.fixture
def mail_role(db):
    call_command("mailrole", role=ROLE, password=ROLE_PASSWORD)
    yield ROLE
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(ROLE)).as_string())
        cursor.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(ROLE)).as_string())


def connect_as(role: str) -> psycopg.Connection:
    settings = connection.settings_dict
    return psycopg.connect(
        host="127.0.0.1",
        port=settings.get("PORT") or 5432,
        dbname=settings["NAME"],
        user=role,
        password=ROLE_PASSWORD,
        autocommit=True,
    )


@pytest.fixture
def mail_conn(mail_role):
    with connect_as(mail_role) as conn:
        yield conn


def test_role_is_created_without_powers(mail_role):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolinherit, rolbypassrls"
            " FROM pg_roles WHERE rolname = %s",
            [mail_role],
        )
        assert cursor.fetchone() == (True, False, False, False, False, False)


def test_mailrole_is_idempotent(mail_role):
    call_command("mailrole", role=mail_role, password=ROLE_PASSWORD)
    with connect_as(mail_role) as conn:
        assert conn.execute("SELECT count(*) FROM mail_domains").fetchone() == (0,)


def test_role_reads_every_lookup_table(mail_conn):
    make_domain("example.com")
    mailbox = make_mailbox("alice@example.com")
    make_alias("team@example.com", ["alice@example.com"])
    for table in LOOKUP_TABLES:
        mail_conn.execute(f"SELECT * FROM {table}").fetchall()  # no permission error
    assert mail_conn.execute(render("virtual_alias_maps", s="team@example.com")).fetchall() == [
        ("alice@example.com",)
    ]
    assert mail_conn.execute(
        render("password_query", u="alice@example.com", s="imap")
    ).fetchall() == [("alice@example.com", mailbox.password)]


@pytest.mark.parametrize("statement", FORBIDDEN)
def test_role_cannot_reach_anything_else(mail_conn, statement):
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        mail_conn.execute(statement)


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO mail_mailboxes (address, maildir, mailbox_id) VALUES ('x@a.example', 'x/', 1)",
        "UPDATE mail_passdb SET password = 'x'",
        "DELETE FROM mail_aliases",
        "TRUNCATE mail_userdb",
    ],
)
def test_role_cannot_write_lookup_tables(mail_conn, statement):
    with pytest.raises(psycopg.Error):
        mail_conn.execute(statement)


def test_role_privileges_on_lookup_tables_are_select_only(mail_role):
    with connection.cursor() as cursor:
        for table in LOOKUP_TABLES:
            for privilege, granted in [
                ("SELECT", True),
                ("INSERT", False),
                ("UPDATE", False),
                ("DELETE", False),
                ("TRUNCATE", False),
                ("TRIGGER", False),
            ]:
                cursor.execute(
                    "SELECT has_table_privilege(%s, %s, %s)", [mail_role, table, privilege]
                )
                assert cursor.fetchone() == (granted,), (table, privilege)
        cursor.execute(
            "SELECT has_function_privilege(%s, 'mail_quota_usage_bind()', 'EXECUTE')", [mail_role]
        )
        assert cursor.fetchone() == (False,)
        # of the contract's functions, only the ones its queries call
        cursor.execute(
            "SELECT p.oid::regprocedure::text FROM pg_proc p"
            " WHERE p.proname LIKE 'mail\\_%%' AND has_function_privilege(%s, p.oid, 'EXECUTE')",
            [mail_role],
        )
        assert sorted(row[0] for row in cursor.fetchall()) == [
            "mail_app_password_used(bigint)",
            "mail_tempfail(text)",
        ]


def test_role_reads_no_other_relation(mail_conn):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v', 'm', 'p')"
        )
        relations = {row[0] for row in cursor.fetchall()}
    readable = set()
    for relation in sorted(relations):
        try:
            mail_conn.execute(sql.SQL("SELECT 1 FROM {} LIMIT 1").format(sql.Identifier(relation)))
            readable.add(relation)
        except psycopg.errors.InsufficientPrivilege:
            pass
    assert readable == {*LOOKUP_TABLES, "mail_quota_usage"}


def test_quota_usage_written_by_the_role(mail_conn):
    make_domain("example.com")
    alice = make_mailbox("alice@example.com")
    bob = make_mailbox("bob@example.com")
    for user, column, value in [
        ("alice@example.com", "bytes", 1234),
        ("alice@example.com", "messages", 7),
        ("Bob@Example.com", "messages", 1),
        ("alice@example.com", "bytes", 4321),  # the conflict path updates
        ("ghost@example.com", "bytes", 99),  # unknown user: dropped
    ]:
        mail_conn.execute(QUOTA_UPSERT.format(column=column), [user, value])
    usage = QuotaUsage.objects.get(mailbox=alice)
    assert (usage.username, usage.bytes, usage.messages) == ("alice@example.com", 4321, 7)
    assert usage.updated_at is not None
    assert QuotaUsage.objects.get(mailbox=bob).messages == 1
    assert not QuotaUsage.objects.filter(username="ghost@example.com").exists()
    assert QuotaUsage.objects.count() == 2
    assert Mailbox.objects.get(pk=alice.pk).quota_usage.bytes == 4321
    # the role may also read back and reset its own rows
    assert mail_conn.execute(
        "SELECT bytes FROM mail_quota_usage WHERE username = 'alice@example.com'"
    ).fetchone() == (4321,)

    services.mailbox_delete(actor=None, mailbox=alice)
    assert QuotaUsage.objects.filter(username="alice@example.com").count() == 0
    # a row deleted outside the ORM takes its usage along too (ON DELETE CASCADE)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM domains_mailbox WHERE id = %s", [bob.pk])
    assert QuotaUsage.objects.count() == 0
