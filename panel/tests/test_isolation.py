"""The tenant-isolation matrix for the web panel, generated from the URL patterns: every page and
every POST, as reseller A against reseller B's objects (and back), and as a domain admin against
the sibling domain of the same reseller (and back). An object outside the caller's reach answers
404 exactly like a missing one, pages that list or search never show a foreign name, and the
victim's rows are unchanged afterwards.

Every named URL of the site must have a probe below: a new page without one fails
`test_every_url_has_a_probe` until someone says how to aim it at a foreign tenant."""

from dataclasses import dataclass

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from accounts.models import Reseller, User
from api.models import APIKey
from api.services import api_key_create
from domains import services
from domains.models import (
    Alias,
    AliasDomain,
    AppPassword,
    Domain,
    Mailbox,
    SenderGrant,
    TrashItem,
)
from domains.tests.helpers import make_alias, make_domain, make_mailbox

pytestmark = pytest.mark.django_db
MISSING = 2_000_000_000

# url name -> which of the victim's objects its <pk> names (None: the page names no object).
PROBES = {
    "dashboard": None,
    "domain_list": None,
    "domain_create": None,
    "reseller_list": None,
    "reseller_create": None,
    "audit_log": None,
    "audit_export": None,
    "api_keys": None,
    "trash_list": None,
    "trash_restore": "trash",
    "trash_purge": "trash",
    "domain_detail": "domain",
    "domain_edit": "domain",
    "domain_toggle": "domain",
    "domain_verify": "domain",
    "domain_delete": "domain",
    "mailbox_create": "domain",
    "alias_create": "domain",
    "alias_domain_create": "domain",
    "alias_domain_delete": "alias_domain",
    "mailbox_edit": "mailbox",
    "mailbox_password": "mailbox",
    "mailbox_toggle": "mailbox",
    "mailbox_delete": "mailbox",
    "mailbox_rename": "mailbox",
    "sender_grant_create": "mailbox",
    "sender_grant_delete": "grant",
    "alias_edit": "alias",
    "alias_toggle": "alias",
    "alias_delete": "alias",
    "reseller_edit": "reseller",
    "reseller_toggle": "reseller",
    "api_key_revoke": "api_key",
    "user_list": None,
    "user_create": None,
    "user_edit": "staff",
    "user_password": "staff",
    "user_toggle": "staff",
    "user_delete": "staff",
    "mailbox_app_passwords": "mailbox",
    "app_password_delete": "app_password",
    "two_factor": None,
    "two_factor_policy": None,
    "account_password": None,
}
# Superadmin-only pages (mail hosts and their operations): every other role gets the 404 a
# missing page gets (test_superadmin_pages_are_404_for_everyone_else).
SUPERADMIN_PAGES = {
    "host_list",
    "host_reload_all",
    "host_reload",
    "operation_list",
    "operation_retry",
    "archive_restore",
    "queue_overview",
    "queue_host",
    "queue_messages",
    "queue_action",
}
# Named URLs that hold no tenant data: logging in and out, the owner's own pages (they act only
# on the logged-in mailbox, test_owner.py), the language switch and the health check.
NOT_TENANT_PAGES = {
    "login",
    "logout",
    "owner_login",
    "owner_logout",
    "owner_home",
    "owner_password",
    "owner_app_passwords",  # the owner's own mailbox only (api/tests/test_app_passwords.py)
    "owner_app_password_delete",
    "login_code",  # the second login step: the session's own pending user only
    "two_factor_recovery",  # POST, the caller's own devices only
    "two_factor_disable",
    "set_language",
    "healthz",
}
# A body that would change something if the view let it through.
POST_BODY = {
    "confirm": "on",
    "active": "",
    "description": "hijacked",
    "name": "hijacked",
    "address": "hijack",
    "password": "hijacked password 1",
    "recipients": "hijack@elsewhere.example",
    "forward_to": "hijack@elsewhere.example",
    "max_domains": "1",
    "form_token": "t" * 32,
}


def _body(response) -> str:
    """The page, or a streamed export (the audit CSV) read to its end."""
    if response.streaming:
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


def site_patterns(resolver=None, prefix="") -> list[tuple[str, str]]:
    """(route, name) of every named web URL (the API has its own matrix)."""
    resolver = resolver or get_resolver()
    found = []
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            if route.startswith("api/v1/"):
                continue
            found += site_patterns(entry, route)
        elif isinstance(entry, URLPattern) and entry.name:
            found.append((route, entry.name))
    return found


