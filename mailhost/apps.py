from django.apps import AppConfig


class MailhostConfig(AppConfig):
    name = "mailhost"
    default_auto_field = "django.db.models.BigAutoField"
