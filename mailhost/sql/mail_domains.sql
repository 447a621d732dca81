-- mail_domains: every domain the mail service answers for, keyed by its A-label name.
-- Postfix: virtual_mailbox_domains (kind 'local'), virtual_alias_domains ('alias'),
-- relay_domains ('relay', 'backup'). A domain is here only while it is live: active and
-- verified (a pending claim of ownership answers nothing).
CREATE TABLE mail_domains (
    domain text PRIMARY KEY,
    kind text NOT NULL,
    domain_id bigint,
    alias_domain_id bigint
);
CREATE INDEX mail_domains_by_domain ON mail_domains (domain_id) WHERE domain_id IS NOT NULL;
CREATE INDEX mail_domains_by_alias_domain ON mail_domains (alias_domain_id)
    WHERE alias_domain_id IS NOT NULL;

CREATE FUNCTION mail_domains_refresh(kind text, ids bigint[]) RETURNS void
    LANGUAGE plpgsql
    SET plan_cache_mode = force_custom_plan AS $$
BEGIN
    IF kind = 'domain' THEN
        DELETE FROM mail_domains WHERE domain_id = ANY (ids);
        INSERT INTO mail_domains (domain, kind, domain_id)
        SELECT d.name, d.kind, d.id
          FROM domains_domain d
         WHERE d.id = ANY (ids) AND d.active AND d.verified_at IS NOT NULL;
    ELSIF kind = 'alias_domain' THEN
        DELETE FROM mail_domains WHERE alias_domain_id = ANY (ids);
        INSERT INTO mail_domains (domain, kind, alias_domain_id)
        SELECT ad.name, 'alias', ad.id
          FROM domains_aliasdomain ad
          JOIN domains_domain d ON d.id = ad.target_id
         WHERE ad.id = ANY (ids) AND ad.active AND ad.verified_at IS NOT NULL
           AND d.active AND d.verified_at IS NOT NULL AND d.kind = 'local';
    END IF;
END $$;
