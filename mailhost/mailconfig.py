"""Render the Postfix and Dovecot configuration that reads the panel's database live.

One generator serves production (`manage.py mailconfig --output DIR`) and the self-contained
local/test stack (`manage.py mailstack up`, see `mailhost.stack`): the stack only overrides paths,
ports and a few test-friendly timings through the same `MailConfig` object.

The queries are those of the SQL contract (mailhost.contract, docs/lookups.md).

Database connections are bounded by construction:
- every Postfix map is `proxy:pgsql:`, so proxymap processes connect, and their process limit
  (master.cf) times the number of maps bounds those connections; except in trivial-rewrite,
  whose own process limit is small too: it reads the maps it asks on every address resolved
  (REWRITE_SERVICES) directly, without the extra round trip through proxymap;
- Dovecot's passdb/userdb share one connection pool of `maxconns` in the single auth process
  (SQL lookups are asynchronous there, no auth-worker connects);
- quota usage goes through the dict proxy, whose process limit and `maxconns` are small.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

from django.template import Context, Engine

from mailhost import contract

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates" / "mailhost"

# The queries are the contract's (mailhost.contract, documented in docs/lookups.md).
POSTFIX_MAPS = contract.POSTFIX_MAPS

# The maps Postfix checks as domain lists, and the pass-through regexp in front of them.
DOMAIN_LISTS = ("virtual_mailbox_domains", "relay_domains")
# The trivial-rewrite services, each with the maps it reads with its own connections (master.cf
# `-o`, bounded by `rewrite_process_limit`) instead of through proxymap. They answer two thirds
# of Postfix's lookups: every address is resolved, each recipient twice (smtpd at RCPT, the
# queue manager) and the sender once.
REWRITE_SERVICES = {
    "rewrite": ("virtual_mailbox_domains", "relay_domains", "transport_maps"),
    # smtpd's own resolver. At RCPT only the address class matters: our transports (a relay
    # domain's next hop, `retry:` for a busy mailbox) are the queue manager's business, and none
    # is `error:`, the one transport smtpd acts on. So no transport query per RCPT.
    "rewrite-smtpd": ("virtual_mailbox_domains", "relay_domains"),
}
SMTPD_REWRITE_SERVICE = "rewrite-smtpd"
WHOLE_KEY_REGEXP = "whole-key.regexp"

SECRET_MODE = 0o640
PUBLIC_MODE = 0o644


def _setting(name: str, default):
    from django.conf import settings

    return getattr(settings, name, default)


@dataclass(frozen=True)
class MailConfig:
    """Everything the rendered configuration depends on. `from_settings()` gives production
    defaults; `dataclasses.replace()` overrides what a deployment or the test stack needs."""

    # The database the mail servers read, as the least-privilege mail role.
    db_host: str = "127.0.0.1"
    db_port: int = 5432
    db_name: str = "mailadmin"
    db_role: str = "mailserver"
    db_password: str = ""
    # Dovecot may reach the database another way (a pooler, or a test proxy); None = same.
    dovecot_db_host: str | None = None
    dovecot_db_port: int | None = None

    vmail_root: str = "/var/vmail"
    uid: int = 5000
    gid: int = 5000
    # The account of that uid/gid: Dovecot names the owner of the quota dict socket with it.
    vmail_user: str = "vmail"
    vmail_group: str = "vmail"
    hostname: str = "mail.example.net"

    # Network. `listen_address` "" = all interfaces (production); the stack uses 127.0.0.1.
    listen_address: str = ""
    smtp_port: int = 25
    submission_port: int = 587
    smtps_port: int = 465
    imap_port: int = 143
    imaps_port: int = 993  # 0 = no implicit-TLS listener
    pop3_port: int = 110
    pop3s_port: int = 995
    # How Postfix reaches Dovecot. dovecot_host "" = UNIX sockets inside Postfix's queue
    # directory (one host); a host name/IP = TCP on lmtp_port/auth_port (separate containers).
    dovecot_host: str = ""
    lmtp_port: int = 24
    auth_port: int = 12345

    # Paths.
    postfix_config_dir: str = "/etc/postfix"
    postfix_queue_dir: str = "/var/spool/postfix"
    postfix_data_dir: str = "/var/lib/postfix"
    postfix_log_file: str = ""  # "" = syslog
    dovecot_config_dir: str = "/etc/dovecot"
    dovecot_base_dir: str = "/run/dovecot"
    dovecot_state_dir: str = "/var/lib/dovecot"
    dovecot_log_file: str = ""  # "" = syslog
    dovecot_instance_name: str = "dovecot"

    # TLS. Empty = no certificate: AUTH is then never offered (smtpd_tls_auth_only).
    tls_cert: str = ""
    tls_key: str = ""

    # Connection bounds.
    proxymap_process_limit: int = 1
    rewrite_process_limit: int = 1
    dovecot_sql_maxconns: int = 2
    dict_process_limit: int = 1
    dict_sql_maxconns: int = 1
    # The app-password passdb reads through its own file, hence its own pool in the auth process.
    dovecot_app_sql_maxconns: int = 1
    # SMTP AUTH commands one client may send per minute on submission/smtps (anvil).
    smtp_auth_rate_limit: int = 30

    # Self-contained instance (mailstack): a complete master.cf and main.cf with every path
    # inside one directory, no chroot, outbound SMTP deferred, short retry timings.
    self_contained: bool = False
    # Self-contained only: recycle every Postfix process after 10 uses or 10 s idle, so a test's
    # database outage leaves no trace for long. False keeps Postfix's defaults (max_use 100,
    # max_idle 100s), as in production: what the benchmarks (bench/) run.
    short_lived_processes: bool = True
    extra_main_cf: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, **overrides) -> MailConfig:
        base = cls(
            db_host=_setting("MAIL_DB_HOST", cls.db_host),
            db_port=int(_setting("MAIL_DB_PORT", cls.db_port)),
            db_name=_setting("MAIL_DB_NAME", cls.db_name),
            db_role=_setting("MAIL_DB_ROLE", cls.db_role),
            db_password=_setting("MAIL_DB_PASSWORD", cls.db_password),
            vmail_root=_setting("MAIL_VMAIL_ROOT", cls.vmail_root),
            uid=int(_setting("MAIL_UID", cls.uid)),
            gid=int(_setting("MAIL_GID", cls.gid)),
            vmail_user=_setting("MAIL_VMAIL_USER", cls.vmail_user),
            vmail_group=_setting("MAIL_VMAIL_GROUP", cls.vmail_group),
            hostname=_setting("MAIL_HOSTNAME", cls.hostname),
            dovecot_host=_setting("MAIL_DOVECOT_HOST", cls.dovecot_host),
            tls_cert=_setting("MAIL_TLS_CERT", cls.tls_cert),
            tls_key=_setting("MAIL_TLS_KEY", cls.tls_key),
        )
        return dataclasses.replace(base, **overrides)

    # --- derived values used by the templates ---
    @property
    def tls(self) -> bool:
        return bool(self.tls_cert and self.tls_key)

    @property
    def vmail_root_slash(self) -> str:
        return self.vmail_root.rstrip("/") + "/"

    @property
    def postfix_log_dir(self) -> str:
        return os.path.dirname(self.postfix_log_file)

    @property
    def pgsql_dir(self) -> str:
        return f"{self.postfix_config_dir.rstrip('/')}/pgsql"

    @property
    def dovecot_sql_file(self) -> str:
        return f"{self.dovecot_config_dir.rstrip('/')}/dovecot-sql.conf.ext"

    @property
    def dovecot_app_sql_file(self) -> str:
        return f"{self.dovecot_config_dir.rstrip('/')}/dovecot-sql-app-passwords.conf.ext"

    @property
    def dovecot_app_conninfo(self) -> str:
        return self.pg_conninfo(
            host=self.dovecot_db_host or self.db_host,
            port=self.dovecot_db_port or self.db_port,
            maxconns=self.dovecot_app_sql_maxconns,
        )

    @property
    def dovecot_dict_file(self) -> str:
        return f"{self.dovecot_config_dir.rstrip('/')}/dovecot-dict-sql.conf.ext"

    @property
    def postfix_inet_interfaces(self) -> str:
        return self.listen_address or "all"

    @property
    def dovecot_listen(self) -> str:
        return self.listen_address or "*, ::"

    def service_name(self, port: int, well_known: str, default_port: int) -> str:
        """master.cf service name: the well-known name on its usual port (so the entry replaces
        the stock one by name), otherwise [address:]port."""
        if port == default_port and not self.listen_address:
            return well_known
        return f"{self.listen_address}:{port}" if self.listen_address else str(port)

    @property
    def lmtp_transport(self) -> str:
        if self.dovecot_host:
            return f"lmtp:inet:{self.dovecot_host}:{self.lmtp_port}"
        return "lmtp:unix:private/dovecot-lmtp"

    @property
    def sasl_path(self) -> str:
        if self.dovecot_host:
            return f"inet:{self.dovecot_host}:{self.auth_port}"
        return "private/auth"

    @property
    def dovecot_tcp_address(self) -> str:
        """Where Dovecot's LMTP and auth TCP listeners bind (TCP mode only)."""
        return self.listen_address or "*"

    def pg_conninfo(self, *, host: str, port: int, maxconns: int) -> str:
        parts = [
            f"host={_conninfo_value(host)}",
            f"port={int(port)}",
            f"dbname={_conninfo_value(self.db_name)}",
            f"user={_conninfo_value(self.db_role)}",
        ]
        if self.db_password:
            parts.append(f"password={_conninfo_value(self.db_password)}")
        parts.append(f"maxconns={int(maxconns)}")
        return " ".join(parts)

    @property
    def dovecot_auth_conninfo(self) -> str:
        return self.pg_conninfo(
            host=self.dovecot_db_host or self.db_host,
            port=self.dovecot_db_port or self.db_port,
            maxconns=self.dovecot_sql_maxconns,
        )

    @property
    def dovecot_dict_conninfo(self) -> str:
        return self.pg_conninfo(
            host=self.dovecot_db_host or self.db_host,
            port=self.dovecot_db_port or self.db_port,
            maxconns=self.dict_sql_maxconns,
        )

    @property
    def postfix_pgsql_host(self) -> str:
        return f"{self.db_host}:{int(self.db_port)}"

    @property
    def user_query(self) -> str:
        return contract.dovecot_user_query(vmail_root=self.vmail_root, uid=self.uid, gid=self.gid)

    @property
    def max_db_connections(self) -> int:
        """Upper bound of the mail stack's PostgreSQL connections with this configuration."""
        return (
            self.proxymap_process_limit * len(POSTFIX_MAPS)
            + self.rewrite_process_limit * sum(map(len, REWRITE_SERVICES.values()))
            + self.dovecot_sql_maxconns
            + self.dovecot_app_sql_maxconns
            + self.dict_process_limit * self.dict_sql_maxconns
        )


