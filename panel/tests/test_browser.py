"""The panel in a real browser (Debian's Chromium through Playwright) against the live server on
PostgreSQL; the flows that end in mail run against the real Postfix and Dovecot of
mailhost.stack, reading the same test database. Screenshots of the dashboard, a domain page and
the mailbox form at desktop and phone widths come out of these runs (MAILADMIN_SCREENSHOTS)."""

import os
import re

import pytest

from accounts.models import Reseller, User
from domains.models import Alias, Domain, Mailbox
from domains.tests.helpers import make_alias, make_domain, make_mailbox, row_counts
from panel.tests.browser import DESKTOP, PHONE, Panel, chromium  # noqa: F401

try:  # the mail stack's own fixtures, reused as api/tests/test_mailstack.py does
    from mailhost.tests import helpers as h
    from mailhost.tests.conftest import mail_stack  # noqa: F401
except ImportError:
    if os.environ.get("MAILADMIN_REQUIRE_MAILSTACK") == "1":
        raise
    pytest.skip("mailhost/tests (the mail_stack fixture) is not there", allow_module_level=True)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PASSWORD = "browser password 123"
MAILBOX_PASSWORD = "mailbox password 123"
REMOTE = "someone@remote.example"


@pytest.fixture
def root(db):
    return User.objects.create_user(
        username="root", password=PASSWORD, role="superadmin", is_superuser=True, is_staff=True
    )


def fill_size(page, field: str, number: str, unit: str) -> None:
    page.locator(f"#id_{field}_0").fill(number)
    page.locator(f"#id_{field}_1").select_option(unit)


def prove_ownership(panel, dns_zone, name: str) -> None:
    """The one step between a reseller's new domain and its first mail: the reseller publishes
    the TXT record the domain page shows (to a real DNS server on loopback) and asks for the
    check."""
    domain = Domain.objects.get(name=name)
    assert domain.verified_at is None, f"{name} should wait for its DNS proof"
    panel.go(f"/domains/{domain.pk}/")
    panel.page.get_by_text("gets no mail until its DNS proves").wait_for()
    dns_zone.publish(domain.verification_record_name, domain.verification_record_value)
    panel.page.get_by_role("button", name="Check the DNS record now").click()
    assert f"{domain.display_name} is verified" in panel.message()
    assert Domain.objects.get(pk=domain.pk).verified_at is not None


@pytest.mark.mailstack
def test_reseller_flow_from_pool_to_delivered_mail(
    chromium,  # noqa: F811
    live_server,
    root,
    mail_stack,  # noqa: F811
    dns_zone,
):
    name = h.unique_domain("web")
    operator = Panel(chromium, live_server.url)
    operator.log_in("root", PASSWORD)
    operator.go("/resellers/new/")
    page = operator.page
    page.get_by_label("Name").fill("Browser Hosting")
    page.get_by_label("Domains at most").fill("3")
    page.get_by_label("Mailboxes at most").fill("10")
    fill_size(page, "max_quota_bytes", "5", "GiB")
    page.get_by_role("button", name="Add the reseller").click()
    assert "The reseller Browser Hosting was added." in operator.message()
    pool = Reseller.objects.get(name="Browser Hosting")
    assert (pool.max_domains, pool.max_quota_bytes) == (3, 5 * 1024**3)
    # The reseller's login, from the reseller's page; its generated password is shown once.
    operator.go(f"/resellers/{pool.pk}/")
    page.get_by_role("link", name="Add a login for this reseller").click()
    page.get_by_label("User name").fill("browser-res")
    assert page.get_by_label("Role").input_value() == "reseller"
    assert page.get_by_label("Reseller").input_value() == str(pool.pk)
    page.get_by_role("button", name="Add the user").click()
    assert "The user browser-res was added." in operator.message()
    reseller_password = page.locator("#new-password").inner_text().strip()
    login = User.objects.get(username="browser-res")
    assert login.is_reseller and login.reseller == pool
    assert reseller_password and reseller_password not in login.password
    operator.close()

    reseller = Panel(chromium, live_server.url)
    reseller.log_in("browser-res", reseller_password)
    page = reseller.page
    reseller.go("/domains/new/")
    page.get_by_label("Domain name").fill(name)
    page.get_by_label("Mailboxes at most").fill("5")
    page.get_by_role("button", name="Add the domain").click()
    assert f"The domain {name} was added." in reseller.message()
    prove_ownership(reseller, dns_zone, name)

    page.get_by_role("link", name="Add a mailbox").click()
    page.get_by_label("Address").fill("carol")
    page.get_by_label("Display name").fill("Carol Browser")
    page.locator("#id_password").fill(MAILBOX_PASSWORD)
    fill_size(page, "quota_bytes", "100", "MiB")
    page.get_by_role("button", name="Add the mailbox").click()
    assert f"The mailbox carol@{name} was added." in reseller.message()
    reseller.go(f"/domains/{Domain.objects.get(name=name).pk}/")
    page.get_by_role("link", name="Add an alias").click()
    page.get_by_label("Address", exact=True).fill("sales")
    page.get_by_label("Recipients").fill(f"carol@{name}")
    page.get_by_role("button", name="Add the alias").click()
    assert f"The alias sales@{name} was added." in reseller.message()

    # Toggle a mailbox inline (htmx): the row changes without a page load, the message shows.
    make_mailbox(f"spare@{name}", quota_bytes=1024**2)
    page.reload()
    spare = Mailbox.objects.get(address=f"spare@{name}")
    page.locator(f"#mailbox-{spare.pk} button.toggle").click()
    page.locator(f"#mailbox-{spare.pk} button.toggle.off").wait_for()
    assert f"spare@{name} is now inactive." in reseller.message()
    assert not Mailbox.objects.get(pk=spare.pk).active

    for viewport, tag in ((DESKTOP, "desktop"), (PHONE, "phone")):
        page.set_viewport_size(viewport)
        for path, shot in (
            ("/", "dashboard"),
            (f"/domains/{Domain.objects.get(name=name).pk}/", "domain"),
            (f"/mailboxes/{Mailbox.objects.get(address=f'carol@{name}').pk}/", "mailbox"),
        ):
            reseller.go(path)
            # Down to a phone's width the page never scrolls sideways (wide tables scroll
            # inside their own box).
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= viewport["width"], (path, tag, width)
            reseller.shot(f"{shot}-{tag}")
    reseller.close()

    carol = f"carol@{name}"
    direct = h.message(REMOTE, [carol])
    via_alias = h.message(REMOTE, [f"sales@{name}"])
    assert h.send(mail_stack.ports["smtp"], REMOTE, [carol], direct) == {}
    assert h.send(mail_stack.ports["smtp"], REMOTE, [f"sales@{name}"], via_alias) == {}
    h.wait_messages(mail_stack, carol, 2)
    fetched = h.imap_fetch_all(mail_stack.ports["imap"], carol, MAILBOX_PASSWORD)
    assert any(m.endswith(direct) for m in fetched)
    assert any(m.endswith(via_alias) for m in fetched)


