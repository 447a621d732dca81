"""Fixtures for the API tests: two resellers with everything a tenant has, domain admins on two
sibling domains, and a key for each."""

import json
from dataclasses import dataclass, field

import pytest
from django.core.cache import cache
from django.test import Client

from accounts.models import Reseller, User
from api.services import api_key_create
from domains import services
from domains.models import QuotaUsage
from domains.tests.helpers import make_alias, make_domain, make_mailbox

API = "/api/v1/"


@pytest.fixture(autouse=True)
def _api_settings(settings):
    """Cheap hashing (behaviour, not hardness) and no throttling unless a test asks for it."""
    settings.MAIL_ARGON2_TIME_COST = 1
    settings.MAIL_ARGON2_MEMORY_KIB = 256
    settings.MAIL_ARGON2_PARALLELISM = 1
    settings.MAIL_BCRYPT_ROUNDS = 4
    settings.MAILADMIN_API_RATE = None
    cache.clear()
    yield
    cache.clear()


class ApiClient:
    """A JSON client that authenticates with an API key."""

    def __init__(self, key: str | None = None, remote_addr: str = "127.0.0.1", **headers):
        self.client = Client(REMOTE_ADDR=remote_addr)
        self.headers = dict(headers)
        if key:
            self.headers.setdefault("Authorization", f"Bearer {key}")

    def request(self, method: str, path: str, body=None, headers=None):
        if path.startswith("http"):  # a `next` link
            path = "/" + path.split("/", 3)[3]
        url = path if path.startswith("/") else API + path
        kwargs = {"headers": {**self.headers, **(headers or {})}}
        if body is not None and method.upper() not in ("GET", "HEAD"):
            kwargs["data"] = json.dumps(body)
            kwargs["content_type"] = "application/json"
        return getattr(self.client, method.lower())(url, **kwargs)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body if body is not None else {}, **kw)

    def patch(self, path, body, **kw):
        return self.request("PATCH", path, body, **kw)

    def put(self, path, body, **kw):
        return self.request("PUT", path, body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def list_all(self, path: str) -> list[dict]:
        """Every row of a list endpoint, following the cursor."""
        rows: list[dict] = []
        url = path
        while url:
            response = self.get(url)
            assert response.status_code == 200, (url, response.status_code, response.content)
            page = response.json()
            rows.extend(page["results"])
            url = page["next"]
        return rows


def new_key(user, **kwargs) -> str:
    return api_key_create(actor=None, user=user, **kwargs)[1]


@dataclass
class Tenant:
    reseller: Reseller
    user: User
    key: str
    domains: list = field(default_factory=list)  # the two local domains
    backup: object = None


def build_tenant(tag: str) -> Tenant:
    """A reseller with two domains, each with mailboxes, an alias, a catch-all, an alias domain,
    a sender grant and quota usage, and a backup domain with a relay recipient: one of every kind
    of row the API serves."""
    pool = Reseller.objects.create(name=f"Reseller {tag}")
    user = User.objects.create_user(username=f"res-{tag}", role="reseller", reseller=pool)
    tenant = Tenant(reseller=pool, user=user, key=new_key(user, name=f"{tag} main"))
    for n in (1, 2):
        domain = make_domain(f"{tag}{n}.example", reseller=pool)
        tenant.domains.append(domain)
        box = make_mailbox(f"user@{domain.name}")
        make_mailbox(f"other@{domain.name}")
        make_alias(f"info@{domain.name}", [box.address])
        make_alias(f"@{domain.name}", [box.address])
        services.alias_domain_create(actor=None, name=f"{tag}{n}-alias.example", target=domain)
        services.sender_grant_create(actor=None, mailbox=box, address=f"sales@{domain.name}")
        QuotaUsage.objects.filter(mailbox=box).delete()
        QuotaUsage.objects.create(mailbox=box, username=box.address, bytes=1234, messages=5)
        # Something in the trash (a deleted mailbox), seen by the reseller and the domain admin.
        services.mailbox_delete(actor=None, mailbox=make_mailbox(f"gone@{domain.name}"))
    tenant.backup = make_domain(f"{tag}9-backup.example", reseller=pool, kind="backup")
    services.relay_recipient_create(actor=None, address=f"listed@{tenant.backup.name}")
    return tenant


@dataclass
class World:
    superadmin: User
    super_key: str
    a: Tenant
    b: Tenant
    admin1: User  # domain admin of a.domains[0]
    admin1_key: str
    admin2: User  # domain admin of a.domains[1], the sibling
    admin2_key: str


@pytest.fixture
def world(db) -> World:
    root = User.objects.create_user(
        username="root", role="superadmin", is_superuser=True, is_staff=True
    )
    a, b = build_tenant("a"), build_tenant("b")
    # Reseller A's domain admins (of its pool, as a reseller makes them), on sibling domains.
    admin1 = User.objects.create_user(username="admin-a1", role="domainadmin", reseller=a.reseller)
    admin1.managed_domains.add(a.domains[0])
    admin2 = User.objects.create_user(username="admin-a2", role="domainadmin", reseller=a.reseller)
    admin2.managed_domains.add(a.domains[1])
    return World(
        superadmin=root,
        super_key=new_key(root, name="root"),
        a=a,
        b=b,
        admin1=admin1,
        admin1_key=new_key(admin1),
        admin2=admin2,
        admin2_key=new_key(admin2),
    )
