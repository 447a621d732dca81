"""Compile the committed .po catalogs (LOCALE_PATHS) into the .mo files Django reads.

Pure Python (polib), so a fresh machine with only python3 and the venv builds the translations;
GNU gettext is needed only to re-extract strings (`manage.py makemessages`).

    manage.py compiletranslations           # write every .mo
    manage.py compiletranslations --check   # also fail on untranslated or fuzzy entries
"""

from pathlib import Path

import polib
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


def catalogs() -> list[Path]:
    return sorted(
        po for root in settings.LOCALE_PATHS for po in Path(root).glob("*/LC_MESSAGES/*.po")
    )


def problems(catalog: polib.POFile) -> list[str]:
    found = [f"untranslated: {e.msgid!r}" for e in catalog.untranslated_entries()]
    found += [f"fuzzy: {e.msgid!r}" for e in catalog.fuzzy_entries()]
    return found


class Command(BaseCommand):
    help = "Compile locale/*/LC_MESSAGES/*.po into .mo files (no GNU gettext needed)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--check", action="store_true", help="Fail when an entry is untranslated or fuzzy"
        )

    def handle(self, *args, **options):
        found = catalogs()
        if not found:
            raise CommandError("No .po catalogs under LOCALE_PATHS.")
        failures = []
        for po_path in found:
            catalog = polib.pofile(str(po_path))
            if options["check"]:
                failures += [f"{po_path}: {p}" for p in problems(catalog)]
            catalog.save_as_mofile(str(po_path.with_suffix(".mo")))
            self.stdout.write(f"Compiled {po_path} ({len(catalog.translated_entries())} entries)")
        if failures:
            raise CommandError("\n".join(failures))
