"""Names of the relations Postfix and Dovecot read (the contract in docs/lookups.md)."""

LOOKUP_VIEWS = (
    "mail_domains",
    "mail_mailboxes",
    "mail_aliases",
    "mail_sender_logins",
    "mail_passdb",
    "mail_userdb",
)
QUOTA_USAGE_TABLE = "mail_quota_usage"