@pytest.mark.mailstack
def test_mailbox_owner_changes_password_and_forwards(chromium, live_server, mail_stack):  # noqa: F811
    name = h.unique_domain("own")
    make_domain(name)
    owner_address = f"dora@{name}"
    make_mailbox(owner_address, password=MAILBOX_PASSWORD)
    make_mailbox(f"team@{name}", password=MAILBOX_PASSWORD)
    new_password = "a brand new one 456"

    owner = Panel(chromium, live_server.url)
    page = owner.page
    owner.go("/mailbox/login/")
    page.get_by_label("Mailbox address").fill(owner_address)
    page.get_by_label("Mail password").fill(MAILBOX_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name=owner_address).wait_for()

    page.get_by_role("link", name="Change your password").click()
    page.get_by_label("Current password").fill(MAILBOX_PASSWORD)
    page.locator("#id_password").fill(new_password)
    page.get_by_label("New password again").fill(new_password)
    page.get_by_role("button", name="Change the password").click()
    assert "Your password was changed." in owner.message()
    assert mail_stack.auth_test(owner_address, new_password).returncode == 0
    assert mail_stack.auth_test(owner_address, MAILBOX_PASSWORD).returncode != 0

    page.get_by_label("Forward my mail to").fill(f"team@{name}")
    page.get_by_label("Keep a copy in my mailbox").uncheck()
    page.get_by_role("button", name="Save the forwarding").click()
    assert "Your forwarding was saved." in owner.message()
    owner.close()

    forwarded = h.message(REMOTE, [owner_address])
    assert h.send(mail_stack.ports["smtp"], REMOTE, [owner_address], forwarded) == {}
    h.wait_messages(mail_stack, f"team@{name}", 1)
    fetched = h.imap_fetch_all(mail_stack.ports["imap"], f"team@{name}", MAILBOX_PASSWORD)
    assert any(m.endswith(forwarded) for m in fetched)
    assert mail_stack.messages(owner_address) == []  # no copy kept


