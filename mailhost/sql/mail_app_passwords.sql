-- mail_app_passwords: Dovecot's second passdb, keyed by the SHA-256 (hex) of an app password,
-- which Dovecot computes from the password typed (%{sha256:password}). One row per app password
-- of a live mailbox whose protocol flag allows it; `protocol` is imap, pop3 or smtp.
CREATE TABLE mail_app_passwords (
    secret_hash text PRIMARY KEY,
    username text NOT NULL,
    protocol text NOT NULL,
    busy boolean NOT NULL,
    app_password_id bigint NOT NULL UNIQUE,
    mailbox_id bigint NOT NULL
);
CREATE INDEX mail_app_passwords_mailbox ON mail_app_passwords (mailbox_id);

CREATE FUNCTION mail_app_passwords_refresh(kind text, ids bigint[]) RETURNS void
    LANGUAGE plpgsql
    SET plan_cache_mode = force_custom_plan AS $$
BEGIN
    IF kind = 'mailbox' THEN
        DELETE FROM mail_app_passwords WHERE mailbox_id = ANY (ids);
        INSERT INTO mail_app_passwords (secret_hash, username, protocol, busy, app_password_id,
                                        mailbox_id)
        SELECT a.secret_hash, m.address, a.protocol, m.maildir_busy, a.id, m.id
          FROM domains_apppassword a
          JOIN domains_mailbox m ON m.id = a.mailbox_id
          JOIN domains_domain d ON d.id = m.domain_id
         WHERE m.id = ANY (ids) AND m.active AND d.active AND d.verified_at IS NOT NULL
           AND CASE a.protocol WHEN 'imap' THEN m.allow_imap WHEN 'pop3' THEN m.allow_pop3
                               WHEN 'smtp' THEN m.allow_smtp ELSE false END;
    END IF;
END $$;

-- An app password written or revoked marks its mailbox (maintenance.sql's
-- mail_lookup_on_mailbox_row): the mailbox's refresh rewrites its rows.

-- Dovecot's app-password query calls this in its select list: the row is found only when the
-- typed password hashes to the key, so a call is a successful login. It records the time (at
-- most once a minute per app password) and returns ''. SECURITY DEFINER: the mail role has no
-- privilege on mail_app_password_use (a table of the panel's, domains.AppPasswordUse) itself.
CREATE FUNCTION mail_app_password_used(app_password bigint) RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    INSERT INTO mail_app_password_use (app_password_id, last_used_at)
    SELECT a.id, now() FROM domains_apppassword a WHERE a.id = app_password
    ON CONFLICT (app_password_id) DO UPDATE SET last_used_at = excluded.last_used_at
     WHERE mail_app_password_use.last_used_at < excluded.last_used_at - interval '1 minute';
    RETURN '';
END $$;
