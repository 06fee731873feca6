"""Master data: legal entities with their chart of accounts, and exchange rates."""

import calendar

from django.contrib import messages
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from core.errors import DomainError
from ledger.choices import PeriodStatus
from ledger.forms import ExchangeRateFilterForm, ExchangeRateForm, currencies_in_use
from ledger.models import ExchangeRate, GLAccount, LegalEntity
from ledger.services.setup import set_exchange_rate

from .common import can_write, ledger_reader, paginate, render_page, require_writer


@require_GET
@ledger_reader
def entity_list(request):
    entities = LegalEntity.objects.annotate(
        account_count=Count("accounts", distinct=True),
        open_periods=Count("periods", filter=Q(periods__status=PeriodStatus.OPEN), distinct=True),
        client_count=Count("clients", distinct=True),
    ).order_by("name")
    for entity in entities:
        entity.fiscal_year_start_name = calendar.month_name[entity.fiscal_year_start_month]
    return render_page(request, "ledger/entities/list.html", {"entities": entities}, section="entities")


@require_GET
@ledger_reader
def entity_detail(request, pk: int):
    entity = get_object_or_404(LegalEntity, pk=pk)
    accounts = GLAccount.objects.filter(legal_entity=entity).select_related("parent").order_by("code")
    periods = entity.periods.aggregate(
        open=Count("id", filter=Q(status=PeriodStatus.OPEN)),
        closed=Count("id", filter=Q(status=PeriodStatus.CLOSED)),
    )
    return render_page(
        request,
        "ledger/entities/detail.html",
        {
            "entity": entity,
            "accounts": accounts,
            "periods": periods,
            "fiscal_year_start_name": calendar.month_name[entity.fiscal_year_start_month],
        },
        section="entities",
    )


@require_http_methods(["GET", "POST"])
@ledger_reader
def exchange_rate_list(request):
    """The rates, filtered by pair; finance records a new rate or corrects one with the form beside them."""
    filters = ExchangeRateFilterForm(request.GET or None, currencies=currencies_in_use())
    rates = ExchangeRate.objects.filter(filters.pair_filter()).order_by(
        "-date", "from_currency", "to_currency"
    )
    form = None
    if request.method == "POST":
        require_writer(request)
        form = ExchangeRateForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            previous = (
                ExchangeRate.objects.filter(
                    from_currency=data["from_currency"], to_currency=data["to_currency"], date=data["date"]
                )
                .values_list("rate", flat=True)
                .first()
            )
            try:
                row = set_exchange_rate(
                    actor=request.user,
                    from_currency=data["from_currency"],
                    to_currency=data["to_currency"],
                    on=data["date"],
                    rate=data["rate"],
                )
            except DomainError as exc:
                form.add_service_error(exc)
            else:
                rate = f"{row.rate.normalize():f}"
                pair = f"1 {row.from_currency} = {rate} {row.to_currency} on {row.date.isoformat()}"
                if previous is None:
                    messages.success(request, f"Rate recorded: {pair}.")
                elif previous != row.rate:
                    messages.success(request, f"Rate corrected from {previous.normalize():f}: {pair}.")
                else:
                    messages.info(request, f"Nothing changed: {pair} was already recorded.")
                return redirect(
                    f"{reverse('ledger:exchange-rates')}?from_currency={row.from_currency}&to_currency={row.to_currency}"
                )
    elif can_write(request.user):
        correcting = ExchangeRate.objects.filter(pk=request.GET.get("correct") or 0).first()
        initial = {"date": timezone.localdate()}
        if correcting is not None:
            initial = {
                "from_currency": correcting.from_currency,
                "to_currency": correcting.to_currency,
                "date": correcting.date,
                "rate": correcting.rate.normalize(),
            }
        form = ExchangeRateForm(initial=initial)
        form.correcting = correcting
    page = paginate(request, rates)
    for rate in page.object_list:
        rate.display = f"{rate.rate.normalize():f}"
    return render_page(
        request,
        "ledger/rates/list.html",
        {
            "filters": filters,
            "rates": page,
            "form": form,
            "filtered": bool(filters.is_bound and filters.is_valid() and any(filters.cleaned_data.values())),
        },
        section="rates",
    )
