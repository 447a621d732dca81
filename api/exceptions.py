"""One error shape for every response: `{field: [messages]}`; errors that belong to no field come
under `detail` (or `non_field_errors` for validation)."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.db.models import ProtectedError
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from domains.services import DomainNotEmpty

NON_FIELD = "non_field_errors"


def _messages(value, label: str = "") -> list[str]:
    if isinstance(value, dict):
        out: list[str] = []
        for key, item in value.items():
            name = f"item {key + 1}" if isinstance(key, int) else str(key)
            out.extend(_messages(item, f"{label}{name}: "))
        return out
    if isinstance(value, list | tuple):
        out = []
        for item in value:
            out.extend(_messages(item, label))
        return out
    return [f"{label}{value}"]


def error_body(data) -> dict[str, list[str]]:
    if isinstance(data, dict):
        return {str(key): _messages(value) for key, value in data.items()}
    return {NON_FIELD: _messages(data)}


def _validation_codes(exc: DjangoValidationError) -> set[str]:
    if hasattr(exc, "error_dict"):
        return {e.code for errors in exc.error_dict.values() for e in errors if e.code}
    return {e.code for e in exc.error_list if e.code}


def django_validation_response(exc: DjangoValidationError) -> Response:
    if hasattr(exc, "error_dict"):
        data = {field: list(messages) for field, messages in exc.message_dict.items()}
        data = {(NON_FIELD if f == "__all__" else f): m for f, m in data.items()}
    else:
        data = {NON_FIELD: list(exc.messages)}
    codes = _validation_codes(exc)
    if "forbidden" in codes:  # a field only a superadmin may set
        code = status.HTTP_403_FORBIDDEN
    elif codes & {"duplicate", "trash_reserved", "gone"}:  # taken, kept in the trash, gone
        code = status.HTTP_409_CONFLICT
    else:
        code = status.HTTP_400_BAD_REQUEST
    return Response(error_body(data), status=code)


def api_exception_handler(exc, context):
    if isinstance(exc, DomainNotEmpty):
        set_rollback()
        return Response(
            {
                "detail": [
                    f"{exc.domain.name} is not empty. Repeat with ?confirm=true to delete it "
                    "with everything in it."
                ],
                "contents": exc.contents,
            },
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, DjangoValidationError):
        set_rollback()
        return django_validation_response(exc)
    if isinstance(exc, IntegrityError | ProtectedError):
        set_rollback()
        return Response(
            {"detail": ["This conflicts with existing data."]}, status=status.HTTP_409_CONFLICT
        )
    if isinstance(exc, DjangoPermissionDenied):
        exc_message = str(exc) or "You do not have permission to perform this action."
        set_rollback()
        return Response({"detail": [exc_message]}, status=status.HTTP_403_FORBIDDEN)
    response = drf_exception_handler(exc, context)
    if response is not None:
        response.data = error_body(response.data)
    return response
