"""The generated configuration, without daemons: the contract's queries, no open relay, AUTH
only over TLS, bounded connections, secrets not world-readable, and (where the packages are
installed) Postfix's and Dovecot's own parsers accept it."""

from __future__ import annotations

import dataclasses
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from mailhost import mailconfig
from mailhost import stack as mailstack

DOCS = Path(settings.BASE_DIR) / "docs" / "lookups.md"


def norm(sql: str) -> str:
    return re.sub(r"\s+", " ", sql).strip()


def contract_queries() -> dict[str, str]:
    text = DOCS.read_text()
    found = dict(re.findall(r"`(\w+)`:\s*`(SELECT [^`]+)`", text))
    block = re.search(r"password_query.*?```\n(.*?)```", text, re.S).group(1)
    found["password_query"] = block
    found["user_query"] = re.search(r"`(SELECT '/var/vmail/'[^`]+)`", text).group(1)
    found["iterate_query"] = re.search(r"iterate_query = (SELECT [^`]+)`", text).group(1)
    app = re.search(r"`app_password_query`.*?```\n(.*?)```", text, re.S).group(1)
    found["app_password_query"] = app
    return {k: norm(v) for k, v in found.items()}


def parse_cf(text: str) -> dict[str, str]:
    """key = value lines of a main.cf / pgsql .cf / dovecot .ext (continuations joined)."""
    out: dict[str, str] = {}
    key = None
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line[0].isspace() and key:
            out[key] += " " + line.strip()
            continue
        if "=" in line:
            key, _, value = line.partition("=")
            key = key.strip()
            out[key] = value.strip()
    return out


@pytest.fixture
def cfg():
    return mailconfig.MailConfig.from_settings(
        db_name="mailadmin", db_password="s3cret pw", tls_cert="/etc/x/cert.pem", tls_key="/k.pem"
    )


@pytest.fixture
def files(cfg):
    return {path: text for path, (text, _mode) in mailconfig.render(cfg).items()}


def test_layout_and_modes(tmp_path, cfg):
    mailconfig.write(cfg, tmp_path)
    expected = {
        "postfix/main.cf",
        "postfix/master.cf",
        f"postfix/{mailconfig.WHOLE_KEY_REGEXP}",
        "dovecot/dovecot.conf",
        "dovecot/dovecot-sql.conf.ext",
        "dovecot/dovecot-sql-app-passwords.conf.ext",
        "dovecot/dovecot-dict-sql.conf.ext",
        *(f"postfix/pgsql/{name}.cf" for name in mailconfig.POSTFIX_MAPS),
    }
    written = {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()}
    assert written == expected
    for rel in expected:
        mode = stat.S_IMODE((tmp_path / rel).stat().st_mode)
        text = (tmp_path / rel).read_text()
        if "s3cret pw" in text:
            assert mode == 0o640, rel
        else:
            assert mode & 0o007 == 0o004 or mode == 0o640, rel
        assert not mode & 0o002, rel


def test_postfix_maps_use_the_contract_queries(files, cfg):
    contract = contract_queries()
    main = parse_cf(files["postfix/main.cf"])
    assert set(mailconfig.POSTFIX_MAPS) <= set(contract)
    for name in mailconfig.POSTFIX_MAPS:
        cf = parse_cf(files[f"postfix/pgsql/{name}.cf"])
        assert norm(cf["query"]) == contract[name], name
        # a literal address (no /etc/hosts in a chroot), the mail role, not the superuser
        assert cf["hosts"].split() == ["127.0.0.1:5432", "127.0.0.1:5432"]
        assert cf["user"] == "mailserver" and cf["dbname"] == "mailadmin"
        # every map goes through proxymap: a main.cf setting, or the sender check
        proxied = f"proxy:pgsql:{cfg.pgsql_dir}/{name}.cf"
        if name == "owned_senders":
            assert main["smtpd_sender_restrictions"].endswith(proxied)
        elif name in mailconfig.DOMAIN_LISTS:
            # behind a pass-through regexp: no parent-domain (".tld") queries
            whole_key = f"{cfg.postfix_config_dir}/{mailconfig.WHOLE_KEY_REGEXP}"
            assert main[name] == f"pipemap:{{regexp:{whole_key}, {proxied}}}"
        else:
            assert main[name] == proxied
        assert proxied in main["proxy_read_maps"].split()
    assert files[f"postfix/{mailconfig.WHOLE_KEY_REGEXP}"] == "/^(.+)$/ $1\n"
    # one alias map, not PostfixAdmin's chain of three or four
    assert len(main["virtual_alias_maps"].split()) == 1
    # alias domains are in virtual_mailbox_domains: no alias-domain query for every address
    assert main["virtual_alias_domains"] == ""


