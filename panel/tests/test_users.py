"""The users pages: a superadmin makes a reseller's login and domain admins for any pool, a
reseller its own domain admins; errors sit next to their field with nothing written; a generated
password is shown once and not cached; toggles and deletes work with and without htmx."""

import pytest

from accounts.models import Reseller, User
from audit.models import AuditEvent
from domains.models import AliasDomain, Domain
from domains.tests.helpers import make_domain, make_mailbox, row_counts
from panel.tests.helpers import browser, field_errors, form_token, text

STRONG = "a long enough password 7"


def post_form(client, url: str, data: dict, follow=False):
    page = client.get(url).content.decode()
    return client.post(url, {"form_token": form_token(page), **data}, follow=follow)


@pytest.fixture
def pool(db):
    return Reseller.objects.create(name="Pool")


@pytest.fixture
def reseller(pool):
    return User.objects.create_user(username="res", password=STRONG, role="reseller", reseller=pool)


def test_superadmin_adds_a_resellers_login_from_the_reseller_page(superadmin, pool):
    client = browser(superadmin)
    page = text(client.get(f"/resellers/{pool.pk}/"))
    assert f"/users/new/?reseller={pool.pk}" in page
    form = text(client.get(f"/users/new/?reseller={pool.pk}"))
    assert f'<option value="{pool.pk}" selected>' in form
    response = post_form(
        client,
        f"/users/new/?reseller={pool.pk}",
        {"username": "acme", "role": "reseller", "reseller": pool.pk},
    )
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    user = User.objects.get(username="acme")
    shown = text(response).split('id="new-password" class="secret">')[1].split("<")[0]
    assert user.is_reseller and user.reseller == pool and user.check_password(shown)
    # Shown once: the user's page never has it again.
    assert shown not in text(client.get(f"/users/{user.pk}/"))
    assert "Users" in text(client.get("/")) and "/users/" in text(client.get("/"))


def test_a_reseller_adds_a_domain_admin_with_domains(reseller, pool):
    mine = make_domain("mine.example", reseller=pool)
    other = make_domain("theirs.example", reseller=Reseller.objects.create(name="Other"))
    client = browser(reseller)
    page = text(client.get("/users/new/"))
    assert 'name="role"' not in page and 'name="reseller"' not in page
    before = row_counts()
    response = post_form(
        client,
        "/users/new/",
        {"username": "ana", "domains": "theirs.example", "password": STRONG},
    )
    assert "does not exist" in " ".join(field_errors(text(response), "domains"))
    response = post_form(client, "/users/new/", {"username": "ana", "password": "password"})
    assert field_errors(text(response), "password")
    response = post_form(client, "/users/new/", {"username": "res", "password": STRONG})
    assert "taken" in " ".join(field_errors(text(response), "username"))
    assert row_counts() == before
    response = post_form(
        client,
        "/users/new/",
        {"username": "ana", "domains": "mine.example", "password": STRONG},
        follow=True,
    )
    ana = User.objects.get(username="ana")
    assert ana.reseller == pool and list(ana.managed_domains.all()) == [mine]
    assert "The user ana was added." in text(response)
    # The edit page assigns domains; a foreign one is refused next to the field.
    response = client.post(f"/users/{ana.pk}/", {"domains": "mine.example\ntheirs.example"})
    assert field_errors(text(response), "domains")
    assert list(ana.managed_domains.all()) == [mine]
    assert other not in ana.managed_domains.all()
    listing = text(client.get("/users/?q=an"))
    assert f'id="user-{ana.pk}"' in listing and f'id="user-{reseller.pk}"' not in listing


