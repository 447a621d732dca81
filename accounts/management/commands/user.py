"""Panel users from the shell, through the same services as the web and the API.

    manage.py user create NAME --role superadmin|reseller|domainadmin [--reseller POOL]
                               [--email ADDR] [--domains a.example,b.example] [--password-stdin]
    manage.py user list [--role ROLE] [--reseller POOL]
    manage.py user set-password NAME [--password-stdin]
    manage.py user deactivate NAME | activate NAME
    manage.py user domains NAME a.example,b.example      (the whole list; "" for none)

Without --password-stdin a strong password is generated and printed once (stdout, alone on its
line); the database keeps only its hash. The command acts as the system (the operator).
"""

import sys

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts import services
from accounts.models import Reseller, User
from accounts.selectors import user_list
from audit.origin import Origin
from domains.normalize import storable


def _messages(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return "; ".join(f"{f}: {' '.join(m)}" for f, m in exc.message_dict.items())
    return " ".join(exc.messages)


def _names(value: str) -> list[str]:
    return [n.strip() for n in value.split(",") if n.strip()]


class Command(BaseCommand):
    help = "Create, list and change panel users (superadmins, reseller logins, domain admins)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="Create a user; prints a generated password once")
        create.add_argument("username")
        create.add_argument("--role", required=True, choices=User.Role.values)
        create.add_argument(
            "--reseller", help="The reseller's name (reseller logins, and a pool's domain admins)"
        )
        create.add_argument("--email", default="")
        create.add_argument("--domains", default="", help="Comma-separated domains (domain admins)")
        create.add_argument(
            "--password-stdin", action="store_true", help="Read the password from standard input"
        )
        listing = sub.add_parser("list", help="List users")
        listing.add_argument("--role", choices=User.Role.values)
        listing.add_argument("--reseller", help="Only this reseller's people")
        password = sub.add_parser("set-password", help="Set a new password (generated if none)")
        password.add_argument("username")
        password.add_argument("--password-stdin", action="store_true")
        for name in ("activate", "deactivate"):
            sub.add_parser(name, help=f"{name.capitalize()} a user").add_argument("username")
        domains = sub.add_parser("domains", help="Set the domains a domain admin manages")
        domains.add_argument("username")
        domains.add_argument("domains", help='Comma-separated domain names ("" for none)')

    def handle(self, *args, **options):
        action = options["action"].replace("-", "_")
        try:
            return getattr(self, f"do_{action}")(options)
        except ValidationError as exc:
            raise CommandError(_messages(exc)) from exc
        except PermissionDenied as exc:  # pragma: no cover - the system may do anything
            raise CommandError(str(exc)) from exc

    def _user(self, name: str) -> User:
        user = User.objects.filter(username__iexact=name).first() if storable(name) else None
        if user is None:
            raise CommandError(f"No user named {name!r}.")
        return user

    def _reseller(self, name: str | None) -> Reseller | None:
        if not name:
            return None
        reseller = None
        if storable(name):
            reseller = Reseller.objects.filter(name__iexact=name.strip()).first()
        if reseller is None:
            raise CommandError(f"No reseller named {name!r}.")
        return reseller

    def _password(self, options) -> tuple[str, bool]:
        if options["password_stdin"]:
            password = sys.stdin.readline().rstrip("\r\n")
            if not password:
                raise CommandError("--password-stdin: standard input held no password.")
            return password, False
        return services.generate_password(), True

    def _show(self, user: User, password: str, generated: bool, what: str) -> None:
        if generated:
            self.stderr.write(f"{what} {user.username}. Its password, shown only now:")
            self.stdout.write(password)
        else:
            self.stdout.write(f"{what} {user.username}.")

    def do_create(self, options):
        password, generated = self._password(options)
        user = services.user_create(
            origin=Origin.cli(),
            actor=None,
            username=options["username"],
            password=password,
            role=options["role"],
            email=options["email"],
            reseller=self._reseller(options["reseller"]),
            domains=_names(options["domains"]),
        )
        self._show(user, password, generated, f"Created the {user.get_role_display()}")

    def do_list(self, options):
        users = user_list(actor=None)
        if options["role"]:
            users = users.filter(role=options["role"])
        if options["reseller"]:
            users = users.filter(reseller=self._reseller(options["reseller"]))
        for user in users.iterator(chunk_size=500):
            role = "superadmin" if user.is_superadmin else user.role
            domains = ",".join(d.display_name for d in user.managed_domains.all())
            self.stdout.write(
                f"{user.username}\t{role}\t{user.reseller.name if user.reseller else '-'}\t"
                f"{'active' if user.is_active else 'inactive'}\t{domains or '-'}"
            )

    def do_set_password(self, options):
        user = self._user(options["username"])
        password, generated = self._password(options)
        services.user_set_password(origin=Origin.cli(), actor=None, user=user, password=password)
        self._show(user, password, generated, "New password for")

    def do_activate(self, options):
        user = services.user_update(
            origin=Origin.cli(), actor=None, user=self._user(options["username"]), active=True
        )
        self.stdout.write(f"{user.username} is active.")

    def do_deactivate(self, options):
        user = services.user_update(
            origin=Origin.cli(), actor=None, user=self._user(options["username"]), active=False
        )
        self.stdout.write(f"{user.username} is deactivated.")

    def do_domains(self, options):
        user = services.user_update(
            origin=Origin.cli(),
            actor=None,
            user=self._user(options["username"]),
            domains=_names(options["domains"]),
        )
        names = [d.display_name for d in user.managed_domains.order_by("name")]
        self.stdout.write(f"{user.username} manages: {', '.join(names) or 'nothing'}.")
