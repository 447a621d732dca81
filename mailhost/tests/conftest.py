"""Fixtures for the end-to-end mail tests: one real Postfix + Dovecot for the whole session
(`mailhost.stack`), reading the pytest-django *test* database as its own least-privilege role,
through two TCP proxies the tests can cut (one for Postfix, one for Dovecot)."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

from mailhost import stack as mailstack

REQUIRE = os.environ.get("MAILADMIN_REQUIRE_MAILSTACK") == "1"
# A role of its own, so pg_stat_activity counts only this stack's connections.
TEST_ROLE = "mailstack_test"
TEST_ROLE_PASSWORD = "mailstack-test-password"


def unavailable(reason: str):
    """Skip locally; fail when the run requires the mail stack (CI)."""
    if REQUIRE:
        pytest.fail(f"MAILADMIN_REQUIRE_MAILSTACK=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def check_prerequisites() -> None:
    lacking = mailstack.missing()
    if lacking:
        unavailable(
            f"Postfix/Dovecot packages missing ({', '.join(lacking)}); "
            f"install them with: {mailstack.INSTALL_COMMAND}"
        )
    if os.geteuid() != 0:
        unavailable("the mail stack runs Postfix and Dovecot, which needs root")


class Stack:
    """What the tests see: the running stack plus the proxies in front of the database."""

    def __init__(self, stack, info, postfix_proxy, dovecot_proxy, db_name):
        self.stack = stack
        self.info = info
        self.ports = stack.ports
        self.postfix_proxy = postfix_proxy
        self.dovecot_proxy = dovecot_proxy
        self.db_name = db_name
        self.role = TEST_ROLE

    def __getattr__(self, name):
        return getattr(self.stack, name)


_shared: dict = {"stack": None, "users": 0}


@pytest.fixture(scope="session")
def mail_stack(django_db_setup, django_db_blocker):
    """The running stack. Other apps' tests may import this fixture: however many modules
    define it, one stack serves the session (started by the first user, stopped by the last)."""
    check_prerequisites()
    if _shared["stack"] is None:
        _shared["stack"], _shared["stop"] = _start(django_db_blocker)
    _shared["users"] += 1
    try:
        yield _shared["stack"]
    finally:
        _shared["users"] -= 1
        if _shared["users"] == 0:
            stop, _shared["stack"] = _shared.pop("stop"), None
            stop()


def _start(django_db_blocker):
    from django.db import connection

    from mailhost.mailrole import ensure_mail_role
    from mailhost.tests.tcpproxy import TCPProxy

    if connection.vendor != "postgresql":
        unavailable(
            "the mail stack reads PostgreSQL views: set "
            "DATABASE_URL=postgres://postgres@127.0.0.1:5432/mailadmin"
        )
    settings_dict = connection.settings_dict
    db_name = settings_dict["NAME"]  # the test database pytest-django created
    db_host = settings_dict.get("HOST") or "127.0.0.1"
    db_port = int(settings_dict.get("PORT") or 5432)
    with django_db_blocker.unblock():
        ensure_mail_role(role=TEST_ROLE, password=TEST_ROLE_PASSWORD)

    postfix_proxy = TCPProxy(db_host, db_port)
    dovecot_proxy = TCPProxy(db_host, db_port)
    root = tempfile.mkdtemp(prefix="mailstack-", dir="/tmp")

    def stop():
        try:
            mailstack.down(root)
        finally:
            postfix_proxy.close()
            dovecot_proxy.close()
            if os.environ.get("MAILSTACK_KEEP") != "1":
                shutil.rmtree(root, ignore_errors=True)

    try:
        running, info = mailstack.up(
            root,
            tls=True,
            hostname="mx.mailstack.test",
            db_host="127.0.0.1",
            db_port=postfix_proxy.port,
            dovecot_db_host="127.0.0.1",
            dovecot_db_port=dovecot_proxy.port,
            db_name=db_name,
            db_role=TEST_ROLE,
            db_password=TEST_ROLE_PASSWORD,
        )
        assert info["database_ok"], info["database_error"]
    except BaseException:
        stop()
        raise
    return Stack(running, info, postfix_proxy, dovecot_proxy, db_name), stop
