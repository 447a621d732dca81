"""The tenant-isolation matrix, generated from the API's URL router: for every registered
endpoint and every route on it (list, retrieve, update, partial update, delete, create and each
custom action), a key of reseller A against reseller B's objects, and a domain admin against the
sibling domain of the same reseller (both directions). Zero leaks: foreign objects are never
listed or found by filters, every object route answers exactly what a missing object gets (404),
creates into foreign domains are refused, and the victim's data is unchanged afterwards.

A new endpoint is picked up automatically; one with a create route fails
`test_every_create_route_has_a_probe` until a probe says how to aim it at a foreign tenant."""

import pytest

from api.models import APIKey
from api.tests.conftest import ApiClient
from api.urls import router, urlpatterns

pytestmark = pytest.mark.postgres

PASSWORD = "a long enough password"
MISSING_ID = 2_000_000_000
OBJECTS_PER_ENDPOINT = 3

PAIRS = {
    "reseller A -> reseller B": ("a.key", "b.key"),
    "reseller B -> reseller A": ("b.key", "a.key"),
    "domain admin -> sibling domain": ("admin1_key", "admin2_key"),
    "sibling domain admin -> domain": ("admin2_key", "admin1_key"),
}
# Endpoints a domain admin legitimately sees nothing of, on either side.
EMPTY_FOR_DOMAIN_ADMINS = {"reseller", "relay-recipient", "user"}


def _key(world, path: str) -> str:
    obj = world
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


def detail_routes(viewset) -> list[tuple[str, str]]:
    """(method, url suffix) for every route that addresses one object."""
    routes = []
    for method, action in (
        ("GET", "retrieve"),
        ("PUT", "update"),
        ("PATCH", "partial_update"),
        ("DELETE", "destroy"),
    ):
        if hasattr(viewset, action):
            routes.append((method, ""))
    for extra in viewset.get_extra_actions():
        if extra.detail:
            for method in extra.mapping:
                routes.append((method.upper(), f"{extra.url_path}/"))
    return routes


def list_routes(viewset) -> list[tuple[str, str]]:
    routes = []
    for extra in viewset.get_extra_actions():
        if not extra.detail:
            for method in extra.mapping:
                routes.append((method.upper(), f"{extra.url_path}/"))
    return routes


# Superadmin-only endpoints (mail hosts and their work): every other caller gets 403 on every
# route, tested in test_superadmin_endpoints_refuse_everyone_else.
SUPERADMIN_ONLY = {"host", "operation", "maildir-archive"}
REGISTRY = [
    (prefix, viewset, basename)
    for prefix, viewset, basename in router.registry
    if basename not in SUPERADMIN_ONLY
]
SUPERADMIN_REGISTRY = [r for r in router.registry if r[2] in SUPERADMIN_ONLY]


def _victim_context(victim: ApiClient) -> dict:
    domains = victim.list_all("domains/")
    boxes = victim.list_all("mailboxes/")
    assert domains and boxes, "the fixture gives every victim domains and mailboxes"
    return {"domain": domains[0]["name"], "mailbox": boxes[0]["address"]}


def _attacker_mailbox(attacker: ApiClient) -> str:
    return attacker.list_all("mailboxes/")[0]["address"]


def _victim_backup(world, domain: str) -> str:
    """The victim's backup domain (relay recipients live there)."""
    return (world.b if domain.startswith("b") else world.a).backup.name


