from django.db import models


class FormSubmission(models.Model):
    """A create form's one-time token, used: a second submit of the same form (a double click, a
    reload) is sent where the first one went instead of running the service again."""

    # Whose form: "user:<id>" or "mailbox:<id>", so a token never answers for someone else.
    scope = models.CharField(max_length=64)
    token = models.CharField(max_length=64)
    result_url = models.CharField(max_length=400, blank=True)
    created = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scope", "token"], name="form_submission_once")
        ]

    def __str__(self) -> str:
        return f"{self.scope} {self.token}"
