"""Create forms run at most once per rendered form.

Each create form carries a random `form_token`. Submitting it inserts (scope, token) before the
service runs, in the same transaction: a concurrent second submit waits on the unique index and,
once the first commits, is sent to the first one's result; a failed create rolls the token back so
the corrected form can be sent again. Tokens older than a day are removed as new ones arrive.
"""

import secrets
from collections.abc import Callable
from datetime import timedelta

from django import forms
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from panel.models import FormSubmission

TTL = timedelta(days=1)


def new_token() -> str:
    return secrets.token_urlsafe(24)


class OnceForm(forms.Form):
    form_token = forms.CharField(widget=forms.HiddenInput, max_length=64, min_length=16)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["form_token"].initial = new_token()
        self.fields["form_token"].error_messages["required"] = _(
            "This form has expired: reload the page and send it again."
        )


def _scope(request) -> str:
    owner = getattr(request, "owner", None)
    if owner is not None:
        return f"mailbox:{owner.pk}"
    return f"user:{request.user.pk}"


def run_once(request, token: str, action: Callable[[], str]) -> tuple[str, bool]:
    """Run `action` (calls a service, returns the URL of what it made) unless this token already
    ran; returns (url, replayed). A ValidationError from `action` propagates with nothing kept."""
    scope = _scope(request)
    FormSubmission.objects.filter(created__lt=timezone.now() - TTL).delete()
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = FormSubmission.objects.create(scope=scope, token=token)
        except IntegrityError:
            record = None
        if record is None:
            done = FormSubmission.objects.filter(scope=scope, token=token).first()
            if done is None or not done.result_url:
                raise ValidationError(_("This form was already sent."))
            return done.result_url, True
        url = action()
        record.result_url = url
        record.save(update_fields=["result_url"])
    return url, False