# basename -> probes: (body, statuses that count as refused). Each aims a create at the victim.
def _create_probes(basename: str, ctx: dict, attacker: ApiClient, world) -> list[tuple]:
    d, box = ctx["domain"], ctx["mailbox"]
    victim_reseller = world.b.reseller.pk if ctx["domain"].startswith("b") else world.a.reseller.pk
    return {
        "domain": [({"name": "sneaky-new.example", "reseller": victim_reseller}, {400, 403})],
        "alias-domain": [({"name": "sneaky-alias.example", "target": d}, {400, 403})],
        "mailbox": [({"address": f"sneak@{d}", "password": PASSWORD}, {400})],
        "alias": [
            ({"address": f"sneak@{d}", "recipients": ["x@example.org"]}, {400}),
            ({"address": f"@{d}", "recipients": ["x@example.org"]}, {400}),
        ],
        "sender-identity": [
            ({"mailbox": box, "address": f"x@{d}"}, {400}),
            ({"mailbox": _attacker_mailbox(attacker), "address": f"ceo@{d}"}, {400}),
            ({"mailbox": _attacker_mailbox(attacker), "address": f"@{d}"}, {400}),
        ],
        "relay-recipient": [
            ({"address": f"sneak@{_victim_backup(world, d)}"}, {400}),
            ({"address": f"sneak@{d}"}, {400}),
        ],
        "reseller": [({"name": "Sneaky", "max_domains": 1}, {403})],
        # A domain admin on the victim's domain, or in the victim's pool: refused (a domain
        # admin may create nobody at all).
        "user": [
            ({"username": "sneaky1", "role": "domainadmin", "domains": [d]}, {400, 403}),
            ({"username": "sneaky2", "reseller": victim_reseller}, {400, 403}),
            ({"username": "sneaky3", "role": "reseller", "reseller": victim_reseller}, {400, 403}),
        ],
        # A key is always its creator's, whatever the body says (checked below).
        "api-key": [({"name": "sneaky", "user": 1, "user_id": 1}, {201})],
    }[basename]


def test_every_create_route_has_a_probe(world):
    ctx = {"domain": "b1.example", "mailbox": "user@b1.example"}
    for _prefix, viewset, basename in REGISTRY:
        if hasattr(viewset, "create"):
            try:
                _create_probes(basename, ctx, ApiClient(world.a.key), world)
            except KeyError:
                pytest.fail(f"no isolation probe for creating through /{_prefix}/: add one")


def test_every_non_router_route_is_known():
    named = {
        p.name
        for p in urlpatterns
        if not getattr(p, "name", "").startswith(
            tuple(basename + "-" for _p, _v, basename in REGISTRY + SUPERADMIN_REGISTRY)
        )
    }
    # me/ answers only about the caller (test_me_is_the_callers_own); the schema and docs
    # describe the API and hold no tenant data. The queue's routes are superadmin-only
    # (test_queue_api.py: every tenant key gets 403 on each).
    queue = {"api-queue", "api-queue-host", "api-queue-messages", "api-queue-action"}
    # The audit export is the audit list as CSV, scoped by the same selector (test_audit.py).
    assert named == {
        "api-me",
        "api-schema",
        "api-docs",
        "api-not-found",
        "api-audit-export",
        *queue,
    }