def test_dovecot_queries_follow_the_contract(files):
    contract = contract_queries()
    sql = parse_cf(files["dovecot/dovecot-sql.conf.ext"])
    assert sql["driver"] == "pgsql"
    assert norm(sql["password_query"]) == contract["password_query"]
    assert norm(sql["user_query"]) == contract["user_query"]  # default root and uid/gid
    assert norm(sql["iterate_query"]) == contract["iterate_query"]
    app = parse_cf(files["dovecot/dovecot-sql-app-passwords.conf.ext"])
    assert app["driver"] == "pgsql" and "maxconns=1" in app["connect"]
    assert norm(app["password_query"]) == contract["app_password_query"]
    conf = files["dovecot/dovecot.conf"]
    # The mailbox password is asked first, app passwords second.
    assert conf.index("dovecot-sql.conf.ext") < conf.index("dovecot-sql-app-passwords.conf.ext")
    assert "quota = count:User quota" in conf
    assert "quota_clone_dict = proxy:dict-async:quotaclone" in conf
    dict_sql = files["dovecot/dovecot-dict-sql.conf.ext"]
    assert dict_sql.count("table = mail_quota_usage") == 2
    assert "pattern = priv/quota/storage" in dict_sql
    assert "pattern = priv/quota/messages" in dict_sql


def test_user_query_quotes_odd_vmail_roots():
    cfg = mailconfig.MailConfig(vmail_root="/srv/it's 100%/mail", uid=6000, gid=6001)
    assert cfg.user_query.startswith("SELECT '/srv/it''s 100%%/mail/' || maildir AS home")
    assert "6000 AS uid, 6001 AS gid" in cfg.user_query


def test_not_an_open_relay_and_no_auth_without_tls(files, cfg):
    main = parse_cf(files["postfix/main.cf"])
    relay = [r.strip() for r in main["smtpd_relay_restrictions"].split(",")]
    assert relay == ["permit_sasl_authenticated", "reject_unauth_destination"]
    assert "permit_mynetworks" not in files["postfix/main.cf"].split("#")[0]
    for key, value in main.items():
        if key.startswith("smtpd_") and key.endswith("_restrictions"):
            assert "permit_mynetworks" not in value, key
            assert value.split(",")[-1].strip() != "permit", key
    assert main["smtpd_tls_auth_only"] == "yes"
    assert main["smtpd_sasl_auth_enable"] == "no"  # not on port 25
    owned = f"proxy:pgsql:{cfg.pgsql_dir}/owned_senders.cf"
    assert main["smtpd_sender_restrictions"] == f"check_sender_access {owned}"
    assert main["mydestination"] == ""
    master = files["postfix/master.cf"]
    for service in ("submission", "smtps"):
        entry = re.search(rf"^{service} inet .*?(?=^\S)", master, re.M | re.S).group(0)
        assert "-o smtpd_sasl_auth_enable=yes" in entry
        assert "-o smtpd_tls_security_level=encrypt" in entry
        assert "-o smtpd_tls_auth_only=yes" in entry
        assert "reject_sender_login_mismatch" in entry
        assert "-o smtpd_relay_restrictions=permit_sasl_authenticated,reject" in entry
    assert "-o smtpd_tls_wrappermode=yes" in master


