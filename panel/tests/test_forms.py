"""The panel's forms end to end through Django's test client: each change goes through the
service, a refusal shows next to the field that caused it with nothing written, a success message
follows every change, a double submit creates nothing twice, and the inline actions work with
and without htmx."""

import re

import pytest

from accounts.models import Reseller, User
from audit.models import AuditEvent
from domains.models import Alias, AliasDomain, Domain, Mailbox, SenderGrant
from domains.passwords import verify_password
from domains.tests.helpers import make_alias, make_domain, make_mailbox, row_counts
from panel.models import FormSubmission
from panel.tests.helpers import browser, field_errors, form_token, text

GIB = 1024**3
MIB = 1024**2


@pytest.fixture
def pool(db):
    return Reseller.objects.create(name="Pool", max_domains=3, max_quota_bytes=10 * GIB)


@pytest.fixture
def reseller_client(pool):
    user = User.objects.create_user(username="res", password="x", role="reseller", reseller=pool)
    return browser(user), user


@pytest.fixture
def domain(reseller_client):
    _client, user = reseller_client
    return make_domain("shop.example", actor=user, total_quota=4 * GIB)


def messages_of(page: str) -> list[str]:
    return re.findall(r'<p class="message[^"]*">(.*?)</p>', page)


def post_form(client, url: str, data: dict, follow=True):
    """GET the form for its token, then POST it, as a browser would."""
    page = client.get(url).content.decode()
    return client.post(url, {"form_token": form_token(page), **data}, follow=follow)


def test_superadmin_creates_a_reseller_with_a_pool(superadmin):
    client = browser(superadmin)
    response = post_form(
        client,
        "/resellers/new/",
        {
            "name": "Acme",
            "active": "on",
            "max_domains": "5",
            "max_mailboxes": "50",
            "max_aliases": "0",
            "max_quota_bytes_0": "20",
            "max_quota_bytes_1": "GiB",
        },
    )
    pool = Reseller.objects.get(name="Acme")
    assert (pool.max_domains, pool.max_mailboxes, pool.max_quota_bytes) == (5, 50, 20 * GIB)
    assert "The reseller Acme was added." in messages_of(text(response))
    assert AuditEvent.objects.filter(action="reseller.create", actor=superadmin).exists()


def test_reseller_creates_domain_mailbox_and_alias(reseller_client):
    client, user = reseller_client
    response = post_form(
        client,
        "/domains/new/",
        {"name": "Café.Example", "kind": "local", "max_mailboxes": "10", "max_aliases": "0"},
    )
    domain = Domain.objects.get(name="xn--caf-dma.example")
    assert domain.reseller_id == user.reseller_id
    assert response.redirect_chain[-1][0] == f"/domains/{domain.pk}/"
    assert "café.example" in text(response)

    # No password typed: a strong one is generated and shown once, never cached.
    response = post_form(
        client,
        f"/domains/{domain.pk}/mailboxes/new/",
        {"address": "anna", "quota_bytes_0": "512", "quota_bytes_1": "MiB", "keep_copy": "on"},
        follow=False,
    )
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    shown = re.search(r'<code id="new-password" class="secret">([^<]+)</code>', text(response))
    mailbox = Mailbox.objects.get(address="anna@xn--caf-dma.example")
    assert verify_password(shown.group(1), mailbox.password)
    assert mailbox.quota_bytes == 512 * MIB
    assert shown.group(1) not in client.get(f"/mailboxes/{mailbox.pk}/").content.decode()

    response = post_form(
        client,
        f"/domains/{domain.pk}/aliases/new/",
        {"address": "team", "recipients": "anna@café.example\nout@elsewhere.example"},
    )
    alias = Alias.objects.get(address="team@xn--caf-dma.example")
    assert [r.address for r in alias.recipients.all()] == [
        "anna@xn--caf-dma.example",
        "out@elsewhere.example",
    ]
    assert "The alias team@xn--caf-dma.example was added." in messages_of(text(response))


