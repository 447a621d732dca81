"""The reseller flow end to end through the API only, and the API's contract: error shapes,
status codes, write-only passwords, idempotent creates, filters, keyset pagination, no N+1."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Reseller, User
from api.models import IdempotencyRecord
from api.tests.conftest import ApiClient, new_key
from audit.models import AuditEvent
from domains.models import Alias, AliasDomain, Domain, Mailbox, MailboxForward
from domains.passwords import hash_password, verify_password
from domains.tests.helpers import make_domain, make_mailbox

pytestmark = pytest.mark.postgres


@pytest.fixture
def reseller_api(db):
    pool = Reseller.objects.create(name="Flow", max_domains=3, max_mailboxes=10, max_aliases=10)
    user = User.objects.create_user(username="flow", role="reseller", reseller=pool)
    return ApiClient(new_key(user)), pool


def test_full_reseller_flow_through_the_api(reseller_api):
    api, pool = reseller_api
    created = api.post(
        "domains/",
        {
            "name": "Bücher.Example",
            "max_mailboxes": 5,
            "default_quota": 2**30,
            "max_quota_per_mailbox": 3 * 2**30,
        },
    )
    assert created.status_code == 201, created.content
    domain = created.json()
    assert domain["name"] == "xn--bcher-kva.example"
    assert domain["name_unicode"] == "bücher.example"
    assert domain["reseller"] == pool.pk
    name = domain["name"]

    box = api.post("mailboxes/", {"address": f"Alice@{name}", "password": "correct horse 1"})
    assert box.status_code == 201, box.content
    alice = box.json()
    assert alice["address"] == f"alice@{name}"
    assert alice["quota_bytes"] == 2**30  # the domain's default
    assert "password" not in alice and "password_hash" not in alice
    assert verify_password("correct horse 1", Mailbox.objects.get(pk=alice["id"]).password)

    migrated = hash_password("migrated secret", scheme="SHA512-CRYPT")
    bob = api.post("mailboxes/", {"address": f"bob@{name}", "password_hash": migrated})
    assert bob.status_code == 201, bob.content
    assert Mailbox.objects.get(address=f"bob@{name}").password == migrated

    alias = api.post(
        "aliases/", {"address": f"team@{name}", "recipients": [f"alice@{name}", f"BOB@{name}"]}
    )
    assert alias.status_code == 201, alias.content
    assert alias.json()["recipients"] == [f"alice@{name}", f"bob@{name}"]
    catchall = api.post("aliases/", {"address": f"@{name}", "recipients": [f"alice@{name}"]})
    assert catchall.status_code == 201 and catchall.json()["is_catchall"] is True

    alias_domain = api.post("alias-domains/", {"name": "buecher.example", "target": name})
    assert alias_domain.status_code == 201, alias_domain.content
    assert AliasDomain.objects.get(name="buecher.example").target.name == name

    grant = api.post("sender-identities/", {"mailbox": f"alice@{name}", "address": f"@{name}"})
    assert grant.status_code == 201, grant.content

    too_big = api.patch(f"mailboxes/{alice['id']}/", {"quota_bytes": 4 * 2**30})
    assert too_big.status_code == 400 and list(too_big.json()) == ["quota_bytes"]
    assert Mailbox.objects.get(pk=alice["id"]).quota_bytes == 2**30
    bigger = api.patch(f"mailboxes/{alice['id']}/", {"quota_bytes": 2 * 2**30})
    assert bigger.status_code == 200 and bigger.json()["quota_bytes"] == 2 * 2**30

    forwards = api.patch(
        f"mailboxes/{alice['id']}/", {"forward_to": ["ext@example.org"], "keep_copy": False}
    )
    assert forwards.status_code == 200, forwards.content
    assert forwards.json()["forward_to"] == ["ext@example.org"]
    assert forwards.json()["keep_copy"] is False

    new_password = api.patch(f"mailboxes/{alice['id']}/", {"password": "another horse 2"})
    assert new_password.status_code == 200
    assert verify_password("another horse 2", Mailbox.objects.get(pk=alice["id"]).password)

    off = api.patch(f"mailboxes/{alice['id']}/", {"active": False})
    assert off.status_code == 200 and off.json()["active"] is False
    off = api.patch(f"aliases/{alias.json()['id']}/", {"active": False})
    assert off.status_code == 200 and off.json()["active"] is False
    off = api.patch(f"domains/{domain['id']}/", {"active": False, "description": "paused"})
    assert off.status_code == 200 and off.json()["active"] is False

    me = api.get("me/").json()
    assert me["reseller"]["usage"]["mailboxes"] == 2
    assert me["reseller"]["max_mailboxes"] == 10

    assert api.delete(f"aliases/{alias.json()['id']}/").status_code == 204
    assert api.delete(f"mailboxes/{bob.json()['id']}/").status_code == 204
    assert api.delete(f"alias-domains/{alias_domain.json()['id']}/").status_code == 204
    # Alice is still there: the domain goes only when the caller confirms.
    refused = api.delete(f"domains/{domain['id']}/")
    assert refused.status_code == 409, refused.content
    assert refused.json()["contents"]["mailboxes"] == 1
    assert Domain.objects.filter(name=name).exists()
    assert api.delete(f"domains/{domain['id']}/?confirm=true").status_code == 204
    assert not Domain.objects.filter(name=name).exists()
    assert not Mailbox.objects.filter(domain__name=name).exists()
    assert not Alias.objects.filter(address__endswith=name).exists()
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"domain.create", "mailbox.create", "alias.create", "domain.delete"} <= actions


def test_limits_are_the_services_limits(reseller_api):
    api, pool = reseller_api
    name = api.post("domains/", {"name": "lim.example", "max_quota_per_mailbox": 100}).json()[
        "name"
    ]
    too_big = api.post(
        "mailboxes/", {"address": f"x@{name}", "password": "long enough pw", "quota_bytes": 101}
    )
    assert too_big.status_code == 400
    assert list(too_big.json()) == ["quota_bytes"]
    for n in (2, 3):
        assert api.post("domains/", {"name": f"lim{n}.example"}).status_code == 201
    fourth = api.post("domains/", {"name": "lim4.example"})
    assert fourth.status_code == 400 and "name" in fourth.json()


@pytest.mark.parametrize(
    "body, field",
    [
        ({"address": "no-at-sign", "password": "long enough pw"}, "address"),
        ({"address": "a@missing.example", "password": "long enough pw"}, "address"),
        ({"address": "a@b_c.example", "password": "long enough pw"}, "address"),
        ({"address": "a@flow.example"}, "password"),
        ({"address": "a@flow.example", "password": "short"}, "password"),
        ({"address": "a@flow.example", "password_hash": "{PLAIN}x"}, "password_hash"),
        (
            {"address": "a@flow.example", "password": "long enough pw", "quota_bytes": -1},
            "quota_bytes",
        ),
        (
            {"address": "a@flow.example", "password": "long enough pw", "quota_bytes": 2**70},
            "quota_bytes",
        ),
        ({"address": 5, "password": "long enough pw", "active": "maybe"}, "active"),
        ({"address": "x" * 400 + "@flow.example", "password": "long enough pw"}, "address"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(reseller_api, body, field):
    api, _pool = reseller_api
    assert api.post("domains/", {"name": "flow.example"}).status_code == 201
    response = api.post("mailboxes/", body)
    assert response.status_code == 400, response.content
    errors = response.json()
    assert field in errors
    assert all(isinstance(m, list) and all(isinstance(s, str) for s in m) for m in errors.values())


def test_duplicates_are_409(reseller_api):
    api, _pool = reseller_api
    assert api.post("domains/", {"name": "dup.example"}).status_code == 201
    again = api.post("domains/", {"name": "DUP.example."})
    assert again.status_code == 409 and "name" in again.json()
    body = {"address": "a@dup.example", "password": "long enough pw"}
    assert api.post("mailboxes/", body).status_code == 201
    clash = api.post("mailboxes/", {**body, "address": "A@Dup.Example"})
    assert clash.status_code == 409 and "address" in clash.json()


def test_reseller_name_clash_is_409(world):
    root = ApiClient(world.super_key)
    assert root.post("resellers/", {"name": "Gamma", "max_domains": 1}).status_code == 201
    assert root.post("resellers/", {"name": "gamma"}).status_code == 409


def test_json_only(world):
    client = ApiClient(world.a.key)
    form = client.client.post(
        "/api/v1/domains/",
        data="name=x.example",
        content_type="application/x-www-form-urlencoded",
        headers=client.headers,
    )
    assert form.status_code == 415
    broken = client.client.post(
        "/api/v1/domains/", data="{", content_type="application/json", headers=client.headers
    )
    assert broken.status_code == 400 and list(broken.json()) == ["detail"]
    html = client.get("domains/", headers={"Accept": "text/html"})
    assert html.status_code == 406


def test_domain_admin_cannot_create_or_delete_domains_but_edits_description(world):
    admin = ApiClient(world.admin1_key)
    mine = world.a.domains[0]
    assert admin.post("domains/", {"name": "new.example"}).status_code == 403
    assert admin.delete(f"domains/{mine.pk}/").status_code == 403
    assert admin.patch(f"domains/{mine.pk}/", {"max_mailboxes": 99}).status_code == 403
    ok = admin.patch(f"domains/{mine.pk}/", {"description": "ours"})
    assert ok.status_code == 200 and ok.json()["description"] == "ours"
    # A PUT of the unchanged representation does not trip over fields the admin may not change.
    current = admin.get(f"domains/{mine.pk}/").json()
    assert admin.put(f"domains/{mine.pk}/", current).status_code == 200


def test_only_superadmins_manage_resellers(world):
    reseller = ApiClient(world.a.key)
    own = reseller.get(f"resellers/{world.a.reseller.pk}/")
    assert own.status_code == 200
    assert (
        reseller.patch(f"resellers/{world.a.reseller.pk}/", {"max_domains": 99}).status_code == 403
    )
    assert reseller.post("resellers/", {"name": "Mine"}).status_code == 403
    root = ApiClient(world.super_key)
    changed = root.patch(f"resellers/{world.a.reseller.pk}/", {"max_domains": 99})
    assert changed.status_code == 200 and changed.json()["max_domains"] == 99
    assert changed.json()["usage"]["domains"] == 3  # two local domains and a backup domain


def test_idempotent_create_replays_the_first_result(reseller_api):
    api, _pool = reseller_api
    api.post("domains/", {"name": "idem.example"})
    body = {"address": "once@idem.example", "password": "long enough pw"}
    headers = {"Idempotency-Key": "create-once-1"}
    first = api.post("mailboxes/", body, headers=headers)
    second = api.post("mailboxes/", body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second["Idempotent-Replayed"] == "true"
    assert Mailbox.objects.filter(address="once@idem.example").count() == 1
    changed = api.post("mailboxes/", {**body, "name": "other"}, headers=headers)
    assert changed.status_code == 422 and "Idempotency-Key" in changed.json()
    # Without the header, the same create is a plain duplicate.
    assert api.post("mailboxes/", body).status_code == 409
    # Another key with the same Idempotency-Key does not see the first key's record.
    other = ApiClient(new_key(User.objects.get(username="flow")))
    fresh = other.post("mailboxes/", {**body, "address": "two@idem.example"}, headers=headers)
    assert fresh.status_code == 201 and fresh.json()["address"] == "two@idem.example"


def test_failed_creates_are_not_remembered(reseller_api):
    api, _pool = reseller_api
    headers = {"Idempotency-Key": "retry-me"}
    body = {"address": "late@later.example", "password": "long enough pw"}
    assert api.post("mailboxes/", body, headers=headers).status_code == 400
    assert not IdempotencyRecord.objects.exists()
    api.post("domains/", {"name": "later.example"})
    assert api.post("mailboxes/", body, headers=headers).status_code == 201


def test_filters_search_and_ordering(world):
    api = ApiClient(world.a.key)
    d0 = world.a.domains[0].name
    rows = api.list_all(f"mailboxes/?domain={d0}")
    assert {r["address"] for r in rows} == {f"user@{d0}", f"other@{d0}"}
    assert [r["address"] for r in api.list_all("mailboxes/?search=other")] == [
        "other@a1.example",
        "other@a2.example",
    ]
    desc = api.list_all("mailboxes/?ordering=-address")
    assert [r["address"] for r in desc] == sorted((r["address"] for r in desc), reverse=True)
    Mailbox.objects.filter(address=f"other@{d0}").update(active=False)
    inactive = api.list_all("mailboxes/?active=false")
    assert [r["address"] for r in inactive] == [f"other@{d0}"]
    assert api.get("mailboxes/?active=maybe").status_code == 400
    assert api.list_all("mailboxes/?domain=b1.example") == []  # another tenant's: nothing
    assert api.list_all("aliases/?recipient=user@a1.example") != []
    assert api.get("mailboxes/?cursor=garbage").status_code == 404


def test_keyset_pagination_walks_every_row_once(db):
    domain = make_domain("many.example")
    Mailbox.objects.bulk_create(
        Mailbox(
            domain=domain,
            local_part=f"u{n:04d}",
            address=f"u{n:04d}@many.example",
            password="{PLAIN}x",
            maildir=f"many.example/u{n:04d}/",
        )
        for n in range(230)
    )
    root = User.objects.create_user(username="r", role="superadmin", is_superuser=True)
    api = ApiClient(new_key(root))
    first = api.get("mailboxes/?page_size=100").json()
    assert len(first["results"]) == 100 and "count" not in first
    rows = api.list_all("mailboxes/?page_size=100")
    addresses = [r["address"] for r in rows]
    assert len(addresses) == 230 == len(set(addresses))
    assert addresses == sorted(addresses)


@pytest.mark.parametrize(
    "endpoint",
    [
        "domains/",
        "mailboxes/",
        "aliases/",
        "alias-domains/",
        "sender-identities/",
        "quota-usage/",
        "resellers/",
        "api-keys/",
        "me/",
    ],
)
def test_no_n_plus_one(db, endpoint, django_assert_max_num_queries):
    """The same handful of queries for 3 rows as for 40."""
    pool = Reseller.objects.create(name="Pool")
    user = User.objects.create_user(username="res", role="reseller", reseller=pool)
    api = ApiClient(new_key(user))

    def grow(n):
        for i in range(n):
            domain = make_domain(f"d{Domain.objects.count()}-{i}.example", reseller=pool)
            box = make_mailbox(f"m@{domain.name}")
            MailboxForward.objects.create(mailbox=box, address="x@elsewhere.example")
            from domains import services

            services.alias_create(actor=None, address=f"a@{domain.name}", recipients=[box.address])
            services.alias_domain_create(actor=None, name=f"al-{domain.name}", target=domain)
            services.sender_grant_create(actor=None, mailbox=box, address=f"s@{domain.name}")
            Reseller.objects.create(name=f"extra {domain.name}")
            new_key(user)

    grow(3)
    api.get(endpoint)  # warm up: last_used_at written
    with django_assert_max_num_queries(6) as few:
        assert api.get(endpoint).status_code == 200
    grow(37)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = api.get(endpoint)
        assert response.status_code == 200


def test_idempotency_records_expire_after_a_day(reseller_api):
    api, _pool = reseller_api
    api.post("domains/", {"name": "old.example"})
    body = {"address": "a@old.example", "password": "long enough pw"}
    headers = {"Idempotency-Key": "k1"}
    assert api.post("mailboxes/", body, headers=headers).status_code == 201
    IdempotencyRecord.objects.update(created=timezone.now() - timedelta(hours=25))
    # Past the window the key means nothing: the same create is now a plain duplicate.
    assert api.post("mailboxes/", body, headers=headers).status_code == 409
    assert not IdempotencyRecord.objects.exists()
