"""Anomaly flags a reviewer sees on a draft invoice before releasing it."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.db.models import Sum

from billing.choices import HoldStatus, InvoiceStatus, SourceType
from billing.models import Invoice, InvoiceLine, OverCapEntry
from core.money import format_money
from ledger.models import ArItem

ZERO = Decimal(0)
DEVIATION = Decimal("0.30")
STALE_DAYS = 60
ISSUED = (InvoiceStatus.RELEASED, InvoiceStatus.SENT, InvoiceStatus.PARTIALLY_PAID, InvoiceStatus.PAID)


def _previous_totals(invoices) -> dict[int, list[Decimal]]:
    contracts = {invoice.contract_id for invoice in invoices if invoice.contract_id}
    previous: dict[int, list[Decimal]] = defaultdict(list)
    rows = (
        Invoice.objects.filter(contract_id__in=contracts, status__in=ISSUED)
        .order_by("contract_id", "-issue_date", "-id")
        .values_list("contract_id", "total_amount")
    )
    for contract_id, total in rows:
        if len(previous[contract_id]) < 3:
            previous[contract_id].append(total)
    return previous


@dataclass
class FlagContext:
    """What flagging a set of drafts reads from the database, read once for all of them."""

    previous: dict[int, list[Decimal]]
    over_cap: set[int]
    open_ar: dict[tuple[int, str], Decimal]


def flag_context(invoices, *, over_cap_contracts=()) -> FlagContext:
    """The contracts' recent issued totals, the contracts with time held over a cap (plus
    `over_cap_contracts`: holds being written in the same transaction), and the open AR of clients with
    a credit limit."""
    contracts = {invoice.contract_id for invoice in invoices}
    over_cap = set(
        OverCapEntry.objects.filter(plan__contract_id__in=contracts, status=HoldStatus.HELD).values_list(
            "plan__contract_id", flat=True
        )
    ) | set(over_cap_contracts)
    limited = {invoice.account.pk for invoice in invoices if invoice.account.credit_limit is not None}
    open_ar = defaultdict(lambda: ZERO)
    if limited:
        for client_id, currency, total in (
            ArItem.objects.filter(client_id__in=limited)
            .values("client_id", "currency")
            .annotate(total=Sum("open_amount"))
            .values_list("client_id", "currency", "total")
        ):
            open_ar[(client_id, currency)] += total or ZERO
    return FlagContext(previous=_previous_totals(invoices), over_cap=over_cap, open_ar=open_ar)


def flags_for(invoice, lines, context: FlagContext) -> list[dict]:
    """A draft's flags: total off the contract's recent invoices by more than 30%, a line at rate 0,
    time held over a cap, work older than 60 days, a client over its limit. `lines` are the draft's
    lines (saved or not: only their source type, unit price and period start are read)."""
    found = []
    history = context.previous.get(invoice.contract_id, [])
    if history:
        mean = sum(history, ZERO) / len(history)
        if mean and abs(invoice.total_amount - mean) > mean * DEVIATION:
            found.append(
                {
                    "code": "deviation",
                    "message": f"Total {format_money(invoice.total_amount, invoice.currency)} "
                    "is more than 30% "
                    f"off the mean of the last {len(history)} invoices "
                    f"({format_money(mean, invoice.currency)}).",
                }
            )
    zero = [line for line in lines if line.unit_price == 0 and line.source_type != SourceType.MANUAL]
    if zero:
        found.append({"code": "zero_rate", "message": f"{len(zero)} line(s) at a rate of 0."})
    if invoice.contract_id in context.over_cap:
        found.append(
            {"code": "over_cap", "message": "Time of this contract is held over its not-to-exceed cap."}
        )
    if invoice.period_end:
        oldest = min(
            (
                line.period_start
                for line in lines
                if line.period_start and line.source_type in (SourceType.TIME, SourceType.EXPENSE)
            ),
            default=None,
        )
        if oldest and oldest < invoice.period_end - timedelta(days=STALE_DAYS):
            found.append(
                {
                    "code": "stale_work",
                    "message": f"Includes work from {oldest}, more than {STALE_DAYS} days old.",
                }
            )
    account = invoice.account
    if account.credit_limit is not None:
        exposure = context.open_ar[(account.pk, invoice.currency)] + invoice.total_amount
        if exposure > account.credit_limit:
            found.append(
                {
                    "code": "credit_limit",
                    "message": f"{account.name} would owe "
                    f"{format_money(exposure, invoice.currency)}, over its "
                    f"credit limit of {format_money(account.credit_limit, invoice.currency)}.",
                }
            )
    return found


def invoice_flags(invoices) -> dict[int, list[dict]]:
    """{invoice id: [{"code", "message"}]} for saved drafts (see `flags_for`)."""
    invoices = [invoice for invoice in invoices if invoice.pk]
    if not invoices:
        return {}
    lines = defaultdict(list)
    for line in InvoiceLine.objects.filter(invoice_id__in=[invoice.pk for invoice in invoices]).only(
        "invoice_id", "source_type", "unit_price", "period_start", "description"
    ):
        lines[line.invoice_id].append(line)
    context = flag_context(invoices)
    return {invoice.pk: flags_for(invoice, lines[invoice.pk], context) for invoice in invoices}


def refresh_flags(invoices) -> None:
    invoices = [invoice for invoice in invoices if invoice.pk]
    if not invoices:
        return
    for invoice in invoices:
        if "account" not in invoice._state.fields_cache:
            invoice.account  # noqa: B018 - one query per invoice is fine below the run's chunk size
    found = invoice_flags(invoices)
    for invoice in invoices:
        invoice.flags = found.get(invoice.pk, [])
    Invoice.objects.bulk_update(invoices, ["flags"])
