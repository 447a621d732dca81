-- mail_userdb: Dovecot userdb and its iteration, keyed by the mailbox address. While a Maildir
-- operation is pending (busy), the user query returns the `tempfail` field, so LMTP answers 4xx
-- and Postfix keeps the message queued.
CREATE TABLE mail_userdb (
    username text PRIMARY KEY,
    maildir text NOT NULL,
    quota_rule text NOT NULL,
    busy boolean NOT NULL,
    mailbox_id bigint NOT NULL UNIQUE
);

CREATE FUNCTION mail_userdb_refresh(kind text, ids bigint[]) RETURNS void
    LANGUAGE plpgsql
    SET plan_cache_mode = force_custom_plan AS $$
BEGIN
    IF kind = 'mailbox' THEN
        DELETE FROM mail_userdb WHERE mailbox_id = ANY (ids);
        INSERT INTO mail_userdb (username, maildir, quota_rule, busy, mailbox_id)
        SELECT m.address, m.maildir, '*:bytes=' || m.quota_bytes, m.maildir_busy, m.id
          FROM domains_mailbox m
          JOIN domains_domain d ON d.id = m.domain_id
         WHERE m.id = ANY (ids) AND m.active AND d.active AND d.verified_at IS NOT NULL;
    END IF;
END $$;
