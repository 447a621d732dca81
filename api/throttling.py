from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from api.models import APIKey

DEFAULT_RATE = "600/min"


class APIKeyRateThrottle(SimpleRateThrottle):
    """Requests per API key (per user for session callers). Rate: settings.MAILADMIN_API_RATE
    (e.g. "600/min"; None disables). Counters live in the default cache: use a shared cache
    (Redis) when several web workers serve the API."""

    scope = "api_key"

    def get_rate(self):
        return getattr(settings, "MAILADMIN_API_RATE", DEFAULT_RATE)

    def get_cache_key(self, request, view):
        if isinstance(request.auth, APIKey):
            ident = f"key:{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            ident = f"anon:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
