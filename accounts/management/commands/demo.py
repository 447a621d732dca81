"""Demo data for a first look at the panel: a superadmin, a reseller with a pool and a domain admin,
and a few domains with mailboxes, aliases, a catch-all and an alias domain. Safe to run twice."""

from django.core.management.base import BaseCommand
from django.db import transaction

from accounts import services as accounts
from accounts.models import Reseller, User
from audit.origin import Origin
from domains import services
from domains.models import Domain

DEMO_PASSWORD = "demo-password-123"
MAILBOX_PASSWORD = "mailbox-password-123"
GIB = 1024**3


class Command(BaseCommand):
    help = "Create demo users and mail data (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options):
        if not User.objects.filter(username="admin").exists():
            accounts.user_create(
                origin=Origin.cli(),
                actor=None,
                username="admin",
                password=DEMO_PASSWORD,
                role="superadmin",
            )
        if Domain.objects.filter(name="example.com").exists():
            self.stdout.write("Demo data is already there.")
            return
        own = services.domain_create(
            origin=Origin.cli(),
            actor=None,
            name="example.com",
            description="Run by the operator",
            default_quota=GIB,
        )
        for local, name in (("alice", "Alice Example"), ("bob", "Bob Example")):
            services.mailbox_create(
                origin=Origin.cli(),
                actor=None,
                address=f"{local}@example.com",
                password=MAILBOX_PASSWORD,
                name=name,
            )
        services.alias_create(
            origin=Origin.cli(),
            actor=None,
            address="info@example.com",
            recipients=["alice@example.com", "bob@example.com"],
        )
        services.alias_create(
            origin=Origin.cli(),
            actor=None,
            address="@example.com",
            recipients=["alice@example.com"],
        )
        services.alias_domain_create(
            origin=Origin.cli(), actor=None, name="example.net", target=own
        )

        pool = Reseller.objects.filter(name="Acme Hosting").first() or accounts.reseller_create(
            origin=Origin.cli(),
            actor=None,
            name="Acme Hosting",
            max_domains=5,
            max_mailboxes=50,
            max_aliases=100,
            max_quota_bytes=50 * GIB,
        )
        reseller_user = accounts.user_create(
            origin=Origin.cli(),
            actor=None,
            username="acme",
            password=DEMO_PASSWORD,
            role="reseller",
            reseller=pool,
        )
        customer = services.domain_create(
            origin=Origin.cli(),
            actor=reseller_user,
            name="münchen.example",
            max_mailboxes=10,
            default_quota=GIB,
        )
        services.mailbox_create(
            origin=Origin.cli(),
            actor=reseller_user,
            address="info@münchen.example",
            password=MAILBOX_PASSWORD,
        )
        accounts.user_create(
            origin=Origin.cli(),
            actor=reseller_user,
            username="muenchen-admin",
            password=DEMO_PASSWORD,
            role="domainadmin",
            domains=[customer],
        )
        services.domain_create(
            origin=Origin.cli(),
            actor=None,
            name="relay.example",
            kind="relay",
            transport="smtp:[mx.relay.example]:25",
        )
        self.stdout.write(self.style.SUCCESS("Demo data created."))
