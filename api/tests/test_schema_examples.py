"""Every request example in the OpenAPI schema works when tried: each one is sent, as the docs
page's "Try it out" would send it, to a database holding the objects it names, and answers 2xx.
An operation with a body and no example would leave Swagger UI to invent one from the types
(int64 maxima, `reseller: 0`), so every such operation must carry at least one."""

import json

import pytest
from django.db import transaction

from accounts.models import Reseller, User
from api.tests.conftest import ApiClient, new_key
from domains import services
from domains.tests.helpers import make_alias, make_domain, make_mailbox
from mailhost.models import MailHost

pytestmark = pytest.mark.postgres


@pytest.fixture
def docs_world(db):
    """The objects the examples name: example.com with bob@ and info@, an alias domain, a
    backup domain, a reseller and a domain admin; the path ids point at them."""
    root = User.objects.create_user(username="root", role="superadmin", is_superuser=True)
    domain = make_domain("example.com")
    bob = make_mailbox("bob@example.com", quota_bytes=1024**3)
    alias = make_alias("info@example.com", [bob.address])
    alias_domain = services.alias_domain_create(actor=None, name="example.org", target=domain)
    make_domain("backup.example", kind="backup")
    reseller = Reseller.objects.create(name="Existing Reseller")
    # Panel users (`/users/{id}/...`, where the API has them): a domain admin of example.com.
    admin = User.objects.create_user(username="existing-admin", role="domainadmin")
    admin.managed_domains.add(domain)
    # A mail host (`/hosts/{id}/...`, `/queue/hosts/{id}/...`): an operation is recorded for it.
    host = MailHost.objects.create(name="mail1")
    ids = {
        "hosts": host.pk,
        "queue": host.pk,
        "users": admin.pk,
        "domains": domain.pk,
        "mailboxes": bob.pk,
        "aliases": alias.pk,
        "alias-domains": alias_domain.pk,
        "resellers": reseller.pk,
    }
    return ApiClient(new_key(root)), ids


def _request_examples(schema: dict):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            body = operation.get("requestBody")
            if not body:
                continue
            media = body["content"].get("application/json", {})
            yield path, method, media.get("examples", {})


def test_every_request_example_is_accepted(docs_world):
    api, ids = docs_world
    response = api.get("/api/v1/schema/?format=json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    tried, missing, refused = 0, [], []
    for path, method, examples in _request_examples(schema):
        if not examples:
            missing.append(f"{method.upper()} {path}")
        resource = path.removeprefix("/api/v1/").split("/")[0]
        url = path.replace("{id}", str(ids.get(resource, 0)))
        for name, example in examples.items():
            with transaction.atomic():  # each example alone, on the same starting data
                answer = api.request(method.upper(), url, example["value"])
                transaction.set_rollback(True)
            tried += 1
            if not 200 <= answer.status_code < 300:
                refused.append((method.upper(), path, name, answer.status_code, answer.content))
    assert not missing, f"operations with a body but no example: {missing}"
    assert not refused, refused
    assert tried >= 20
