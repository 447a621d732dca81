-- mail_mailboxes: recipient validation for local mailboxes (Postfix virtual_mailbox_maps),
-- keyed by the full address. Delivery itself goes over LMTP to Dovecot.
CREATE TABLE mail_mailboxes (
    address text PRIMARY KEY,
    maildir text NOT NULL,
    mailbox_id bigint NOT NULL UNIQUE
);

CREATE FUNCTION mail_mailboxes_refresh(kind text, ids bigint[]) RETURNS void
    LANGUAGE plpgsql
    SET plan_cache_mode = force_custom_plan AS $$
BEGIN
    IF kind = 'mailbox' THEN
        DELETE FROM mail_mailboxes WHERE mailbox_id = ANY (ids);
        INSERT INTO mail_mailboxes (address, maildir, mailbox_id)
        SELECT m.address, m.maildir, m.id
          FROM domains_mailbox m
          JOIN domains_domain d ON d.id = m.domain_id
         WHERE m.id = ANY (ids) AND m.active AND d.active AND d.verified_at IS NOT NULL;
    END IF;
END $$;
