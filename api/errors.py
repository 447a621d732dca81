"""Error pages for what happens outside DRF's views (a resolver miss, an unexpected exception):
JSON under /api/, Django's HTML pages elsewhere. The API speaks JSON, always."""

from django.http import JsonResponse
from django.views import defaults

from api.middleware import API_PREFIX


def _is_api(request) -> bool:
    return request.path_info.startswith(API_PREFIX)


def bad_request(request, exception, template_name="400.html"):
    if _is_api(request):
        return JsonResponse({"detail": ["Bad request."]}, status=400)
    return defaults.bad_request(request, exception)


def permission_denied(request, exception, template_name="403.html"):
    if _is_api(request):
        return JsonResponse({"detail": ["You do not have permission to do this."]}, status=403)
    return defaults.permission_denied(request, exception)


def page_not_found(request, exception, template_name="404.html"):
    if _is_api(request):
        return JsonResponse({"detail": ["Not found."]}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request, template_name="500.html"):
    if _is_api(request):
        return JsonResponse({"detail": ["Server error."]}, status=500)
    return defaults.server_error(request)
