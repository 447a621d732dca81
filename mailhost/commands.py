"""The only commands a worker runs on a mail host: argv lists built here from an allowlist,
never a shell, arguments validated. Each returns the finished process (stdout+stderr kept)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from mailhost import stack

# An address as the panel stores it (already normalised); anything else never reaches argv.
ADDRESS_RE = re.compile(r"^(?!-)[a-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@[a-z0-9.-]{1,253}$")
TIMEOUT = 120


class CommandRefused(ValueError):
    pass


def _path(value: str, what: str) -> str:
    if not value or not Path(value).is_absolute():
        raise CommandRefused(f"{what} must be an absolute path, got {value!r}")
    return value


def _address(value: str) -> str:
    if not ADDRESS_RE.fullmatch(value or ""):
        raise CommandRefused(f"not a mailbox address: {value!r}")
    return value


ALLOWED = {
    "postfix_check": lambda d: [stack._bin("postfix"), "-c", _path(d, "postfix_dir"), "check"],
    "postfix_reload": lambda d: [stack._bin("postfix"), "-c", _path(d, "postfix_dir"), "reload"],
    "postconf_version": lambda d: [
        stack._bin("postconf"),
        "-c",
        _path(d, "postfix_dir"),
        "-h",
        "mail_version",
    ],
    "doveconf_check": lambda f: [stack._bin("doveconf"), "-c", _path(f, "dovecot_conf"), "-n"],
    "doveadm_reload": lambda f: [stack._bin("doveadm"), "-c", _path(f, "dovecot_conf"), "reload"],
    "dovecot_version": lambda f: [stack._bin("dovecot"), "--version"],
    "doveadm_kick": lambda f, user: [
        stack._bin("doveadm"),
        "-c",
        _path(f, "dovecot_conf"),
        "kick",
        _address(user),
    ],
    "doveadm_quota_recalc": lambda f, user: [
        stack._bin("doveadm"),
        "-c",
        _path(f, "dovecot_conf"),
        "quota",
        "recalc",
        "-u",
        _address(user),
    ],
    "doveadm_quota_get": lambda f, user: [
        stack._bin("doveadm"),
        "-f",
        "tab",
        "-c",
        _path(f, "dovecot_conf"),
        "quota",
        "get",
        "-u",
        _address(user),
    ],
    "doveadm_quota_recalc_all": lambda f: [
        stack._bin("doveadm"),
        "-c",
        _path(f, "dovecot_conf"),
        "quota",
        "recalc",
        "-A",
    ],
}


def run(name: str, *args: str, timeout: float = TIMEOUT) -> subprocess.CompletedProcess:
    """Run allowlisted command `name`; stdin is /dev/null so nothing waits for input."""
    if name not in ALLOWED:
        raise CommandRefused(f"command {name!r} is not allowed")
    argv = ALLOWED[name](*args)
    return subprocess.run(
        argv,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def output(proc: subprocess.CompletedProcess) -> str:
    return "\n".join(part.strip() for part in (proc.stdout, proc.stderr) if part.strip())


def run_save(dovecot_conf: str, address: str, message: str) -> subprocess.CompletedProcess:
    """`doveadm save -u ADDRESS` with the message on stdin (a quota warning into INBOX)."""
    argv = [stack._bin("doveadm"), "-c", _path(dovecot_conf, "dovecot_conf")]
    argv += ["save", "-u", _address(address)]
    return subprocess.run(
        argv, input=message, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