def test_errors_show_next_to_the_field_and_nothing_is_written(reseller_client, domain):
    client, _user = reseller_client
    make_mailbox("taken@shop.example", quota_bytes=GIB)
    make_mailbox("a@shop.example", quota_bytes=GIB)
    make_alias("b@shop.example", ["a@shop.example"])
    cases = [
        ("/domains/new/", {"name": "bad_name.example", "kind": "local"}, "name"),
        (
            f"/domains/{domain.pk}/mailboxes/new/",
            {
                "address": "big",
                "password": "long enough pw 1",
                "quota_bytes_0": "5",
                "quota_bytes_1": "GiB",
            },
            "quota_bytes",
        ),
        (
            f"/domains/{domain.pk}/mailboxes/new/",
            {
                "address": "Taken",
                "password": "long enough pw 1",
                "quota_bytes_0": "1",
                "quota_bytes_1": "MiB",
            },
            "address",
        ),
        (
            f"/domains/{domain.pk}/aliases/new/",
            {"address": "a2", "recipients": "b@shop.example"},
            None,
        ),
        (
            f"/domains/{domain.pk}/aliases/new/",
            {"address": "c", "recipients": "c@shop.example"},
            "recipients",
        ),
    ]
    # a2 -> b -> a is fine; now make a loop: a forwards to c, c -> a.
    for url, data, field in cases:
        before = row_counts()
        response = post_form(client, url, data)
        page = response.content.decode()
        if field is None:
            continue
        assert response.status_code == 200
        assert field_errors(page, field), (url, field, page[:2000])
        assert 'aria-invalid="true"' in page
        assert row_counts() == before
    assert "already exists" in " ".join(
        field_errors(post_form(client, cases[2][0], cases[2][1]).content.decode(), "address")
    )
    box = Mailbox.objects.get(address="a@shop.example")
    before = row_counts()
    response = client.post(
        f"/mailboxes/{box.pk}/",
        {
            "quota_bytes_0": "1",
            "quota_bytes_1": "GiB",
            "forward_to": "a2@shop.example",
            "active": "on",
            "keep_copy": "on",
        },
    )
    assert "loop" in " ".join(field_errors(response.content.decode(), "forward_to"))
    assert row_counts() == before


def test_a_double_submit_creates_nothing_twice(reseller_client, domain):
    client, _user = reseller_client
    url = f"/domains/{domain.pk}/mailboxes/new/"
    token = form_token(client.get(url).content.decode())
    data = {
        "form_token": token,
        "address": "twice",
        "password": "long enough pw 1",
        "quota_bytes_0": "1",
        "quota_bytes_1": "GiB",
    }
    first = client.post(url, data)
    second = client.post(url, data)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]  # the second goes where the first went
    assert Mailbox.objects.filter(address="twice@shop.example").count() == 1
    assert AuditEvent.objects.filter(action="mailbox.create").count() == 1
    # A refused create keeps no token: the corrected form can be sent again.
    bad = {**data, "form_token": "x" * 32, "address": "bad address"}
    assert client.post(url, bad).status_code == 200
    assert not FormSubmission.objects.filter(token="x" * 32).exists()
    # Another user's token does not replay this one's result.
    other = browser(User.objects.create_user(username="o", password="x", role="superadmin"))
    replay = other.post(url, {**data, "address": "other"})
    assert replay.status_code == 302
    assert Mailbox.objects.filter(address="other@shop.example").exists()


def test_a_form_without_its_token_is_refused(reseller_client, domain):
    client, _user = reseller_client
    before = row_counts()
    response = client.post(
        f"/domains/{domain.pk}/aliases/new/", {"address": "x", "recipients": "y@z.example"}
    )
    assert response.status_code == 200 and "reload the page" in text(response)
    assert row_counts() == before


def test_inline_toggle_with_and_without_htmx(reseller_client, domain):
    client, _user = reseller_client
    box = make_mailbox("t@shop.example", quota_bytes=GIB)
    response = client.post(f"/mailboxes/{box.pk}/toggle/", HTTP_HX_REQUEST="true")
    page = text(response)
    assert response.status_code == 200 and page.startswith(f'<tr id="mailbox-{box.pk}">')
    assert 'aria-pressed="false"' in page
    assert 'hx-swap-oob="true"' in page and "t@shop.example is now inactive." in page
    assert not Mailbox.objects.get(pk=box.pk).active
    response = client.post(f"/mailboxes/{box.pk}/toggle/", {"next": f"/domains/{domain.pk}/"})
    assert response.status_code == 302 and response["Location"] == f"/domains/{domain.pk}/"
    assert Mailbox.objects.get(pk=box.pk).active
    # A `next` that leaves the site is ignored.
    response = client.post(f"/mailboxes/{box.pk}/toggle/", {"next": "https://evil.example/"})
    assert response["Location"] == f"/domains/{domain.pk}/"


