"""Mailbox password schemes Dovecot reads from the `{SCHEME}` prefix, cross-checked against the
reference implementations (bcrypt, passlib) and published test vectors."""

import bcrypt
import pytest
from passlib.hash import sha512_crypt

from domains import services
from domains.models import Mailbox
from domains.passwords import SCHEMES, hash_password, split_scheme, verify_password
from domains.tests.helpers import PASSWORD, make_mailbox, refused

# Published vectors: Drepper's SHA-crypt specification and the crypt_blowfish test suite.
SHA512_VECTOR = (
    "Hello world!",
    "{SHA512-CRYPT}$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4"
    "OTLiBFdcbYEdFCoEOfaS35inz1",
)
BCRYPT_VECTOR = ("U*U", "{BLF-CRYPT}$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW")


@pytest.mark.parametrize("scheme", SCHEMES)
def test_hash_round_trip(scheme):
    stored = hash_password("s3cret pässword", scheme)
    assert stored.startswith("{" + scheme + "}")
    assert verify_password("s3cret pässword", stored)
    assert not verify_password("s3cret password", stored)
    assert not verify_password("", stored)
    # salted: hashing twice gives two different hashes
    assert hash_password("s3cret pässword", scheme) != stored


def test_default_scheme_is_argon2id_with_configured_parameters(settings):
    stored = hash_password("pw")
    assert stored.startswith("{ARGON2ID}$argon2id$")
    assert "m=256,t=1,p=1" in stored
    settings.MAIL_ARGON2_TIME_COST = 2
    assert "m=256,t=2,p=1" in hash_password("pw")


def test_configured_default_scheme(settings):
    settings.MAIL_PASSWORD_SCHEME = "SHA512-CRYPT"
    assert hash_password("pw").startswith("{SHA512-CRYPT}$6$")


def test_unknown_scheme_is_refused():
    with pytest.raises(ValueError):
        hash_password("pw", "PLAIN")


@pytest.mark.parametrize(
    "stored", ["plainpassword", "{PLAIN}pw", "{MD5}x", "", "{ARGON2ID}garbage", "{BLF-CRYPT}"]
)
def test_verify_unknown_or_broken_hashes_is_false(stored):
    assert not verify_password("pw", stored)


def test_scheme_prefix_is_case_insensitive_on_read():
    assert split_scheme("{blf-crypt}$2b$x") == ("BLF-CRYPT", "$2b$x")


def test_blf_crypt_matches_the_bcrypt_reference():
    plain, vector = BCRYPT_VECTOR
    assert verify_password(plain, vector)
    ours = hash_password("hunter2 hunter2", "BLF-CRYPT")
    assert bcrypt.checkpw(b"hunter2 hunter2", split_scheme(ours)[1].encode())
    theirs = bcrypt.hashpw(b"hunter2 hunter2", bcrypt.gensalt(4)).decode()
    assert verify_password("hunter2 hunter2", "{BLF-CRYPT}" + theirs)
    # PHP and Dovecot write $2y$ (the same algorithm)
    assert verify_password("hunter2 hunter2", "{BLF-CRYPT}$2y$" + theirs[4:])


def test_sha512_crypt_matches_the_passlib_reference():
    plain, vector = SHA512_VECTOR
    assert verify_password(plain, vector)
    ours = hash_password("hunter2 hunter2", "SHA512-CRYPT")
    assert sha512_crypt.verify("hunter2 hunter2", split_scheme(ours)[1])
    theirs = sha512_crypt.using(rounds=10000).hash("hunter2 hunter2")
    assert verify_password("hunter2 hunter2", "{SHA512-CRYPT}" + theirs)


def test_mailbox_create_hashes_with_argon2id(domain):
    mailbox = make_mailbox("a@example.com")
    assert mailbox.password.startswith("{ARGON2ID}$argon2id$")
    assert PASSWORD not in mailbox.password
    assert verify_password(PASSWORD, Mailbox.objects.get().password)


@pytest.mark.parametrize(
    "imported",
    [
        SHA512_VECTOR[1],
        BCRYPT_VECTOR[1],
        "{BLF-CRYPT}" + bcrypt.hashpw(b"U*U", bcrypt.gensalt(4, prefix=b"2b")).decode(),
    ],
)
def test_import_hash(domain, imported):
    mailbox = services.mailbox_create(actor=None, address="a@example.com", password_hash=imported)
    assert Mailbox.objects.get(pk=mailbox.pk).password == imported
    plain = SHA512_VECTOR[0] if "SHA512" in imported else BCRYPT_VECTOR[0]
    assert verify_password(plain, mailbox.password)


