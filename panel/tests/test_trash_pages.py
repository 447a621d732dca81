"""The Trash page: a user's own deleted domains and mailboxes, restored or deleted for good by
inline (htmx) POSTs or plain forms; a refused restore says why and keeps the row. Foreign ids are
404 (test_isolation.py probes every pattern)."""

import pytest
from django.test import Client

from domains import services
from domains.models import Domain, Mailbox, TrashItem
from domains.tests.helpers import make_domain, make_mailbox

pytestmark = pytest.mark.django_db


@pytest.fixture
def client_of():
    def login(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return login


def test_the_trash_lists_restores_and_purges(reseller_user, other_reseller_user, client_of):
    domain = make_domain("mine.example", reseller=reseller_user.reseller)
    box = make_mailbox("box@mine.example")
    services.mailbox_delete(actor=reseller_user, mailbox=box)
    client = client_of(reseller_user)
    page = client.get("/trash/").content.decode()
    assert "box@mine.example" in page and 'href="/trash/"' in page
    assert "box@mine.example" not in client_of(other_reseller_user).get("/trash/").content.decode()
    item = TrashItem.objects.get()
    # A refused restore (the address was taken meanwhile) keeps the row and says why.
    make_mailbox("box@mine.example")
    row = client.post(f"/trash/{item.pk}/restore/", headers={"HX-Request": "true"})
    body = row.content.decode()
    assert row.status_code == 200 and f'id="trash-{item.pk}"' in body
    assert "box@mine.example exists again." in body
    services.mailbox_delete(actor=reseller_user, mailbox=Mailbox.objects.get())
    newer = TrashItem.objects.exclude(pk=item.pk).get()
    services.trash_purge(actor=reseller_user, item=newer)
    row = client.post(f"/trash/{item.pk}/restore/", headers={"HX-Request": "true"})
    assert f'id="trash-{item.pk}"' not in row.content.decode()
    assert Mailbox.objects.get(address="box@mine.example").pk == box.pk
    # Delete for good, as a plain form.
    services.domain_delete(actor=reseller_user, domain=domain, confirm=True)
    domain_item = TrashItem.objects.get()
    response = client.post(f"/trash/{domain_item.pk}/purge/")
    assert response.status_code == 302 and response["Location"] == "/trash/"
    assert not TrashItem.objects.exists() and not Domain.objects.exists()
    assert client.get(f"/trash/{domain_item.pk}/purge/").status_code == 405
