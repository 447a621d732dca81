"""Issue 7's attack catalogue, replayed through the API as reseller B against reseller A (and the
service itself): every attack decided in the services is refused with the status the convention
expects, names the field, and writes nothing — no row, no audit event.

The mail-stack half (zero captured, diverted or spoofed messages on a real Postfix and Dovecot)
belongs with the lookup views and the generated configuration."""

import json

import pytest
from django.conf import settings

from api.models import APIKey, IdempotencyRecord
from api.tests.conftest import ApiClient
from domains.models import RelayRecipient
from domains.tests.helpers import row_counts

pytestmark = pytest.mark.postgres

PASSWORD = "a long enough password"
ARGON2_SLOW = "{ARGON2ID}$argon2id$v=19$m=65536,t=60,p=1$c2FsdHNhbHQ$" + "A" * 43
ARGON2_HUGE = "{ARGON2ID}$argon2id$v=19$m=4194304,t=3,p=1$c2FsdHNhbHQ$" + "A" * 43
BCRYPT_31 = "{BLF-CRYPT}$2b$31$" + "./" * 26 + "a"
SHA512_HUGE = "{SHA512-CRYPT}$6$rounds=999999999$saltsalt$" + "a" * 86


def everything() -> dict:
    counts = row_counts()
    counts["RelayRecipient"] = RelayRecipient.objects.count()
    counts["APIKey"] = APIKey.objects.count()
    counts["IdempotencyRecord"] = IdempotencyRecord.objects.count()
    return counts


def b_mailbox(world) -> str:
    return f"user@{world.b.domains[0].name}"


def b_mailbox_id(world) -> int:
    return world.b.domains[0].mailboxes.get(local_part="user").pk


