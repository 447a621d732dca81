"""Bootstrap and manage API keys from the shell.

    manage.py apikey create --user NAME [--name TEXT] [--read-only] [--expires 90d|2027-01-31]
                            [--networks 192.0.2.0/24,2001:db8::/32]
    manage.py apikey list [--user NAME]
    manage.py apikey revoke mak_abcd1234

`create` prints the key once; only its hash is stored.
"""

import re
from datetime import datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from api.keys import KEY_TAG
from api.models import APIKey
from api.services import api_key_create, api_key_revoke
from audit.origin import Origin
from domains.normalize import storable

_DURATION = re.compile(r"^(\d+)([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_expiry(value: str | None) -> datetime | None:
    if not value:
        return None
    value = value.strip()
    match = _DURATION.match(value)
    try:
        if match:
            return timezone.now() + timedelta(**{_UNITS[match[2]]: int(match[1])})
        moment = parse_datetime(value)
        day = parse_date(value) if moment is None else None
    except (OverflowError, ValueError):  # 10**20d, 2027-02-30: well formed, no such moment
        moment = day = None
    if moment is None:
        if day is None:
            raise CommandError(f"--expires: give a duration like 90d or a date, not {value!r}.")
        moment = datetime.combine(day, time.min)
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, timezone.get_default_timezone())
    return moment


def _messages(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return "; ".join(f"{f}: {' '.join(m)}" for f, m in exc.message_dict.items())
    return " ".join(exc.messages)


class Command(BaseCommand):
    help = "Create, list and revoke API keys."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="Create a key and print it once")
        create.add_argument("--user", required=True, help="Owner's username")
        create.add_argument("--name", default="", help="A label, e.g. the script using it")
        create.add_argument("--read-only", action="store_true", help="Only GET requests")
        create.add_argument("--expires", help="A duration (30d, 12h, 4w) or a date/time")
        create.add_argument(
            "--networks", default="", help="Comma-separated CIDR networks it may be used from"
        )
        listing = sub.add_parser("list", help="List keys (never their secrets)")
        listing.add_argument("--user", help="Only this user's keys")
        revoke = sub.add_parser("revoke", help="Revoke a key by its prefix")
        revoke.add_argument("prefix", help="mak_xxxxxxxx (or the full key)")

    def handle(self, *args, **options):
        return getattr(self, f"do_{options['action']}")(options)

    def do_create(self, options):
        name = options["user"]
        user = get_user_model().objects.filter(username=name).first() if storable(name) else None
        if user is None:
            raise CommandError(f"No user named {options['user']!r}.")
        networks = [n.strip() for n in options["networks"].split(",") if n.strip()]
        try:
            key, full = api_key_create(
                origin=Origin.cli(),
                actor=None,
                user=user,
                name=options["name"],
                read_only=options["read_only"],
                expires_at=parse_expiry(options["expires"]),
                allowed_networks=networks,
            )
        except ValidationError as exc:
            raise CommandError(_messages(exc)) from exc
        self.stderr.write(
            f"Created {key.display_prefix} for {user.username} "
            f"({'read-only' if key.read_only else 'read-write'}"
            f"{', expires ' + key.expires_at.isoformat() if key.expires_at else ''}). "
            "Store the key now; it is not shown again:"
        )
        self.stdout.write(full)

    def do_list(self, options):
        keys = APIKey.objects.select_related("user").order_by("user__username", "id")
        if options["user"]:
            keys = keys.filter(user__username=options["user"]) if storable(options["user"]) else []
        for key in keys:
            state = "revoked" if key.is_revoked else "expired" if key.is_expired() else "active"
            self.stdout.write(
                f"{key.display_prefix}\t{key.user.username}\t{state}\t"
                f"{'ro' if key.read_only else 'rw'}\t{key.name}\t"
                f"last used {key.last_used_at.isoformat() if key.last_used_at else 'never'}"
            )

    def do_revoke(self, options):
        parts = options["prefix"].strip().split("_")
        prefix = parts[1] if len(parts) >= 2 and parts[0] == KEY_TAG else parts[0]
        key = APIKey.objects.filter(prefix=prefix).first() if storable(prefix) else None
        if key is None:
            raise CommandError(f"No key {options['prefix']!r}.")
        try:
            api_key_revoke(actor=None, key=key, origin=Origin.cli())
        except PermissionDenied as exc:  # pragma: no cover - the system may revoke any key
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Revoked {key.display_prefix}.")
