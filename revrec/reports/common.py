"""What revenue reports share: when a recognised line was booked, and what a contract has billed."""

import calendar
from collections import defaultdict
from datetime import date
from decimal import Decimal

from django.db.models import DateField, F, Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from billing.choices import CreditNoteStatus, InvoiceStatus
from billing.models import CreditNoteLine, InvoiceLine
from crm.services.terms import add_months
from revrec.choices import LineStatus
from revrec.models import RevenueScheduleLine

ZERO = Decimal(0)

# A recognised line is booked on its run's period end (the date of the entry it posted), which is later
# than the line's own month when a run catches up months it had not recognised yet.
BOOKED_ON = Coalesce(F("run__period_end"), F("period_end"), output_field=DateField())


def month_start(day: date) -> date:
    return date(day.year, day.month, 1)


def month_end(day: date) -> date:
    return date(day.year, day.month, calendar.monthrange(day.year, day.month)[1])


def months_between(first: date, count: int) -> list[date]:
    """`count` first-of-month dates from `first`'s month on."""
    return [add_months(month_start(first), index) for index in range(count)]


def recognized_lines(as_of: date | None = None, **filters) -> QuerySet:
    """Recognised schedule lines (booked on or before `as_of`), annotated with `booked_on`."""
    lines = RevenueScheduleLine.objects.filter(status=LineStatus.RECOGNIZED, **filters).annotate(
        booked_on=BOOKED_ON
    )
    return lines.filter(booked_on__lte=as_of) if as_of else lines


def open_lines(as_of: date, **filters) -> QuerySet:
    """Schedule lines not recognised on `as_of`: planned ones, and those recognised by a later run."""
    return (
        RevenueScheduleLine.objects.filter(**filters)
        .annotate(booked_on=BOOKED_ON)
        .filter(Q(status=LineStatus.PLANNED) | Q(status=LineStatus.RECOGNIZED, booked_on__gt=as_of))
    )


def billed_to_date(as_of: date, **contract_filter) -> dict[int, Decimal]:
    """Per contract, what its invoices issued up to `as_of` billed before tax (released, sent, paid or
    void) less what released credit notes took back: the measure revenue runs net against, and what
    billing credited to deferred revenue. `contract_filter` narrows the contracts, e.g.
    `contract__legal_entity=...` or `contract_id__in=[...]`."""
    invoice_filter = {f"invoice__{name}": value for name, value in contract_filter.items()}
    credit_filter = {f"credit_note__invoice__{name}": value for name, value in contract_filter.items()}
    billed = defaultdict(lambda: ZERO)
    invoiced = (
        InvoiceLine.objects.filter(
            invoice__contract__isnull=False, invoice__issue_date__lte=as_of, **invoice_filter
        )
        .exclude(invoice__status=InvoiceStatus.DRAFT)
        .order_by()
        .values_list("invoice__contract_id")
        .annotate(total=Sum("amount"))
    )
    for contract_id, total in invoiced:
        billed[contract_id] += total or ZERO
    credited = (
        CreditNoteLine.objects.filter(
            credit_note__invoice__contract__isnull=False,
            credit_note__status=CreditNoteStatus.RELEASED,
            credit_note__issue_date__lte=as_of,
            **credit_filter,
        )
        .order_by()
        .values_list("credit_note__invoice__contract_id")
        .annotate(total=Sum("amount"))
    )
    for contract_id, total in credited:
        billed[contract_id] -= total or ZERO
    return dict(billed)