# (id, method, path, body, status, field). `path` and `body` may be callables of the world.
ATTACKS = [
    # 1. Domain capture
    ("capture A's domain", "POST", "domains/", {"name": "a1.example"}, 409, "name"),
    ("capture A's domain, other case", "POST", "domains/", {"name": "A1.Example."}, 409, "name"),
    ("capture A's alias domain", "POST", "domains/", {"name": "a1-alias.example"}, 409, "name"),
    ("capture gmail.com", "POST", "domains/", {"name": "gmail.com"}, 400, "name"),
    ("capture a gmail.com host", "POST", "domains/", {"name": "mx.gmail.com"}, 400, "name"),
    (
        "capture the mail host name",
        "POST",
        "domains/",
        {"name": settings.MAIL_HOSTNAME},
        400,
        "name",
    ),
    ("capture the operator's domain", "POST", "domains/", {"name": "example.net"}, 400, "name"),
    ("capture a public suffix", "POST", "domains/", {"name": "co.uk"}, 400, "name"),
    ("capture a private suffix", "POST", "domains/", {"name": "github.io"}, 400, "name"),
    ("look-alike of A's domain", "POST", "domains/", {"name": "а1.example"}, 400, "name"),
    ("mixed-script name", "POST", "domains/", {"name": "bеta.example"}, 400, "name"),
    ("whole-script look-alike", "POST", "domains/", {"name": "xn--80ak6aa92e.com"}, 400, "name"),
    (
        "gmail.com as an alias domain",
        "POST",
        "alias-domains/",
        lambda w: {"name": "gmail.com", "target": w.b.domains[0].name},
        400,
        "name",
    ),
    (
        "the host name as an alias domain",
        "POST",
        "alias-domains/",
        lambda w: {"name": settings.MAIL_HOSTNAME, "target": w.b.domains[0].name},
        400,
        "name",
    ),
    (
        "A's domain as an alias domain",
        "POST",
        "alias-domains/",
        lambda w: {"name": "a2.example", "target": w.b.domains[0].name},
        409,
        "name",
    ),
    (
        "skip the DNS proof",
        "POST",
        "domains/",
        {"name": "x.example", "verified": True},
        403,
        "verified",
    ),
    (
        "force-verify own domain",
        "POST",
        lambda w: f"domains/{w.b.domains[0].pk}/verify/",
        {"force": True},
        403,
        "force",
    ),
    # 2. Transport diversion
    *[
        (
            f"transport {transport}",
            "POST",
            "domains/",
            {"name": "divert.example", "kind": "relay", "transport": transport},
            403,
            "transport",
        )
        for transport in (
            "relay:[127.0.0.1]:2525",
            "local:",
            "pipe:",
            "uucp:host",
            "lmtp:unix:/var/run/dovecot/lmtp",
            "smtp:[169.254.169.254]:80",
            "smtp:[mx.public.example]:25",  # even a public one: superadmins choose transports
        )
    ],
    (
        "turn own domain into a relay",
        "PATCH",
        lambda w: f"domains/{w.b.backup.pk}/",
        {"kind": "relay", "transport": "smtp:[127.0.0.1]:25"},
        403,
        "transport",
    ),
    (
        "list recipients at A's backup domain",
        "POST",
        "relay-recipients/",
        lambda w: {"address": f"x@{w.a.backup.name}"},
        400,
        "address",
    ),
    # 3. Envelope spoofing: grants on A's domains, keys with two @
    (
        "grant an address of A's",
        "POST",
        "sender-identities/",
        lambda w: {"mailbox": b_mailbox(w), "address": "boss@a1.example"},
        400,
        "address",
    ),
    (
        "grant all of A's domain",
        "POST",
        "sender-identities/",
        lambda w: {"mailbox": b_mailbox(w), "address": "@a1.example"},
        400,
        "address",
    ),
    (
        "grant an address through A's alias domain",
        "POST",
        "sender-identities/",
        lambda w: {"mailbox": b_mailbox(w), "address": "boss@a1-alias.example"},
        400,
        "address",
    ),
    (
        "grant boss@a@b",
        "POST",
        "sender-identities/",
        lambda w: {"mailbox": b_mailbox(w), "address": f"boss@a1.example@{w.b.domains[0].name}"},
        400,
        "address",
    ),
    (
        'grant "boss@a"@b',
        "POST",
        "sender-identities/",
        lambda w: {"mailbox": b_mailbox(w), "address": f'"boss@a1.example"@{w.b.domains[0].name}'},
        400,
        "address",
    ),
    (
        "mailbox boss@a@b",
        "POST",
        "mailboxes/",
        lambda w: {"address": f"boss@a1.example@{w.b.domains[0].name}", "password": PASSWORD},
        400,
        "address",
    ),
    (
        "alias boss@a@b",
        "POST",
        "aliases/",
        lambda w: {
            "address": f"boss@a1.example@{w.b.domains[0].name}",
            "recipients": [b_mailbox(w)],
        },
        400,
        "address",
    ),
    (
        "local part starting with -",
        "POST",
        "mailboxes/",
        lambda w: {"address": f"-oQ@{w.b.domains[0].name}", "password": PASSWORD},
        400,
        "address",
    ),
    # 5. Login stall: slow hashes
    *[
        (
            f"import {label}",
            "POST",
            "mailboxes/",
            lambda w, h=hashed: {"address": f"slow@{w.b.domains[0].name}", "password_hash": h},
            400,
            "password_hash",
        )
        for label, hashed in (
            ("argon2id t=60", ARGON2_SLOW),
            ("argon2id m=4 GiB", ARGON2_HUGE),
            ("bcrypt cost 31", BCRYPT_31),
            ("SHA512-CRYPT 999999999 rounds", SHA512_HUGE),
        )
    ],
    (
        "set a slow hash on an existing mailbox",
        "PATCH",
        lambda w: f"mailboxes/{b_mailbox_id(w)}/",
        {"password_hash": BCRYPT_31},
        400,
        "password_hash",
    ),
    # 7. CPU per request: huge lists
    (
        "alias with 1,000 recipients",
        "POST",
        "aliases/",
        lambda w: {
            "address": f"list@{w.b.domains[0].name}",
            "recipients": [f"r{i}@elsewhere.example" for i in range(1000)],
        },
        400,
        "recipients",
    ),
    (
        "1,000 forwards",
        "PATCH",
        lambda w: f"mailboxes/{b_mailbox_id(w)}/",
        {"forward_to": [f"r{i}@elsewhere.example" for i in range(1000)]},
        400,
        "forward_to",
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "field"),
    [attack[1:] for attack in ATTACKS],
    ids=[attack[0] for attack in ATTACKS],
)
def test_attack_is_refused_and_writes_nothing(world, method, path, body, status, field):
    b = ApiClient(world.b.key)
    path = path(world) if callable(path) else path
    body = body(world) if callable(body) else body
    before = everything()
    response = b.request(method, path, body)
    assert response.status_code == status, response.content
    assert field in response.json(), response.json()
    assert everything() == before


def test_the_same_attacks_with_an_idempotency_key_write_nothing_either(world):
    b = ApiClient(world.b.key)
    before = everything()
    response = b.post("domains/", {"name": "gmail.com"}, headers={"Idempotency-Key": "k1"})
    assert response.status_code == 400
    assert everything() == before


