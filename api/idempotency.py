"""`Idempotency-Key` on creates: a retried create with the same key and body gets the first
response back (same status and body) instead of a duplicate or a 409.

The record is inserted before the create runs, in the same transaction, so a concurrent retry blocks
on the unique index until the first one commits and then replays its result. Only successful
results are kept (a failed create may be retried); records live 24 hours and are scoped to the API
key (or the session user), so no caller ever sees another's result.
"""

import hashlib
import hmac
import json
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from api.models import APIKey, IdempotencyRecord

HEADER = "Idempotency-Key"
TTL = timedelta(hours=24)
MAX_LENGTH = 255


def _scope(request) -> str:
    if isinstance(request.auth, APIKey):
        return f"key:{request.auth.pk}"
    return f"user:{request.user.pk}"


def _fingerprint(request) -> str:
    # Keyed with SECRET_KEY: the body may hold a mailbox password, and a plain hash of a
    # low-entropy body could be brute-forced by someone who reads the table.
    body = json.dumps(request.data, sort_keys=True, default=str, ensure_ascii=True)
    message = f"{request.method}\n{request.path}\n{body}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()


def _replay(record: IdempotencyRecord, fingerprint: str) -> Response:
    if not hmac.compare_digest(record.fingerprint, fingerprint):
        return Response(
            {HEADER: ["This key was already used with a different request."]},
            status=status.HTTP_422_UNPROCESSABLE_ENTITY,
        )
    response = Response(record.response_body, status=record.status_code)
    response["Idempotent-Replayed"] = "true"
    return response


class IdempotentCreateMixin:
    idempotent_creates = True

    def perform_create_request(self, request, *args, **kwargs) -> Response:
        raise NotImplementedError

    def create(self, request, *args, **kwargs):
        raw = request.headers.get(HEADER)
        if raw is None:
            return self.perform_create_request(request, *args, **kwargs)
        key = raw.strip()
        if not key or len(key) > MAX_LENGTH or not key.isprintable():
            raise ValidationError({HEADER: [f"Give 1 to {MAX_LENGTH} printable characters."]})
        scope = _scope(request)
        fingerprint = _fingerprint(request)
        # Expired records go first (index on `created`), everyone's: no separate sweeper needed.
        IdempotencyRecord.objects.filter(created__lt=timezone.now() - TTL).delete()
        records = IdempotencyRecord.objects.filter(scope=scope, key=key)
        existing = records.first()
        if existing is not None:
            return _replay(existing, fingerprint)
        with transaction.atomic():
            try:
                with transaction.atomic():
                    record = IdempotencyRecord.objects.create(
                        scope=scope, key=key, fingerprint=fingerprint
                    )
            except IntegrityError:
                record = None  # a concurrent request with this key committed first
            if record is None:
                existing = records.first()
                if existing is None:
                    return Response(
                        {HEADER: ["A request with this key is still in progress."]},
                        status=status.HTTP_409_CONFLICT,
                    )
                return _replay(existing, fingerprint)
            response = self.perform_create_request(request, *args, **kwargs)
            if status.is_success(response.status_code):
                record.status_code = response.status_code
                record.response_body = json.loads(JSONRenderer().render(response.data))
                record.save(update_fields=["status_code", "response_body"])
            else:
                transaction.set_rollback(True)
            return response
