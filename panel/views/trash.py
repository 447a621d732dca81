"""The trash: deleted domains and mailboxes in the user's reach, restored or deleted for good.
Items are looked up through the scoped selector, so another tenant's id is a 404."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from domains import services
from domains.models import TrashItem
from domains.selectors import trash_list
from panel.views.common import htmx_answer, is_htmx, origin_of, page_of, staff_view


def _item(request: HttpRequest, pk: int) -> TrashItem:
    return get_object_or_404(trash_list(actor=request.user), pk=pk)


@staff_view
def trash_list_page(request: HttpRequest) -> HttpResponse:
    page = page_of(request, trash_list(actor=request.user))
    return render(request, "panel/trash_list.html", {"page": page})


def _answer(request: HttpRequest, item: TrashItem, gone: bool) -> HttpResponse:
    """htmx: the row goes when the item did, else it stays, with the messages; plain: the list."""
    if is_htmx(request):
        if gone:
            return htmx_answer(request)
        return htmx_answer(request, "panel/rows/trash_item.html", {"item": item})
    return redirect("trash_list")


@staff_view
@require_POST
def trash_restore(request: HttpRequest, pk: int) -> HttpResponse:
    item = _item(request, pk)
    try:
        services.trash_restore(origin=origin_of(request), actor=request.user, item=item)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
        return _answer(request, item, gone=False)
    messages.success(request, _("%(name)s was restored.") % {"name": item.display_name})
    return _answer(request, item, gone=True)


@staff_view
@require_POST
def trash_purge(request: HttpRequest, pk: int) -> HttpResponse:
    item = _item(request, pk)
    services.trash_purge(origin=origin_of(request), actor=request.user, item=item)
    messages.success(request, _("%(name)s was deleted for good.") % {"name": item.display_name})
    return _answer(request, item, gone=True)
