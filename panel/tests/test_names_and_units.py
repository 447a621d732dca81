"""What a newcomer reads in the panel: Unicode names in headings and addresses (A-labels only
where a machine reads them), sizes in binary units with usage against quota, a relay domain's
next hop, the alias domains of a domain, and a quota above the documented maximum refused next
to its field for the operator too."""

import pytest

from domains import services
from domains.models import Mailbox, QuotaUsage
from domains.tests.helpers import make_alias, make_domain, make_mailbox, row_counts
from domains.units import EIB, GIB, MIB
from panel.tests.helpers import browser, field_errors, form_token, text

ACE = "xn--bcher-kva.example"


@pytest.fixture
def books(db, superadmin):
    domain = make_domain("bücher.example")
    carol = make_mailbox("carol@bücher.example", quota_bytes=4 * GIB)
    QuotaUsage.objects.filter(mailbox=carol).delete()
    QuotaUsage.objects.create(mailbox=carol, username=carol.address, bytes=GIB, messages=3)
    make_alias("team@bücher.example", [carol.address, "dave@straße.example"])
    services.alias_domain_create(actor=None, name="bücherei.example", target=domain)
    return browser(superadmin), domain, carol


def test_the_domain_page_reads_in_unicode(books):
    client, domain, _carol = books
    page = text(client.get(f"/domains/{domain.pk}/"))
    assert "<h1>bücher.example</h1>" in page
    assert "carol@bücher.example" in page
    assert "dave@straße.example" in page
    # The A-label appears once, labelled as the name mail servers use; never as an address.
    assert f"@{ACE}" not in page
    assert "@xn--strae-oqa.example" not in page


def test_alias_domains_are_on_the_domain_page(books):
    client, domain, _carol = books
    page = text(client.get(f"/domains/{domain.pk}/"))
    section = page[page.index('id="alias-domains"') :]
    assert "bücherei.example" in section[: section.index("</section>")]


def test_usage_shows_against_quota_with_a_percentage_in_binary_units(books):
    client, domain, _carol = books
    page = text(client.get(f"/domains/{domain.pk}/"))
    assert "1 GiB / 4 GiB (25%)" in page
    assert " GB" not in page and " MB" not in page


def test_the_mailbox_form_offers_binary_units_and_shows_the_quota_in_them(books):
    client, _domain, carol = books
    page = text(client.get(f"/mailboxes/{carol.pk}/"))
    assert 'value="4"' in page and '<option value="GiB" selected>GiB</option>' in page
    assert ">GB<" not in page and ">MB<" not in page


def test_a_relay_domain_shows_its_next_hop_in_the_list_and_on_its_page(books, settings):
    client, _domain, _carol = books
    relay = make_domain("relay.example", kind="relay", transport="smtp:[mx.relay.example]:25")
    listing = text(client.get("/domains/"))
    row = listing[listing.index(f'id="domain-{relay.pk}"') :]
    assert "smtp:[mx.relay.example]:25" in row[: row.index("</tr>")]
    assert "smtp:[mx.relay.example]:25" in text(client.get(f"/domains/{relay.pk}/"))


def test_an_eight_eib_quota_is_refused_next_to_the_field(books):
    client, domain, carol = books
    url = f"/domains/{domain.pk}/mailboxes/new/"
    before = row_counts()
    page = client.get(url).content.decode()
    response = client.post(
        url,
        {
            "form_token": form_token(page),
            "address": "huge",
            "password": "long enough pw 1",
            "quota_bytes_0": str(8 * 1024**2),
            "quota_bytes_1": "TiB",  # 8 EiB
        },
    )
    errors = field_errors(response.content.decode(), "quota_bytes")
    assert errors and "16 TiB" in errors[0], errors
    assert row_counts() == before
    response = client.post(
        f"/mailboxes/{carol.pk}/",
        {"quota_bytes_0": str(8 * EIB // MIB), "quota_bytes_1": "MiB", "active": "on"},
    )
    assert field_errors(response.content.decode(), "quota_bytes")
    assert Mailbox.objects.get(pk=carol.pk).quota_bytes == 4 * GIB


def test_the_kind_of_a_domain_reads_in_romanian(books):
    client, _domain, _carol = books
    make_domain("relay.example", kind="relay", transport="smtp:[mx.relay.example]:25")
    page = text(client.get("/domains/", headers={"accept-language": "ro"}))
    assert "Căsuțe locale" in page and "Retransmis către următorul server" in page
    assert "următorul server <code>smtp:[mx.relay.example]:25</code>" in page


def test_a_mailbox_over_its_quota_says_by_how_much(books):
    client, domain, carol = books
    QuotaUsage.objects.filter(mailbox=carol).update(bytes=5 * GIB)  # Dovecot counts past it
    page = text(client.get(f"/domains/{domain.pk}/"))
    assert "5 GiB / 4 GiB (125%)" in page
    assert 'value="100"' in page  # the bar stops at full
