"""`manage.py mailstack up|status|down --root DIR`: a real Postfix + Dovecot on loopback that
serves this panel's database, everything under DIR. Prints one JSON object."""

import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from mailhost import stack


class Command(BaseCommand):
    help = (
        "Start (up), inspect (status) or stop (down) a local Postfix + Dovecot under --root, "
        "configured by the same generator as `mailconfig`, on free loopback ports."
    )
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["up", "status", "down"])
        parser.add_argument("--root", required=True, help="directory holding the whole stack")
        parser.add_argument("--tls", action="store_true", help="make a self-signed certificate")
        parser.add_argument("--timeout", type=float, default=30.0)
        parser.add_argument("--hostname", default="localhost")
        parser.add_argument("--db-host", default=None)
        parser.add_argument("--db-port", type=int, default=None)
        parser.add_argument("--db-name", default=None)
        parser.add_argument("--db-role", default=None)
        parser.add_argument("--db-password", default=None)

    def handle(self, *args, action, root, **opts):
        if action == "up":
            try:
                stack.require_binaries()
            except stack.MailstackError as exc:
                raise CommandError(str(exc)) from exc
        if action == "up" and not opts["db_name"] and _default_db_name() is None:
            raise CommandError(
                "The mail stack reads the panel's PostgreSQL views, and the panel runs on SQLite: "
                "set DATABASE_URL=postgres://... (then `manage.py migrate` and `manage.py "
                "mailrole`), or name a PostgreSQL database with --db-name."
            )
        try:
            if action == "up":
                _, info = stack.up(
                    root,
                    tls=opts["tls"],
                    timeout=opts["timeout"],
                    hostname=opts["hostname"],
                    db_host=opts["db_host"],
                    db_port=opts["db_port"],
                    db_name=opts["db_name"] or _default_db_name(),
                    db_role=opts["db_role"],
                    db_password=opts["db_password"],
                )
            elif action == "status":
                info = stack.status(root)
            else:
                info = stack.down(root, timeout=opts["timeout"])
        except stack.MailstackError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(json.dumps(info, indent=2))
        if action == "up" and info.get("database_ok") is False:
            self.stderr.write(
                "warning: the stack runs, but Postfix cannot read the database: "
                f"{info.get('database_error')} (check --db-* / MAIL_DB_*, and `manage.py mailrole`)"
            )
        if action == "status" and not info.get("running"):
            raise SystemExit(3)


def _default_db_name():
    """The panel's own database when it is PostgreSQL (MAIL_DB_NAME otherwise)."""
    db = settings.DATABASES["default"]
    if "postgresql" in db.get("ENGINE", ""):
        return getattr(settings, "MAIL_DB_NAME", None) or db["NAME"]
    return None
