"""The relations Postfix and Dovecot read (docs/lookups.md). PostgreSQL only: the SQLite default
serves the panel alone. Names and columns are a contract; change the bodies, never the names."""

from django.db import migrations

LIVE_MAILBOX = "m.active AND d.active"

VIEWS_SQL = f"""
CREATE VIEW mail_domains AS
    SELECT d.name AS domain, d.kind::text AS kind, d.transport::text AS transport
      FROM domains_domain d
     WHERE d.active
    UNION ALL
    SELECT ad.name, 'alias', ''
      FROM domains_aliasdomain ad JOIN domains_domain d ON d.id = ad.target_id
     WHERE ad.active AND d.active;

CREATE VIEW mail_mailboxes AS
    SELECT m.address, m.maildir
      FROM domains_mailbox m JOIN domains_domain d ON d.id = m.domain_id
     WHERE {LIVE_MAILBOX};

CREATE VIEW mail_aliases AS
    -- explicit aliases and catch-alls (local_part = '')
    SELECT a.local_part, d.name AS domain, r.address AS goto
      FROM domains_alias a
      JOIN domains_domain d ON d.id = a.domain_id
      JOIN domains_aliasrecipient r ON r.alias_id = a.id
     WHERE a.active AND d.active
    UNION ALL
    -- a mailbox maps to itself (so it beats a catch-all) unless it forwards without a copy
    SELECT m.local_part, d.name, m.address
      FROM domains_mailbox m JOIN domains_domain d ON d.id = m.domain_id
     WHERE {LIVE_MAILBOX}
       AND (m.keep_copy OR NOT EXISTS (
            SELECT 1 FROM domains_mailboxforward f WHERE f.mailbox_id = m.id))
    UNION ALL
    SELECT m.local_part, d.name, f.address
      FROM domains_mailbox m
      JOIN domains_domain d ON d.id = m.domain_id
      JOIN domains_mailboxforward f ON f.mailbox_id = m.id
     WHERE {LIVE_MAILBOX}
    UNION ALL
    -- alias domains: x@alias.example -> x@target.example for every explicit address there
    SELECT m.local_part, ad.name, m.address
      FROM domains_aliasdomain ad
      JOIN domains_domain d ON d.id = ad.target_id
      JOIN domains_mailbox m ON m.domain_id = d.id
     WHERE ad.active AND {LIVE_MAILBOX}
    UNION ALL
    SELECT a.local_part, ad.name, a.address
      FROM domains_aliasdomain ad
      JOIN domains_domain d ON d.id = ad.target_id
      JOIN domains_alias a ON a.domain_id = d.id
     WHERE ad.active AND d.active AND a.active AND a.local_part <> ''
    UNION ALL
    -- ... and the target's catch-all catches at the alias domain too
    SELECT a.local_part, ad.name, r.address
      FROM domains_aliasdomain ad
      JOIN domains_domain d ON d.id = ad.target_id
      JOIN domains_alias a ON a.domain_id = d.id
      JOIN domains_aliasrecipient r ON r.alias_id = a.id
     WHERE ad.active AND d.active AND a.active AND a.local_part = '';

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

CREATE VIEW mail_passdb AS
    SELECT m.address AS username, m.password, m.allow_imap, m.allow_pop3, m.allow_smtp
      FROM domains_mailbox m JOIN domains_domain d ON d.id = m.domain_id
     WHERE {LIVE_MAILBOX};

CREATE VIEW mail_userdb AS
    SELECT m.address AS username, m.maildir, '*:bytes=' || m.quota_bytes AS quota_rule
      FROM domains_mailbox m JOIN domains_domain d ON d.id = m.domain_id
     WHERE {LIVE_MAILBOX};

-- Dovecot writes usage under the user name; tie the row to its mailbox by key, drop strays.
-- SECURITY DEFINER: the mail role may not read domains_mailbox itself.
CREATE FUNCTION mail_quota_usage_bind() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    NEW.username := lower(NEW.username);
    NEW.mailbox_id := (SELECT id FROM domains_mailbox WHERE address = NEW.username);
    IF NEW.mailbox_id IS NULL THEN
        RETURN NULL;
    END IF;
    NEW.updated_at := now();
    RETURN NEW;
END $$;
REVOKE ALL ON FUNCTION mail_quota_usage_bind() FROM PUBLIC;

CREATE TRIGGER mail_quota_usage_bind BEFORE INSERT OR UPDATE ON mail_quota_usage
    FOR EACH ROW EXECUTE FUNCTION mail_quota_usage_bind();

-- Usage goes with its mailbox even when a row is deleted outside the ORM.
DO $$
DECLARE fk text;
BEGIN
    SELECT conname INTO fk FROM pg_constraint
     WHERE conrelid = 'mail_quota_usage'::regclass AND contype = 'f';
    EXECUTE format('ALTER TABLE mail_quota_usage DROP CONSTRAINT %I', fk);
END $$;
ALTER TABLE mail_quota_usage ADD CONSTRAINT mail_quota_usage_mailbox_fk
    FOREIGN KEY (mailbox_id) REFERENCES domains_mailbox (id)
    ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED;
"""

DROP_SQL = """
DROP VIEW IF EXISTS mail_userdb, mail_passdb, mail_sender_logins, mail_aliases,
    mail_mailboxes, mail_domains;
DROP TRIGGER IF EXISTS mail_quota_usage_bind ON mail_quota_usage;
DROP FUNCTION IF EXISTS mail_quota_usage_bind();
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(VIEWS_SQL, params=None)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_SQL, params=None)


class Migration(migrations.Migration):
    dependencies = [("domains", "0001_initial")]

    operations = [migrations.RunPython(create, drop)]
