"""Request-size limit for the API, checked before anything reads the body, so an oversized
request gets the API's JSON 413 rather than Django's HTML 400."""

from django.conf import settings
from django.http import JsonResponse

API_PREFIX = "/api/"


class ApiBodyLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info.startswith(API_PREFIX):
            limit = settings.MAILADMIN_API_MAX_BODY_BYTES
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                return JsonResponse({"detail": ["Content-Length is not a number."]}, status=400)
            if length > limit:
                return JsonResponse(
                    {"detail": [f"The request body is larger than {limit} bytes."]}, status=413
                )
        return self.get_response(request)
