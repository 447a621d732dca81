"""`manage.py mailconfig --output DIR`: the Postfix and Dovecot configuration for this panel."""

import dataclasses

from django.core.management.base import BaseCommand, CommandError

from mailhost import mailconfig


class Command(BaseCommand):
    help = (
        "Write Postfix and Dovecot configuration that reads this panel's database live: "
        "DIR/postfix/{main.cf,master.cf,pgsql/*.cf}, "
        "DIR/dovecot/{dovecot.conf,dovecot-sql.conf.ext,dovecot-dict-sql.conf.ext}."
    )
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--output", required=True, help="directory to write into")
        group = parser.add_argument_group("overrides (default: the MAIL_* settings)")
        for f in dataclasses.fields(mailconfig.MailConfig):
            if f.name in ("extra_main_cf", "self_contained"):
                continue
            kind = int if f.type in ("int", "int | None") else str
            group.add_argument(
                "--" + f.name.replace("_", "-"), dest=f.name, type=kind, default=None
            )

    def handle(self, *args, output, **options):
        overrides = {
            f.name: options[f.name]
            for f in dataclasses.fields(mailconfig.MailConfig)
            if options.get(f.name) is not None
        }
        try:
            cfg = mailconfig.MailConfig.from_settings(**overrides)
            written = mailconfig.write(cfg, output)
        except (ValueError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        if "/" in cfg.db_name:
            self.stderr.write(
                f"warning: the mail servers' database name is {cfg.db_name!r}: Postfix and "
                "Dovecot need PostgreSQL (set DATABASE_URL or MAIL_DB_NAME)."
            )
        for path in written:
            self.stdout.write(str(path))
        self.stdout.write(
            f"At most {cfg.max_db_connections} PostgreSQL connections from the mail servers "
            f"({cfg.proxymap_process_limit} proxymap x {len(mailconfig.POSTFIX_MAPS)} maps, "
            f"{cfg.rewrite_process_limit} trivial-rewrite x "
            f"{sum(map(len, mailconfig.REWRITE_SERVICES.values()))} maps, "
            f"Dovecot auth {cfg.dovecot_sql_maxconns}, dict {cfg.dict_process_limit}x"
            f"{cfg.dict_sql_maxconns})."
        )
