"""The panel's read-only pages: each role sees exactly its own domains, foreign ones are a 404,
and lists cost a fixed number of queries however many rows they show."""

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
    page = browser(reseller_user).get("/").content.decode()
    assert "mine.example" in page and "sibling.example" in page
    assert "theirs.example" not in page


def test_a_foreign_domain_page_is_a_404(tenants, reseller_user):
    client = browser(reseller_user)
    assert client.get(f"/domains/{tenants['mine'].pk}/").status_code == 200
    assert client.get(f"/domains/{tenants['theirs'].pk}/").status_code == 404


def test_a_domain_admin_sees_only_its_domains(tenants):
    client = browser(tenants["domain_admin"])
    page = client.get("/").content.decode()
    assert "sibling.example" in page and "mine.example" not in page
    assert client.get(f"/domains/{tenants['mine'].pk}/").status_code == 404
    assert client.get(f"/domains/{tenants['sibling'].pk}/").status_code == 200


def test_domain_page_lists_mailboxes_and_aliases_with_counts(tenants, reseller_user):
    make_alias("team@mine.example", ["alice@mine.example", "out@elsewhere.example"])
    client = browser(reseller_user)
    page = client.get(f"/domains/{tenants['mine'].pk}/").content.decode()
    assert "alice@mine.example" in page
    assert "alice@mine.example, out@elsewhere.example" in page
    dashboard = client.get("/").content.decode()
    assert "<td>1</td>" in dashboard  # one mailbox, one alias in mine.example


@pytest.mark.parametrize("rows", [2, 30])
def test_lists_do_not_grow_queries_with_rows(db, superadmin, rows, django_assert_max_num_queries):
    domain = make_domain("big.example")
    for i in range(rows):
        make_mailbox(f"user{i}@big.example")
        make_alias(f"alias{i}@big.example", [f"user{i}@big.example", "x@elsewhere.example"])
        make_domain(f"d{i}.example")
    client = browser(superadmin)
    with django_assert_max_num_queries(8):
        assert client.get("/").status_code == 200
    with django_assert_max_num_queries(10):
        assert client.get(f"/domains/{domain.pk}/").status_code == 200