def test_without_a_certificate_auth_is_never_offered():
    cfg = mailconfig.MailConfig(tls_cert="", tls_key="")
    out = {p: t for p, (t, _) in mailconfig.render(cfg).items()}
    assert parse_cf(out["postfix/main.cf"])["smtpd_tls_auth_only"] == "yes"
    assert "ssl = no" in out["dovecot/dovecot.conf"]
    with pytest.raises(ValueError):
        mailconfig.render(dataclasses.replace(cfg, tls_cert="/only/a/cert.pem"))
    with pytest.raises(ValueError):
        mailconfig.render(dataclasses.replace(cfg, db_password="x\nquery = SELECT 1"))


def test_connections_are_bounded(files, cfg):
    master = files["postfix/master.cf"]
    assert re.search(r"^proxymap\s+unix\s+-\s+-\s+n\s+-\s+1\s+proxymap", master, re.M)
    # The trivial-rewrite services read their maps directly, with as bounded a process count;
    # smtpd's asks no transport.
    whole_key = f"{cfg.postfix_config_dir}/{mailconfig.WHOLE_KEY_REGEXP}"
    for service, used in mailconfig.REWRITE_SERVICES.items():
        entry = re.search(
            rf"^{service}\s+unix\s+-\s+-\s+n\s+-\s+1\s+trivial-rewrite\n((?:  -o .*\n)+)",
            master,
            re.M,
        )
        assert entry, service
        direct = dict(line.strip()[3:].split("=", 1) for line in entry.group(1).splitlines())
        for name, spec in direct.items():
            table = f"pgsql:{cfg.pgsql_dir}/{name}.cf"
            if name not in used:
                assert spec == "", (service, name)
            elif name in mailconfig.DOMAIN_LISTS:
                assert spec == f"pipemap:{{regexp:{whole_key},{table}}}", (service, name)
            else:
                assert spec == table, (service, name)
        assert set(used) <= set(direct)
    assert "transport_maps" not in mailconfig.REWRITE_SERVICES[mailconfig.SMTPD_REWRITE_SERVICE]
    smtpds = re.findall(r"^\S+\s+inet\s+.*smtpd\n((?:  -o .*\n)+)", master, re.M)
    assert len(smtpds) == 3
    for options in smtpds:
        assert f"-o rewrite_service_name={mailconfig.SMTPD_REWRITE_SERVICE}\n" in options
    direct_maps = sum(len(used) for used in mailconfig.REWRITE_SERVICES.values())
    assert cfg.max_db_connections == len(mailconfig.POSTFIX_MAPS) + direct_maps + 4
    assert "maxconns=2" in parse_cf(files["dovecot/dovecot-sql.conf.ext"])["connect"]
    assert "maxconns=1" in parse_cf(files["dovecot/dovecot-dict-sql.conf.ext"])["connect"]
    dovecot = files["dovecot/dovecot.conf"]
    assert re.search(r"service dict-async \{\s*process_limit = 1", dovecot)
    assert cfg.max_db_connections <= 20


def test_tcp_mode_for_separate_containers():
    cfg = mailconfig.MailConfig(dovecot_host="dovecot", lmtp_port=24, auth_port=12345)
    out = {p: t for p, (t, _) in mailconfig.render(cfg).items()}
    main = parse_cf(out["postfix/main.cf"])
    assert main["virtual_transport"] == "lmtp:inet:dovecot:24"
    assert main["smtpd_sasl_path"] == "inet:dovecot:12345"
    assert "inet_listener auth-postfix" in out["dovecot/dovecot.conf"]


def test_mailconfig_command_writes_the_layout(tmp_path, capsys):
    call_command("mailconfig", output=str(tmp_path), db_name="maildb", db_password="pw")
    assert (tmp_path / "postfix/pgsql/virtual_alias_maps.cf").exists()
    assert "dbname = maildb" in (tmp_path / "postfix/pgsql/virtual_alias_maps.cf").read_text()
    assert "At most" in capsys.readouterr().out