def test_inline_delete_with_and_without_htmx(reseller_client, domain):
    client, _user = reseller_client
    make_mailbox("keep@shop.example", quota_bytes=GIB)
    one = make_alias("one@shop.example", ["keep@shop.example"])
    two = make_alias("two@shop.example", ["keep@shop.example"])
    response = client.post(f"/aliases/{one.pk}/delete/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "<tr" not in response.content.decode()
    assert "The alias one@shop.example was deleted." in text(response)
    confirm = client.get(f"/aliases/{two.pk}/delete/")  # without JavaScript: a page to confirm
    assert confirm.status_code == 200 and Alias.objects.filter(pk=two.pk).exists()
    assert client.post(f"/aliases/{two.pk}/delete/").status_code == 302
    assert not Alias.objects.filter(pk__in=[one.pk, two.pk]).exists()


def test_domain_delete_says_what_goes_and_needs_the_tick(reseller_client, domain):
    client, _user = reseller_client
    make_mailbox("m@shop.example", quota_bytes=GIB)
    make_alias("al@shop.example", ["m@shop.example"])
    page = text(client.get(f"/domains/{domain.pk}/delete/"))
    assert "<li>1 mailboxes</li>" in page and "<li>1 aliases</li>" in page
    before = row_counts()
    response = client.post(f"/domains/{domain.pk}/delete/", {})
    assert response.status_code == 200 and field_errors(text(response), "confirm")
    assert row_counts() == before
    response = client.post(f"/domains/{domain.pk}/delete/", {"confirm": "on"}, follow=True)
    assert not Domain.objects.filter(pk=domain.pk).exists()
    assert "shop.example and everything in it went to the trash." in messages_of(text(response))


def test_mailbox_edit_forwarding_sender_identities_and_password(reseller_client, domain):
    client, _user = reseller_client
    box = make_mailbox("e@shop.example", quota_bytes=GIB)
    response = client.post(
        f"/mailboxes/{box.pk}/",
        {
            "name": "Eve",
            "quota_bytes_0": "2",
            "quota_bytes_1": "GiB",
            "active": "on",
            "allow_imap": "on",
            "forward_to": "out@elsewhere.example",
        },
        follow=True,
    )
    box.refresh_from_db()
    assert (box.name, box.quota_bytes, box.allow_pop3, box.keep_copy) == (
        "Eve",
        2 * GIB,
        False,
        False,
    )
    assert [f.address for f in box.forwards.all()] == ["out@elsewhere.example"]
    assert "e@shop.example was saved." in messages_of(text(response))
    response = client.post(
        f"/mailboxes/{box.pk}/senders/new/", {"address": "@shop.example"}, follow=True
    )
    assert SenderGrant.objects.filter(mailbox=box, local_part="").exists()
    assert "any address at @shop.example" in text(response)
    response = client.post(
        f"/mailboxes/{box.pk}/senders/new/", {"address": "x@bank.example"}, follow=True
    )
    assert "You can only grant addresses in your own domains." in text(response)
    response = client.post(f"/mailboxes/{box.pk}/password/", {"password": "chosen password 1"})
    box.refresh_from_db()
    assert response.status_code == 302 and verify_password("chosen password 1", box.password)
    response = client.post(f"/mailboxes/{box.pk}/password/", {"password": "short"}, follow=True)
    assert "at least 10 characters" in text(response)
    assert verify_password("chosen password 1", Mailbox.objects.get(pk=box.pk).password)


def test_alias_domain_create_and_delete(reseller_client, domain):
    client, _user = reseller_client
    page = client.get(f"/domains/{domain.pk}/").content.decode()
    response = client.post(
        f"/domains/{domain.pk}/alias-domains/new/",
        {"form_token": form_token(page), "name": "shop.example"},
    )
    assert "already exists" in " ".join(field_errors(text(response), "name"))
    response = client.post(
        f"/domains/{domain.pk}/alias-domains/new/",
        {"form_token": form_token(page), "name": "shop-alias.example"},
        follow=True,
    )
    alias_domain = AliasDomain.objects.get(name="shop-alias.example")
    assert "shop-alias.example now answers for shop.example." in messages_of(text(response))
    assert client.post(f"/alias-domains/{alias_domain.pk}/delete/").status_code == 302
    assert not AliasDomain.objects.exists()


def test_a_domain_admin_edits_only_what_it_may(reseller_client, domain):
    admin = User.objects.create_user(username="da", password="x", role="domainadmin")
    admin.managed_domains.add(domain)
    client = browser(admin)
    assert client.get("/domains/new/").status_code == 404
    assert client.get(f"/domains/{domain.pk}/delete/").status_code == 404
    page = client.get(f"/domains/{domain.pk}/edit/").content.decode()
    assert 'name="max_mailboxes"' not in page and 'name="description"' in page
    client.post(f"/domains/{domain.pk}/edit/", {"description": "ours", "max_mailboxes": "1"})
    domain.refresh_from_db()
    assert (domain.description, domain.max_mailboxes) == ("ours", 0)
    assert client.get("/resellers/").status_code == 404


def test_audit_log_filters(reseller_client, domain, superadmin):
    client = browser(superadmin)
    make_mailbox("audit@shop.example", quota_bytes=GIB)
    page = text(client.get("/audit/?object=audit@shop"))
    assert "audit@shop.example" in page and "domain.create" not in page
    page = text(client.get("/audit/?actor=res"))
    assert "domain.create" in page and "mailbox.create" not in page
    page = text(client.get("/audit/?since=2999-01-01"))
    assert "Nothing recorded yet." in page


def test_romanian_from_the_browser_or_the_users_choice(reseller_client, domain):
    client, _user = reseller_client
    page = text(client.get("/domains/", HTTP_ACCEPT_LANGUAGE="ro"))
    assert '<html lang="ro">' in page and "Adaugă un domeniu" in page
    assert "Add a domain" not in page
    client.post("/i18n/setlang/", {"language": "ro", "next": "/domains/"})
    page = text(client.get("/domains/", HTTP_ACCEPT_LANGUAGE="en"))
    assert "Adaugă un domeniu" in page
    page = text(client.get("/domains/"))
    assert "Caută domenii" in page


def test_an_empty_size_is_no_value_whatever_the_unit(reseller_client, domain):
    """Browsers always send the unit select: an empty number alone means "not given"."""
    client, _user = reseller_client
    page = client.get("/domains/new/").content.decode()
    response = client.post(
        "/domains/new/",
        {
            "form_token": form_token(page),
            "name": "sizes.example",
            "kind": "local",
            "total_quota_0": "",
            "total_quota_1": "GiB",
            "default_quota_0": "1.5",
            "default_quota_1": "GiB",
        },
    )
    assert response.status_code == 302, text(response)
    made = Domain.objects.get(name="sizes.example")
    assert (made.total_quota, made.default_quota) == (0, 1536 * MIB)


def test_an_alias_loop_is_refused_with_the_path_shown(reseller_client, domain):
    client, _user = reseller_client
    make_mailbox("m@shop.example", quota_bytes=GIB)
    one = make_alias("one@shop.example", ["m@shop.example"])
    make_alias("two@shop.example", ["one@shop.example"])
    make_alias("three@shop.example", ["two@shop.example"])
    before = row_counts()
    response = client.post(f"/aliases/{one.pk}/", {"recipients": "three@shop.example"})
    assert field_errors(text(response), "recipients") == [
        "This would make a loop back to one@shop.example: one@shop.example → "
        "three@shop.example → two@shop.example → one@shop.example."
    ]
    assert row_counts() == before


def test_a_toggle_sent_twice_leaves_the_state_asked_for(reseller_client, domain):
    client, _user = reseller_client
    box = make_mailbox("twice@shop.example", quota_bytes=GIB)
    page = client.get(f"/domains/{domain.pk}/").content.decode()
    row = page[page.index(f'<tr id="mailbox-{box.pk}">') :]
    assert '<input type="hidden" name="active" value="0">' in row[: row.index("</tr>")]
    for _ in range(2):  # a double click without JavaScript
        client.post(f"/mailboxes/{box.pk}/toggle/", {"active": "0"})
    assert not Mailbox.objects.get(pk=box.pk).active
    assert AuditEvent.objects.filter(action="mailbox.update").count() == 1