def test_a_subdomain_of_as_domain_stays_pending_without_its_dns(world, dns_zone):
    """B may claim sub.a1.example (A may not use it yet), but without A's DNS it never goes live."""
    b = ApiClient(world.b.key)
    created = b.post("domains/", {"name": "sub.a1.example"})
    assert created.status_code == 201
    body = created.json()
    assert body["verified"] is False and body["verified_at"] is None
    assert body["verification_record"]["name"] == "_mailadmin-verify.sub.a1.example"
    attempt = b.post(f"domains/{body['id']}/verify/", {})
    assert attempt.status_code == 400 and "verification" in attempt.json()
    assert b.get(f"domains/{body['id']}/").json()["verified"] is False


def test_probing_as_addresses_gets_one_answer(world):
    """Alias recipients and forwards into A's domain: the same answer whether the address exists."""
    b = ApiClient(world.b.key)
    d = world.b.domains[0].name
    answers = []
    for target in ("user@a1.example", "nobody-here@a1.example"):
        alias = b.post("aliases/", {"address": f"probe-{len(answers)}@{d}", "recipients": [target]})
        box = b.patch(f"mailboxes/{b_mailbox_id(world)}/", {"forward_to": [target]})
        answers.append((alias.status_code, box.status_code))
    assert answers == [(201, 200), (201, 200)]


def test_deep_json_and_huge_bodies(world):
    b = ApiClient(world.b.key)
    before = everything()
    deep = b.client.post(
        "/api/v1/aliases/",
        data='{"address": "x@b1.example", "recipients": ' + "[" * 100_000 + "]" * 100_000 + "}",
        content_type="application/json",
        headers=b.headers,
    )
    assert deep.status_code == 400 and "detail" in deep.json()
    huge = b.client.post(
        "/api/v1/aliases/",
        data=json.dumps({"address": "x@b1.example", "recipients": ["a@b.example"] * 200_000}),
        content_type="application/json",
        headers=b.headers,
    )
    assert huge.status_code == 413 and "detail" in huge.json()
    assert everything() == before


def test_a_deactivated_reseller_reads_but_cannot_write(world):
    root = ApiClient(world.super_key)
    assert root.patch(f"resellers/{world.b.reseller.pk}/", {"active": False}).status_code == 200
    b = ApiClient(world.b.key)
    d = world.b.domains[0].name
    box = b_mailbox_id(world)
    before = everything()
    writes = [
        b.post("mailboxes/", {"address": f"new@{d}", "password": PASSWORD}),
        b.patch(f"mailboxes/{box}/", {"password": "another long password"}),
        b.patch(f"mailboxes/{box}/", {"quota_bytes": 10}),
        b.post("aliases/", {"address": f"new@{d}", "recipients": [b_mailbox(world)]}),
        b.post("domains/", {"name": "new-b.example"}),
        b.delete(f"mailboxes/{box}/"),
        b.post("relay-recipients/", {"address": f"new@{world.b.backup.name}"}),
    ]
    assert [w.status_code for w in writes] == [403] * len(writes), [w.content for w in writes]
    assert all("deactivated" in w.json()["detail"][0] for w in writes)
    assert everything() == before
    assert b.get(f"mailboxes/{box}/").status_code == 200
    assert b.get("domains/").status_code == 200


def test_a_tenant_proves_its_own_domain_through_the_api(world, dns_zone):
    b = ApiClient(world.b.key)
    created = b.post("domains/", {"name": "new-b.example"}).json()
    record = created["verification_record"]
    assert record["type"] == "TXT" and record["name"] == "_mailadmin-verify.new-b.example"
    assert [d["name"] for d in b.list_all("domains/?verified=false")] == ["new-b.example"]
    dns_zone.publish(record["name"], record["value"])
    verified = b.post(f"domains/{created['id']}/verify/", {})
    assert verified.status_code == 200, verified.content
    assert verified.json()["verified"] is True and verified.json()["verification_record"] is None
    assert b.list_all("domains/?verified=false") == []


def test_a_lone_surrogate_in_any_field_is_a_json_400_not_a_500(world):
    """A string JSON can carry but UTF-8 cannot encode, sent where the error echoes it back."""
    b = ApiClient(world.b.key)
    before = everything()
    for path, body in (
        ("domains/", {"name": "surrogate.example", "kind": "\ud800"}),
        ("mailboxes/", {"address": "\ud800@b1.example", "password": PASSWORD}),
        ("aliases/", {"address": "x@b1.example", "recipients": ["\udfff@b1.example"]}),
    ):
        response = b.post(path, body)
        assert response.status_code == 400, (path, response.status_code)
        assert response.json(), path
    assert everything() == before