def test_mailstack_names_the_install_command_when_packages_are_missing(monkeypatch, tmp_path):
    monkeypatch.setattr(mailstack, "which", lambda name: None)
    with pytest.raises(mailstack.MailstackUnavailable, match="scripts/install-mailstack"):
        mailstack.require_binaries()
    with pytest.raises(CommandError, match="scripts/install-mailstack"):
        call_command("mailstack", "up", root=str(tmp_path))


# --- the daemons' own parsers, where the packages are installed ---------------------------------

needs_postfix = pytest.mark.skipif(
    not shutil.which("postconf", path="/usr/sbin:/usr/bin"), reason="postfix not installed"
)
needs_dovecot = pytest.mark.skipif(
    not shutil.which("doveconf", path="/usr/sbin:/usr/bin"), reason="dovecot not installed"
)


@needs_postfix
def test_postconf_accepts_the_production_fragment(tmp_path, cfg):
    conf = tmp_path / "postfix"
    here = dataclasses.replace(cfg, tls_cert="", tls_key="", postfix_config_dir=str(conf))
    mailconfig.write(here, tmp_path)
    proc = subprocess.run(
        ["postconf", "-c", str(conf), "-n"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert "warning" not in proc.stderr, proc.stderr
    proc = subprocess.run(["postconf", "-c", str(conf), "-M"], capture_output=True, text=True)
    assert proc.returncode == 0 and "warning" not in proc.stderr, proc.stderr
    assert {line.split()[0] for line in proc.stdout.splitlines()} >= {
        "smtp",
        "submission",
        "smtps",
        "proxymap",
    }


@needs_postfix
def test_postfix_check_accepts_a_self_contained_instance():
    import os
    import tempfile

    if os.geteuid() != 0 or mailstack.missing():
        pytest.skip("needs root and the mail packages")
    root = Path(tempfile.mkdtemp(prefix="mailcheck-", dir="/tmp"))
    try:
        ports = dict(zip(mailstack.PORT_NAMES, range(30000, 30007), strict=True))
        cfg = mailstack.build_config(root, ports, db_name="mailadmin", tls_cert="", tls_key="")
        st = mailstack.Stack(root=root, ports=ports, cfg=cfg)
        mailstack._prepare_dirs(st)
        mailconfig.write(cfg, root)
        proc = subprocess.run(
            ["postfix", "-c", str(root / "postfix"), "check"], capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stderr
        assert "warning" not in proc.stderr and "fatal" not in proc.stderr, proc.stderr
    finally:
        shutil.rmtree(root, ignore_errors=True)


@needs_dovecot
def test_doveconf_accepts_the_configuration(tmp_path, cfg):
    mailconfig.write(dataclasses.replace(cfg, tls_cert="", tls_key=""), tmp_path)
    proc = subprocess.run(
        ["doveconf", "-c", str(tmp_path / "dovecot" / "dovecot.conf"), "-n"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Warning" not in proc.stderr and "Error" not in proc.stderr, proc.stderr


def test_sender_restrictions_run_once_per_message(files):
    # With smtpd_delay_reject = yes they would run again at every RCPT TO, each time resolving
    # the sender's address through the domain and transport maps (docs/benchmarks.md).
    assert parse_cf(files["postfix/main.cf"])["smtpd_delay_reject"] == "no"


def test_self_contained_process_recycling_is_a_switch():
    base = dict(self_contained=True, postfix_log_file="/tmp/x/postfix.log")
    short = parse_cf(mailconfig.render(mailconfig.MailConfig(**base))["postfix/main.cf"][0])
    assert (short["max_use"], short["max_idle"]) == ("10", "10s")
    production = mailconfig.MailConfig(**base, short_lived_processes=False)
    main = parse_cf(mailconfig.render(production)["postfix/main.cf"][0])
    assert "max_use" not in main and "max_idle" not in main  # Postfix's defaults
