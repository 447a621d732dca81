-- Keeping the lookup tables in step with the panel's tables.
--
-- Statement triggers on the panel's tables note which entities changed (mail_lookup_dirty);
-- at commit a deferred trigger recomputes, for each changed entity, every lookup row that
-- involves it, from the committed state of the base rows. One such flush runs at a time
-- (a transaction-level advisory lock), and each statement inside it sees what committed
-- before, so two concurrent changes can never leave a row that neither would have written.
-- The flush writes no base row and takes no row lock, so it cannot deadlock with the panel's
-- own locks. Tests that read the lookups before commit run SET CONSTRAINTS ALL IMMEDIATE.
--
-- The refresh functions take their ids as arrays and run with plan_cache_mode =
-- force_custom_plan: each run is planned for the ids it really has, so one id is an index probe
-- and a bulk change (a whole domain, a rebuild) a hash join. A generic plan cached for an empty
-- table once turned a 10,000-mailbox flush into a two-minute nested loop.

CREATE UNLOGGED TABLE mail_lookup_dirty (
    xact xid8 NOT NULL DEFAULT pg_current_xact_id(),
    kind text NOT NULL,
    id bigint NOT NULL,
    PRIMARY KEY (xact, kind, id)
);

CREATE FUNCTION mail_lookup_mark(kind text, ids bigint[]) RETURNS void
    LANGUAGE plpgsql AS $$
BEGIN
    -- The flag goes up first: once SET CONSTRAINTS ALL IMMEDIATE is in force, the flush fires at
    -- the end of the INSERT below. Transaction-local, so a rolled-back savepoint takes it back
    -- along with its rows.
    PERFORM set_config('mailadmin.lookups_dirty', 'yes', true);
    INSERT INTO mail_lookup_dirty (kind, id)
    SELECT kind, i FROM unnest(ids) AS i WHERE i IS NOT NULL
    ON CONFLICT DO NOTHING;
END $$;

-- Every lookup relation's share of one kind of change.
CREATE FUNCTION mail_lookup_refresh(kind text, ids bigint[]) RETURNS void
    LANGUAGE plpgsql
    SET plan_cache_mode = force_custom_plan AS $$
BEGIN
    IF coalesce(cardinality(ids), 0) = 0 THEN
        RETURN;
    END IF;
    PERFORM mail_domains_refresh(kind, ids);
    PERFORM mail_transports_refresh(kind, ids);
    PERFORM mail_mailboxes_refresh(kind, ids);
    PERFORM mail_aliases_refresh(kind, ids);
    PERFORM mail_sender_logins_refresh(kind, ids);
    PERFORM mail_relay_recipients_refresh(kind, ids);
    PERFORM mail_passdb_refresh(kind, ids);
    PERFORM mail_userdb_refresh(kind, ids);
    PERFORM mail_app_passwords_refresh(kind, ids);
END $$;

-- Rewrite every lookup row that involves the given entities (each set may be NULL).
CREATE FUNCTION mail_lookup_apply(
    domain_ids bigint[], alias_domain_ids bigint[], mailbox_ids bigint[], alias_ids bigint[],
    grant_ids bigint[], relay_domain_ids bigint[]
) RETURNS void
    LANGUAGE plpgsql
    SET plan_cache_mode = force_custom_plan AS $$
BEGIN
    -- A domain's state (active, verified, kind) reaches everything in it. Its alias domains'
    -- own rows come from refreshing the domain's mailboxes, aliases and grants; only their
    -- entries in mail_domains need refreshing on their own.
    IF domain_ids IS NOT NULL THEN
        PERFORM mail_domains_refresh('alias_domain', ARRAY(
            SELECT id FROM domains_aliasdomain WHERE target_id = ANY (domain_ids)));
        alias_domain_ids := ARRAY(
            SELECT i FROM unnest(alias_domain_ids) AS i
             WHERE NOT EXISTS (SELECT 1 FROM domains_aliasdomain ad
                                WHERE ad.id = i AND ad.target_id = ANY (domain_ids)));
        mailbox_ids := ARRAY(
            SELECT unnest(mailbox_ids)
            UNION SELECT id FROM domains_mailbox WHERE domain_id = ANY (domain_ids));
        alias_ids := ARRAY(
            SELECT unnest(alias_ids)
            UNION SELECT id FROM domains_alias WHERE domain_id = ANY (domain_ids));
        grant_ids := ARRAY(
            SELECT unnest(grant_ids)
            UNION SELECT id FROM domains_sendergrant WHERE domain_id = ANY (domain_ids));
    END IF;
    PERFORM mail_lookup_refresh('domain', domain_ids);
    PERFORM mail_lookup_refresh('relay_domain', relay_domain_ids);
    PERFORM mail_lookup_refresh('alias_domain', alias_domain_ids);
    PERFORM mail_lookup_refresh('mailbox', mailbox_ids);
    PERFORM mail_lookup_refresh('alias', alias_ids);
    PERFORM mail_lookup_refresh('grant', grant_ids);
