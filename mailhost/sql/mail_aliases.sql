-- mail_aliases: Postfix virtual_alias_maps, one row per (address, recipient), keyed by the
-- exact string Postfix asks for: `user@domain`, then `@domain` for the catch-all. Postfix joins
-- the rows of a key with commas. Rows:
--   an active alias or catch-all: one row per recipient;
--   every live mailbox: itself, or its forwards (plus itself when it keeps a copy), so an
--     explicit address always beats a catch-all;
--   under each live alias domain of the domain: `x@alias -> x@target` for every live mailbox and
--     explicit alias `x@target`, and the target's catch-all recipients under `@alias`.
CREATE TABLE mail_aliases (
    address text NOT NULL,
    goto text NOT NULL,
    mailbox_id bigint,
    alias_id bigint,
    alias_domain_id bigint
);
CREATE INDEX mail_aliases_by_address ON mail_aliases (address);
CREATE INDEX mail_aliases_by_mailbox ON mail_aliases (mailbox_id) WHERE mailbox_id IS NOT NULL;
CREATE INDEX mail_aliases_by_alias ON mail_aliases (alias_id) WHERE alias_id IS NOT NULL;
CREATE INDEX mail_aliases_by_alias_domain ON mail_aliases (alias_domain_id)
    WHERE alias_domain_id IS NOT NULL;

CREATE FUNCTION mail_aliases_refresh(kind text, ids bigint[]) RETURNS void
    LANGUAGE plpgsql
    SET plan_cache_mode = force_custom_plan AS $$
BEGIN
    IF kind = 'mailbox' THEN
        DELETE FROM mail_aliases WHERE mailbox_id = ANY (ids);
        INSERT INTO mail_aliases (address, goto, mailbox_id)
        SELECT m.address, m.address, m.id
          FROM domains_mailbox m
          JOIN domains_domain d ON d.id = m.domain_id
         WHERE m.id = ANY (ids) AND m.active AND d.active AND d.verified_at IS NOT NULL
           AND (m.keep_copy
                OR NOT EXISTS (SELECT 1 FROM domains_mailboxforward f WHERE f.mailbox_id = m.id))
        UNION ALL
        SELECT m.address, f.address, m.id
          FROM domains_mailbox m
          JOIN domains_domain d ON d.id = m.domain_id
          JOIN domains_mailboxforward f ON f.mailbox_id = m.id
         WHERE m.id = ANY (ids) AND m.active AND d.active AND d.verified_at IS NOT NULL;
        INSERT INTO mail_aliases (address, goto, mailbox_id, alias_domain_id)
        SELECT m.local_part || '@' || ad.name, m.address, m.id, ad.id
          FROM domains_mailbox m
          JOIN domains_domain d ON d.id = m.domain_id
          JOIN domains_aliasdomain ad ON ad.target_id = d.id
         WHERE m.id = ANY (ids) AND m.active AND d.active AND d.verified_at IS NOT NULL
           AND ad.active AND ad.verified_at IS NOT NULL;

    ELSIF kind = 'alias' THEN
        DELETE FROM mail_aliases WHERE alias_id = ANY (ids);
        INSERT INTO mail_aliases (address, goto, alias_id)
        SELECT a.address, r.address, a.id
          FROM domains_alias a
          JOIN domains_domain d ON d.id = a.domain_id
          JOIN domains_aliasrecipient r ON r.alias_id = a.id
         WHERE a.id = ANY (ids) AND a.active AND d.active AND d.verified_at IS NOT NULL;
        INSERT INTO mail_aliases (address, goto, alias_id, alias_domain_id)
        SELECT a.local_part || '@' || ad.name, a.address, a.id, ad.id
          FROM domains_alias a
          JOIN domains_domain d ON d.id = a.domain_id
          JOIN domains_aliasdomain ad ON ad.target_id = d.id
         WHERE a.id = ANY (ids) AND a.local_part <> '' AND a.active
           AND d.active AND d.verified_at IS NOT NULL
           AND ad.active AND ad.verified_at IS NOT NULL
        UNION ALL
        SELECT '@' || ad.name, r.address, a.id, ad.id
          FROM domains_alias a
          JOIN domains_domain d ON d.id = a.domain_id
          JOIN domains_aliasdomain ad ON ad.target_id = d.id
          JOIN domains_aliasrecipient r ON r.alias_id = a.id
         WHERE a.id = ANY (ids) AND a.local_part = '' AND a.active
           AND d.active AND d.verified_at IS NOT NULL
           AND ad.active AND ad.verified_at IS NOT NULL;

    ELSIF kind = 'alias_domain' THEN
        DELETE FROM mail_aliases WHERE alias_domain_id = ANY (ids);
        INSERT INTO mail_aliases (address, goto, mailbox_id, alias_domain_id)
        SELECT m.local_part || '@' || ad.name, m.address, m.id, ad.id
          FROM domains_aliasdomain ad
          JOIN domains_domain d ON d.id = ad.target_id
          JOIN domains_mailbox m ON m.domain_id = d.id
         WHERE ad.id = ANY (ids) AND ad.active AND ad.verified_at IS NOT NULL
           AND d.active AND d.verified_at IS NOT NULL AND m.active;
        INSERT INTO mail_aliases (address, goto, alias_id, alias_domain_id)
        SELECT a.local_part || '@' || ad.name, a.address, a.id, ad.id
          FROM domains_aliasdomain ad
          JOIN domains_domain d ON d.id = ad.target_id
          JOIN domains_alias a ON a.domain_id = d.id
         WHERE ad.id = ANY (ids) AND ad.active AND ad.verified_at IS NOT NULL
           AND d.active AND d.verified_at IS NOT NULL AND a.active AND a.local_part <> ''
        UNION ALL
        SELECT '@' || ad.name, r.address, a.id, ad.id
          FROM domains_aliasdomain ad
          JOIN domains_domain d ON d.id = ad.target_id
          JOIN domains_alias a ON a.domain_id = d.id
          JOIN domains_aliasrecipient r ON r.alias_id = a.id
         WHERE ad.id = ANY (ids) AND ad.active AND ad.verified_at IS NOT NULL
           AND d.active AND d.verified_at IS NOT NULL AND a.active AND a.local_part = '';
    END IF;
END $$;
