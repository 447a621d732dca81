"""OpenAPI: every operation documents every status code it can return, with one error shape."""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

ERROR_SCHEMA = {
    "type": "object",
    "description": "Field name (or `detail` / `non_field_errors`) to a list of messages.",
    "additionalProperties": {"type": "array", "items": {"type": "string"}},
}

COMMON = {
    "401": "No API key, or a malformed, unknown, expired or revoked one.",
    "403": "Not allowed: a read-only key writing, or a role that may not do this.",
    "406": "The client does not accept JSON.",
    "429": "Too many requests for this key; see Retry-After.",
}
WRITE = {
    "400": "Invalid input; the body names each field with its messages.",
    "409": "Conflicts with existing data (e.g. the name or address already exists).",
    "415": "The body is not JSON.",
}


class ApiAutoSchema(AutoSchema):
    def _error_ref(self) -> dict:
        component = ResolvedComponent(
            name="Error", type=ResolvedComponent.SCHEMA, object="Error", schema=ERROR_SCHEMA
        )
        self.registry.register_on_missing(component)
        return component.ref

    def _error_response(self, description: str, status_code: str) -> dict:
        response = {
            "description": description,
            "content": {"application/json": {"schema": self._error_ref()}},
        }
        if status_code == "429":
            response["headers"] = {
                "Retry-After": {
                    "schema": {"type": "integer"},
                    "description": "Seconds to wait before retrying.",
                }
            }
        return response

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        codes = dict(COMMON)
        if "{" in self.path:
            codes["404"] = "Not found, or outside what the key's owner may manage."
        if self.method == "GET" and self._is_list_view():
            codes["400"] = "An invalid filter or ordering value."
            codes["404"] = "An invalid cursor."
        elif self.method == "GET" and getattr(self.view, "filtered_export", False):
            codes["400"] = "An invalid filter value."
        if self.method in ("POST", "PUT", "PATCH"):
            codes.update(WRITE)
            if self._is_create_operation() and getattr(self.view, "idempotent_creates", False):
                codes["422"] = "The Idempotency-Key was already used with a different request."
        if self.method == "DELETE":
            codes["409"] = WRITE["409"]
        for code, description in codes.items():
            responses.setdefault(code, self._error_response(description, code))
        return responses

    def get_override_parameters(self):
        params = list(super().get_override_parameters())
        if (
            self.method == "POST"
            and self._is_create_operation()
            and getattr(self.view, "idempotent_creates", False)
        ):
            params.append(
                OpenApiParameter(
                    "Idempotency-Key",
                    OpenApiTypes.STR,
                    OpenApiParameter.HEADER,
                    required=False,
                    description="Retrying a create with the same key and body returns the first "
                    "result instead of creating again (kept 24 hours, per API key).",
                )
            )
        return params
