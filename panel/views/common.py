"""What every panel page shares: who may open it, scoped lookups (a foreign object is a 404, like
a missing one), pagination, htmx answers, and turning a service's refusal into form errors."""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Page, Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.utils.http import url_has_allowed_host_and_scheme

from audit.origin import Origin
from panel.forms import add_service_errors

PAGE_SIZE = 50


def origin_of(request: HttpRequest) -> Origin:
    """Where a panel change came from, for the audit trail: the client address the server saw
    (REMOTE_ADDR; no proxy header is trusted for it) and the browser's user agent."""
    return Origin.web(
        source_ip=request.META.get("REMOTE_ADDR"),
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
    )


def staff_view(view: Callable) -> Callable:
    """A page for panel users (superadmins, resellers, domain admins); mailbox owners and
    visitors go to the login page."""
    return login_required(view)


def role_view(*roles: str) -> Callable:
    """A page for some roles only; the others get the 404 a missing page gets."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs):
            user = request.user
            allowed = (
                ("superadmin" in roles and user.is_superadmin)
                or ("reseller" in roles and user.is_reseller)
                or ("domainadmin" in roles and user.is_domain_admin)
            )
            if not allowed:
                raise Http404
            return view(request, *args, **kwargs)

        return login_required(wrapped)

    return decorate


def posted(request: HttpRequest):
    """The submitted data for a form on POST (even when empty), None on GET."""
    return request.POST if request.method == "POST" else None


def search_term(request: HttpRequest, limit: int) -> str:
    """The search box's text (`?q=`), at most `limit` characters. A NUL is dropped: no stored
    text holds one, and PostgreSQL refuses it in a query (a 500)."""
    return request.GET.get("q", "")[:limit].replace("\x00", "")


def page_of(request: HttpRequest, queryset, param: str = "page", size: int = PAGE_SIZE) -> Page:
    return Paginator(queryset, size).get_page(request.GET.get(param))


def is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def back(request: HttpRequest, default: str) -> HttpResponse:
    """Redirect to the page the action came from when it is ours, else to `default`."""
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect(default)


def try_service(form, call: Callable[[], object]) -> object | None:
    """Run a service call; on refusal put its errors on `form` and return None."""
    try:
        return call()
    except ValidationError as exc:
        add_service_errors(form, exc)
        return None


def no_store(response: HttpResponse) -> HttpResponse:
    """A page that shows a secret once must not be kept by the browser or a proxy."""
    response["Cache-Control"] = "no-store"
    return response


def htmx_answer(request: HttpRequest, template: str | None = None, context=None) -> HttpResponse:
    """An inline action's answer: the new row (or nothing, when the row went) and the messages,
    swapped out of band into the page's message area."""
    body = render_to_string(template, context or {}, request) if template else ""
    return HttpResponse(body + render_to_string("panel/messages_oob.html", {}, request))


def wanted_state(request: HttpRequest, current: bool) -> bool:
    """The active flag a toggle form asks for ("1"/"0"); without one, the opposite of now."""
    value = request.POST.get("active")
    if value in ("0", "1"):
        return value == "1"
    return not current
