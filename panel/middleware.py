"""A panel user whose role must use two-factor authentication (accounts.twofactor) and who has no
device yet may do nothing but enrol, change the language and log out: every other page sends
them to the enrolment page, and the API answers 403 to their session (API keys are not
sessions and are unaffected)."""

from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse

from accounts import twofactor

_OPEN = ("two_factor", "logout", "set_language")


class TwoFactorEnrolmentMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and not request.path.startswith("/static/")
            and twofactor.needs_enrolment(user)
        ):
            if request.path not in {reverse(name) for name in _OPEN}:
                if request.path.startswith("/api/"):
                    return JsonResponse(
                        {"detail": "Set up two-factor authentication in the panel first."},
                        status=403,
                    )
                return redirect("two_factor")
        return self.get_response(request)
