"""Domain ownership (pending until verified), relay recipients, and sender grants tied to their
domain by key so that they go with it.

Domains and alias domains that exist already were live: they are marked verified. Relay and backup
domains that exist already keep accepting every recipient (`relay_accept_all`), as they did.
Grants are moved from a domain *name* to the domain row; a grant whose name is an alias domain
moves to its target (grants hold under alias domains anyway); a grant for a name served nowhere
here is dropped."""

import django.db.models.deletion
import django.db.models.functions.text
from django.db import migrations, models

# mail_sender_logins reads domains_sendergrant.domain: give it a body that does not (CREATE OR
# REPLACE keeps the mail role's grant) while the column changes type, then the real body.
SENDER_LOGINS_HEAD = """
CREATE OR REPLACE VIEW mail_sender_logins AS
    SELECT m.local_part, d.name AS domain, m.address AS login
      FROM domains_mailbox m JOIN domains_domain d ON d.id = m.domain_id
     WHERE m.active AND d.active
    UNION ALL
    SELECT a.local_part, d.name, m.address
      FROM domains_alias a
      JOIN domains_domain d ON d.id = a.domain_id
      JOIN domains_aliasrecipient r ON r.alias_id = a.id
      JOIN domains_mailbox m ON m.address = r.address
     WHERE a.active AND d.active AND a.local_part <> '' AND m.active
    UNION ALL
    SELECT g.local_part, {grant_domain}, m.address
      FROM domains_sendergrant g
      JOIN domains_mailbox m ON m.id = g.mailbox_id
      JOIN domains_domain d ON d.id = m.domain_id
      {grant_join}
     WHERE m.active AND d.active
    UNION ALL
    SELECT m.local_part, ad.name, m.address
      FROM domains_aliasdomain ad
      JOIN domains_domain d ON d.id = ad.target_id
      JOIN domains_mailbox m ON m.domain_id = d.id
     WHERE ad.active AND m.active AND d.active
    UNION ALL
    SELECT a.local_part, ad.name, m.address
      FROM domains_aliasdomain ad
      JOIN domains_domain d ON d.id = ad.target_id
      JOIN domains_alias a ON a.domain_id = d.id
      JOIN domains_aliasrecipient r ON r.alias_id = a.id
      JOIN domains_mailbox m ON m.address = r.address
     WHERE ad.active AND d.active AND a.active AND a.local_part <> '' AND m.active
    UNION ALL
    SELECT g.local_part, ad.name, m.address
      FROM domains_aliasdomain ad
      JOIN domains_domain gd ON gd.id = ad.target_id
      JOIN domains_sendergrant g ON {grant_on}
      JOIN domains_mailbox m ON m.id = g.mailbox_id
      JOIN domains_domain d ON d.id = m.domain_id
     WHERE ad.active AND gd.active AND m.active AND d.active;
"""
BY_NAME = SENDER_LOGINS_HEAD.format(
    grant_domain="g.domain", grant_join="", grant_on="g.domain = gd.name"
)
DETACHED = SENDER_LOGINS_HEAD.format(
    grant_domain="''::varchar(253)", grant_join="", grant_on="false"
)
BY_KEY = SENDER_LOGINS_HEAD.format(
    grant_domain="gd.name",
    grant_join="JOIN domains_domain gd ON gd.id = g.domain_id",
    grant_on="g.domain_id = gd.id",
)


def _sql(statement):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(statement, params=None)

    return run


def mark_existing_verified(apps, schema_editor):
    Domain = apps.get_model("domains", "Domain")
    AliasDomain = apps.get_model("domains", "AliasDomain")
    for model in (Domain, AliasDomain):
        model.objects.filter(verified_at__isnull=True).update(verified_at=models.F("created"))
    Domain.objects.filter(kind__in=["relay", "backup"]).update(relay_accept_all=True)


def grants_to_domain_rows(apps, schema_editor):
    Domain = apps.get_model("domains", "Domain")
    AliasDomain = apps.get_model("domains", "AliasDomain")
    SenderGrant = apps.get_model("domains", "SenderGrant")
    for grant in SenderGrant.objects.all():
        domain = Domain.objects.filter(name=grant.domain).first()
        if domain is None:
            alias_domain = AliasDomain.objects.filter(name=grant.domain).first()
            domain = alias_domain.target if alias_domain else None
        if domain is None:
            grant.delete()
            continue
        clash = SenderGrant.objects.filter(
            mailbox_id=grant.mailbox_id, domain_ref=domain, local_part=grant.local_part
        ).exclude(pk=grant.pk)
        if clash.exists():
            grant.delete()
            continue
        grant.domain_ref = domain
        grant.save(update_fields=["domain_ref"])


class Migration(migrations.Migration):
    dependencies = [("domains", "0003_sender_grants_under_alias_domains")]

    operations = [
        migrations.AddField(
            model_name="domain",
            name="verified_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="domain",
            name="verification_token",
            field=models.CharField(blank=True, max_length=64, default="", db_default=""),
        ),
        migrations.AddField(
            model_name="domain",
            name="relay_accept_all",
            field=models.BooleanField(default=False, db_default=False),
        ),
        migrations.AddField(
            model_name="aliasdomain",
            name="verified_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="aliasdomain",
            name="verification_token",
            field=models.CharField(blank=True, max_length=64, default="", db_default=""),
        ),
        migrations.RunPython(mark_existing_verified, migrations.RunPython.noop),
        migrations.CreateModel(
            name="RelayRecipient",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("local_part", models.CharField(max_length=64)),
                ("address", models.CharField(max_length=320, unique=True)),
                ("created", models.DateTimeField(auto_now_add=True)),
                (
                    "domain",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="relay_recipients",
                        to="domains.domain",
                    ),
                ),
            ],
            options={
                "ordering": ["address"],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("domain", "local_part"), name="relay_recipient_unique"
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            ("address", django.db.models.functions.text.Lower("address"))
                        ),
                        name="relay_recipient_lower",
                    ),
                ],
            },
        ),
        # Sender grants: domain name -> domain row.
        migrations.RunPython(_sql(DETACHED), _sql(BY_NAME)),
        migrations.RemoveIndex(model_name="sendergrant", name="sendergrant_key"),
        migrations.RemoveConstraint(model_name="sendergrant", name="sendergrant_unique"),
        migrations.AddField(
            model_name="sendergrant",
            name="domain_ref",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="domains.domain",
            ),
        ),
        migrations.RunPython(grants_to_domain_rows, migrations.RunPython.noop),
        migrations.RemoveField(model_name="sendergrant", name="domain"),
        migrations.RenameField(model_name="sendergrant", old_name="domain_ref", new_name="domain"),
        migrations.AlterField(
            model_name="sendergrant",
            name="domain",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="sender_grants",
                to="domains.domain",
            ),
        ),
        migrations.AlterModelOptions(
            name="sendergrant",
            options={"ordering": ["domain", "local_part"]},
        ),
        migrations.AddIndex(
            model_name="sendergrant",
            index=models.Index(fields=["domain", "local_part"], name="sendergrant_key"),
        ),
        migrations.AddConstraint(
            model_name="sendergrant",
            constraint=models.UniqueConstraint(
                fields=("mailbox", "domain", "local_part"), name="sendergrant_unique"
            ),
        ),
        migrations.RunPython(_sql(BY_KEY), _sql(DETACHED)),
    ]
