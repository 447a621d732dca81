"""Resellers, their pools and the people who manage domains: who may create whom, pool values,
and an audit event for each write."""

import pytest
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError

from accounts import services
from accounts.models import Reseller, User
from audit.models import AuditEvent
from domains import services as domain_services
from domains.tests.helpers import make_alias, make_domain, make_mailbox, refused, row_counts

STRONG = "Quartz-Lantern-Meadow-7"  # passes the password policy


@pytest.fixture(autouse=True)
def _cheap_hashing(settings):
    settings.MAIL_ARGON2_TIME_COST = 1
    settings.MAIL_ARGON2_MEMORY_KIB = 256


@pytest.fixture
def pool(db):
    return services.reseller_create(actor=None, name="Pool", max_domains=5, max_mailboxes=10)


@pytest.fixture
def reseller_user(pool):
    return services.user_create(
        actor=None, username="res", password="pw-pw-pw-pw", role="reseller", reseller=pool
    )


def test_reseller_create_records_audit(superadmin):
    reseller = services.reseller_create(actor=superadmin, name=" Acme ", max_quota_bytes=10**9)
    assert (reseller.name, reseller.max_quota_bytes) == ("Acme", 10**9)
    event = AuditEvent.objects.get(action="reseller.create")
    assert (event.actor, event.object_id) == (superadmin, str(reseller.pk))


def test_only_superadmins_manage_resellers(pool, reseller_user):
    admin = User.objects.create_user(username="da", password="x", role="domainadmin")
    for actor in (reseller_user, admin):
        before = row_counts()
        with pytest.raises(PermissionDenied):
            services.reseller_create(actor=actor, name="Other")
        with pytest.raises(PermissionDenied):
            services.reseller_update(actor=actor, reseller=pool, max_domains=1000)
        assert row_counts() == before
    assert Reseller.objects.get(pk=pool.pk).max_domains == 5


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "POOL"}, "name"),  # duplicate in another letter case
        ({"name": "New", "max_domains": -1}, "max_domains"),
        ({"name": "New", "max_mailboxes": "5"}, "max_mailboxes"),
        ({"name": "New", "max_quota_bytes": True}, "max_quota_bytes"),
        ({"name": "New", "max_pizzas": 3}, "max_pizzas"),
    ],
)
def test_reseller_create_validation(pool, kwargs, field):
    with refused(field):
        services.reseller_create(actor=None, **kwargs)


def test_reseller_update_records_audit(pool, superadmin):
    services.reseller_update(actor=superadmin, reseller=pool, max_aliases=50)
    pool.refresh_from_db()
    assert pool.max_aliases == 50
    assert AuditEvent.objects.filter(action="reseller.update", actor=superadmin).count() == 1


def test_reseller_update_validation(pool):
    with refused("max_domains"):
        services.reseller_update(actor=None, reseller=pool, max_domains=-3)
    with refused("owner"):
        services.reseller_update(actor=None, reseller=pool, owner="x")


def test_reseller_pool_cannot_be_lowered_below_usage(pool):
    for n in range(3):
        make_domain(f"d{n}.example", reseller=pool)
    domain_services.alias_domain_create(
        actor=None, name="ad.example", target=pool.domains.get(name="d0.example")
    )
    make_mailbox("a@d0.example", quota_bytes=600)
    make_mailbox("b@d1.example", quota_bytes=600)
    make_alias("x@d0.example", ["a@d0.example"])
    make_alias("y@d1.example", ["a@d0.example"])
    for field, value in [
        ("max_domains", 3),  # 3 domains + 1 alias domain
        ("max_mailboxes", 1),
        ("max_aliases", 1),
        ("max_quota_bytes", 1000),
    ]:
        with refused(field):
            services.reseller_update(actor=None, reseller=pool, **{field: value})
    services.reseller_update(
        actor=None, reseller=pool, max_domains=4, max_mailboxes=2, max_aliases=2
    )
    services.reseller_update(actor=None, reseller=pool, max_quota_bytes=1200)


def test_reseller_quota_pool_cannot_be_set_over_unlimited_mailboxes(pool):
    make_domain("d.example", reseller=pool)
    make_mailbox("a@d.example", quota_bytes=0)
    with refused("max_quota_bytes"):
        services.reseller_update(actor=None, reseller=pool, max_quota_bytes=10**12)


def test_user_create_roles(superadmin, pool):
    reseller_user = services.user_create(
        actor=superadmin,
        username="r",
        password=STRONG,
        role="reseller",
        reseller=pool,
    )
    assert reseller_user.is_reseller and reseller_user.reseller == pool
    admin = services.user_create(actor=superadmin, username="s", password=STRONG, role="superadmin")
    assert admin.is_superadmin and admin.is_staff
    assert AuditEvent.objects.filter(action="user.create").count() == 2


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"username": "x", "role": "wizard"}, "role"),
        ({"username": "x", "role": "reseller"}, "reseller"),
        ({"username": "", "role": "domainadmin"}, "username"),
        ({"username": "RES", "role": "domainadmin"}, "username"),  # taken, other case
    ],
)
def test_user_create_validation(reseller_user, kwargs, field):
    with refused(field):
        services.user_create(actor=None, password=STRONG, **kwargs)


def test_reseller_creates_domain_admins_for_its_own_domains_only(reseller_user, db):
    mine = domain_services.domain_create(actor=reseller_user, name="mine.example")
    other_pool = services.reseller_create(actor=None, name="Other")
    theirs = make_domain("theirs.example", reseller=other_pool)

    admin = services.user_create(
        actor=reseller_user,
        username="da",
        password=STRONG,
        role="domainadmin",
        domains=[mine],
    )
    assert list(admin.managed_domains.all()) == [mine]
    # The domain admin belongs to the pool that made it: the reseller manages it from now on.
    assert admin.reseller == reseller_user.reseller and not admin.is_superadmin

    before = row_counts()
    with refused("domains", "no_domain"):  # a foreign domain reads as missing
        services.user_create(
            actor=reseller_user,
            username="da2",
            password=STRONG,
            role="domainadmin",
            domains=[theirs],
        )
    for role in ("superadmin", "reseller"):
        with pytest.raises(PermissionDenied):
            services.user_create(
                actor=reseller_user,
                username="up",
                password=STRONG,
                role=role,
                reseller=other_pool,
            )
    assert row_counts() == before


def test_domain_admin_creates_nobody(db):
    admin = User.objects.create_user(username="da", password="x", role="domainadmin")
    with pytest.raises(PermissionDenied):
        services.user_create(actor=admin, username="x", password=STRONG, role="domainadmin")


def test_user_without_password_cannot_log_in(db):
    user = services.user_create(actor=None, username="x", password=None, role="domainadmin")
    assert not user.has_usable_password()


def test_reseller_user_must_have_a_reseller_in_the_database(db):
    with pytest.raises(IntegrityError):
        User.objects.create(username="broken", role="reseller")
