-- mail_transports: Postfix transport_maps, keyed by what trivial-rewrite asks (a full address
-- first, then the domain). A live relay domain with a next hop answers its transport; a mailbox
-- whose Maildir is being moved, archived or restored (maildir_busy) answers `retry:`, so mail
-- for it is accepted and waits in Postfix's queue until the operation is done.
CREATE TABLE mail_transports (
    key text PRIMARY KEY,
    transport text NOT NULL,
    domain_id bigint,
    mailbox_id bigint
);
CREATE INDEX mail_transports_by_domain ON mail_transports (domain_id) WHERE domain_id IS NOT NULL;
CREATE INDEX mail_transports_by_mailbox ON mail_transports (mailbox_id)
    WHERE mailbox_id IS NOT NULL;

CREATE FUNCTION mail_transports_refresh(kind text, ids bigint[]) RETURNS void
    LANGUAGE plpgsql
    SET plan_cache_mode = force_custom_plan AS $$
BEGIN
    IF kind = 'domain' THEN
        DELETE FROM mail_transports WHERE domain_id = ANY (ids);
        INSERT INTO mail_transports (key, transport, domain_id)
        SELECT d.name, d.transport, d.id
          FROM domains_domain d
         WHERE d.id = ANY (ids) AND d.active AND d.verified_at IS NOT NULL
           AND d.kind = 'relay' AND d.transport <> '';
    ELSIF kind = 'mailbox' THEN
        DELETE FROM mail_transports WHERE mailbox_id = ANY (ids);
        INSERT INTO mail_transports (key, transport, mailbox_id)
        SELECT m.address, 'retry:4.2.1 mailbox busy: its Maildir is being moved', m.id
          FROM domains_mailbox m
          JOIN domains_domain d ON d.id = m.domain_id
         WHERE m.id = ANY (ids) AND m.maildir_busy
           AND m.active AND d.active AND d.verified_at IS NOT NULL;
    END IF;
END $$;
