"""Hostile arguments to the management commands that take names (issue 11): `user`, `apikey`
and `twofactor_reset` with odd Unicode, NUL and control characters, undecodable bytes (a shell
hands them over as lone surrogates), huge strings, IDN edge cases and bad dates. Each run
succeeds or ends in a CommandError that says what is wrong, never another exception, and a
refused run writes nothing. Example counts: domains.tests.strategies.BUDGET."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from hypothesis import example, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from accounts.models import Reseller, User
from domains.tests.helpers import make_domain
from domains.tests.strategies import (
    BUDGET,
    SETTINGS,
    all_rows,
    edge_domains,
    in_savepoint,
    texts,
)

pytestmark = pytest.mark.django_db

# What a shell passes: any text, including undecodable bytes as \udc80-\udcff.
args = st.one_of(
    texts,
    st.sampled_from(["cli-user", "CLI-USER", "Pool", "res.example", "\udcff", "a\udc80b"]),
    st.builds(lambda c, n: c * n, st.sampled_from(["a", "é", ","]), st.sampled_from([300, 20_000])),
)
domain_lists = st.one_of(
    st.lists(st.one_of(edge_domains, st.just("res.example")), max_size=4).map(",".join), args
)
expiries = st.one_of(
    st.sampled_from(
        [
            "",
            "90d",
            "0d",
            "12h",
            "4w",
            "99999999999999999999d",
            "2999999999w",
            "2027-02-30",
            "2027-13-01",
            "2099-01-01",
            "2099-01-01T25:00",
            "1999-01-01",
            "9999-12-31T23:59:59",
            "-1d",
            "١٢d",
            "90D",
        ]
    ),  # fmt: skip
    args,
)


@pytest.fixture
def world(db):
    pool = Reseller.objects.create(name="Pool")
    make_domain("res.example", reseller=pool)
    User.objects.create_user(username="cli-user", role="domainadmin", reseller=pool)
    return pool


def run(*argv) -> None:
    """Run a command: success, or a CommandError with a message and nothing written."""
    before = all_rows()
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(*argv, stdout=out, stderr=err)
    except CommandError as exc:
        assert str(exc).strip(), "a CommandError without a word"
        assert all_rows() == before, ("a refused command wrote", argv)


def test_user_command(world):
    runs = {"n": 0}

    @hsettings(max_examples=BUDGET["cli_user"], **SETTINGS)
    @given(
        action=st.sampled_from(
            ["create", "set-password", "activate", "deactivate", "domains", "list", "2fa"]
        ),
        name=args,
        role=st.one_of(st.sampled_from(["domainadmin", "reseller", "superadmin"]), args),
        reseller=st.one_of(st.none(), args),
        email=st.one_of(st.just(""), args),
        domains=domain_lists,
    )
    @example(  # each was a DataError (NUL) or UnicodeEncodeError (undecodable argv byte)
        action="create", name="new", role="reseller", reseller="\x00", email="", domains=""
    )
    @example(action="set-password", name="\udcff", role="", reseller=None, email="", domains="")
    @example(action="list", name="", role="", reseller="\x00", email="", domains="")
    @example(  # an undecodable byte in --email's domain passed Django's EmailValidator
        action="create", name="new", role="domainadmin", reseller=None, email="a@\udcff.com",
        domains="",
    )  # fmt: skip
    @example(action="2fa", name="\x00", role="", reseller=None, email="", domains="")
    @in_savepoint
    def check(action, name, role, reseller, email, domains):
        runs["n"] += 1
        if action == "create":
            argv = ["user", "create", name, "--role", role, "--email", email, "--domains", domains]
            if reseller is not None:
                argv += ["--reseller", reseller]
            before = User.objects.count()
            run(*argv)
            if User.objects.count() > before:
                assert User.objects.filter(username=name.strip()).exists()
        elif action == "domains":
            run("user", "domains", name, domains)
        elif action == "list":
            run("user", "list", *(["--reseller", reseller] if reseller else []))
        elif action == "2fa":
            run("twofactor_reset", name)
        else:
            run("user", action, name)

    check()
    assert runs["n"] >= BUDGET["cli_user"]


def test_apikey_command(world):
    runs = {"n": 0}

    @hsettings(max_examples=BUDGET["cli_apikey"], **SETTINGS)
    @given(
        action=st.sampled_from(["create", "create", "list", "revoke"]),
        user=st.one_of(st.just("cli-user"), args),
        name=args,
        expires=expiries,
        networks=st.one_of(st.sampled_from(["", "192.0.2.0/24,2001:db8::/32", "::/0"]), args),
    )
    @example(  # OverflowError and ValueError from --expires; DataError from a NUL name
        action="create", user="cli-user", name="", expires="99999999999999999999d", networks=""
    )
    @example(action="create", user="cli-user", name="", expires="2027-02-30", networks="")
    @example(action="create", user="cli-user", name="\x00", expires="", networks="")
    @example(action="create", user="\udcff", name="", expires="", networks="")
    @example(action="revoke", user="", name="mak_\x00", expires="", networks="")
    @in_savepoint
    def check(action, user, name, expires, networks):
        runs["n"] += 1
        if action == "create":
            argv = ["apikey", "create", "--user", user, "--name", name, "--networks", networks]
            if expires:
                argv += ["--expires", expires]
            run(*argv)
        elif action == "list":
            run("apikey", "list", "--user", user)
        else:
            run("apikey", "revoke", name)

    check()
    assert runs["n"] >= BUDGET["cli_apikey"]
