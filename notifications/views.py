from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from core.errors import NotFound
from core.ui import page

from . import selectors, services


@require_safe
@page("notifications")
def notification_list(request):
    unread = request.GET.get("unread") == "1"
    items = selectors.inbox(user=request.user, unread=True if unread else None)
    return render(
        request,
        "notifications/list.html",
        {"page": Paginator(items, 30).get_page(request.GET.get("page")), "unread_only": unread},
    )


@require_POST
@page("notifications")
def mark_read(request, pk):
    try:
        notification = services.mark_read(user=request.user, notification_id=pk)
    except NotFound:
        return redirect("notification-list")
    if notification.case_id and request.POST.get("open"):
        return redirect("case-detail", pk=notification.case_id)
    return redirect("notification-list")


@require_POST
@page("notifications")
def mark_all_read(request):
    services.mark_all_read(user=request.user)
    return redirect("notification-list")
