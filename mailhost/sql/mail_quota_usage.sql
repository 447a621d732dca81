-- mail_quota_usage (a table of the panel's, domains.QuotaUsage): Dovecot's quota_clone writes
-- usage here under the user name; this trigger ties the row to its mailbox by key and drops
-- rows for unknown users. SECURITY DEFINER: the mail role may not read domains_mailbox itself.
CREATE FUNCTION mail_quota_usage_bind() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    NEW.username := lower(NEW.username);
    NEW.mailbox_id := (SELECT id FROM domains_mailbox WHERE address = NEW.username);
    IF NEW.mailbox_id IS NULL THEN
        RETURN NULL;
    END IF;
    NEW.updated_at := now();
    RETURN NEW;
END $$;
REVOKE ALL ON FUNCTION mail_quota_usage_bind() FROM PUBLIC;

CREATE TRIGGER mail_quota_usage_bind BEFORE INSERT OR UPDATE ON mail_quota_usage
    FOR EACH ROW EXECUTE FUNCTION mail_quota_usage_bind();
