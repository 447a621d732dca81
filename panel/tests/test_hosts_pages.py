"""The superadmin's mail-host pages and the mailbox rename page."""

import pytest
from django.test import Client

from domains.models import Mailbox
from domains.tests.helpers import make_domain, make_mailbox
from mailhost.models import MailHost, Operation

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(superadmin):
    client = Client()
    client.force_login(superadmin)
    return client


def test_rename_page_moves_the_address_and_marks_the_mailbox_busy(admin):
    make_domain("ex.example")
    box = make_mailbox("old@ex.example")
    page = admin.get(f"/mailboxes/{box.pk}/")
    assert f'action="/mailboxes/{box.pk}/rename/"' in page.content.decode()
    response = admin.post(f"/mailboxes/{box.pk}/rename/", {"address": "new@ex.example"})
    assert response.status_code == 302
    box.refresh_from_db()
    assert (box.address, box.maildir_busy) == ("new@ex.example", True)
    assert Operation.objects.filter(kind="maildir_move", mailbox_address="new@ex.example").exists()
    assert 'id="maildir-busy"' in admin.get(f"/mailboxes/{box.pk}/").content.decode()
    refused = admin.post(f"/mailboxes/{box.pk}/rename/", {"address": "x@elsewhere.example"})
    assert refused.status_code == 200 and Mailbox.objects.get(pk=box.pk).address == "new@ex.example"


def test_hosts_page_reload_and_operations_retry(admin):
    host = MailHost.objects.create(name="mx-page")
    assert "mx-page" in admin.get("/hosts/").content.decode()
    assert admin.post(f"/hosts/{host.pk}/reload/").status_code == 302
    (op,) = Operation.objects.filter(host=host)
    Operation.objects.filter(pk=op.pk).update(state="failed", last_error="postfix check failed: x")
    page = admin.get("/operations/?state=failed").content.decode()
    assert "postfix check failed: x" in page
    assert admin.post(f"/operations/{op.pk}/retry/").status_code == 302
    op.refresh_from_db()
    assert op.state == "pending"
