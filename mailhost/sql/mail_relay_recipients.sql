-- mail_relay_recipients: Postfix relay_recipient_maps, so that port 25 accepts mail for a relay
-- or backup domain only for its listed recipients: one row per RelayRecipient of a live relay
-- or backup domain, and `@domain` when the domain says relay_accept_all.
CREATE TABLE mail_relay_recipients (
    address text PRIMARY KEY,
    domain_id bigint NOT NULL
);
CREATE INDEX mail_relay_recipients_by_domain ON mail_relay_recipients (domain_id);

CREATE FUNCTION mail_relay_recipients_refresh(kind text, ids bigint[]) RETURNS void
    LANGUAGE plpgsql
    SET plan_cache_mode = force_custom_plan AS $$
BEGIN
    IF kind IN ('domain', 'relay_domain') THEN
        DELETE FROM mail_relay_recipients WHERE domain_id = ANY (ids);
        INSERT INTO mail_relay_recipients (address, domain_id)
        SELECT rr.address, d.id
          FROM domains_domain d
          JOIN domains_relayrecipient rr ON rr.domain_id = d.id
         WHERE d.id = ANY (ids) AND d.active AND d.verified_at IS NOT NULL
           AND d.kind IN ('relay', 'backup') AND NOT d.relay_accept_all
        UNION ALL
        SELECT '@' || d.name, d.id
          FROM domains_domain d
         WHERE d.id = ANY (ids) AND d.active AND d.verified_at IS NOT NULL
           AND d.kind IN ('relay', 'backup') AND d.relay_accept_all;
    END IF;
END $$;
