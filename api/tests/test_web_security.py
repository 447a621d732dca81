"""Headers and limits every face answers with: a Content-Security-Policy on every page (and no
inline script or style for it to forbid), no-store where a secret is shown, and the API's JSON
answers for oversized, deeply nested and failing requests."""

import re

import pytest
from django.test import Client

from accounts.models import User
from api.tests.conftest import ApiClient, new_key
from domains import services
from domains.tests.helpers import make_alias, make_domain, make_mailbox

pytestmark = pytest.mark.django_db

INLINE = [
    re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I),  # a script element without src
    re.compile(r"<style", re.I),
    re.compile(r"\son[a-z]+\s*=", re.I),  # onclick= and friends
    re.compile(r"\sstyle\s*=", re.I),
    re.compile(r"javascript:", re.I),
]


@pytest.fixture
def superadmin_browser(db):
    user = User.objects.create_user(
        username="ops", password="pw-123456789", role="superadmin", is_superuser=True
    )
    domain = make_domain("example.com")
    make_mailbox("alice@example.com")
    make_alias("info@example.com", ["alice@example.com"])
    pending = services.domain_create(actor=None, name="pending.example", verified=False)
    client = Client()
    client.force_login(user)
    return client, domain, pending


def pages(domain, pending) -> list[str]:
    return [
        "/",
        f"/domains/{domain.pk}/",
        f"/domains/{pending.pk}/",
        "/account/api-keys/",
        "/api/v1/docs/",
    ]


def test_every_page_has_a_strict_csp_and_no_inline_code(superadmin_browser):
    client, domain, pending = superadmin_browser
    anonymous = [Client().get("/login/"), Client().get("/api/v1/docs/")]
    for response in [client.get(url) for url in pages(domain, pending)] + anonymous:
        assert response.status_code == 200, response
        policy = response["Content-Security-Policy"]
        assert "default-src 'none'" in policy
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
        assert "frame-ancestors 'none'" in policy
        html = response.content.decode()
        for pattern in INLINE:
            assert not pattern.search(html), (response.request["PATH_INFO"], pattern.pattern)


def test_the_docs_page_scripts_and_styles_are_files_from_this_host(superadmin_browser):
    html = Client().get("/api/v1/docs/").content.decode()
    assert re.findall(r'<script src="([^"]+)"', html)[-1].startswith("/api/v1/docs/?script")
    assert "/static/css/swagger-page.css" in html


def test_api_responses_carry_the_csp_too(superadmin_browser):
    assert "default-src 'none'" in Client().get("/api/v1/me/")["Content-Security-Policy"]


def test_a_pending_domain_page_shows_the_record_to_publish(superadmin_browser):
    client, domain, pending = superadmin_browser
    html = client.get(f"/domains/{pending.pk}/").content.decode()
    token = pending.verification_token
    assert f'_mailadmin-verify.pending.example. TXT "mailadmin-verify={token}"' in html
    assert '<span class="badge warn">pending</span>' in client.get("/domains/").content.decode()
    assert 'id="pending"' in html
    assert 'id="pending"' not in client.get(f"/domains/{domain.pk}/").content.decode()


def test_secrets_are_not_stored_by_caches(superadmin_browser):
    client, _, _ = superadmin_browser
    page = client.post("/account/api-keys/", {"name": "deploy"})
    assert "mak_" in page.content.decode()
    assert "no-store" in page["Cache-Control"]
    user = User.objects.get(username="ops")
    api = ApiClient(new_key(user))
    created = api.post("api-keys/", {"name": "ci"})
    assert created.status_code == 201 and created.json()["key"].startswith("mak_")
    assert "no-store" in created["Cache-Control"]


# --- The API speaks JSON, always ----------------------------------------------------------------


@pytest.fixture
def api(db):
    user = User.objects.create_user(username="root", role="superadmin", is_superuser=True)
    return ApiClient(new_key(user))


def test_deeply_nested_json_is_a_json_400(api):
    response = api.client.post(
        "/api/v1/domains/",
        data="[" * 100_000 + "]" * 100_000,
        content_type="application/json",
        headers=api.headers,
    )
    assert response.status_code == 400
    assert "nested deeper" in response.json()["detail"][0]


def test_nesting_within_the_limit_reaches_the_validation(api, settings):
    settings.MAILADMIN_API_MAX_JSON_DEPTH = 3
    ok = api.post("aliases/", {"address": "a@x.example", "recipients": ["b@y.example"]})
    assert ok.status_code == 400 and "address" in ok.json()  # validated, not a parse error
    deep = api.post("aliases/", {"address": "a@x.example", "recipients": [[["b"]]]})
    assert deep.status_code == 400 and "nested deeper than 3" in deep.json()["detail"][0]


def test_an_oversized_body_is_a_json_413(api, settings):
    body = '{"name": "' + "a" * 3_000_000 + '"}'
    response = api.client.post(
        "/api/v1/domains/", data=body, content_type="application/json", headers=api.headers
    )
    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert "larger than 1048576 bytes" in response.json()["detail"][0]
    settings.MAILADMIN_API_MAX_BODY_BYTES = 100
    small = api.post("domains/", {"name": "x" * 200 + ".example"})
    assert small.status_code == 413


def test_an_unexpected_error_is_a_json_500(api, settings, monkeypatch):
    settings.DEBUG = False

    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(services, "domain_create", broken)
    api.client.raise_request_exception = False
    response = api.post("domains/", {"name": "x.example"})
    assert response.status_code == 500
    assert response.json() == {"detail": ["Server error."]}