def test_domain_admin_sees_only_its_domain(chromium, live_server):  # noqa: F811
    pool = Reseller.objects.create(name="Siblings")
    mine = make_domain("mine.example", reseller=pool)
    sibling = make_domain("sibling.example", reseller=pool)
    make_mailbox("a@sibling.example")
    admin = User.objects.create_user(username="da", password=PASSWORD, role="domainadmin")
    admin.managed_domains.add(mine)
    panel = Panel(chromium, live_server.url)
    panel.log_in("da", PASSWORD)
    panel.go("/domains/")
    rows = panel.page.locator("#domains tbody tr").all_inner_texts()
    assert len(rows) == 1 and "mine.example" in rows[0]
    assert panel.go(f"/domains/{sibling.pk}/").status == 404
    # A forged POST with a valid session and CSRF token: the same 404, nothing changes.
    panel.go(f"/domains/{mine.pk}/")
    token = panel.page.locator("input[name=csrfmiddlewaretoken]").first.get_attribute("value")
    box = Mailbox.objects.get(address="a@sibling.example")
    before = row_counts()
    for path, data in (
        (f"/mailboxes/{box.pk}/toggle/", {}),
        (f"/mailboxes/{box.pk}/delete/", {}),
        (f"/domains/{sibling.pk}/mailboxes/new/", {"address": "x", "form_token": "f" * 32}),
    ):
        response = panel.page.request.post(
            live_server.url + path,
            form={"csrfmiddlewaretoken": token, **data},
            headers={"X-CSRFToken": token, "Referer": live_server.url + "/"},
        )
        assert response.status == 404, (path, response.status)
    assert row_counts() == before and Mailbox.objects.get(pk=box.pk).active
    panel.close()


def test_form_errors_next_to_the_field_and_nothing_written(chromium, live_server, root):  # noqa: F811
    domain = make_domain("errors.example", max_quota_per_mailbox=1024**3)
    make_mailbox("taken@errors.example", quota_bytes=1024**2)
    one = make_alias("one@errors.example", ["taken@errors.example"])
    make_alias("two@errors.example", ["one@errors.example"])
    panel = Panel(chromium, live_server.url)
    panel.log_in("root", PASSWORD)
    page = panel.page

    before = row_counts()
    panel.go("/domains/new/")
    # Keyboard first: Tab reaches the skip link, which then shows itself and takes a visible
    # focus ring.
    page.keyboard.press("Tab")
    focused = page.evaluate(
        "() => { const el = document.activeElement; const s = getComputedStyle(el);"
        " return [el.className, el.getBoundingClientRect().left, s.outlineStyle]; }"
    )
    assert focused[0] == "skip" and focused[1] >= 0 and focused[2] == "solid"
    page.get_by_label("Domain name").fill("not a domain!")
    page.get_by_role("button", name="Add the domain").click()
    page.wait_for_load_state()
    assert panel.error_of("name"), page.content()
    assert page.locator("#id_name").get_attribute("aria-invalid") == "true"
    assert "id_name_error" in page.locator("#id_name").get_attribute("aria-describedby")

    panel.go(f"/domains/{domain.pk}/mailboxes/new/")
    page.get_by_label("Address").fill("big")
    page.locator("#id_password").fill(MAILBOX_PASSWORD)
    fill_size(page, "quota_bytes", "2", "GiB")
    page.get_by_role("button", name="Add the mailbox").click()
    assert "at most" in panel.error_of("quota_bytes")

    panel.go(f"/domains/{domain.pk}/mailboxes/new/")
    page.get_by_label("Address").fill("TAKEN")
    page.locator("#id_password").fill(MAILBOX_PASSWORD)
    fill_size(page, "quota_bytes", "1", "MiB")
    page.get_by_role("button", name="Add the mailbox").click()
    assert "already exists" in panel.error_of("address")

    panel.go(f"/aliases/{one.pk}/")  # one -> two -> one
    page.get_by_label("Recipients").fill("two@errors.example")
    page.get_by_role("button", name="Save").click()
    assert "loop" in panel.error_of("recipients")
    assert row_counts() == before
    assert [r.address for r in Alias.objects.get(pk=one.pk).recipients.all()] == [
        "taken@errors.example"
    ]
    panel.close()


def test_romanian_for_accept_language_ro(chromium, live_server, root):  # noqa: F811
    panel = Panel(chromium, live_server.url, locale="ro-RO")
    panel.go("/login/")
    assert panel.page.locator("html").get_attribute("lang") == "ro"
    assert panel.page.get_by_role("heading", level=1).inner_text() == "Autentificare"
    panel.page.get_by_label("Nume utilizator").fill("root")
    panel.page.get_by_label("Parolă").fill(PASSWORD)
    panel.page.get_by_role("button", name="Autentificare").click()
    panel.page.wait_for_url(live_server.url + "/")
    assert panel.page.get_by_role("heading", level=1).inner_text() == "Panou"
    nav = panel.page.get_by_role("navigation", name="Principal").inner_text()
    assert re.search(r"Domenii.*Revânzători.*Jurnal de audit", nav, re.S)
    panel.close()
