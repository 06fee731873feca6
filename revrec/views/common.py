"""What every revenue page shares: who may read and act, the context each template gets, paging."""

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

# Revenue recognition's own navigation: (url name, label, section).
SECTIONS = [
    ("revrec:runs", "Revenue runs", "runs"),
    ("revrec:obligations", "Obligations", "obligations"),
    ("revrec:report-waterfall", "Waterfall", "waterfall"),
    ("revrec:report-deferred", "Deferred revenue", "deferred"),
    ("revrec:report-unbilled", "Unbilled revenue", "unbilled"),
    ("revrec:report-rpo", "Remaining obligations", "rpo"),
    ("revrec:report-contracts", "Contract summary", "contracts"),
]

# Every revenue page is readable by finance and executives (admins pass every role check).
revenue_reader = role_required(*READERS)
# Pages that exist only to change something (the new-run form and its preview): finance only.
revenue_writer = role_required(*WRITERS)


def can_write(user) -> bool:
    return has_role(user, *WRITERS)


def require_writer(request) -> None:
    """For pages readers may open: refuse the POST of anyone who may not act."""
    if not can_write(request.user):
        raise PermissionDenied("Your role may read revenue recognition but not change it.")


def is_htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"


def render_page(request, template: str, context: dict, *, section: str, status: int = 200) -> HttpResponse:
    """Render a revenue page (or fragment) with its section of the revenue navigation and the write flag."""
    return render(
        request,
        template,
        {"section": section, "revenue_sections": SECTIONS, "can_write": can_write(request.user), **context},
        status=status,
    )


def paginate(request, queryset, per_page: int = PAGE_SIZE):
    return Paginator(queryset, per_page).get_page(request.GET.get("page"))


def currency_totals(totals: dict | None) -> list[tuple[str, Decimal]]:
    """Per-currency totals stored as strings in JSON (a run's), as (currency, amount) sorted by currency."""
    return [(currency, Decimal(str(amount))) for currency, amount in sorted((totals or {}).items())]
