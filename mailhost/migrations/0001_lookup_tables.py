"""The lookup relations Postfix and Dovecot read become tables kept in step by triggers
(mailhost.contract), replacing the views of domains 0002/0003: every lookup is one index probe
with a trivial plan, however large the data."""

from django.db import migrations

from mailhost import contract


class Migration(migrations.Migration):
    dependencies = [("domains", "0005_mailbox_maildir_busy")]

    operations = [migrations.RunPython(*contract.migration_step("0001_lookup_tables"))]