def test_reset_password_toggle_and_delete(reseller, pool):
    ana = User.objects.create_user(
        username="ana", password=STRONG, role="domainadmin", reseller=pool
    )
    client = browser(reseller)
    response = client.post(f"/users/{ana.pk}/password/", {"password": ""})
    assert response["Cache-Control"] == "no-store"
    shown = text(response).split('id="new-password" class="secret">')[1].split("<")[0]
    ana.refresh_from_db()
    assert ana.check_password(shown) and not ana.check_password(STRONG)

    # Toggle with htmx: the row comes back; without: a redirect. Asked twice, stays as asked.
    row = client.post(f"/users/{ana.pk}/toggle/", {"active": "0"}, headers={"HX-Request": "true"})
    assert f'<tr id="user-{ana.pk}"' in text(row) and "ana is now inactive." in text(row)
    assert client.post(f"/users/{ana.pk}/toggle/", {"active": "0"}).status_code == 302
    assert not User.objects.get(pk=ana.pk).is_active

    # Delete: a confirmation page without JavaScript, then the POST.
    assert "Delete the user ana?" in text(client.get(f"/users/{ana.pk}/delete/"))
    assert User.objects.filter(pk=ana.pk).exists()
    assert client.post(f"/users/{ana.pk}/delete/").status_code == 302
    assert not User.objects.filter(pk=ana.pk).exists()
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"user.password", "user.update", "user.delete"} <= actions


def test_a_reseller_sees_but_does_not_change_its_own_login(reseller):
    client = browser(reseller)
    listing = text(client.get("/users/"))
    assert f'id="user-{reseller.pk}"' in listing and f"/users/{reseller.pk}/" not in listing
    for url in (f"/users/{reseller.pk}/", f"/users/{reseller.pk}/delete/"):
        assert client.get(url).status_code == 404


def test_domain_admins_have_no_users_pages(pool):
    admin = User.objects.create_user(username="da", password=STRONG, role="domainadmin")
    client = browser(admin)
    assert client.get("/users/").status_code == 404
    assert client.get("/users/new/").status_code == 404
    assert "/users/" not in text(client.get("/"))


def test_createsuperuser_is_labelled_superadmin(db):
    root = User.objects.create_superuser("boss", "boss@example.org", STRONG)
    page = text(browser(root).get("/"))
    assert "(Superadmin)" in page and "(Domain admin)" not in page


def test_domain_delete_page_shows_what_the_service_counts(superadmin):
    domain = make_domain("full.example")
    make_mailbox("a@full.example")
    AliasDomain.objects.create(name="alias-full.example", target=domain)
    page = text(browser(superadmin).get(f"/domains/{domain.pk}/delete/"))
    assert "<li>1 mailboxes</li>" in page and "<li>1 alias domains</li>" in page
    assert "<li>0 relay recipients</li>" in page


def test_the_domain_form_refuses_a_relay_with_alias_domains(superadmin):
    domain = make_domain("local.example")
    AliasDomain.objects.create(name="alias-local.example", target=domain)
    response = browser(superadmin).post(
        f"/domains/{domain.pk}/edit/",
        {"kind": "relay", "transport": "smtp:[mx.example.net]:25", "active": "on"},
    )
    assert "alias domains" in " ".join(field_errors(text(response), "kind"))
    assert Domain.objects.get(pk=domain.pk).kind == "local"


def test_deactivating_a_user_ends_its_session(reseller, pool):
    ana = User.objects.create_user(
        username="ana", password=STRONG, role="domainadmin", reseller=pool
    )
    ana.managed_domains.add(make_domain("ana.example", reseller=pool))
    session = browser(ana)
    assert session.get("/domains/").status_code == 200
    browser(reseller).post(f"/users/{ana.pk}/toggle/", {"active": "0"})
    assert session.get("/domains/").status_code == 302  # back to the login page


def test_resetting_your_own_password_keeps_this_session_only(superadmin):
    here, elsewhere = browser(superadmin), browser(superadmin)
    response = here.post(f"/users/{superadmin.pk}/password/", {"password": STRONG + "!"})
    assert response.status_code == 302
    assert User.objects.get(pk=superadmin.pk).check_password(STRONG + "!")
    assert here.get("/users/").status_code == 200
    assert elsewhere.get("/users/").status_code == 302  # to the login page
