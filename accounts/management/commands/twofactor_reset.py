"""Remove a panel user's authenticator and recovery codes (the device was lost): the next login
asks for the password only, or, where the role requires 2FA, leads to enrolment."""

from django.core.management.base import BaseCommand, CommandError

from accounts import twofactor
from accounts.models import User
from audit.origin import Origin
from domains.normalize import storable


class Command(BaseCommand):
    help = "Turn off two-factor login for USERNAME (a lost authenticator)."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username: str, **options):
        user = (
            User.objects.filter(username__iexact=username).first() if storable(username) else None
        )
        if user is None:
            raise CommandError(f"No panel user named {username}.")
        twofactor.two_factor_disable(origin=Origin.cli(), actor=None, user=user)
        self.stdout.write(f"Two-factor login is off for {user.username}.")
