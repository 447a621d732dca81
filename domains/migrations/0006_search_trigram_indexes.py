"""Trigram (pg_trgm) GIN indexes for the case-insensitive substring search of the API's
`?search=` and the panel's search boxes: Django's `icontains` is `UPPER(col::text) LIKE
UPPER('%term%')`, which no B-tree serves, so each index is on that same expression. Without
them a search reads every row (660 ms at 1M mailboxes); with them it reads the matching ones.

PostgreSQL only (SQLite has neither the extension nor the need). pg_trgm ships with Debian's
PostgreSQL server package and is a trusted extension (PostgreSQL 13+): the database owner
may create it, no superuser needed."""

from django.db import migrations

# (index name, table, column)
INDEXES = [
    ("domain_name_trgm", "domains_domain", "name"),
    ("domain_description_trgm", "domains_domain", "description"),
    ("aliasdomain_name_trgm", "domains_aliasdomain", "name"),
    ("mailbox_address_trgm", "domains_mailbox", "address"),
    ("mailbox_name_trgm", "domains_mailbox", "name"),
    ("alias_address_trgm", "domains_alias", "address"),
    ("alias_description_trgm", "domains_alias", "description"),
    ("relayrecipient_address_trgm", "domains_relayrecipient", "address"),
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm", params=None)
    for name, table, column in INDEXES:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON {table} "
            f"USING gin (upper({column}::text) gin_trgm_ops)",
            params=None,
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _table, _column in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}", params=None)
    # The extension stays: other databases' objects in this one may use it.


class Migration(migrations.Migration):
    dependencies = [("domains", "0005_mailbox_maildir_busy")]

    operations = [migrations.RunPython(create, drop)]
