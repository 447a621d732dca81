"""`manage.py createdb`: create the PostgreSQL database DATABASE_URL names, when it is missing.

The README's walk-throughs start from a server that has no `mailadmin` database yet; `migrate`
cannot create one. Connects to the server's `postgres` maintenance database with the same
credentials (the role needs CREATEDB); on SQLite there is nothing to do (`migrate` makes the
file)."""

import psycopg
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from psycopg import sql


class Command(BaseCommand):
    help = "Create the PostgreSQL database named by DATABASE_URL if it does not exist."

    def handle(self, *args, **options):
        if connection.vendor != "postgresql":
            self.stdout.write("SQLite: nothing to create (migrate makes the file).")
            return
        params = connection.get_connection_params()
        name = params.pop("dbname")
        params.pop("cursor_factory", None)
        params.pop("context", None)
        try:
            with psycopg.connect(dbname="postgres", autocommit=True, **params) as conn:
                exists = conn.execute(
                    "SELECT 1 FROM pg_database WHERE datname = %s", [name]
                ).fetchone()
                if exists:
                    self.stdout.write(f"Database {name!r} exists.")
                    return
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except psycopg.Error as exc:
            raise CommandError(f"Could not create database {name!r}: {exc}") from exc
        self.stdout.write(f"Created database {name!r}.")
