"""Names as people read them beside the keys machines read, quotas bounded and shown against
their usage: the `*_unicode` fields, `quota_used_percent` and MAILADMIN_MAX_QUOTA_BYTES."""

import pytest

from accounts.models import User
from api.tests.conftest import ApiClient, new_key
from domains import services
from domains.models import Domain, Mailbox, QuotaUsage
from domains.tests.helpers import make_alias, make_domain, make_mailbox
from domains.units import EIB, GIB, TIB

ACE = "xn--bcher-kva.example"  # bücher.example


@pytest.fixture
def books(db):
    root = User.objects.create_user(username="root", role="superadmin", is_superuser=True)
    domain = make_domain("bücher.example")
    carol = make_mailbox("carol@bücher.example", quota_bytes=4 * GIB)
    QuotaUsage.objects.filter(mailbox=carol).delete()
    QuotaUsage.objects.create(mailbox=carol, username=carol.address, bytes=GIB, messages=3)
    make_alias("team@bücher.example", [carol.address, "dave@straße.example"])
    services.alias_domain_create(actor=None, name="bücherei.example", target=domain)
    services.sender_grant_create(actor=None, mailbox=carol, address="@bücher.example")
    return ApiClient(new_key(root))


def only(api, path):
    rows = api.get(path).json()["results"]
    assert len(rows) == 1, rows
    return rows[0]


def test_addresses_come_as_stored_keys_and_as_people_read_them(books):
    mailbox = only(books, "mailboxes/")
    assert mailbox["address"] == f"carol@{ACE}"
    assert mailbox["address_unicode"] == "carol@bücher.example"
    alias = only(books, "aliases/")
    assert alias["address"] == f"team@{ACE}"
    assert alias["address_unicode"] == "team@bücher.example"
    assert alias["recipients"] == [f"carol@{ACE}", "dave@xn--strae-oqa.example"]
    assert alias["recipients_unicode"] == ["carol@bücher.example", "dave@straße.example"]
    alias_domain = only(books, "alias-domains/")
    assert alias_domain["name_unicode"] == "bücherei.example"
    assert alias_domain["target"] == ACE
    assert alias_domain["target_unicode"] == "bücher.example"
    grant = only(books, "sender-identities/")
    assert grant["address"] == f"@{ACE}"
    assert grant["address_unicode"] == "@bücher.example"
    assert grant["mailbox_unicode"] == "carol@bücher.example"
    domain = only(books, "domains/")
    assert (domain["name"], domain["name_unicode"]) == (ACE, "bücher.example")


def test_a_look_alike_name_stays_in_its_a_label_form(books):
    """display_domain's rule: a label that could pass for another name is never shown decoded."""
    Mailbox.objects.update(address="carol@xn--80ak6aa92e.example")  # "аррӏе", Cyrillic
    mailbox = only(books, "mailboxes/")
    assert mailbox["address_unicode"] == "carol@xn--80ak6aa92e.example"


def test_quota_used_percent(books):
    assert only(books, "mailboxes/")["quota_used_percent"] == 25.0
    Mailbox.objects.update(quota_bytes=0)
    assert only(books, "mailboxes/")["quota_used_percent"] is None


def test_an_eight_eib_quota_is_a_field_error_even_for_the_operator(books):
    box = only(books, "mailboxes/")
    for path, field, body in [
        (f"mailboxes/{box['id']}/", "quota_bytes", {"quota_bytes": 8 * EIB}),
        ("domains/", "total_quota", {"name": "big.example", "total_quota": 8 * EIB}),
        (
            "domains/",
            "max_quota_per_mailbox",
            {"name": "big.example", "max_quota_per_mailbox": 8 * EIB},
        ),
    ]:
        method = books.patch if path.startswith("mailboxes") else books.post
        response = method(path, body)
        assert response.status_code == 400, (path, response.content)
        assert field in response.json(), response.json()
    assert not Domain.objects.filter(name="big.example").exists()
    assert Mailbox.objects.get().quota_bytes == 4 * GIB


def test_the_maximum_itself_is_accepted(books, settings):
    assert settings.MAILADMIN_MAX_QUOTA_BYTES == 16 * TIB
    box = only(books, "mailboxes/")
    response = books.patch(f"mailboxes/{box['id']}/", {"quota_bytes": 16 * TIB})
    assert response.status_code == 200, response.content
    assert response.json()["quota_bytes"] == 16 * TIB


def test_the_service_refuses_for_every_caller(books, settings):
    """The cap lives in the service (what the panel and the CLI call), not only in the API."""
    from domains.tests.helpers import refused

    settings.MAILADMIN_MAX_QUOTA_BYTES = 10 * GIB
    with refused("quota_bytes", "max_quota"):
        make_mailbox("erin@bücher.example", quota_bytes=10 * GIB + 1)
    with refused("default_quota", "max_quota"):
        make_domain("other.example", default_quota=11 * GIB)
    domain = Domain.objects.get(name=ACE)
    with refused("total_quota", "max_quota"):
        services.domain_update(actor=None, domain=domain, total_quota=11 * GIB)
