"""The audit trail (issue 11): a change through each channel (web, API, CLI, system) records the
actor, channel, source address, API key and each field's before and after; no event anywhere holds
a hash or a secret; each caller's list (panel, API, CSV) holds only its tenants' events, whoever
made them; events past the retention are purged by the service and its beat task."""

import csv
import getpass
import io
import json
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from accounts.models import Reseller, User
from api.tests.conftest import ApiClient, new_key
from audit import diff
from audit.models import AuditEvent
from audit.origin import Origin
from audit.services import audit_purge
from domains import services, verification
from domains.models import Domain, Mailbox
from domains.tests.helpers import PASSWORD, make_domain, make_mailbox
from panel.tests.helpers import browser, text

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]
NEW_PASSWORD = "a brand new password 42"


@pytest.fixture(autouse=True)
def _cheap(settings):
    settings.MAIL_ARGON2_TIME_COST = 1
    settings.MAIL_ARGON2_MEMORY_KIB = 256
    settings.MAIL_ARGON2_PARALLELISM = 1
    settings.MAILADMIN_API_RATE = None


@pytest.fixture
def tenants(superadmin):
    """Two resellers, each with a domain holding a mailbox, a reseller login and a key; a domain
    admin of a second domain of reseller A."""
    out = {}
    for tag in ("a", "b"):
        pool = Reseller.objects.create(name=f"Pool {tag}")
        user = User.objects.create_user(username=f"res-{tag}", role="reseller", reseller=pool)
        domain = make_domain(f"{tag}.example", reseller=pool)
        box = make_mailbox(f"user@{tag}.example")
        out[tag] = {"pool": pool, "user": user, "domain": domain, "box": box}
    sibling = make_domain("a2.example", reseller=out["a"]["pool"])
    make_mailbox("user@a2.example")
    admin = User.objects.create_user(
        username="admin-a2", role="domainadmin", reseller=out["a"]["pool"]
    )
    admin.managed_domains.add(sibling)
    out["admin"] = {"user": admin, "domain": sibling}
    return out


def last(action: str) -> AuditEvent:
    return AuditEvent.objects.filter(action=action).latest("id")


# --- Each channel ---------------------------------------------------------------------------------


def test_a_web_change_records_the_browser_address_and_the_diff(tenants):
    res = tenants["a"]["user"]
    box = tenants["a"]["box"]
    client = Client(REMOTE_ADDR="198.51.100.7", HTTP_USER_AGENT="Firefox/140")
    client.force_login(res)
    assert client.post(f"/mailboxes/{box.pk}/toggle/", {"active": "0"}).status_code == 302
    event = last("mailbox.update")
    assert (event.actor, event.actor_label, event.channel) == (res, "res-a", "web")
    assert (event.source_ip, event.user_agent) == ("198.51.100.7", "Firefox/140")
    assert (event.api_key_id, event.api_key_label) == (None, "")
    assert event.changes == {"active": {"before": True, "after": False}}
    assert (event.reseller_id, event.domain_id) == (tenants["a"]["pool"].pk, box.domain_id)


def test_an_api_change_records_the_key_and_the_diff(tenants):
    res = tenants["a"]["user"]
    box = tenants["a"]["box"]
    key = new_key(res, name="billing sync")
    api = ApiClient(key, remote_addr="203.0.113.9")
    response = api.patch(f"mailboxes/{box.pk}/", {"quota_bytes": 2 * 1024**3, "name": "Bob"})
    assert response.status_code == 200, response.content
    event = last("mailbox.update")
    row = res.api_keys.get(name="billing sync")
    assert (event.actor, event.channel, event.source_ip) == (res, "api", "203.0.113.9")
    assert (event.api_key_id, event.api_key_label) == (
        row.pk,
        f"{row.display_prefix} (billing sync)",
    )
    assert key not in json.dumps(event.changes) and key not in event.api_key_label
    assert event.changes == {
        "quota_bytes": {"before": box.quota_bytes, "after": 2 * 1024**3},
        "name": {"before": "", "after": "Bob"},
    }


def test_a_cli_change_records_the_os_user_and_the_diff(tenants):
    call_command("user", "deactivate", "admin-a2", stdout=io.StringIO())
    event = last("user.update")
    assert (event.actor, event.channel, event.source_ip) == (None, "cli", None)
    assert event.actor_label == getpass.getuser()
    assert event.changes == {"active": {"before": True, "after": False}}
    # The admin is reseller A's: A reads the event, whoever made it.
    assert event.reseller_id == tenants["a"]["pool"].pk


