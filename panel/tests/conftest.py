"""Fixtures for the web panel's tests: cheap mailbox hashing and a few actors."""

import pytest

from accounts.models import Reseller, User


@pytest.fixture(autouse=True)
def _cheap_hashing(settings):
    """Real schemes at low cost: the tests check behaviour, not hardness."""
    settings.MAIL_ARGON2_TIME_COST = 1
    settings.MAIL_ARGON2_MEMORY_KIB = 256
    settings.MAIL_ARGON2_PARALLELISM = 1
    settings.MAIL_BCRYPT_ROUNDS = 4


@pytest.fixture
def reseller(db):
    return Reseller.objects.create(name="Resell One")


@pytest.fixture
def reseller_user(reseller):
    return User.objects.create_user(
        username="res1", password="x", role="reseller", reseller=reseller
    )


@pytest.fixture
def other_reseller_user(db):
    pool = Reseller.objects.create(name="Resell Two")
    return User.objects.create_user(username="res2", password="x", role="reseller", reseller=pool)
