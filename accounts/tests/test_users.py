"""Panel users through the services: who manages whom, the password policy, domain assignment
within reach, self-protection, and an audit event (never with the password) for each change."""

import json

import pytest
from django.core.exceptions import PermissionDenied

from accounts import services
from accounts.models import User
from accounts.selectors import user_list
from audit.models import AuditEvent
from domains.tests.helpers import make_domain, refused, row_counts

STRONG = "a long enough password 7"


def authenticate(*, username: str, password: str):
    user = User.objects.get(username=username)
    return user if user.check_password(password) else None


@pytest.fixture
def pools(db):
    a = services.reseller_create(actor=None, name="Pool A")
    b = services.reseller_create(actor=None, name="Pool B")
    res_a = services.user_create(
        actor=None, username="res-a", password=STRONG, role="reseller", reseller=a
    )
    res_b = services.user_create(
        actor=None, username="res-b", password=STRONG, role="reseller", reseller=b
    )
    return {
        "a": a,
        "b": b,
        "res_a": res_a,
        "res_b": res_b,
        "a1": make_domain("a1.example", reseller=a),
        "a2": make_domain("a2.example", reseller=a),
        "b1": make_domain("b1.example", reseller=b),
    }


def test_superadmin_creates_a_resellers_login_and_a_domain_admin(superadmin, pools):
    login = services.user_create(
        actor=superadmin, username="acme", password=STRONG, role="reseller", reseller=pools["a"]
    )
    assert login.is_reseller and authenticate(username="acme", password=STRONG) == login
    admin = services.user_create(
        actor=superadmin,
        username="ana",
        password=STRONG,
        role="domainadmin",
        reseller=pools["a"],
        domains=["A1.example"],
    )
    assert list(admin.managed_domains.all()) == [pools["a1"]]
    # A pool's domain admin gets that pool's domains only.
    with refused("domains"):
        services.user_create(
            actor=superadmin,
            username="bad",
            password=STRONG,
            role="domainadmin",
            reseller=pools["a"],
            domains=[pools["b1"]],
        )


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("short1", "too_short"),
        ("password123", "common"),
        ("long enough\x00password", "invalid"),
    ],
)
def test_the_password_policy_is_the_mailboxes_one(pools, password, why):
    with refused("password", why):
        services.user_create(
            actor=pools["res_a"], username="weak", password=password, role="domainadmin"
        )
    user = User.objects.get(username="res-b")
    with refused("password", why):
        services.user_set_password(actor=None, user=user, password=password)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"username": "has space"}, "username"),
        ({"username": "x" * 151}, "username"),
        ({"username": "RES-A"}, "username"),
        ({"email": "not an address"}, "email"),
        ({"domains": "a1.example"}, "domains"),
        ({"domains": ["not a domain!"]}, "domains"),
        ({"domains": ["b1.example"]}, "domains"),
        ({"domains": [5]}, "domains"),
        ({"active": "yes"}, "active"),
    ],
)
def test_hostile_input_is_a_field_error_and_writes_nothing(pools, kwargs, field):
    data = {"username": "new", "password": STRONG, "role": "domainadmin", **kwargs}
    with refused(field):
        services.user_create(actor=pools["res_a"], **data)


def test_a_reseller_manages_its_own_domain_admins_only(pools):
    res_a, res_b = pools["res_a"], pools["res_b"]
    ana = services.user_create(
        actor=res_a, username="ana", password=STRONG, role="domainadmin", domains=["a1.example"]
    )
    # Whatever pool the reseller names, its admins are its own.
    bob = services.user_create(
        actor=res_a, username="bob", password=STRONG, role="domainadmin", reseller=pools["b"]
    )
    assert ana.reseller == bob.reseller == pools["a"]
    assert set(user_list(actor=res_a)) == {res_a, ana, bob}
    assert set(user_list(actor=res_b)) == {res_b}
    assert list(user_list(actor=ana)) == []

    services.user_update(actor=res_a, user=ana, domains=["a1.example", "a2.example"])
    assert {d.name for d in ana.managed_domains.all()} == {"a1.example", "a2.example"}
    services.user_update(actor=res_a, user=ana, active=False, email="ana@example.org")
    ana.refresh_from_db()
    assert (ana.is_active, ana.email) == (False, "ana@example.org")

    before = row_counts()
    for call in (
        lambda: services.user_update(actor=res_b, user=ana, active=True),
        lambda: services.user_set_password(actor=res_b, user=ana),
        lambda: services.user_delete(actor=res_b, user=ana),
        lambda: services.user_update(actor=res_a, user=res_a, email="x@example.org"),
        lambda: services.user_set_password(actor=ana, user=bob),
        lambda: services.user_create(actor=ana, username="c", password=STRONG, role="domainadmin"),
    ):
        with pytest.raises(PermissionDenied):
            call()
    assert row_counts() == before
    with refused("domains"):
        services.user_update(actor=res_a, user=ana, domains=["b1.example"])

    services.user_delete(actor=res_a, user=bob)
    assert not User.objects.filter(pk=bob.pk).exists()


def test_reset_password_generates_a_strong_one_and_audits_without_it(pools):
    res_a = pools["res_a"]
    ana = services.user_create(actor=res_a, username="ana", password=None, role="domainadmin")
    assert not ana.has_usable_password()
    password = services.user_set_password(actor=res_a, user=ana)
    assert len(password) >= 20
    assert authenticate(username="ana", password=password) is not None
    given = services.user_set_password(actor=res_a, user=ana, password=STRONG + "x")
    assert given == STRONG + "x"
    assert authenticate(username="ana", password=password) is None
    events = AuditEvent.objects.filter(object_type="accounts.user", object_id=str(ana.pk))
    assert list(events.order_by("id").values_list("action", flat=True)) == [
        "user.create",
        "user.password",
        "user.password",
    ]
    dumped = json.dumps(list(events.values_list("changes", flat=True)))
    assert password not in dumped and STRONG not in dumped


def test_nobody_deactivates_or_deletes_themselves(superadmin):
    with refused("active"):
        services.user_update(actor=superadmin, user=superadmin, active=False)
    with pytest.raises(Exception, match="yourself"):
        services.user_delete(actor=superadmin, user=superadmin)
    assert User.objects.get(pk=superadmin.pk).is_active


def test_every_change_is_audited(superadmin, pools):
    ana = services.user_create(
        actor=superadmin, username="ana", password=STRONG, role="domainadmin"
    )
    services.user_update(actor=superadmin, user=ana, domains=["a1.example"])
    services.user_update(actor=superadmin, user=ana, domains=["a1.example"])  # no change
    services.user_update(actor=superadmin, user=ana, active=False)
    pk = ana.pk
    services.user_delete(actor=superadmin, user=ana)
    actions = list(
        AuditEvent.objects.filter(object_type="accounts.user", object_id=str(pk))
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["user.create", "user.update", "user.update", "user.delete"]


def test_createsuperuser_makes_a_superadmin(db):
    user = User.objects.create_superuser("boss", "boss@example.org", STRONG)
    assert user.role == "superadmin" and user.is_superadmin
