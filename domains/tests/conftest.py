"""Fixtures for the mail data tests: cheap password hashing, a few actors and domains."""

import pytest

from accounts.models import Reseller, User
from domains.tests.helpers import make_domain


@pytest.fixture(autouse=True)
def _cheap_hashing(cheap_mail_hashing):
    """Real schemes at low cost: the tests check behaviour, not hardness."""


@pytest.fixture
def domain(db):
    return make_domain("example.com")


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