def test_a_system_change_is_the_system_channel(tenants, dns_zone):
    """Beat's verification task (eager Celery): no user, no address."""
    from mailhost.tasks import verify_pending_domains

    pending = services.domain_create(actor=tenants["b"]["user"], name="pending-b.example")
    dns_zone.publish(
        verification.record_name(pending.name),
        verification.record_value(pending.verification_token),
    )
    assert verify_pending_domains.apply().get() == {
        "verified": ["pending-b.example"],
        "pending": [],
    }
    event = last("domain.verify")
    assert (event.actor, event.actor_label, event.channel, event.source_ip) == (
        None,
        "",
        "system",
        None,
    )
    after = Domain.objects.get(pk=pending.pk).verified_at.isoformat()
    assert event.changes["verified_at"] == {"before": None, "after": after}
    assert (event.reseller_id, event.domain_id) == (tenants["b"]["pool"].pk, pending.pk)


def test_create_and_delete_carry_the_whole_object(tenants):
    res = tenants["a"]["user"]
    alias = services.alias_create(
        actor=res, address="team@a.example", recipients=["user@a.example"], origin=Origin.cli()
    )
    created = last("alias.create").changes
    assert created["address"] == {"before": None, "after": "team@a.example"}
    assert created["recipients"] == {"before": None, "after": ["user@a.example"]}
    services.alias_delete(actor=res, alias=alias)
    deleted = last("alias.delete").changes
    assert deleted["address"] == {"before": "team@a.example", "after": None}
    assert deleted["recipients"] == {"before": ["user@a.example"], "after": None}


# --- Never a secret ---------------------------------------------------------------------------


def test_no_event_holds_a_hash_or_a_password_whatever_the_channel(tenants, superadmin, monkeypatch):
    box = tenants["a"]["box"]
    # web: an admin sets it; the owner changes it with the current one
    admin = browser(superadmin)
    admin.post(f"/mailboxes/{box.pk}/password/", {"password": NEW_PASSWORD})
    owner = Client()
    owner.post("/mailbox/login/", {"address": box.address, "password": NEW_PASSWORD})
    owner.post(
        "/mailbox/password/",
        {"current_password": NEW_PASSWORD, "password": PASSWORD, "password_again": PASSWORD},
    )
    # API: a password, then an imported hash
    api = ApiClient(new_key(superadmin))
    assert api.patch(f"mailboxes/{box.pk}/", {"password": NEW_PASSWORD}).status_code == 200
    imported = "{SHA512-CRYPT}$6$saltsalt$" + "x" * 86
    api.patch(f"mailboxes/{box.pk}/", {"password_hash": imported})
    # CLI: a panel user's password; an API key
    monkeypatch.setattr("sys.stdin", io.StringIO(NEW_PASSWORD + "\n"))
    call_command("user", "set-password", "res-a", "--password-stdin", stdout=io.StringIO())
    out = io.StringIO()
    call_command("apikey", "create", "--user", "res-a", stdout=out, stderr=io.StringIO())
    full_key = out.getvalue().strip()
    # app password (system)
    _row, app_secret = services.app_password_create(
        actor=None, mailbox=box, name="phone", protocol="imap"
    )

    events = list(AuditEvent.objects.values_list("action", "channel", "changes"))
    dumped = json.dumps([e[2] for e in events])
    stored = Mailbox.objects.get(pk=box.pk).password
    for secret in (NEW_PASSWORD, PASSWORD, stored, imported, "$argon2", "{ARGON2ID}", "$6$"):
        assert secret not in dumped, secret
    for secret in (full_key, app_secret, User.objects.get(username="res-a").password):
        assert secret not in dumped
    passwords = [(a, c) for a, c, ch in events if a in ("mailbox.password", "user.password")]
    assert {c for _a, c in passwords} >= {"web", "api", "cli"}
    for action, _channel, changes in events:
        if action in ("mailbox.password", "user.password"):
            assert changes["password"] == {"before": "(secret)", "after": "(changed)"}


def test_the_last_guard_scrubs_whatever_a_caller_passes():
    scrubbed = diff.scrub(
        {
            "password": {"before": "{ARGON2ID}$argon2id$v=19$x", "after": "{ARGON2ID}$y"},
            "nested": {"secret_hash": "abc123", "name": "kept"},
            "token": "raw",
        }
    )
    assert scrubbed == {
        "password": {"before": "(secret)", "after": "(changed)"},
        "nested": {"secret_hash": "(secret)", "name": "kept"},
        "token": "(secret)",
    }


# --- Scope ------------------------------------------------------------------------------------


def _api_ids(key: str, query: str = "") -> set[int]:
    return {row["id"] for row in ApiClient(key).list_all("audit-events/" + query)}


