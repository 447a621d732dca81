"""Every list page runs the same SQL for 10 rows as for 10,000: pages are cut in SQL (COUNT plus
LIMIT/OFFSET), and what a row shows comes with it (joins, correlated counts, one prefetch per
relation), never one query per row."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Reseller, User
from api.models import APIKey
from audit.models import AuditEvent
from domains.models import (
    Alias,
    AliasDomain,
    AliasRecipient,
    Domain,
    Mailbox,
    MailboxForward,
    QuotaUsage,
    SenderGrant,
)
from mailhost.models import ArchivedMaildir, MailHost, Operation

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
SMALL, LARGE = 10, 10_000


def grow(user: User, pool: Reseller, domain: Domain, start: int, stop: int) -> None:
    """Rows `start`..`stop` of every list, inserted in bulk: these tests count queries, the
    services' rules are tested elsewhere."""
    now = timezone.now()
    span = range(start, stop)
    domains = Domain.objects.bulk_create(
        Domain(name=f"d{i}.example", reseller=pool, verified_at=now, max_mailboxes=1) for i in span
    )
    boxes = Mailbox.objects.bulk_create(
        Mailbox(
            domain=domain,
            local_part=f"u{i}",
            address=f"u{i}@big.example",
            password="{ARGON2ID}x",
            quota_bytes=1000,
            maildir=f"big.example/u{i}/",
        )
        for i in span
    )
    QuotaUsage.objects.bulk_create(
        QuotaUsage(mailbox=box, username=box.address, bytes=950) for box in boxes
    )
    MailboxForward.objects.bulk_create(
        MailboxForward(mailbox=box, address="out@elsewhere.example") for box in boxes
    )
    aliases = Alias.objects.bulk_create(
        Alias(domain=domain, local_part=f"a{i}", address=f"a{i}@big.example") for i in span
    )
    AliasRecipient.objects.bulk_create(
        AliasRecipient(alias=alias, address=f"u{i}@big.example")
        for alias, i in zip(aliases, span, strict=True)
    )
    SenderGrant.objects.bulk_create(
        SenderGrant(mailbox=box, domain=domain, local_part=f"s{i}")
        for box, i in zip(boxes, span, strict=True)
    )
    # One each for the small domains: a domain has at most MAILADMIN_MAX_ALIAS_DOMAINS.
    AliasDomain.objects.bulk_create(
        AliasDomain(name=f"alias{i}.example", target=target, verified_at=now)
        for target, i in zip(domains, span, strict=True)
    )
    Reseller.objects.bulk_create(Reseller(name=f"Pool {i}") for i in span)
    AuditEvent.objects.bulk_create(
        AuditEvent(
            actor=user,
            action="mailbox.update",
            object_type="domains.mailbox",
            object_id=str(i),
            object_repr=f"u{i}@big.example",
        )
        for i in span
    )
    APIKey.objects.bulk_create(
        APIKey(user=user, name=f"k{i}", prefix=f"p{i:07d}", secret_hash="x") for i in span
    )
    # Mail-host operations and archived Maildirs (superadmins' operations page), on one host.
    host, _ = MailHost.objects.get_or_create(name="mail1")
    Operation.objects.bulk_create(
        Operation(
            kind=Operation.Kind.MAILDIR_ARCHIVE,
            host=host,
            args={"address": f"u{i}@big.example"},
            state=Operation.State.FAILED if i % 2 else Operation.State.DONE,
            last_error="rename: No such file or directory",
            requested_by=user,
        )
        for i in span
    )
    ArchivedMaildir.objects.bulk_create(
        ArchivedMaildir(
            address=f"u{i}@big.example", host=host, path=f".archive/u{i}", purge_after=now
        )
        for i in span
    )
    # The pool's domain admins, each on one of the new domains (the users page shows them).
    admins = User.objects.bulk_create(
        User(username=f"admin{i}", role="domainadmin", reseller=pool, password="!") for i in span
    )
    User.managed_domains.through.objects.bulk_create(
        User.managed_domains.through(user_id=admin.pk, domain_id=d.pk)
        for admin, d in zip(admins, domains, strict=True)
    )


def queries(client: Client, url: str) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return [q["sql"] for q in captured.captured_queries]


@pytest.mark.parametrize("role", ["superadmin", "reseller"])
def test_list_pages_cost_the_same_at_10_and_10000_rows(db, role):
    pool = Reseller.objects.create(name="Big")
    if role == "superadmin":
        user = User.objects.create_user(username="root", role="superadmin", is_superuser=True)
    else:
        user = User.objects.create_user(username="big", role="reseller", reseller=pool)
    domain = Domain.objects.create(name="big.example", reseller=pool, verified_at=timezone.now())
    client = Client()
    client.force_login(user)
    pages = [
        "/",
        "/domains/",
        "/domains/?q=d1&sort=mailboxes",
        f"/domains/{domain.pk}/",
        f"/domains/{domain.pk}/?q=u1&mailboxes=2&aliases=2",
        "/resellers/",
        "/audit/",
        "/audit/?actor=big&object=u1",
        "/account/api-keys/",
        "/users/",
        "/users/?q=admin1",
    ]
    if role == "superadmin":
        pages += ["/hosts/", "/operations/", "/operations/?state=failed"]
    grow(user, pool, domain, 0, SMALL)
    small = {url: queries(client, url) for url in pages}
    grow(user, pool, domain, SMALL, LARGE)
    for url in pages:
        large = queries(client, url)
        assert len(large) == len(small[url]), (url, len(small[url]), len(large), large)
    # The rows are really there and really shown, a page at a time.
    page = client.get(f"/domains/{domain.pk}/").content.decode()
    assert page.count('<tr id="mailbox-') == 50 and "page 1 of 200" in page
    people = client.get("/users/").content.decode()
    assert people.count('<tr id="user-') == 50 and "page 1 of 201" in people
    if role == "superadmin":
        ops = client.get("/operations/?state=failed").content.decode()
        assert ops.count('<tr id="operation-') == 50 and "page 1 of 100" in ops, ops[:2000]
    keys = client.get("/account/api-keys/").content.decode()
    assert keys.count("<code>mak_") == 50 and "page 1 of 200" in keys
