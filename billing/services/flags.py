"""Anomaly flags a reviewer sees on a draft invoice before releasing it."""

from collections import defaultdict
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


def invoice_flags(invoices) -> dict[int, list[dict]]:
    """{invoice id: [{"code", "message"}]} for drafts: total off the contract's recent invoices by more
    than 30%, a line at rate 0, time held over a cap, work older than 60 days, a client over its limit."""
    invoices = [invoice for invoice in invoices if invoice.pk]
    if not invoices:
        return {}
    ids = [invoice.pk for invoice in invoices]
    previous = _previous_totals(invoices)
    lines = defaultdict(list)
    for line in InvoiceLine.objects.filter(invoice_id__in=ids).only(
        "invoice_id", "source_type", "unit_price", "period_start", "description"
    ):
        lines[line.invoice_id].append(line)
    over_cap = set(
        OverCapEntry.objects.filter(
            plan__contract_id__in={invoice.contract_id for invoice in invoices}, status=HoldStatus.HELD
        ).values_list("plan__contract_id", flat=True)
    )
    accounts = {invoice.account_id: invoice.account for invoice in invoices}
    limited = [account for account in accounts.values() if account.credit_limit is not None]
    open_ar = defaultdict(lambda: ZERO)
    if limited:
        for client_id, currency, total in (
            ArItem.objects.filter(client_id__in=[a.pk for a in limited])
            .values("client_id", "currency")
            .annotate(total=Sum("open_amount"))
            .values_list("client_id", "currency", "total")
        ):
            open_ar[(client_id, currency)] += total or ZERO
    flags = {}
    for invoice in invoices:
        found = []
        history = previous.get(invoice.contract_id, [])
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
        zero = [
            line
            for line in lines[invoice.pk]
            if line.unit_price == 0 and line.source_type != SourceType.MANUAL
        ]
        if zero:
            found.append({"code": "zero_rate", "message": f"{len(zero)} line(s) at a rate of 0."})
        if invoice.contract_id in over_cap:
            found.append(
                {"code": "over_cap", "message": "Time of this contract is held over its not-to-exceed cap."}
            )
        if invoice.period_end:
            oldest = min(
                (
                    line.period_start
                    for line in lines[invoice.pk]
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
        account = accounts[invoice.account_id]
        if account.credit_limit is not None:
            exposure = open_ar[(account.pk, invoice.currency)] + invoice.total_amount
            if exposure > account.credit_limit:
                found.append(
                    {
                        "code": "credit_limit",
                        "message": f"{account.name} would owe "
                        f"{format_money(exposure, invoice.currency)}, over its "
                        f"credit limit of {format_money(account.credit_limit, invoice.currency)}.",
                    }
                )
        flags[invoice.pk] = found
    return flags


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
