"""Explicit sender grants hold under the alias domains of their domain too, like every other
sender identity. Same columns: the contract in docs/lookups.md is unchanged."""

from django.db import migrations

LIVE_MAILBOX = "m.active AND d.active"

FORWARD_SQL = f"""
CREATE OR REPLACE VIEW mail_sender_logins AS
    -- a mailbox's own address
    SELECT m.local_part, d.name AS domain, m.address AS login
      FROM domains_mailbox m JOIN domains_domain d ON d.id = m.domain_id
     WHERE {LIVE_MAILBOX}
    UNION ALL
    -- aliases that deliver to the mailbox
    SELECT a.local_part, d.name, m.address
      FROM domains_alias a
      JOIN domains_domain d ON d.id = a.domain_id
      JOIN domains_aliasrecipient r ON r.alias_id = a.id
      JOIN domains_mailbox m ON m.address = r.address
     WHERE a.active AND d.active AND a.local_part <> '' AND m.active
    UNION ALL
    -- explicit grants (local_part '' = any address of the domain)
    SELECT g.local_part, g.domain, m.address
      FROM domains_sendergrant g
      JOIN domains_mailbox m ON m.id = g.mailbox_id
      JOIN domains_domain d ON d.id = m.domain_id
     WHERE {LIVE_MAILBOX}
    UNION ALL
    -- the same addresses under each alias domain
    SELECT m.local_part, ad.name, m.address
      FROM domains_aliasdomain ad
      JOIN domains_domain d ON d.id = ad.target_id
      JOIN domains_mailbox m ON m.domain_id = d.id
     WHERE ad.active AND {LIVE_MAILBOX}
    UNION ALL
    SELECT a.local_part, ad.name, m.address
      FROM domains_aliasdomain ad
      JOIN domains_domain d ON d.id = ad.target_id
      JOIN domains_alias a ON a.domain_id = d.id
      JOIN domains_aliasrecipient r ON r.alias_id = a.id
      JOIN domains_mailbox m ON m.address = r.address
     WHERE ad.active AND d.active AND a.active AND a.local_part <> '' AND m.active
    UNION ALL
    -- explicit grants in a domain hold under its alias domains too
    SELECT g.local_part, ad.name, m.address
      FROM domains_aliasdomain ad
      JOIN domains_domain gd ON gd.id = ad.target_id
      JOIN domains_sendergrant g ON g.domain = gd.name
      JOIN domains_mailbox m ON m.id = g.mailbox_id
      JOIN domains_domain d ON d.id = m.domain_id
     WHERE ad.active AND gd.active AND {LIVE_MAILBOX};
"""

BACKWARD_SQL = f"""
DROP VIEW mail_sender_logins;
CREATE VIEW mail_sender_logins AS
    -- a mailbox's own address
    SELECT m.local_part, d.name AS domain, m.address AS login
      FROM domains_mailbox m JOIN domains_domain d ON d.id = m.domain_id
     WHERE {LIVE_MAILBOX}
    UNION ALL
    -- aliases that deliver to the mailbox
    SELECT a.local_part, d.name, m.address
      FROM domains_alias a
      JOIN domains_domain d ON d.id = a.domain_id
      JOIN domains_aliasrecipient r ON r.alias_id = a.id
      JOIN domains_mailbox m ON m.address = r.address
     WHERE a.active AND d.active AND a.local_part <> '' AND m.active
    UNION ALL
    -- explicit grants (local_part '' = any address of the domain)
    SELECT g.local_part, g.domain, m.address
      FROM domains_sendergrant g
      JOIN domains_mailbox m ON m.id = g.mailbox_id
      JOIN domains_domain d ON d.id = m.domain_id
     WHERE {LIVE_MAILBOX}
    UNION ALL
    -- the same addresses under each alias domain
    SELECT m.local_part, ad.name, m.address
      FROM domains_aliasdomain ad
      JOIN domains_domain d ON d.id = ad.target_id
      JOIN domains_mailbox m ON m.domain_id = d.id
     WHERE ad.active AND {LIVE_MAILBOX}
    UNION ALL
    SELECT a.local_part, ad.name, m.address
      FROM domains_aliasdomain ad
      JOIN domains_domain d ON d.id = ad.target_id
      JOIN domains_alias a ON a.domain_id = d.id
      JOIN domains_aliasrecipient r ON r.alias_id = a.id
      JOIN domains_mailbox m ON m.address = r.address
     WHERE ad.active AND d.active AND a.active AND a.local_part <> '' AND m.active;
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD_SQL, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD_SQL, params=None)


class Migration(migrations.Migration):
    dependencies = [("domains", "0002_lookup_views")]

    operations = [migrations.RunPython(forward, backward)]
