from django.apps import AppConfig


class MailhostConfig(AppConfig):
    name = "mailhost"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # The core asks for Maildir work through its port; this app records it (the outbox).
        from domains import hostwork
        from mailhost.services import OutboxRecorder

        hostwork.install(OutboxRecorder())
