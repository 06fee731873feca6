"""What every CRM page shares: who may read and write, and the context each template gets."""

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import render
from django.utils import timezone

from core.views import role_required
from crm.access import READERS, can_change, can_log_activity, can_write

PAGE_SIZE = 50

# Every CRM page is readable by the CRM's readers (admins pass every role check).
crm_reader = role_required(*READERS)


def require_writer(request) -> None:
    if not can_write(request.user):
        raise PermissionDenied("Your role may read the CRM but not change it.")


def require_activity_writer(request) -> None:
    if not can_log_activity(request.user):
        raise PermissionDenied("Your role may read the CRM but not log activities.")


def render_page(request, template: str, context: dict, *, section: str, status: int = 200):
    return render(
        request,
        template,
        {
            "section": section,
            "can_write": can_write(request.user),
            "can_log_activity": can_log_activity(request.user),
            "today": timezone.localdate(),
            **context,
        },
        status=status,
    )


def may_change(request, owner_id) -> bool:
    return can_write(request.user) and can_change(request.user, owner_id)


def paginate(request, queryset, per_page: int = PAGE_SIZE):
    return Paginator(queryset, per_page).get_page(request.GET.get("page"))