@dataclass
class Tenant:
    user: User
    domain: Domain
    mailbox: Mailbox
    alias: Alias
    alias_domain: AliasDomain
    grant: SenderGrant
    reseller: Reseller
    api_key: APIKey
    staff: User  # a domain admin of the victim's pool, on this domain
    app_password: AppPassword | None = None
    trash: TrashItem | None = None  # a deleted mailbox of the domain

    def pk_of(self, kind: str) -> int:
        return getattr(self, kind).pk


def build(reseller: Reseller, user: User, name: str) -> Tenant:
    domain = make_domain(name, reseller=reseller)
    mailbox = make_mailbox(f"box@{name}")
    make_mailbox(f"other@{name}")
    alias = make_alias(f"team@{name}", [mailbox.address])
    alias_domain = services.alias_domain_create(actor=None, name=f"alias-{name}", target=domain)
    grant = services.sender_grant_create(actor=None, mailbox=mailbox, address=f"sales@{name}")
    key, _ = api_key_create(actor=None, user=user)
    staff = User.objects.create_user(
        username=f"staff-{name}", password="staff password 1", role="domainadmin", reseller=reseller
    )
    staff.managed_domains.add(domain)
    app_password, _ = services.app_password_create(
        actor=None, mailbox=mailbox, name="phone", protocol="imap"
    )
    services.mailbox_delete(actor=None, mailbox=make_mailbox(f"trashed@{name}"))
    trash = TrashItem.objects.get(name=f"trashed@{name}")
    return Tenant(
        user, domain, mailbox, alias, alias_domain, grant, reseller, key, staff, app_password, trash
    )


@pytest.fixture
def world():
    tenants = {}
    for tag in ("a", "b"):
        pool = Reseller.objects.create(name=f"Pool {tag}")
        user = User.objects.create_user(username=f"res-{tag}", role="reseller", reseller=pool)
        tenants[tag] = build(pool, user, f"{tag}1.example")
        tenants[tag + "2"] = build(pool, user, f"{tag}2.example")
    for n, tag in ((1, "a"), (2, "a2")):
        admin = User.objects.create_user(username=f"admin-{n}", role="domainadmin")
        admin.managed_domains.add(tenants[tag].domain)
        key, _ = api_key_create(actor=None, user=admin)
        tenants[f"admin{n}"] = Tenant(
            admin,
            *[
                getattr(tenants[tag], f)
                for f in ("domain", "mailbox", "alias", "alias_domain", "grant", "reseller")
            ],
            key,
            tenants[tag].staff,
            tenants[tag].app_password,
            tenants[tag].trash,
        )
    return tenants


PAIRS = {
    "reseller A -> reseller B": ("a", "b"),
    "reseller B -> reseller A": ("b", "a"),
    "domain admin -> sibling domain": ("admin1", "admin2"),
    "sibling domain admin -> domain": ("admin2", "admin1"),
}


def snapshot(t: Tenant) -> dict:
    """Everything of the victim's a forged request could change."""
    domain = Domain.objects.get(pk=t.domain.pk)
    return {
        "domain": (domain.active, domain.description, domain.max_mailboxes, domain.reseller_id),
        "mailboxes": sorted(
            Mailbox.objects.filter(domain=domain).values_list(
                "address", "active", "password", "name", "keep_copy"
            )
        ),
        "aliases": sorted(
            (a.address, a.active, tuple(r.address for r in a.recipients.all()))
            for a in Alias.objects.filter(domain=domain)
        ),
        "alias_domains": sorted(
            AliasDomain.objects.filter(target=domain).values_list("name", "active")
        ),
        "grants": sorted(
            SenderGrant.objects.filter(mailbox__domain=domain).values_list("pk", flat=True)
        ),
        "reseller": Reseller.objects.filter(pk=t.reseller.pk).values_list(
            "name", "active", "max_domains"
        )[0],
        "key": APIKey.objects.get(pk=t.api_key.pk).revoked_at,
        "staff": (
            User.objects.filter(pk=t.staff.pk).values_list("is_active", "email", "password")[0],
            sorted(t.staff.managed_domains.values_list("name", flat=True)),
        ),
        "app_passwords": sorted(
            AppPassword.objects.filter(mailbox__domain=domain).values_list("pk", "secret_hash")
        ),
        "trash": sorted(TrashItem.objects.filter(domain_id=domain.pk).values_list("pk", "name")),
    }


def test_every_url_has_a_probe():
    names = {name for _route, name in site_patterns()}
    unknown = names - set(PROBES) - NOT_TENANT_PAGES - SUPERADMIN_PAGES
    assert not unknown, f"web URLs without an isolation probe: {sorted(unknown)}: add them"
    assert not set(PROBES) - names, "probes for URLs that are gone"
    assert not SUPERADMIN_PAGES - names, "superadmin pages that are gone"