def test_each_caller_reads_only_its_tenants_events(tenants, superadmin):
    a, b = tenants["a"], tenants["b"]
    # A superadmin changes reseller A's domain and pool: A's events, not B's.
    services.domain_update(actor=superadmin, domain=a["domain"], description="by root")
    services.mailbox_delete(actor=superadmin, mailbox=a["box"])  # the object goes; the event stays
    root_change = last("domain.update")
    gone = last("mailbox.delete")

    by_scope = {
        "a": set(AuditEvent.objects.filter(reseller_id=a["pool"].pk).values_list("pk", flat=True)),
        "b": set(AuditEvent.objects.filter(reseller_id=b["pool"].pk).values_list("pk", flat=True)),
    }
    assert by_scope["a"] and by_scope["b"] and not by_scope["a"] & by_scope["b"]
    key_a, key_b = new_key(a["user"]), new_key(b["user"])
    key_admin = new_key(tenants["admin"]["user"])
    seen_a, seen_b = _api_ids(key_a), _api_ids(key_b)
    # Keys made after the snapshot are A's and B's own events too.
    assert by_scope["a"] <= seen_a and {root_change.pk, gone.pk} <= seen_a
    assert by_scope["b"] <= seen_b and not seen_a & seen_b
    assert all(e.reseller_id == a["pool"].pk for e in AuditEvent.objects.filter(pk__in=seen_a))
    # The domain admin: its domain's events only (and its own doings).
    seen_admin = _api_ids(key_admin)
    domains = set(AuditEvent.objects.filter(pk__in=seen_admin).values_list("domain_id", flat=True))
    assert seen_admin and domains == {tenants["admin"]["domain"].pk}
    # Filters never reach past the scope; a foreign event is a 404 like a missing one.
    assert not _api_ids(key_b, "?domain=a.example") and not _api_ids(key_b, "?search=a.example")
    missing = ApiClient(key_b).get("audit-events/2000000000/")
    foreign = ApiClient(key_b).get(f"audit-events/{root_change.pk}/")
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json() == missing.json()
    mine = ApiClient(key_a).get(f"audit-events/{root_change.pk}/").json()
    assert mine["actor"] == "root-admin" and mine["changes"] == {
        "description": {"before": "", "after": "by root"}
    }
    # The panel's page: the same scope.
    page_b = text(browser(b["user"]).get("/audit/"))
    assert "b.example" in page_b and "a.example" not in page_b and "by root" not in page_b
    page_a = text(browser(a["user"]).get("/audit/?domain=a.example"))
    assert "by root" in page_a and "user@a.example" in page_a and "b.example" not in page_a
    page_admin = text(browser(tenants["admin"]["user"]).get("/audit/"))
    assert "a2.example" in page_admin and "user@a.example" not in page_admin


def test_filters_in_the_api(tenants, superadmin):
    a = tenants["a"]
    services.domain_update(
        actor=None, domain=a["domain"], description="x", origin=Origin.cli(os_user="ops")
    )
    api = ApiClient(new_key(a["user"]))
    rows = api.list_all("audit-events/?channel=cli&actor=op")
    assert [r["action"] for r in rows] == ["domain.update"]
    created = api.list_all("audit-events/?action=mailbox.create")
    assert sorted(r["object"] for r in created) == ["user@a.example", "user@a2.example"]
    types = {r["object_type"] for r in api.list_all("audit-events/?object_type=domains.domain")}
    assert types == {"domains.domain"}
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    assert api.list_all(f"audit-events/?since={tomorrow}") == []
    assert api.list_all(f"audit-events/?until={tomorrow}")
    bad = api.get("audit-events/?channel=pigeon&since=yesterday")
    assert bad.status_code == 400 and set(bad.json()) == {"channel", "since"}


def test_csv_export_is_scoped_and_filtered(tenants, superadmin):
    a, b = tenants["a"], tenants["b"]
    services.domain_update(actor=superadmin, domain=a["domain"], description="=HYPERLINK(1)")
    for response in (
        browser(a["user"]).get("/audit/export.csv?object_type=domains.domain&domain=a.example"),
        ApiClient(new_key(a["user"])).get(
            "audit-events/export.csv?object_type=domains.domain&domain=a.example",
            headers={"Accept": "text/csv"},
        ),
    ):
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/csv")
        body = b"".join(response.streaming_content).decode()
        rows = list(csv.DictReader(io.StringIO(body)))
        assert {r["object"] for r in rows} == {"a.example"}
        assert {r["object_type"] for r in rows} == {"domains.domain"}
        assert "b.example" not in body and "a2.example" not in body
        update = next(r for r in rows if r["action"] == "domain.update")
        assert json.loads(update["changes"])["description"]["after"] == "=HYPERLINK(1)"
        assert not update["changes"].startswith("=")
    # B asking for A's domain: the header line and nothing else.
    foreign = ApiClient(new_key(b["user"])).get("audit-events/export.csv?domain=a.example")
    assert b"".join(foreign.streaming_content).decode().count("\n") == 1
    bad = ApiClient(new_key(b["user"])).get("audit-events/export.csv?since=never")
    assert bad.status_code == 400 and bad["Content-Type"] == "application/json"


