"""The contract again, with one trigger function for rows that belong to a mailbox (forwards and
app passwords), which also gives app passwords the TRUNCATE trigger the other tables have."""
from django.db import migrations

from mailhost import contract


class Migration(migrations.Migration):
    dependencies = [("mailhost", "0004_app_passwords")]

    operations = [migrations.RunPython(*contract.migration_step("0005_mailbox_row_trigger"))]
