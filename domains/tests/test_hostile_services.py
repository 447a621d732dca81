"""Hostile input straight into the services the panel, the API and the CLI call (issue 11), as a
superadmin and as a reseller: every answer is a success or a ValidationError / PermissionDenied,
never a database, Unicode or type error, and a refusal writes nothing (every table's row count,
the audit log's included, is unchanged). Example counts: domains.tests.strategies.BUDGET."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from hypothesis import example, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from accounts import services as account_services
from accounts.models import Reseller, User
from api.services import api_key_create
from domains import services
from domains.models import Domain, Mailbox
from domains.normalize import normalize_address, normalize_domain
from domains.tests.helpers import PASSWORD, make_alias, make_domain, make_mailbox
from domains.tests.strategies import (
    BUDGET,
    SETTINGS,
    addresses,
    all_rows,
    edge_domains,
    huge_texts,
    in_savepoint,
    json_numbers,
    json_values,
    texts,
)

pytestmark = pytest.mark.django_db

OWN = ["res.example", "xn--mnchen-3ya.example", "relay.example"]


@pytest.fixture
def world(db):
    pool = Reseller.objects.create(name="Hostile pool")
    reseller = User.objects.create_user(username="hostile-res", role="reseller", reseller=pool)
    root = User.objects.create_user(
        username="hostile-root", role="superadmin", is_superuser=True, is_staff=True
    )
    domain = make_domain("res.example", reseller=pool)
    make_domain("xn--mnchen-3ya.example", reseller=pool)
    make_domain("relay.example", reseller=pool, kind="backup")
    box = make_mailbox("box@res.example")
    make_mailbox("other@res.example")
    alias = make_alias("info@res.example", ["box@res.example"])
    admin = User.objects.create_user(username="hostile-admin", role="domainadmin", reseller=pool)
    admin.managed_domains.add(domain)
    return {
        "actors": {"superadmin": root, "reseller": reseller},
        "domain": domain,
        "box": box,
        "alias": alias,
        "admin": admin,
        "pool": pool,
    }


actor_names = st.sampled_from(["superadmin", "reseller"])
names = st.one_of(edge_domains, texts, huge_texts)
text_or_any = st.one_of(texts, json_values)
flags = st.one_of(st.booleans(), json_values)


def attempt(call):
    """Run a service call: its result, or None when it refused with nothing written."""
    before = all_rows()
    try:
        return call()
    except (ValidationError, PermissionDenied):
        assert all_rows() == before, "a refused call wrote something"
        return None


def counted(name):
    """Count the examples a test runs, so it can assert that it ran its budget."""
    runs = {"n": 0}

    def bump():
        runs["n"] += 1

    return runs, bump


def test_domain_services(world):
    runs, bump = counted("services_domains")

    @hsettings(max_examples=BUDGET["services_domains"], **SETTINGS)
    @given(
        who=actor_names,
        name=names,
        description=text_or_any,
        kind=st.one_of(st.sampled_from(["local", "relay", "backup"]), texts, json_values),
        transport=st.one_of(st.sampled_from(["", "smtp:[mx.example.net]:25"]), texts, json_values),
        reseller=st.one_of(st.none(), st.just("pool"), json_values),
        limit=st.sampled_from(
            ["max_mailboxes", "max_aliases", "max_quota_per_mailbox", "total_quota"]
        ),
        number=json_numbers,
        active=flags,
        update=st.booleans(),
    )
    @example(  # each was a DataError or UnicodeEncodeError, a 500 behind every face
        who="superadmin", name="ok.example", description="\x00", kind="local", transport="",
        limit="max_mailboxes", number=0, active=True, update=False, reseller=None,
    )  # fmt: skip
    @example(
        who="superadmin", name="ok.example", description="\ud800", kind="local", transport="",
        limit="max_mailboxes", number=0, active=True, update=True, reseller=None,
    )  # fmt: skip
    @example(
        who="reseller", name="ok.example", description="x" * 300, kind="local", transport="",
        limit="max_mailboxes", number=2**31, active=True, update=False, reseller=None,
    )  # fmt: skip
    @example(  # a null flag reached the NOT NULL column: an IntegrityError
        who="superadmin", name="ok.example", description="", kind="local", transport="",
        limit="max_aliases", number=1, active=None, update=True, reseller=None,
    )  # fmt: skip
    @example(  # a transport or a reseller of the wrong type: AttributeError
        who="superadmin", name="ok.example", description="", kind="relay", transport=5,
        limit="max_aliases", number=0, active=True, update=True, reseller=None,
    )  # fmt: skip
    @example(
        who="superadmin", name="ok.example", description="", kind="local", transport="",
        limit="max_aliases", number=0, active=True, update=False, reseller=5,
    )  # fmt: skip
    @in_savepoint
    def check(who, name, description, kind, transport, limit, number, active, update, reseller):
        bump()
        actor = world["actors"][who]
        if update:
            fields = {
                "description": description,
                limit: number,
                "active": active,
                "transport": transport,
            }
            if kind != "local":
                fields["kind"] = kind
            attempt(lambda: services.domain_update(actor=actor, domain=world["domain"], **fields))
            return
        made = attempt(
            lambda: services.domain_create(
                actor=actor,
                name=name,
                kind=kind,
                transport=transport,
                description=description,
                active=active,
                reseller=world["pool"] if reseller == "pool" else reseller,
                **{limit: number},
            )
        )
        if made is not None:
            row = Domain.objects.get(pk=made.pk)
            assert row.name == normalize_domain(name) and row.name.isascii()
            assert row.name == row.name.lower() and not row.name.endswith(".")

    check()
    assert runs["n"] >= BUDGET["services_domains"]


def test_mailbox_services(world):
    runs, bump = counted("services_mailboxes")
    box = world["box"]

    @hsettings(max_examples=BUDGET["services_mailboxes"], **SETTINGS)
    @given(
        who=actor_names,
        op=st.sampled_from(
            [
                "create",
                "update",
                "rename",
                "grant",
                "relay",
                "app_password",
                "password_hash",
                "owner_password",
                "owner_forward",
            ]
        ),  # fmt: skip
        address=st.one_of(addresses(OWN), huge_texts, json_values),
        password=st.one_of(st.just(PASSWORD), texts, json_values),
        name=text_or_any,
        quota=json_numbers,
        flag=flags,
        forward=st.one_of(st.lists(addresses(OWN), max_size=3), json_values),
    )
    @example(  # a NUL or lone surrogate in a display name: DataError / UnicodeEncodeError
        who="reseller", op="update", address="", password=PASSWORD, name="\x00", quota=0,
        flag=True, forward=[],
    )  # fmt: skip
    @example(
        who="superadmin", op="create", address="new@res.example", password=PASSWORD,
        name="\ud800", quota=0, flag=True, forward=[],
    )  # fmt: skip
    @example(  # allow_imap=None: an IntegrityError
        who="superadmin", op="update", address="", password=PASSWORD, name="", quota=0,
        flag=None, forward=[],
    )  # fmt: skip
    @example(  # wrong types: AttributeError, TypeError
        who="superadmin", op="password_hash", address="", password=5, name="", quota=0,
        flag=True, forward=[],
    )  # fmt: skip
    @example(
        who="superadmin", op="owner_password", address="", password=5, name="", quota=0,
        flag=True, forward=[],
    )  # fmt: skip
    @example(
        who="superadmin", op="owner_forward", address="", password="", name="", quota=0,
        flag=True, forward=5,
    )  # fmt: skip
    @in_savepoint
    def check(who, op, address, password, name, quota, flag, forward):
        bump()
        actor = world["actors"][who]
        if op == "create":
            made = attempt(
                lambda: services.mailbox_create(
                    actor=actor,
                    address=address,
                    password=password,
                    name=name,
                    quota_bytes=quota,
                    allow_imap=flag,
                    forward_to=forward,
                )
            )
            if made is not None:
                row = Mailbox.objects.get(pk=made.pk)
                assert row.address == normalize_address(address)
                assert row.name == name
        elif op == "update":
            attempt(
                lambda: services.mailbox_update(
                    actor=actor,
                    mailbox=box,
                    name=name,
                    quota_bytes=quota,
                    allow_imap=flag,
                    keep_copy=flag,
                    forward_to=forward,
                )
            )
        elif op == "rename":
            made = attempt(
                lambda: services.mailbox_rename(actor=actor, mailbox=box, address=address)
            )
            if made is not None:
                assert Mailbox.objects.get(pk=box.pk).address == normalize_address(address)
        elif op == "password_hash":
            attempt(
                lambda: services.mailbox_set_password(
                    actor=actor, mailbox=box, password_hash=password
                )
            )
        elif op == "owner_password":
            attempt(
                lambda: services.mailbox_owner_change_password(
                    mailbox=box, current_password=password, new_password=name
                )
            )
        elif op == "owner_forward":
            attempt(
                lambda: services.mailbox_owner_set_forwarding(
                    mailbox=box, forward_to=forward, keep_copy=flag
                )
            )
        elif op == "grant":
            attempt(lambda: services.sender_grant_create(actor=actor, mailbox=box, address=address))
        elif op == "relay":
            attempt(lambda: services.relay_recipient_create(actor=actor, address=address))
        else:
            attempt(
                lambda: services.app_password_create(
                    actor=actor, mailbox=box, name=name, protocol=password
                )
            )

    check()
    assert runs["n"] >= BUDGET["services_mailboxes"]


def test_alias_services(world):
    runs, bump = counted("services_aliases")

    @hsettings(max_examples=BUDGET["services_aliases"], **SETTINGS)
    @given(
        who=actor_names,
        op=st.sampled_from(["create", "update", "alias_domain"]),
        address=st.one_of(addresses(OWN), json_values),
        recipients=st.one_of(st.lists(addresses(OWN), max_size=3), json_values),
        description=text_or_any,
        active=flags,
        name=names,
        target=st.one_of(st.sampled_from(OWN), edge_domains, json_values),
    )
    @example(
        who="reseller", op="create", address="new@res.example", recipients=["box@res.example"],
        description="\x00", active=True, name="", target="",
    )  # fmt: skip
    @example(
        who="superadmin", op="update", address="", recipients=["box@res.example"],
        description="\x85", active=None, name="", target="",
    )  # fmt: skip
    @example(  # a target that is neither a Domain nor a name: AttributeError
        who="reseller", op="alias_domain", address="", recipients=[], description="",
        active=True, name="new-alias.example", target=None,
    )  # fmt: skip
    @in_savepoint
    def check(who, op, address, recipients, description, active, name, target):
        bump()
        actor = world["actors"][who]
        if op == "create":
            made = attempt(
                lambda: services.alias_create(
                    actor=actor,
                    address=address,
                    recipients=recipients,
                    description=description,
                    active=active,
                )
            )
            if made is not None:
                assert made.address == normalize_address(address, allow_catchall=True)
        elif op == "update":
            attempt(
                lambda: services.alias_update(
                    actor=actor,
                    alias=world["alias"],
                    recipients=recipients,
                    description=description,
                    active=active,
                )
            )
        else:
            made = attempt(
                lambda: services.alias_domain_create(
                    actor=actor, name=name, target=target, active=active
                )
            )
            if made is not None:
                assert made.name == normalize_domain(name)

    check()
    assert runs["n"] >= BUDGET["services_aliases"]


def test_account_services(world):
    runs, bump = counted("services_accounts")

    @hsettings(max_examples=BUDGET["services_accounts"], **SETTINGS)
    @given(
        who=actor_names,
        op=st.sampled_from(
            ["reseller", "reseller_update", "user", "user_pool", "user_update", "api_key"]
        ),
        name=st.one_of(texts, huge_texts, json_values),
        email=st.one_of(addresses(OWN), json_values),
        role=st.one_of(st.sampled_from(["domainadmin", "reseller", "superadmin"]), texts),
        domains=st.one_of(st.lists(st.one_of(st.sampled_from(OWN), edge_domains)), json_values),
        number=json_numbers,
        flag=flags,
        expires=st.one_of(st.none(), json_values),
    )
    @example(  # a NUL in a reseller's name: DataError at the uniqueness query
        who="superadmin", op="reseller", name="\x00", email="", role="reseller", domains=[],
        number=0, flag=True, expires=None,
    )  # fmt: skip
    @example(  # a pool past the integer column: DataError
        who="superadmin", op="reseller_update", name="Pool", email="", role="reseller",
        domains=[], number=2**31, flag=True, expires=None,
    )  # fmt: skip
    @example(  # a lone surrogate in a key's name; an expiry that is not a datetime: TypeError
        who="reseller", op="api_key", name="\udfff", email="", role="", domains=[], number=0,
        flag=True, expires=None,
    )  # fmt: skip
    @example(
        who="reseller", op="api_key", name="ok", email="", role="", domains=[], number=0,
        flag=True, expires="2030-01-01",
    )  # fmt: skip
    @example(  # Django's EmailValidator passes a lone surrogate in the domain: UnicodeEncodeError
        who="reseller", op="user", name="new-admin", email="a@\ud800.com", role="domainadmin",
        domains=[], number=0, flag=True, expires=None,
    )  # fmt: skip
    @example(
        who="superadmin", op="user_pool", name="", email="", role="reseller", domains=[],
        number=5, flag=True, expires=None,
    )  # fmt: skip
    @in_savepoint
    def check(who, op, name, email, role, domains, number, flag, expires):
        bump()
        actor = world["actors"][who]
        if op == "reseller":
            attempt(
                lambda: account_services.reseller_create(
                    actor=actor, name=name, active=flag, max_domains=number
                )
            )
        elif op == "reseller_update":
            attempt(
                lambda: account_services.reseller_update(
                    actor=actor, reseller=world["pool"], name=name, max_quota_bytes=number
                )
            )
        elif op == "user":
            made = attempt(
                lambda: account_services.user_create(
                    actor=actor,
                    username=name,
                    password=None,
                    role=role,
                    email=email,
                    domains=domains,
                    active=flag,
                )
            )
            if made is not None:
                assert User.objects.filter(pk=made.pk, username=name.strip()).exists()
        elif op == "user_pool":  # a pool that is not a Reseller: was a ValueError
            attempt(
                lambda: account_services.user_create(
                    actor=actor, username="pool-user", password=None, role=role, reseller=number
                )
            )
        elif op == "user_update":
            attempt(
                lambda: account_services.user_update(
                    actor=actor, user=world["admin"], email=email, active=flag, domains=domains
                )
            )
        else:
            attempt(
                lambda: api_key_create(
                    actor=actor,
                    user=actor,
                    name=name,
                    read_only=flag,
                    expires_at=expires,
                    allowed_networks=domains,
                )
            )

    check()
    assert runs["n"] >= BUDGET["services_accounts"]


def test_normalisation_is_total_and_stable():
    """domains.normalize, which every face and service calls: any text gives a stored form or a
    ValidationError; a stored form normalises to itself and reads back for people."""
    from domains.normalize import display_domain, split_address
    from domains.policy import check_claimable, normalize_transport
    from domains.units import parse_size

    runs = {"n": 0}

    transports = st.one_of(
        st.builds(
            lambda kind, host: f"{kind}{host}",
            st.sampled_from(
                ["smtp:", "lmtp:", "smtp:[", "relay:", "", "smtp:[::1]:", "lmtp:unix:"]
            ),
            st.one_of(edge_domains, texts, st.sampled_from(["[1.2.3.4]:25", "mx.example:99999"])),
        ),
        texts,
    )

    @hsettings(max_examples=BUDGET["services_normalize"], **SETTINGS)
    @given(value=st.one_of(edge_domains, addresses(OWN), texts, huge_texts), transport=transports)
    def check(value, transport):
        runs["n"] += 1
        for allow_internal in (False, True):
            try:
                normalize_transport(transport, allow_internal=allow_internal)
            except ValidationError:
                pass
        try:
            parse_size(value)
        except ValidationError:
            pass
        try:
            name = normalize_domain(value)
        except ValidationError:
            pass
        else:
            assert normalize_domain(name) == name and name.isascii()
            assert normalize_domain(display_domain(name)) == name
            try:
                check_claimable(name, trusted=False)
            except ValidationError:
                pass
        try:
            local, domain = split_address(value, allow_catchall=True)
        except ValidationError:
            pass
        else:
            stored = f"{local}@{domain}"
            assert normalize_address(stored, allow_catchall=True) == stored

    check()
    assert runs["n"] >= BUDGET["services_normalize"]