# --- Retention --------------------------------------------------------------------------------


def test_purge_deletes_only_what_is_past_the_retention(tenants, settings):
    from mailhost.tasks import purge_audit_events

    settings.MAILADMIN_AUDIT_RETENTION_DAYS = 30
    now = timezone.now()
    events = list(AuditEvent.objects.order_by("id").values_list("pk", flat=True))
    old, edge, recent = events[:3], events[3:4], events[4:]
    AuditEvent.objects.filter(pk__in=old).update(created=now - timedelta(days=31))
    AuditEvent.objects.filter(pk__in=edge).update(created=now - timedelta(days=29, hours=23))
    assert audit_purge(now=now) == 3
    assert set(AuditEvent.objects.values_list("pk", flat=True)) == set(edge + recent)
    # The beat task (eager Celery) runs the same service.
    AuditEvent.objects.filter(pk__in=edge).update(created=now - timedelta(days=400))
    assert purge_audit_events.apply().get() == 1
    assert set(AuditEvent.objects.values_list("pk", flat=True)) == set(recent)
    entry = settings.CELERY_BEAT_SCHEDULE["audit-purge"]
    assert entry["task"] == "audit.purge"


def test_the_retention_setting_refuses_bad_values(monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    from mailadmin.env import env_int

    assert settings.MAILADMIN_AUDIT_RETENTION_DAYS == 365
    monkeypatch.setenv("MAILADMIN_AUDIT_RETENTION_DAYS", "0")
    with pytest.raises(ImproperlyConfigured, match="MAILADMIN_AUDIT_RETENTION_DAYS"):
        env_int("MAILADMIN_AUDIT_RETENTION_DAYS", 365, min_value=1)


# --- Cost -------------------------------------------------------------------------------------


def test_the_lists_cost_the_same_for_3_events_as_for_60(
    tenants, superadmin, django_assert_max_num_queries
):
    a = tenants["a"]
    api = ApiClient(new_key(a["user"]))
    client = browser(a["user"])
    api.get("audit-events/")  # warm up: the key's last use is written
    with django_assert_max_num_queries(8) as few_api:
        assert api.get("audit-events/").status_code == 200
    with django_assert_max_num_queries(12) as few_page:
        assert client.get("/audit/").status_code == 200
    for i in range(20):
        services.domain_update(actor=superadmin, domain=a["domain"], description=f"v{i}")
        make_mailbox(f"m{i}@a.example")
    assert AuditEvent.objects.filter(reseller_id=a["pool"].pk).count() >= 40
    with django_assert_max_num_queries(len(few_api.captured_queries)):
        assert api.get("audit-events/").status_code == 200
    with django_assert_max_num_queries(len(few_page.captured_queries)):
        assert client.get("/audit/").status_code == 200


def test_a_domain_admins_domains_are_diffed_as_lists(tenants):
    from accounts import services as account_services

    res, admin = tenants["a"]["user"], tenants["admin"]["user"]
    account_services.user_update(actor=res, user=admin, domains=["a2.example", "a.example"])
    assert last("user.update").changes == {
        "domains": {"before": ["a2.example"], "after": ["a.example", "a2.example"]}
    }
    account_services.user_update(
        actor=res, user=admin, email="x@a.example", domains=["a.example", "a2.example"]
    )
    assert last("user.update").changes == {"email": {"before": "", "after": "x@a.example"}}


def test_the_page_shows_channel_address_key_and_the_diff(tenants):
    res, box = tenants["a"]["user"], tenants["a"]["box"]
    key = new_key(res, name="sync")
    ApiClient(key, remote_addr="203.0.113.9").patch(f"mailboxes/{box.pk}/", {"name": "Bob"})
    page = text(browser(res).get("/audit/?channel=api"))
    prefix = res.api_keys.get(name="sync").display_prefix
    assert "203.0.113.9" in page and f"{prefix} (sync)" in page and "Bob" in page
    assert "mailbox.create" not in page  # the filter holds
    link = text(browser(res).get("/audit/?channel=api&page=1"))
    assert 'href="/audit/export.csv?channel=api"' in link


def test_an_origin_keeps_only_a_well_formed_address():
    assert Origin.web(source_ip="not an address").source_ip is None
    assert Origin.web(source_ip=" 2001:db8::1 ").source_ip == "2001:db8::1"
    assert len(Origin.web(source_ip=None, user_agent="x" * 1000).user_agent) == 200
    with pytest.raises(ValueError):
        Origin("pigeon")
