"""Check the DNS of every pending domain and alias domain once; live the ones whose TXT record
is there. The periodic job calls the same service (domains.services.verify_pending_domains)."""

from django.core.management.base import BaseCommand

from audit.origin import Origin
from domains.services import verify_pending_domains


class Command(BaseCommand):
    help = "Verify pending domains and alias domains by their _mailadmin-verify TXT record."

    def handle(self, *args, **options):
        result = verify_pending_domains(origin=Origin.cli())
        for name in result["verified"]:
            self.stdout.write(f"verified {name}")
        for name in result["pending"]:
            self.stdout.write(f"pending  {name}")
        self.stdout.write(
            f"{len(result['verified'])} verified, {len(result['pending'])} still pending"
        )