def _url(route: str, pk: int | None) -> str:
    return "/" + (route.replace("<int:pk>", str(pk)) if pk is not None else route)


@pytest.mark.parametrize("pair", list(PAIRS), ids=list(PAIRS))
def test_isolation_matrix(world, pair):
    attacker_tag, victim_tag = PAIRS[pair]
    attacker, victim = world[attacker_tag], world[victim_tag]
    client = Client()
    client.force_login(attacker.user)
    before = snapshot(victim)
    foreign_names = [
        victim.staff.username,
        victim.domain.name,
        victim.mailbox.address,
        f"other@{victim.domain.name}",
        victim.alias.address,
        victim.alias_domain.name,
        victim.trash.name,
    ]
    victim_urls = [
        f'"/domains/{victim.domain.pk}/',
        f'"/mailboxes/{victim.mailbox.pk}/',
        f'"/aliases/{victim.alias.pk}/',
    ]
    probed = 0
    for route, name in site_patterns():
        kind = PROBES.get(name, "skip")
        if kind == "skip":
            continue
        if kind is None:
            for term in ("", victim.domain.name, victim.mailbox.address):
                for param in ("q", "object"):
                    query = f"?{param}={term}" if term else ""
                    page = _body(client.get(_url(route, None) + query))
                    for foreign in foreign_names + victim_urls:
                        # A search box echoes its own term; anything else is a leak.
                        if foreign not in term:
                            assert foreign not in page, f"{pair}: /{route}{query} shows {foreign}"
            continue
        foreign_url = _url(route, victim.pk_of(kind))
        missing_url = _url(route, MISSING)
        for method in ("get", "post"):
            send = getattr(client, method)
            body = POST_BODY if method == "post" else None
            missing = send(missing_url, body) if body else send(missing_url)
            foreign = send(foreign_url, body) if body else send(foreign_url)
            if missing.status_code == 405:  # a POST-only action: GET is refused alike
                assert foreign.status_code == 405, (pair, method, foreign_url)
                continue
            assert missing.status_code == 404, (pair, method, missing_url, missing.status_code)
            assert foreign.status_code == 404, (pair, method, foreign_url, foreign.status_code)
            assert foreign.content == missing.content
            probed += 1
    assert probed >= 2 * len([k for k in PROBES.values() if k]) - 20
    # Creates aimed at the victim's pool land in the attacker's own, or are refused.
    client.post(
        "/domains/new/",
        {
            "name": "planted.example",
            "reseller": victim.reseller.pk,
            "form_token": "p" * 32,
            "kind": "local",
        },
    )
    assert not Domain.objects.filter(name="planted.example", reseller=victim.reseller).exists()
    assert snapshot(victim) == before


def test_the_probes_reach_the_attackers_own_objects(world):
    """The matrix would pass on URLs that 404 for everyone: each probed page opens for the
    owner of the object (or refuses only a method)."""
    own = world["a"]
    client = Client()
    client.force_login(own.user)
    for route, name in site_patterns():
        kind = PROBES.get(name, "skip")
        if kind in (None, "skip") or name in ("reseller_edit", "reseller_toggle"):
            continue
        response = client.get(_url(route, own.pk_of(kind)))
        assert response.status_code in (200, 405), (name, response.status_code)


def test_superadmin_pages_are_404_for_everyone_else(world, superadmin):
    from mailhost.models import ArchivedMaildir, MailHost, Operation

    host = MailHost.objects.create(name="mx-probe")
    op = Operation.objects.create(kind="reload", host=host, state="failed", last_error="boom")
    archive = ArchivedMaildir.objects.create(
        address="gone@a1.example", host=host, path=".archive/x/", purge_after="2099-01-01T00:00Z"
    )
    pk_for = {"host_reload": host.pk, "operation_retry": op.pk, "archive_restore": archive.pk}
    pk_for |= dict.fromkeys(("queue_host", "queue_messages", "queue_action"), host.pk)
    routes = [(route, name) for route, name in site_patterns() if name in SUPERADMIN_PAGES]
    for tag in ("a", "admin1"):
        client = Client()
        client.force_login(world[tag].user)
        for route, name in routes:
            url = _url(route, pk_for.get(name))
            for method in ("get", "post"):
                response = getattr(client, method)(url)
                assert response.status_code == 404, (tag, method, url, response.status_code)
    op.refresh_from_db()
    assert op.state == "failed"  # nothing was retried
    admin = Client()
    admin.force_login(superadmin)
    page = admin.get("/operations/?state=failed").content.decode()
    assert "boom" in page and f'"/operations/{op.pk}/retry/"' in page
    assert "mx-probe" in admin.get("/hosts/").content.decode()
