from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from mailhost.mailrole import ensure_mail_role


class Command(BaseCommand):
    help = "Create or update the mail servers' least-privilege database role (PostgreSQL)."

    def add_arguments(self, parser):
        parser.add_argument("--role", default=settings.MAIL_DB_ROLE)
        parser.add_argument(
            "--password", default=settings.MAIL_DB_PASSWORD, help="default: MAIL_DB_PASSWORD"
        )

    def handle(self, *args, role, password, **options):
        try:
            ensure_mail_role(role=role, password=password)
        except RuntimeError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Mail role {role!r} can read the lookups and write quota usage.")
