"""Updates decide themselves what changed (the API and the web panel hand over what the caller
sent): an unchanged value writes nothing, records nothing and needs no extra rights."""

from accounts import services as account_services
from accounts.models import User
from audit.models import AuditEvent
from domains import services
from domains.models import Mailbox
from domains.tests.helpers import make_alias, make_domain, make_mailbox, refused


def test_domain_admin_may_resend_the_limits_it_cannot_change(reseller_user):
    domain = make_domain("mine.example", actor=reseller_user, max_mailboxes=5)
    admin = User.objects.create_user(username="da", password="x", role="domainadmin")
    admin.managed_domains.add(domain)
    before = AuditEvent.objects.count()
    services.domain_update(
        actor=admin, domain=domain, kind="local", active=True, max_mailboxes=5, description=""
    )
    assert AuditEvent.objects.count() == before  # nothing changed, nothing recorded
    services.domain_update(actor=admin, domain=domain, max_mailboxes=5, description="ours")
    event = AuditEvent.objects.latest("id")
    assert (event.action, event.changes) == (
        "domain.update",
        {"description": {"before": "", "after": "ours"}},
    )


def test_unchanged_mailbox_forwards_and_alias_recipients_write_nothing(domain):
    box = make_mailbox("a@example.com")
    make_mailbox("b@example.com")
    services.mailbox_update(actor=None, mailbox=box, forward_to=["b@example.com"], keep_copy=False)
    alias = make_alias("team@example.com", ["a@example.com"])
    before = AuditEvent.objects.count()
    services.mailbox_update(
        actor=None, mailbox=box, forward_to=["b@example.com"], keep_copy=False, active=True
    )
    services.alias_update(actor=None, alias=alias, recipients=["a@example.com"], active=True)
    assert AuditEvent.objects.count() == before
    services.mailbox_update(actor=None, mailbox=box, forward_to=[], keep_copy=True)
    box = Mailbox.objects.get(pk=box.pk)
    assert box.keep_copy and not box.forwards.exists()
    assert AuditEvent.objects.latest("id").changes == {
        "keep_copy": {"before": False, "after": True},
        "forward_to": {"before": ["b@example.com"], "after": []},
    }


def test_mailbox_created_with_forwards_in_one_step(domain):
    make_mailbox("b@example.com")
    box = services.mailbox_create(
        actor=None,
        address="a@example.com",
        password="a long password",
        forward_to=["b@example.com", "out@elsewhere.example"],
        keep_copy=False,
    )
    assert [f.address for f in box.forwards.order_by("id")] == [
        "b@example.com",
        "out@elsewhere.example",
    ]
    assert not box.keep_copy
    with refused("forward_to"):  # itself: keep_copy says that
        services.mailbox_create(
            actor=None,
            address="c@example.com",
            password="a long password",
            forward_to=["c@example.com", "a@example.com"],
        )


def test_reseller_rename_follows_the_name_rule(superadmin):
    one = account_services.reseller_create(actor=superadmin, name="One")
    account_services.reseller_create(actor=superadmin, name="Two")
    with refused("name", "duplicate"):
        account_services.reseller_update(actor=superadmin, reseller=one, name=" two ")
    with refused("name"):
        account_services.reseller_update(actor=superadmin, reseller=one, name="   ")
    before = AuditEvent.objects.count()
    account_services.reseller_update(actor=superadmin, reseller=one, name="One")
    assert AuditEvent.objects.count() == before
    assert account_services.reseller_update(actor=superadmin, reseller=one, name=" Uno ").name == (
        "Uno"
    )