def _conninfo_value(value: str) -> str:
    """Quote a libpq conninfo value when it needs it."""
    value = str(value)
    if value and not any(c in value for c in " '\\"):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _check(cfg: MailConfig) -> None:
    for name, value in {
        "db_host": cfg.db_host,
        "db_name": cfg.db_name,
        "db_role": cfg.db_role,
        "db_password": cfg.db_password,
        "hostname": cfg.hostname,
        "vmail_root": cfg.vmail_root,
        "vmail_user": cfg.vmail_user,
        "vmail_group": cfg.vmail_group,
        "dovecot_host": cfg.dovecot_host,
        "tls_cert": cfg.tls_cert,
        "tls_key": cfg.tls_key,
    }.items():
        if any(c in str(value) for c in "\r\n\0"):
            raise ValueError(f"{name} must not contain a line break")
    if not cfg.vmail_root.startswith("/"):
        raise ValueError("vmail_root must be an absolute path")
    if bool(cfg.tls_cert) != bool(cfg.tls_key):
        raise ValueError("give both tls_cert and tls_key, or neither")


_engine: Engine | None = None


def _render(template: str, **context) -> str:
    global _engine
    if _engine is None:
        _engine = Engine(dirs=[str(TEMPLATE_DIR)], autoescape=False)
    return _engine.get_template(template).render(Context(context, autoescape=False))


