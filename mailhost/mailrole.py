"""The mail servers' least-privilege PostgreSQL role: the lookups and quota usage only (what
mailhost.contract grants), nothing else."""

from django.db import connection
from psycopg import sql

from mailhost import contract


def ensure_mail_role(*, role: str, password: str = "") -> None:
    if connection.vendor != "postgresql":
        raise RuntimeError("The mail role exists only on PostgreSQL (set DATABASE_URL).")
    ident = sql.Identifier(role)
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
        verb = "ALTER" if cursor.fetchone() else "CREATE"
        options = sql.SQL("LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT")
        if password:
            options += sql.SQL(" PASSWORD {}").format(sql.Literal(password))
        raw = cursor.connection
        raw.execute(sql.SQL(verb + " ROLE {} {}").format(ident, options))
        # Start from nothing, then grant exactly the contract.
        raw.execute(sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {}").format(ident))
        raw.execute(sql.SQL("REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {}").format(ident))
        raw.execute(sql.SQL("REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public FROM {}").format(ident))
        raw.execute(
            sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                sql.Identifier(connection.settings_dict["NAME"]), ident
            )
        )
        raw.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(ident))
        contract.grant(cursor, role)