def test_import_argon2id_hash(domain):
    imported = hash_password("imported pw", "ARGON2ID")
    mailbox = services.mailbox_create(actor=None, address="a@example.com", password_hash=imported)
    assert verify_password("imported pw", Mailbox.objects.get(pk=mailbox.pk).password)


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "garbage",
        "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl",  # no scheme prefix
        "{PLAIN}secret",
        "{CRYPT}$1$abc$def",
        "{SHA512-CRYPT}$5$rounds=5000$abc$def",
        "{SHA512-CRYPT}not a hash",
        "{BLF-CRYPT}$2b$04$short",
        "{BLF-CRYPT}" + "x" * 60,
        "{ARGON2ID}$argon2i$v=19$m=256,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
        "{ARGON2ID}$argon2id$broken",
        "{MD5}" + "0" * 32,
    ],
)
def test_garbage_hash_is_refused(domain, garbage):
    with refused("password_hash", code="invalid_hash"):
        services.mailbox_create(actor=None, address="a@example.com", password_hash=garbage)


def test_set_password_and_import_on_existing_mailbox(domain):
    mailbox = make_mailbox("a@example.com")
    services.mailbox_set_password(actor=None, mailbox=mailbox, password="a brand new one")
    assert verify_password("a brand new one", Mailbox.objects.get().password)
    assert not verify_password(PASSWORD, Mailbox.objects.get().password)
    services.mailbox_set_password(actor=None, mailbox=mailbox, password_hash=SHA512_VECTOR[1])
    assert Mailbox.objects.get().password == SHA512_VECTOR[1]
    before = Mailbox.objects.get().password
    with refused("password_hash"):
        services.mailbox_set_password(actor=None, mailbox=mailbox, password_hash="{PLAIN}x")
    assert Mailbox.objects.get().password == before


ARGON2_BODY = "$argon2id$v=19${params}$c2FsdHNhbHQ$" + "A" * 43
BCRYPT_BODY = "$2b${cost:02d}$" + "./" * 26 + "a"
SHA512_BODY = "$6$rounds={rounds}$saltsalt$" + "a" * 86


@pytest.mark.parametrize(
    "imported",
    [
        "{ARGON2ID}" + ARGON2_BODY.format(params="m=65536,t=60,p=1"),
        "{ARGON2ID}" + ARGON2_BODY.format(params="m=4194304,t=3,p=1"),  # 4 GiB
        "{ARGON2ID}" + ARGON2_BODY.format(params="m=65536,t=3,p=16"),
        "{BLF-CRYPT}" + BCRYPT_BODY.format(cost=31),
        "{ARGON2ID}" + ARGON2_BODY.format(params="m=65536,t=5,p=1"),
        "{ARGON2ID}" + ARGON2_BODY.format(params="m=65537,t=3,p=1"),
        "{BLF-CRYPT}" + BCRYPT_BODY.format(cost=13),
        "{SHA512-CRYPT}" + SHA512_BODY.format(rounds=999999999),
        "{SHA512-CRYPT}" + SHA512_BODY.format(rounds=200001),
    ],
)
def test_imported_hash_above_the_cost_ceiling_is_refused(domain, imported):
    with refused("password_hash", code="hash_cost"):
        services.mailbox_create(actor=None, address="a@example.com", password_hash=imported)


@pytest.mark.parametrize(
    "imported",
    [
        "{ARGON2ID}" + ARGON2_BODY.format(params="m=65536,t=4,p=4"),
        "{BLF-CRYPT}" + BCRYPT_BODY.format(cost=12),
        "{SHA512-CRYPT}" + SHA512_BODY.format(rounds=200000),
    ],
)
def test_imported_hash_at_the_ceiling_is_accepted(domain, imported):
    mailbox = services.mailbox_create(actor=None, address="a@example.com", password_hash=imported)
    assert Mailbox.objects.get(pk=mailbox.pk).password == imported


def test_cost_ceilings_are_settings(domain, settings):
    settings.MAIL_IMPORT_BCRYPT_MAX_COST = 10
    with refused("password_hash", code="hash_cost"):
        services.mailbox_create(
            actor=None,
            address="a@example.com",
            password_hash="{BLF-CRYPT}" + BCRYPT_BODY.format(cost=11),
        )
    mailbox = make_mailbox("b@example.com")
    with refused("password_hash", code="hash_cost"):
        services.mailbox_set_password(
            actor=None, mailbox=mailbox, password_hash="{BLF-CRYPT}" + BCRYPT_BODY.format(cost=12)
        )