@pytest.mark.parametrize("pair", list(PAIRS), ids=list(PAIRS))
@pytest.mark.parametrize("prefix, viewset, basename", REGISTRY, ids=[r[0] for r in REGISTRY])
def test_isolation_matrix(world, pair, prefix, viewset, basename):
    attacker_key, victim_key = (_key(world, p) for p in PAIRS[pair])
    attacker, victim = ApiClient(attacker_key), ApiClient(victim_key)
    path = f"{prefix}/"

    victim_rows = victim.list_all(path) if hasattr(viewset, "list") else []
    if not victim_rows:
        assert pair.startswith(("domain", "sibling")) and basename in EMPTY_FOR_DOMAIN_ADMINS, (
            f"the fixture should give the victim something at /{path}"
        )
    victim_ids = {row["id"] for row in victim_rows}
    ctx = _victim_context(victim)

    # Never listed, whatever the filters say.
    if hasattr(viewset, "list"):
        for query in (
            "",
            f"?search={ctx['domain']}",
            f"?domain={ctx['domain']}",
            f"?search={ctx['mailbox']}",
            f"?mailbox={ctx['mailbox']}",
        ):
            seen = {row["id"] for row in attacker.list_all(path + query)}
            assert not seen & victim_ids, f"{pair}: /{path}{query} lists foreign objects"

    # Every object route: exactly the answer a missing object gets.
    for method, suffix in detail_routes(viewset):
        missing = attacker.request(method, f"{path}{MISSING_ID}/{suffix}", body={})
        assert missing.status_code == 404, (method, suffix, missing.content)
        for row in victim_rows[:OBJECTS_PER_ENDPOINT]:
            response = attacker.request(method, f"{path}{row['id']}/{suffix}", body=row)
            assert response.status_code == 404, (
                f"{pair}: {method} /{path}{row['id']}/{suffix} -> {response.status_code}"
            )
            assert response.json() == missing.json()

    for method, suffix in list_routes(viewset):
        response = attacker.request(method, f"{path}{suffix}", body={})
        for row in victim_rows:
            assert str(row["id"]) not in response.content.decode()

    # Creates aimed at the victim are refused (or, for keys, land on the attacker).
    if hasattr(viewset, "create"):
        for body, refused in _create_probes(basename, ctx, attacker, world):
            response = attacker.post(path, body)
            assert response.status_code in refused, (pair, body, response.content)
            if response.status_code == 201:
                key = APIKey.objects.get(pk=response.json()["id"])
                owner = attacker.get("me/").json()["id"]
                assert key.user_id == owner
        if basename == "mailbox":
            # The words are the ones a domain that does not exist gets: nothing to learn.
            foreign = attacker.post(path, {"address": f"z@{ctx['domain']}", "password": PASSWORD})
            absent = attacker.post(path, {"address": "z@absent.example", "password": PASSWORD})
            assert foreign.json()["address"] == [
                m.replace("absent.example", ctx["domain"]) for m in absent.json()["address"]
            ]

    # And the victim's side is exactly as it was.
    if hasattr(viewset, "list"):
        assert victim.list_all(path) == victim_rows


def test_me_is_the_callers_own(world):
    admin = ApiClient(world.admin1_key).get("me/").json()
    assert admin["role"] == "domainadmin" and admin["reseller"] is None
    assert admin["usage"]["domains"] == 1 and admin["usage"]["mailboxes"] == 2
    b = ApiClient(world.b.key).get("me/").json()
    assert b["reseller"]["id"] == world.b.reseller.pk


def test_superadmin_endpoints_refuse_everyone_else(world):
    from mailhost.models import ArchivedMaildir, MailHost, Operation

    host = MailHost.objects.create(name="mx-probe")
    op = Operation.objects.create(kind="reload", host=host, state="failed", last_error="boom")
    archive = ArchivedMaildir.objects.create(
        address="gone@a1.example", host=host, path=".archive/x/", purge_after="2099-01-01T00:00Z"
    )
    ids = {"host": host.pk, "operation": op.pk, "maildir-archive": archive.pk}
    for key in (world.a.key, world.admin1_key):
        caller = ApiClient(key)
        for prefix, viewset, basename in SUPERADMIN_REGISTRY:
            routes = [("GET", f"{prefix}/")]
            routes += [(m, f"{prefix}/{suffix}") for m, suffix in list_routes(viewset)]
            routes += [
                (m, f"{prefix}/{ids[basename]}/{suffix}") for m, suffix in detail_routes(viewset)
            ]
            for method, path in routes:
                response = caller.request(method, path, body={})
                assert response.status_code == 403, (method, path, response.status_code)
                assert "boom" not in response.content.decode()
    op.refresh_from_db()
    assert op.state == "failed" and op.attempts == 0
    root = ApiClient(world.super_key)
    listed = root.get("operations/?state=failed").json()
    assert [row["last_error"] for row in listed["results"]] == ["boom"]
    assert root.get("hosts/").json()["results"][0]["name"] == "mx-probe"
    assert root.get("operations/?state=bogus").status_code == 400
    assert root.post(f"operations/{op.pk}/retry/").status_code == 202
    op.refresh_from_db()
    assert op.state == "pending"
