"""The API-key page of the web panel: list your keys, create one (shown once), revoke one.
Writes go through api.services, the same code the API and `manage.py apikey` use."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from api import services
from api.models import APIKey
from api.origin import web_origin_of


class APIKeyForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100, required=False)
    read_only = forms.BooleanField(required=False, label=_("Read-only"))
    expires_at = forms.DateTimeField(
        required=False,
        label=_("Expires"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    allowed_networks = forms.CharField(
        required=False,
        label=_("Allowed networks"),
        help_text=_("CIDR networks, separated by spaces or commas; empty = any source."),
    )

    def clean_allowed_networks(self) -> list[str]:
        raw = self.cleaned_data["allowed_networks"].replace(",", " ")
        return [part for part in raw.split() if part]


@never_cache  # the page shows a new key's secret once: no cache may keep a copy
@login_required
def api_keys(request: HttpRequest) -> HttpResponse:
    new_key = None
    form = APIKeyForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            _key, new_key = services.api_key_create(
                origin=web_origin_of(request),
                actor=request.user,
                user=request.user,
                **form.cleaned_data,
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, _("The key was created."))
            form = APIKeyForm()
    keys = APIKey.objects.filter(user=request.user).order_by("-created", "-id")
    page = Paginator(keys, 50).get_page(request.GET.get("page"))
    return render(request, "api/keys.html", {"form": form, "keys": page, "new_key": new_key})


@login_required
@require_POST
def api_key_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    key = get_object_or_404(APIKey, pk=pk, user=request.user)
    services.api_key_revoke(origin=web_origin_of(request), actor=request.user, key=key)
    messages.success(request, _("The key %(prefix)s was revoked.") % {"prefix": key.display_prefix})
    return redirect("api_keys")


urlpatterns = [
    path("", api_keys, name="api_keys"),
    path("<int:pk>/revoke/", api_key_revoke, name="api_key_revoke"),
]
