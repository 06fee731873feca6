"""What every billing page shares: who may read and act, the context each template gets, paging."""

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone

from core.roles import Role, has_role
from core.views import role_required

PAGE_SIZE = 50
READERS = (Role.FINANCE, Role.EXECUTIVE)
WRITERS = (Role.FINANCE,)

# Every billing page is readable by finance and executives (admins pass every role check).
billing_reader = role_required(*READERS)
# Pages that exist only to change something (the new-run form, the credit note form): finance only.
billing_writer = role_required(*WRITERS)


def can_write(user) -> bool:
    return has_role(user, *WRITERS)


def require_writer(request) -> None:
    """For pages readers may open: refuse the POST of anyone who may not act."""
    if not can_write(request.user):
        raise PermissionDenied("Your role may read billing but not change it.")


def is_htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"


def render_page(request, template: str, context: dict, *, section: str, status: int = 200) -> HttpResponse:
    """Render a billing page (or fragment) with its section of the billing navigation and the write flag."""
    return render(
        request,
        template,
        {
            "section": section,
            "can_write": can_write(request.user),
            "today": timezone.localdate(),
            **context,
        },
        status=status,
    )


def paginate(request, queryset, per_page: int = PAGE_SIZE):
    return Paginator(queryset, per_page).get_page(request.GET.get("page"))


def int_ids(values) -> list[int]:
    """Ids from a multi-valued POST field, ignoring anything that is not a number."""
    return [int(value) for value in values if str(value).isdigit()]