END $$;

CREATE FUNCTION mail_lookup_flush() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    dirty record;
BEGIN
    -- One trigger event per dirty row; the first one does the work for all of them, the others
    -- return at once (a flag, not a probe of an index full of the rows just deleted).
    IF current_setting('mailadmin.lookups_dirty', true) IS DISTINCT FROM 'yes' THEN
        RETURN NULL;
    END IF;
    PERFORM pg_advisory_xact_lock(7242315);
    WITH done AS (
        DELETE FROM mail_lookup_dirty WHERE xact = pg_current_xact_id() RETURNING kind, id
    )
    SELECT array_agg(id) FILTER (WHERE kind = 'domain') AS domain_ids,
           array_agg(id) FILTER (WHERE kind = 'alias_domain') AS alias_domain_ids,
           array_agg(id) FILTER (WHERE kind = 'mailbox') AS mailbox_ids,
           array_agg(id) FILTER (WHERE kind = 'alias') AS alias_ids,
           array_agg(id) FILTER (WHERE kind = 'grant') AS grant_ids,
           array_agg(id) FILTER (WHERE kind = 'relay_domain') AS relay_domain_ids
      INTO dirty
      FROM done;
    PERFORM mail_lookup_apply(dirty.domain_ids, dirty.alias_domain_ids, dirty.mailbox_ids,
                              dirty.alias_ids, dirty.grant_ids, dirty.relay_domain_ids);
    PERFORM set_config('mailadmin.lookups_dirty', 'no', true);
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER mail_lookup_flush AFTER INSERT ON mail_lookup_dirty
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION mail_lookup_flush();

-- Everything from scratch: after a bulk load with triggers off, or a TRUNCATE of a base table.
CREATE FUNCTION mail_lookup_rebuild() RETURNS void
    LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(7242315);
    TRUNCATE mail_domains, mail_transports, mail_mailboxes, mail_aliases, mail_sender_logins,
             mail_relay_recipients, mail_passdb, mail_userdb, mail_app_passwords;
    DELETE FROM mail_lookup_dirty WHERE xact = pg_current_xact_id();
    PERFORM set_config('mailadmin.lookups_dirty', 'no', true);
    PERFORM mail_lookup_apply(ARRAY(SELECT id FROM domains_domain), NULL, NULL, NULL, NULL, NULL);
END $$;

-- The statement triggers: which entities a write to each panel table touches. An UPDATE counts
-- only when a column the lookups read changed.
CREATE FUNCTION mail_lookup_on_domain() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM mail_lookup_mark('domain', ARRAY(SELECT id FROM new_rows));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM mail_lookup_mark('domain', ARRAY(SELECT id FROM old_rows));
    ELSE
        PERFORM mail_lookup_mark('domain', ARRAY(
            SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id
             WHERE (n.name, n.kind, n.transport, n.active, n.verified_at, n.relay_accept_all)
                   IS DISTINCT FROM
                   (o.name, o.kind, o.transport, o.active, o.verified_at, o.relay_accept_all)));
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION mail_lookup_on_alias_domain() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM mail_lookup_mark('alias_domain', ARRAY(SELECT id FROM new_rows));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM mail_lookup_mark('alias_domain', ARRAY(SELECT id FROM old_rows));
    ELSE
        PERFORM mail_lookup_mark('alias_domain', ARRAY(
            SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id
             WHERE (n.name, n.target_id, n.active, n.verified_at)
                   IS DISTINCT FROM (o.name, o.target_id, o.active, o.verified_at)));
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION mail_lookup_on_mailbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM mail_lookup_mark('mailbox', ARRAY(SELECT id FROM new_rows));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM mail_lookup_mark('mailbox', ARRAY(SELECT id FROM old_rows));
    ELSE
        PERFORM mail_lookup_mark('mailbox', ARRAY(
            SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id
             WHERE (n.address, n.local_part, n.domain_id, n.password, n.quota_bytes, n.active,
                    n.allow_imap, n.allow_pop3, n.allow_smtp, n.keep_copy, n.maildir,
                    n.maildir_busy)
                   IS DISTINCT FROM
                   (o.address, o.local_part, o.domain_id, o.password, o.quota_bytes, o.active,
                    o.allow_imap, o.allow_pop3, o.allow_smtp, o.keep_copy, o.maildir,
                    o.maildir_busy)));
    END IF;
    RETURN NULL;
