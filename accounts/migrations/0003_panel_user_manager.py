from django.db import migrations

import accounts.models


def superusers_are_superadmins(apps, schema_editor):
    """Accounts made by `createsuperuser` before the role was set: label them as what they are."""
    apps.get_model("accounts", "User").objects.filter(is_superuser=True).update(
        role="superadmin", reseller=None
    )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_initial"),
    ]

    operations = [
        migrations.AlterModelManagers(
            name="user",
            managers=[
                ("objects", accounts.models.PanelUserManager()),
            ],
        ),
        migrations.RunPython(superusers_are_superadmins, migrations.RunPython.noop),
    ]
