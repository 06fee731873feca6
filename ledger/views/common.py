"""What every ledger page shares: who may read and write, the context each template gets, CSV downloads."""

import csv
from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import render

from core.roles import Role, has_role
from core.views import role_required

PAGE_SIZE = 50
READERS = (Role.FINANCE, Role.EXECUTIVE)
WRITERS = (Role.FINANCE,)

# Every ledger page is readable by finance and executives (admins pass every role check).
ledger_reader = role_required(*READERS)
# Pages that exist only to change something: finance (and admins).
ledger_writer = role_required(*WRITERS)


def can_write(user) -> bool:
    return has_role(user, *WRITERS)


def require_writer(request) -> None:
    """For pages readers may open: refuse the POST of anyone who may not write."""
    if not can_write(request.user):
        raise PermissionDenied("Your role may read the ledger but not change it.")


def render_page(request, template: str, context: dict, *, section: str, status: int = 200) -> HttpResponse:
    """Render a ledger page with the section of the ledger navigation it belongs to and the write flag."""
    return render(
        request,
        template,
        {"section": section, "can_write": can_write(request.user), **context},
        status=status,
    )


def paginate(request, queryset, per_page: int = PAGE_SIZE):
    return Paginator(queryset, per_page).get_page(request.GET.get("page"))


def wants_csv(request) -> bool:
    return request.GET.get("format") == "csv"


def _cell(value) -> str | Decimal:
    """A CSV cell: dates ISO, amounts as plain decimals, and text that a spreadsheet would run as a formula
    (leading = + - @, tab, CR) defused with a leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal | int):
        return value
    text = str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return f"'{text}"
    return text


def csv_response(filename: str, header: list[str], rows: Iterable[Iterable]) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(value) for value in row])
    return response