END $$;

-- Rows that belong to a mailbox (its forwards, its app passwords) mark that mailbox.
CREATE FUNCTION mail_lookup_on_mailbox_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM mail_lookup_mark('mailbox', ARRAY(SELECT mailbox_id FROM new_rows));
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        PERFORM mail_lookup_mark('mailbox', ARRAY(SELECT mailbox_id FROM old_rows));
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION mail_lookup_on_alias() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM mail_lookup_mark('alias', ARRAY(SELECT id FROM new_rows));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM mail_lookup_mark('alias', ARRAY(SELECT id FROM old_rows));
    ELSE
        PERFORM mail_lookup_mark('alias', ARRAY(
            SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id
             WHERE (n.address, n.local_part, n.domain_id, n.active)
                   IS DISTINCT FROM (o.address, o.local_part, o.domain_id, o.active)));
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION mail_lookup_on_alias_recipient() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM mail_lookup_mark('alias', ARRAY(SELECT alias_id FROM new_rows));
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        PERFORM mail_lookup_mark('alias', ARRAY(SELECT alias_id FROM old_rows));
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION mail_lookup_on_sender_grant() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM mail_lookup_mark('grant', ARRAY(SELECT id FROM new_rows));
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        PERFORM mail_lookup_mark('grant', ARRAY(SELECT id FROM old_rows));
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION mail_lookup_on_relay_recipient() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM mail_lookup_mark('relay_domain', ARRAY(SELECT domain_id FROM new_rows));
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        PERFORM mail_lookup_mark('relay_domain', ARRAY(SELECT domain_id FROM old_rows));
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION mail_lookup_on_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM mail_lookup_rebuild();
    RETURN NULL;
END $$;

DO $$
DECLARE
    watched CONSTANT text[][] := ARRAY[
        ['domains_domain', 'mail_lookup_on_domain'],
        ['domains_aliasdomain', 'mail_lookup_on_alias_domain'],
        ['domains_mailbox', 'mail_lookup_on_mailbox'],
        ['domains_mailboxforward', 'mail_lookup_on_mailbox_row'],
        ['domains_apppassword', 'mail_lookup_on_mailbox_row'],
        ['domains_alias', 'mail_lookup_on_alias'],
        ['domains_aliasrecipient', 'mail_lookup_on_alias_recipient'],
        ['domains_sendergrant', 'mail_lookup_on_sender_grant'],
        ['domains_relayrecipient', 'mail_lookup_on_relay_recipient']];
    tbl text;
    fn text;
BEGIN
    FOR i IN 1 .. array_length(watched, 1) LOOP
        tbl := watched[i][1];
        fn := watched[i][2];
        EXECUTE format('CREATE TRIGGER mail_lookup_ins AFTER INSERT ON %I '
                       'REFERENCING NEW TABLE AS new_rows '
                       'FOR EACH STATEMENT EXECUTE FUNCTION %I()', tbl, fn);
        EXECUTE format('CREATE TRIGGER mail_lookup_upd AFTER UPDATE ON %I '
                       'REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows '
                       'FOR EACH STATEMENT EXECUTE FUNCTION %I()', tbl, fn);
        EXECUTE format('CREATE TRIGGER mail_lookup_del AFTER DELETE ON %I '
                       'REFERENCING OLD TABLE AS old_rows '
                       'FOR EACH STATEMENT EXECUTE FUNCTION %I()', tbl, fn);
        EXECUTE format('CREATE TRIGGER mail_lookup_trunc AFTER TRUNCATE ON %I '
                       'FOR EACH STATEMENT EXECUTE FUNCTION mail_lookup_on_truncate()', tbl);
    END LOOP;
END $$;
