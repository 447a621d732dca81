"""Limits hold under real concurrent creates on PostgreSQL: each thread has its own connection,
a barrier releases them together, and the pool/domain row lock serialises the checks."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connections

from accounts.models import Reseller
from domains import services
from domains.models import Alias, AliasDomain, Domain, Mailbox
from domains.tests.helpers import make_domain

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 10
# An imported hash keeps the threads' work in the database, where the race is.
HASH = "{BLF-CRYPT}$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"


def race(create, count=THREADS):
    """Run create(i) in `count` threads released at once; return (successes, validation errors)."""
    barrier = threading.Barrier(count)
    ok, refused, crashed = [], [], []

    def worker(i):
        try:
            barrier.wait(timeout=30)
            ok.append(create(i))
        except ValidationError as exc:
            refused.append(exc)
        except BaseException as exc:  # noqa: BLE001 - reported below
            crashed.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not crashed, crashed
    assert len(ok) + len(refused) == count
    return ok, refused


def test_domain_max_mailboxes_race():
    domain = make_domain("race.example", max_mailboxes=5)
    ok, refused = race(
        lambda i: services.mailbox_create(
            actor=None, address=f"user{i}@race.example", password_hash=HASH
        )
    )
    assert len(ok) == 5
    assert len(refused) == 5
    assert all("address" in exc.message_dict for exc in refused)
    assert Mailbox.objects.filter(domain=domain).count() == 5


def test_reseller_mailbox_pool_race_across_domains():
    pool = Reseller.objects.create(name="racer", max_mailboxes=4)
    for n in range(THREADS):
        make_domain(f"d{n}.example", reseller=pool)
    ok, refused = race(
        lambda i: services.mailbox_create(
            actor=None, address=f"user@d{i}.example", password_hash=HASH
        )
    )
    assert (len(ok), len(refused)) == (4, 6)
    assert Mailbox.objects.count() == 4


def test_reseller_quota_pool_race():
    pool = Reseller.objects.create(name="racer", max_quota_bytes=5000)
    make_domain("a.example", reseller=pool)
    make_domain("b.example", reseller=pool)
    ok, refused = race(
        lambda i: services.mailbox_create(
            actor=None,
            address=f"user{i}@{'ab'[i % 2]}.example",
            password_hash=HASH,
            quota_bytes=1000,
        )
    )
    assert (len(ok), len(refused)) == (5, 5)
    assert all("quota_bytes" in exc.message_dict for exc in refused)
    assert sum(Mailbox.objects.values_list("quota_bytes", flat=True)) == 5000


def test_domain_total_quota_race():
    make_domain("q.example", total_quota=3000)
    ok, refused = race(
        lambda i: services.mailbox_create(
            actor=None, address=f"u{i}@q.example", password_hash=HASH, quota_bytes=1000
        )
    )
    assert (len(ok), len(refused)) == (3, 7)


def test_alias_limit_race():
    make_domain("al.example", max_aliases=3)
    ok, refused = race(
        lambda i: services.alias_create(
            actor=None, address=f"a{i}@al.example", recipients=["x@elsewhere.example"]
        )
    )
    assert (len(ok), len(refused)) == (3, 7)
    assert Alias.objects.count() == 3


def test_reseller_domain_limit_race():
    pool = Reseller.objects.create(name="racer", max_domains=3)
    target = make_domain("base.example", reseller=pool)

    def create(i):
        if i % 2:
            return services.alias_domain_create(actor=None, name=f"ad{i}.example", target=target)
        return services.domain_create(actor=None, name=f"d{i}.example", reseller=pool)

    ok, refused = race(create)
    assert (len(ok), len(refused)) == (2, 8)
    assert Domain.objects.count() + AliasDomain.objects.count() == 3


def test_same_address_race_mailbox_versus_alias():
    """No unique index spans mailboxes and aliases: only the domain lock keeps one address one
    thing."""
    make_domain("dup.example")

    def create(i):
        if i % 2:
            return services.alias_create(
                actor=None, address="Same@DUP.example", recipients=["x@elsewhere.example"]
            )
        return services.mailbox_create(actor=None, address="same@dup.example", password_hash=HASH)

    ok, refused = race(create)
    assert len(ok) == 1
    assert all("address" in exc.message_dict for exc in refused)
    assert Mailbox.objects.count() + Alias.objects.count() == 1
