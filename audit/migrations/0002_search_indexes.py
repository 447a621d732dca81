"""Indexes for the audit log's search (the panel's `object` filter): the action by equality
(B-tree) and the object's name and type by case-insensitive substring (pg_trgm GIN indexes on
`UPPER(column)`, the expression Django's `icontains` compares; PostgreSQL only, as in domains
migration 0006). The audit log is the table that grows fastest: without them a search reads
all of it."""

from django.db import migrations, models

TRIGRAM = [
    ("audit_object_repr_trgm", "audit_auditevent", "object_repr"),
    ("audit_object_type_trgm", "audit_auditevent", "object_type"),
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm", params=None)
    for name, table, column in TRIGRAM:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON {table} "
            f"USING gin (upper({column}::text) gin_trgm_ops)",
            params=None,
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _table, _column in TRIGRAM:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}", params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(fields=["action"], name="audit_action"),
        ),
        migrations.RunPython(create, drop),
    ]
