-- mail_passdb: Dovecot passdb, keyed by the mailbox address. `password` carries its {SCHEME}.
-- While a Maildir operation for the mailbox is pending (busy), the password query calls
-- mail_tempfail(), whose error Dovecot answers with a temporary authentication failure.
CREATE TABLE mail_passdb (
    username text PRIMARY KEY,
    password text NOT NULL,
    allow_imap boolean NOT NULL,
    allow_pop3 boolean NOT NULL,
    allow_smtp boolean NOT NULL,
    busy boolean NOT NULL,
    mailbox_id bigint NOT NULL UNIQUE
);

CREATE FUNCTION mail_tempfail(username text) RETURNS text
    LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'mailbox % is busy: a Maildir operation is pending', username
        USING ERRCODE = 'lock_not_available';
END $$;

CREATE FUNCTION mail_passdb_refresh(kind text, ids bigint[]) RETURNS void
    LANGUAGE plpgsql
    SET plan_cache_mode = force_custom_plan AS $$
BEGIN
    IF kind = 'mailbox' THEN
        DELETE FROM mail_passdb WHERE mailbox_id = ANY (ids);
        INSERT INTO mail_passdb (username, password, allow_imap, allow_pop3, allow_smtp, busy,
                                 mailbox_id)
        SELECT m.address, m.password, m.allow_imap, m.allow_pop3, m.allow_smtp, m.maildir_busy,
               m.id
          FROM domains_mailbox m
          JOIN domains_domain d ON d.id = m.domain_id
         WHERE m.id = ANY (ids) AND m.active AND d.active AND d.verified_at IS NOT NULL;
    END IF;
END $$;
