"""/api/v1/users/: the same rules as the panel and the CLI (accounts.services), scoped like every
endpoint, with generated passwords shown once and never stored in the clear."""

import pytest

from accounts.models import User
from api.models import IdempotencyRecord
from api.tests.conftest import ApiClient
from audit.models import AuditEvent
from domains.models import Domain
from domains.tests.helpers import make_domain, row_counts

pytestmark = pytest.mark.postgres
STRONG = "a long enough password 7"


def test_superadmin_creates_a_resellers_login_with_a_generated_password(world):
    root = ApiClient(world.super_key)
    created = root.post(
        "users/", {"username": "acme", "role": "reseller", "reseller": world.b.reseller.pk}
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert (
        created["Cache-Control"].startswith("max-age=0") or "no-store" in created["Cache-Control"]
    )
    assert (body["role"], body["reseller"], body["active"]) == (
        "reseller",
        world.b.reseller.pk,
        True,
    )
    password = body["password"]
    assert password and len(password) >= 20
    user = User.objects.get(username="acme")
    assert user.check_password(password) and password not in user.password
    # Shown once: never again, and nowhere in the audit log.
    assert "password" not in root.get(f"users/{user.pk}/").json()
    assert password not in str(list(AuditEvent.objects.values_list("changes", flat=True)))
    assert not IdempotencyRecord.objects.exists()


def test_a_reseller_manages_its_domain_admins(world):
    api = ApiClient(world.a.key)
    mine = world.a.domains[0].name
    created = api.post(
        "users/",
        {"username": "ana", "email": "ana@example.org", "domains": [mine], "password": STRONG},
    )
    assert created.status_code == 201, created.content
    ana = created.json()
    assert (ana["role"], ana["reseller"], ana["domains"]) == (
        "domainadmin",
        world.a.reseller.pk,
        [mine],
    )
    assert ana["password"] is None  # it sent one
    names = [row["username"] for row in api.list_all("users/")]
    assert names == sorted(names) and {"ana", "res-a", "admin-a1", "admin-a2"} == set(names)
    assert [r["username"] for r in api.list_all("users/?search=AN")] == ["ana"]
    assert [r["username"] for r in api.list_all(f"users/?domain={mine}")] == ["admin-a1", "ana"]

    both = [d.name for d in world.a.domains]
    patched = api.patch(f"users/{ana['id']}/", {"domains": both, "active": False})
    assert patched.status_code == 200, patched.content
    assert patched.json()["domains"] == sorted(both) and patched.json()["active"] is False

    reset = api.post(f"users/{ana['id']}/reset-password/", {})
    assert reset.status_code == 200 and "no-store" in reset["Cache-Control"]
    assert User.objects.get(pk=ana["id"]).check_password(reset.json()["password"])

    # Its own login is visible but not its to manage; the pool's admins are.
    own = world.a.user.pk
    assert api.patch(f"users/{own}/", {"email": "x@example.org"}).status_code == 403
    assert api.delete(f"users/{ana['id']}/").status_code == 204
    assert not User.objects.filter(username="ana").exists()


@pytest.mark.parametrize(
    ("body", "field", "status"),
    [
        ({"username": "weak", "password": "password"}, "password", 400),
        ({"username": "x y"}, "username", 400),
        ({"username": "res-A"}, "username", 409),
        ({"username": "ok", "domains": ["b1.example"]}, "domains", 400),
        ({"username": "ok", "domains": "a1.example"}, "domains", 400),
        ({"username": "ok", "role": "superadmin"}, "detail", 403),
        ({"username": "ok", "role": "wizard"}, "role", 400),
        ({"username": "ok", "email": "nope"}, "email", 400),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(world, body, field, status):
    before = row_counts()
    response = ApiClient(world.a.key).post("users/", body)
    assert response.status_code == status, response.content
    assert field in response.json()
    assert row_counts() == before


def test_a_unicode_domain_is_shown_in_unicode_too(world):
    make_domain("münchen-a.example", reseller=world.a.reseller)
    api = ApiClient(world.a.key)
    created = api.post("users/", {"username": "mu", "domains": ["MÜNCHEN-a.example"]})
    assert created.status_code == 201, created.content
    assert created.json()["domains"] == ["xn--mnchen-a-65a.example"]
    assert created.json()["domains_unicode"] == ["münchen-a.example"]


def test_domain_admins_manage_nobody(world):
    admin = ApiClient(world.admin1_key)
    assert admin.list_all("users/") == []
    assert admin.post("users/", {"username": "x", "password": STRONG}).status_code == 403
    assert admin.get(f"users/{world.admin1.pk}/").status_code == 404


def test_nobody_deletes_or_deactivates_themselves(world):
    root = ApiClient(world.super_key)
    me = world.superadmin.pk
    assert root.delete(f"users/{me}/").status_code == 403
    assert root.patch(f"users/{me}/", {"active": False}).status_code == 400
    assert User.objects.get(pk=me).is_active


def test_a_non_empty_domain_answers_409_with_what_would_go(world):
    api = ApiClient(world.a.key)
    domain = world.a.domains[0]
    before = row_counts()
    refused = api.delete(f"domains/{domain.pk}/")
    assert refused.status_code == 409
    assert refused.json()["contents"] == {
        "mailboxes": 2,
        "aliases": 2,
        "alias_domains": 1,
        "sender_grants": 1,
        "relay_recipients": 0,
    }
    assert "confirm=true" in refused.json()["detail"][0]
    assert api.delete(f"domains/{domain.pk}/?confirm=no").status_code == 409
    assert row_counts() == before
    assert api.delete(f"domains/{domain.pk}/?confirm=true").status_code == 204
    assert not Domain.objects.filter(pk=domain.pk).exists()
    empty = make_domain("empty-a.example", reseller=world.a.reseller)
    assert api.delete(f"domains/{empty.pk}/").status_code == 204


def test_a_local_domain_with_alias_domains_stays_local(world):
    root = ApiClient(world.super_key)
    domain = make_domain("lonely.example")
    root.post("alias-domains/", {"name": "lonely-alias.example", "target": "lonely.example"})
    response = root.patch(
        f"domains/{domain.pk}/", {"kind": "relay", "transport": "smtp:[mx.example.net]:25"}
    )
    assert response.status_code == 400 and "alias domains" in response.json()["kind"][0]
    assert Domain.objects.get(pk=domain.pk).kind == "local"


def test_the_documented_examples_work_as_they_are(world):
    """The docs page sends the schema's examples: each must be accepted, not refused."""
    schema = ApiClient(world.super_key).get("schema/?format=json").json()

    def examples(path: str, method: str) -> list[dict]:
        body = schema["paths"][path][method]["requestBody"]["content"]["application/json"]
        found = [e["value"] for e in body.get("examples", {}).values()]
        assert found, f"{method} {path} has no example"
        return found

    root = ApiClient(world.super_key)
    for value in examples("/api/v1/users/", "post"):
        created = root.post("users/", value)
        assert created.status_code == 201, (value, created.content)
    target = created.json()["id"]
    for value in examples("/api/v1/users/{id}/", "patch"):
        assert root.patch(f"users/{target}/", value).status_code == 200, value
    for value in examples("/api/v1/users/{id}/reset-password/", "post"):
        assert root.post(f"users/{target}/reset-password/", value).status_code == 200, value
