"""Shared test set-up. Tests that need PostgreSQL carry `@pytest.mark.postgres`: on SQLite they
skip with a message, unless MAILADMIN_REQUIRE_POSTGRES=1 (CI), where they fail instead."""

import os

import pytest
from django.db import connection

POSTGRES_HINT = (
    "needs PostgreSQL: set DATABASE_URL=postgres://postgres@127.0.0.1:5432/mailadmin "
    "(the README's test command does this when PostgreSQL answers)"
)


def pytest_configure(config):
    from django.conf import settings

    # Panel logins are not what these tests measure: a fast hasher saves ~0.4 s per user.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def pytest_runtest_setup(item):
    if item.get_closest_marker("postgres") and connection.vendor != "postgresql":
        if os.environ.get("MAILADMIN_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"MAILADMIN_REQUIRE_POSTGRES=1 but the database is SQLite; {POSTGRES_HINT}")
        pytest.skip(POSTGRES_HINT)


@pytest.fixture
def superadmin(django_user_model):
    return django_user_model.objects.create_user(
        username="root-admin", password="x", role="superadmin", is_superuser=True, is_staff=True
    )


@pytest.fixture
def cheap_mail_hashing(settings):
    """Mailbox hashes in the real schemes at low cost: tests that check lookups, not hardness."""
    settings.MAIL_ARGON2_TIME_COST = 1
    settings.MAIL_ARGON2_MEMORY_KIB = 256
    settings.MAIL_ARGON2_PARALLELISM = 1
    settings.MAIL_BCRYPT_ROUNDS = 4


@pytest.fixture
def dns_zone(settings):
    """A DNS server on 127.0.0.1 that the verification lookups ask (settings point at it)."""
    from domains.tests.dns_server import TxtZone, start

    zone = TxtZone()
    server, port = start(zone)
    settings.MAILADMIN_DNS_NAMESERVERS = [f"127.0.0.1:{port}"]
    settings.MAILADMIN_DNS_TIMEOUT = 2
    yield zone
    server.stop()
    server.server.server_close()
