"""Finance's workspace: a card per legal entity with its periods, receivables, cash and entries."""

from decimal import Decimal

from django.db.models import Count, Q, Sum
from django.utils import timezone
from django.views.decorators.http import require_GET

from ledger.choices import PeriodStatus
from ledger.models import FiscalPeriod, JournalEntry, LegalEntity, Payment
from ledger.reports.aging import ar_aging
from ledger.reports.dso import dso_countback

from .common import ledger_reader, render_page
from .entries import with_totals_and_reversals

ZERO = Decimal(0)
OVERDUE_BUCKETS = ("1_30", "31_60", "61_90", "over_90")
RECENT_ENTRIES = 5


def _entity_summary(entity: LegalEntity, today, period_stats: dict) -> dict:
    aging = ar_aging(legal_entity=entity, as_of=today, basis="functional")
    totals = aging["totals"][0] if aging["totals"] else None
    unallocated = [
        {"currency": row["currency"], "amount": -row["open"], "count": row["count"]}
        for row in Payment.objects.filter(legal_entity=entity)
        .exclude(ar_item__open_amount=0)
        .values("currency")
        .order_by("currency")
        .annotate(open=Sum("ar_item__open_amount"), count=Count("id"))
    ]
    recent = list(JournalEntry.objects.filter(legal_entity=entity).order_by("-date", "-id")[:RECENT_ENTRIES])
    return {
        "entity": entity,
        "currency": entity.functional_currency,
        "periods": period_stats.get(entity.pk, {"open": 0, "closed": 0}),
        "current_period": FiscalPeriod.objects.filter(
            legal_entity=entity, start__lte=today, end__gte=today
        ).first(),
        "ar_total": totals["total"] if totals else ZERO,
        "ar_overdue": sum((totals[b] for b in OVERDUE_BUCKETS), ZERO) if totals else ZERO,
        "ar_clients": len(aging["rows"]),
        "unallocated": unallocated,
        "dso": dso_countback(legal_entity=entity, as_of=today),
        "recent": with_totals_and_reversals(recent),
    }


@require_GET
@ledger_reader
def workspace(request):
    today = timezone.localdate()
    entities = list(LegalEntity.objects.order_by("name"))
    period_stats = {
        row["legal_entity"]: row
        for row in FiscalPeriod.objects.values("legal_entity")
        .order_by()
        .annotate(
            open=Count("id", filter=Q(status=PeriodStatus.OPEN)),
            closed=Count("id", filter=Q(status=PeriodStatus.CLOSED)),
        )
    }
    return render_page(
        request,
        "ledger/workspace.html",
        {"summaries": [_entity_summary(e, today, period_stats) for e in entities], "today": today},
        section="overview",
    )
