"""The panel's pages: each role sees exactly its own domains, foreign ones are a 404,
and lists cost a fixed number of queries however many rows they show."""

import re

import pytest
from django.test import Client

from accounts.models import User
from domains.tests.helpers import make_alias, make_domain, make_mailbox


@pytest.fixture
def tenants(reseller, reseller_user, other_reseller_user):
    mine = make_domain("mine.example", actor=reseller_user)
    theirs = make_domain("theirs.example", actor=other_reseller_user)
    sibling = make_domain("sibling.example", actor=reseller_user)
    make_mailbox("alice@mine.example")
    make_mailbox("zed@theirs.example")
    admin = User.objects.create_user(username="da", password="x", role="domainadmin")
    admin.managed_domains.add(sibling)
    return {"mine": mine, "theirs": theirs, "sibling": sibling, "domain_admin": admin}


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_pages_need_a_login(db):
    response = Client().get("/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_a_reseller_sees_only_its_own_domains(tenants, reseller_user):
    page = browser(reseller_user).get("/domains/").content.decode()
    assert "mine.example" in page and "sibling.example" in page
    assert "theirs.example" not in page


def test_a_foreign_domain_page_is_a_404(tenants, reseller_user):
    client = browser(reseller_user)
    assert client.get(f"/domains/{tenants['mine'].pk}/").status_code == 200
    assert client.get(f"/domains/{tenants['theirs'].pk}/").status_code == 404


def test_a_domain_admin_sees_only_its_domains(tenants):
    client = browser(tenants["domain_admin"])
    page = client.get("/domains/").content.decode()
    assert "sibling.example" in page and "mine.example" not in page
    assert client.get(f"/domains/{tenants['mine'].pk}/").status_code == 404
    assert client.get(f"/domains/{tenants['sibling'].pk}/").status_code == 200


def test_counts_are_each_in_their_own_place(tenants, reseller_user):
    """Mailboxes and aliases differ in number here, so swapping one count for the other (on the
    dashboard or in the domain list) fails."""
    make_mailbox("bob@mine.example")
    make_mailbox("carol@mine.example")
    make_alias("team@mine.example", ["alice@mine.example", "out@elsewhere.example"])
    client = browser(reseller_user)
    page = client.get(f"/domains/{tenants['mine'].pk}/").content.decode()
    assert "alice@mine.example" in page
    assert "alice@mine.example, out@elsewhere.example" in page
    # mine.example: 3 mailboxes, 1 alias; sibling.example: none. Catch-alls: none.
    dashboard = client.get("/").content.decode()
    assert '<span class="stat-n" id="count-domains">2</span>' in dashboard
    assert '<span class="stat-n" id="count-mailboxes">3</span>' in dashboard
    assert '<span class="stat-n" id="count-aliases">1</span>' in dashboard
    listing = client.get("/domains/").content.decode()
    row = listing[listing.index(f'id="domain-{tenants["mine"].pk}"') :]
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)[:4]
    assert [c.strip() for c in cells[2:4]] == ["3", "1"]