def render(cfg: MailConfig) -> dict[str, tuple[str, int]]:
    """All configuration files: {relative path: (text, file mode)}."""
    _check(cfg)
    files: dict[str, tuple[str, int]] = {}
    proxied = {name: f"proxy:pgsql:{cfg.pgsql_dir}/{name}.cf" for name in POSTFIX_MAPS}
    maps = dict(proxied)
    # A domain list asks a table for the domain and then for each parent (".tld"), which no
    # row here ever matches. Behind a pipemap whose first stage is a regexp (a pattern table)
    # Postfix asks for the whole name only: one SQL query per check instead of two.
    whole_key = f"{cfg.postfix_config_dir.rstrip('/')}/{WHOLE_KEY_REGEXP}"
    for name in DOMAIN_LISTS:
        maps[name] = f"pipemap:{{regexp:{whole_key}, {proxied[name]}}}"
    # master.cf `-o` values: no spaces. A map a service does not read is emptied.
    every_rewrite_map = sorted({m for used in REWRITE_SERVICES.values() for m in used})
    direct = {name: f"pgsql:{cfg.pgsql_dir}/{name}.cf" for name in every_rewrite_map}
    for name in DOMAIN_LISTS:
        direct[name] = f"pipemap:{{regexp:{whole_key},{direct[name]}}}"
    rewrite_services = [
        (service, [(name, direct[name] if name in used else "") for name in every_rewrite_map])
        for service, used in REWRITE_SERVICES.items()
    ]
    files["postfix/main.cf"] = (
        _render(
            "postfix/main.cf",
            cfg=cfg,
            maps=maps,
            proxy_read_maps=" ".join(proxied.values()),
            extra=sorted(cfg.extra_main_cf.items()),
        ),
        PUBLIC_MODE,
    )
    files[f"postfix/{WHOLE_KEY_REGEXP}"] = ("/^(.+)$/ $1\n", PUBLIC_MODE)
    files["postfix/master.cf"] = (
        _render(
            "postfix/master.cf",
            cfg=cfg,
            smtp_name=cfg.service_name(cfg.smtp_port, "smtp", 25),
            submission_name=cfg.service_name(cfg.submission_port, "submission", 587),
            smtps_name=cfg.service_name(cfg.smtps_port, "smtps", 465),
            rewrite_services=rewrite_services,
            smtpd_rewrite=SMTPD_REWRITE_SERVICE,
        ),
        PUBLIC_MODE,
    )
    for name, query in POSTFIX_MAPS.items():
        files[f"postfix/pgsql/{name}.cf"] = (
            _render("postfix/pgsql.cf", cfg=cfg, name=name, query=query),
            SECRET_MODE,
        )
    files["dovecot/dovecot.conf"] = (_render("dovecot/dovecot.conf", cfg=cfg), PUBLIC_MODE)
    files["dovecot/dovecot-sql.conf.ext"] = (
        _render(
            "dovecot/dovecot-sql.conf.ext",
            cfg=cfg,
            password_query=contract.DOVECOT_PASSWORD_QUERY,
            iterate_query=contract.DOVECOT_ITERATE_QUERY,
        ),
        SECRET_MODE,
    )
    files["dovecot/dovecot-sql-app-passwords.conf.ext"] = (
        _render(
            "dovecot/dovecot-sql-app-passwords.conf.ext",
            cfg=cfg,
            password_query=contract.DOVECOT_APP_PASSWORD_QUERY,
        ),
        SECRET_MODE,
    )
    files["dovecot/dovecot-dict-sql.conf.ext"] = (
        _render("dovecot/dovecot-dict-sql.conf.ext", cfg=cfg, table=contract.QUOTA_USAGE_TABLE),
        SECRET_MODE,
    )
    return files


# Who must read the files that hold the database password (mode 0640, root:group).
SECRET_GROUPS = {"postfix": "postfix", "dovecot": "dovecot"}


def write(cfg: MailConfig, output: str | os.PathLike) -> list[Path]:
    """Write the configuration under `output` (layout: postfix/..., dovecot/...). Files holding
    the database password are mode 0640, group postfix/dovecot when that group exists here."""
    out = Path(output)
    written = []
    for rel, (text, mode) in render(cfg).items():
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.chmod(tmp, mode)
        if mode == SECRET_MODE:
            _chgrp_if_exists(tmp, SECRET_GROUPS[rel.split("/", 1)[0]])
        os.replace(tmp, path)
        written.append(path)
    return written


def _chgrp_if_exists(path: Path, group: str) -> None:
    import grp

    try:
        gid = grp.getgrnam(group).gr_gid
    except KeyError:
        return  # e.g. rendered in the web container: the mail host's install step sets it
    try:
        os.chown(path, -1, gid)
    except PermissionError:
        pass
