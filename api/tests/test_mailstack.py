"""End to end: a mailbox created through the API receives mail through the real Postfix and
Dovecot (mailhost.stack), reading the same database, with no reload."""

import os

import pytest

from accounts.models import Reseller, User
from api.tests.conftest import ApiClient, new_key

try:  # the mail stack's own fixtures (mailhost/tests), reused rather than rebuilt
    from mailhost.tests import helpers as h
    from mailhost.tests.conftest import mail_stack  # noqa: F401
except ImportError:
    if os.environ.get("MAILADMIN_REQUIRE_MAILSTACK") == "1":
        raise
    pytest.skip("mailhost/tests (the mail_stack fixture) is not there", allow_module_level=True)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.mailstack,
    pytest.mark.django_db(transaction=True),
]

REMOTE = "sender@remote.example"
PASSWORD = "set through the API 1"


def test_mailbox_created_through_the_api_receives_mail(mail_stack, dns_zone):  # noqa: F811
    pool = Reseller.objects.create(name="E2E", max_mailboxes=5)
    user = User.objects.create_user(username="e2e", role="reseller", reseller=pool)
    api = ApiClient(new_key(user))
    name = h.unique_domain("api")

    domain = api.post("domains/", {"name": name})
    assert domain.status_code == 201
    # A reseller's domain gets mail once its DNS proves the claim (a real DNS server on
    # loopback answers the check).
    record = domain.json()["verification_record"]
    dns_zone.publish(record["name"], record["value"])
    verified = api.post(f"domains/{domain.json()['id']}/verify/", {})
    assert verified.status_code == 200 and verified.json()["verified"], verified.content
    created = api.post("mailboxes/", {"address": f"carol@{name}", "password": PASSWORD})
    assert created.status_code == 201, created.content
    carol = created.json()
    alias = api.post("aliases/", {"address": f"sales@{name}", "recipients": [carol["address"]]})
    assert alias.status_code == 201, alias.content

    direct = h.message(REMOTE, [carol["address"]])
    assert h.send(mail_stack.ports["smtp"], REMOTE, [carol["address"]], direct) == {}
    via_alias = h.message(REMOTE, [f"sales@{name}"])
    assert h.send(mail_stack.ports["smtp"], REMOTE, [f"sales@{name}"], via_alias) == {}
    h.wait_messages(mail_stack, carol["address"], 2)

    # The password set through the API is the one Dovecot accepts.
    fetched = h.imap_fetch_all(mail_stack.ports["imap"], carol["address"], PASSWORD)
    assert any(m.endswith(direct) for m in fetched)
    assert any(m.endswith(via_alias) for m in fetched)

    # Deactivated through the API: Postfix refuses the address at once.
    assert api.patch(f"mailboxes/{carol['id']}/", {"active": False}).status_code == 200
    assert api.patch(f"aliases/{alias.json()['id']}/", {"active": False}).status_code == 200
    code, _msg = h.rcpt_reply(mail_stack.ports["smtp"], REMOTE, carol["address"])
    assert code >= 500
