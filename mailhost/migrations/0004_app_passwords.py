"""The contract gains mail_app_passwords (Dovecot's second passdb, docs/lookups.md): installed
from the current files, keeping the mail role's grants."""

from django.db import migrations

from mailhost import contract


class Migration(migrations.Migration):
    dependencies = [("mailhost", "0003_queue_snapshots"), ("domains", "0007_apppassword")]

    operations = [migrations.RunPython(*contract.migration_step("0004_app_passwords"))]
