-- mail_sender_logins: Postfix smtpd_sender_login_maps, one row per (sender address, SASL login),
-- keyed by the exact string Postfix asks for: the full sender address, then `@domain`. A key
-- with two `@` (`boss@a.example@b.example`) matches no row, whatever part Postfix splits off.
-- Rows, for live mailboxes only:
--   a mailbox's own address;
--   every active alias (not a catch-all) whose recipients include the mailbox;
--   explicit sender grants in a live domain (`@domain` = any address there);
--   all of these under each live alias domain of their domain.
CREATE TABLE mail_sender_logins (
    sender text NOT NULL,
    login text NOT NULL,
    mailbox_id bigint NOT NULL,
    alias_id bigint,
    grant_id bigint,
    alias_domain_id bigint
);
CREATE INDEX mail_sender_logins_by_sender ON mail_sender_logins (sender);
CREATE INDEX mail_sender_logins_by_mailbox ON mail_sender_logins (mailbox_id);
CREATE INDEX mail_sender_logins_by_alias ON mail_sender_logins (alias_id)
    WHERE alias_id IS NOT NULL;
CREATE INDEX mail_sender_logins_by_grant ON mail_sender_logins (grant_id)
    WHERE grant_id IS NOT NULL;
CREATE INDEX mail_sender_logins_by_alias_domain ON mail_sender_logins (alias_domain_id)
    WHERE alias_domain_id IS NOT NULL;

-- Every row that involves one of the given mailboxes, aliases or grants (NULL = none), computed
-- from the live base rows; each branch filters on one set of ids, so each stays an index probe.
CREATE FUNCTION mail_sender_logins_rows(
    mailbox_ids bigint[], alias_ids bigint[], grant_ids bigint[]
) RETURNS TABLE (
    sender text, login text, mailbox_id bigint, alias_id bigint, grant_id bigint,
    alias_domain_id bigint
) LANGUAGE sql STABLE AS $$
    WITH live_mailbox AS NOT MATERIALIZED (
        SELECT m.id, m.address, m.local_part, m.domain_id
          FROM domains_mailbox m
          JOIN domains_domain d ON d.id = m.domain_id
         WHERE m.active AND d.active AND d.verified_at IS NOT NULL
    ),
    alias_login AS NOT MATERIALIZED (
        SELECT a.id AS alias_id, a.local_part, a.domain_id, r.address
          FROM domains_alias a
          JOIN domains_domain d ON d.id = a.domain_id
          JOIN domains_aliasrecipient r ON r.alias_id = a.id
         WHERE a.active AND a.local_part <> '' AND d.active AND d.verified_at IS NOT NULL
    ),
    grant_login AS NOT MATERIALIZED (
        SELECT g.id AS grant_id, g.local_part, g.domain_id, g.mailbox_id
          FROM domains_sendergrant g
          JOIN domains_domain gd ON gd.id = g.domain_id
         WHERE gd.active AND gd.verified_at IS NOT NULL
    ),
    identity AS (
        SELECT m.local_part, m.domain_id, m.address AS login, m.id AS mailbox_id,
               NULL::bigint AS alias_id, NULL::bigint AS grant_id
          FROM live_mailbox m WHERE m.id = ANY (mailbox_ids)
        UNION
        SELECT a.local_part, a.domain_id, m.address, m.id, a.alias_id, NULL
          FROM alias_login a JOIN live_mailbox m ON m.address = a.address
         WHERE a.alias_id = ANY (alias_ids)
        UNION
        SELECT a.local_part, a.domain_id, m.address, m.id, a.alias_id, NULL
          FROM alias_login a JOIN live_mailbox m ON m.address = a.address
         WHERE m.id = ANY (mailbox_ids)
        UNION
        SELECT g.local_part, g.domain_id, m.address, m.id, NULL, g.grant_id
          FROM grant_login g JOIN live_mailbox m ON m.id = g.mailbox_id
         WHERE g.grant_id = ANY (grant_ids)
        UNION
        SELECT g.local_part, g.domain_id, m.address, m.id, NULL, g.grant_id
          FROM grant_login g JOIN live_mailbox m ON m.id = g.mailbox_id
         WHERE m.id = ANY (mailbox_ids)
    )
    SELECT i.local_part || '@' || d.name, i.login, i.mailbox_id, i.alias_id, i.grant_id,
           NULL::bigint
      FROM identity i JOIN domains_domain d ON d.id = i.domain_id
    UNION ALL
    SELECT i.local_part || '@' || ad.name, i.login, i.mailbox_id, i.alias_id, i.grant_id, ad.id
      FROM identity i
      JOIN domains_aliasdomain ad ON ad.target_id = i.domain_id
     WHERE ad.active AND ad.verified_at IS NOT NULL
$$;

CREATE FUNCTION mail_sender_logins_refresh(kind text, ids bigint[]) RETURNS void
    LANGUAGE plpgsql
    SET plan_cache_mode = force_custom_plan AS $$
BEGIN
    IF kind = 'mailbox' THEN
        DELETE FROM mail_sender_logins WHERE mailbox_id = ANY (ids);
        INSERT INTO mail_sender_logins SELECT * FROM mail_sender_logins_rows(ids, NULL, NULL);
    ELSIF kind = 'alias' THEN
        DELETE FROM mail_sender_logins WHERE alias_id = ANY (ids);
        INSERT INTO mail_sender_logins SELECT * FROM mail_sender_logins_rows(NULL, ids, NULL);
    ELSIF kind = 'grant' THEN
        DELETE FROM mail_sender_logins WHERE grant_id = ANY (ids);
        INSERT INTO mail_sender_logins SELECT * FROM mail_sender_logins_rows(NULL, NULL, ids);
    ELSIF kind = 'alias_domain' THEN
        -- Everything whose identity lies in the alias domains' targets, kept under these names.
        DELETE FROM mail_sender_logins WHERE alias_domain_id = ANY (ids);
        INSERT INTO mail_sender_logins
        SELECT r.*
          FROM mail_sender_logins_rows(
                   ARRAY(SELECT m.id FROM domains_mailbox m JOIN domains_aliasdomain ad
                           ON ad.target_id = m.domain_id WHERE ad.id = ANY (ids)),
                   ARRAY(SELECT a.id FROM domains_alias a JOIN domains_aliasdomain ad
                           ON ad.target_id = a.domain_id WHERE ad.id = ANY (ids)),
                   ARRAY(SELECT g.id FROM domains_sendergrant g JOIN domains_aliasdomain ad
                           ON ad.target_id = g.domain_id WHERE ad.id = ANY (ids))) r
         WHERE r.alias_domain_id = ANY (ids);
    END IF;
END $$;
