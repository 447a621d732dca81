"""API key authentication: `Authorization: Bearer mak_...` or `X-API-Key: mak_...`."""

from datetime import timedelta

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication

from api import keys
from api.models import APIKey
from api.services import network_allows

LAST_USED_RESOLUTION = timedelta(seconds=60)
INVALID = "Invalid API key."


class APIKeyAuthentication(BaseAuthentication):
    keyword = "Bearer"

    def _raw_key(self, request) -> str | None:
        header = request.headers.get("Authorization")
        token = None
        if header:
            scheme, _, value = header.strip().partition(" ")
            if scheme.lower() == self.keyword.lower():
                token = value.strip()
                if not token:
                    raise exceptions.AuthenticationFailed(INVALID)
        alt = request.headers.get("X-API-Key")
        if alt is not None:
            alt = alt.strip()
            if token is not None and token != alt:
                raise exceptions.AuthenticationFailed("Give one API key, not two different ones.")
            token = alt
        return token

    def authenticate(self, request):
        raw = self._raw_key(request)
        if raw is None:
            return None
        parsed = keys.parse_key(raw)
        if parsed is None:
            raise exceptions.AuthenticationFailed(INVALID)
        prefix, secret = parsed
        key = APIKey.objects.select_related("user").filter(prefix=prefix).first()
        if key is None or not keys.secret_matches(secret, key.secret_hash):
            raise exceptions.AuthenticationFailed(INVALID)
        # Past this point the caller holds the real secret, so telling why is safe and useful.
        if key.is_revoked:
            raise exceptions.AuthenticationFailed("This API key has been revoked.")
        now = timezone.now()
        if key.is_expired(now):
            raise exceptions.AuthenticationFailed("This API key has expired.")
        if not key.user.is_active:
            raise exceptions.AuthenticationFailed("The owner of this API key is disabled.")
        remote = request.META.get("REMOTE_ADDR")
        if not network_allows(key.allowed_networks, remote):
            raise exceptions.AuthenticationFailed("This API key may not be used from this address.")
        if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
            # At most one write a minute per key.
            APIKey.objects.filter(pk=key.pk).update(last_used_at=now, last_used_ip=remote or None)
            key.last_used_at = now
        return key.user, key

    def authenticate_header(self, request):
        return f'{self.keyword} realm="api"'


class APIKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.APIKeyAuthentication"
    name = ["BearerKey", "HeaderKey"]

    def get_security_requirement(self, auto_schema):
        return [{name: []} for name in self.name]  # either header, not both

    def get_security_definition(self, auto_schema):
        return [
            {
                "type": "http",
                "scheme": "bearer",
                "bearerFormat": "mak_<id>_<secret>",
                "description": "An API key: `Authorization: Bearer mak_...`.",
            },
            {"type": "apiKey", "in": "header", "name": "X-API-Key"},
        ]
