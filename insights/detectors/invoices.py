"""Invoice anomalies on invoices released in the last 60 days, by the rules the billing workbench flags
drafts with (`billing.services.flags`), so a released invoice is judged as its draft was:

- `deviation`: the total is more than 30% off the mean of the contract's (up to) three invoices issued
  before it;
- `rate_mismatch`: a time line billed at a rate neither the rate card (the contract's, the client's or the
  standard card, for the line's role on its first or last day) nor a project rate override gives;
- `unassigned_person`: a time line billing hours of a person not assigned to the project on those days.
"""

from collections import defaultdict
from datetime import date, timedelta

from django.urls import reverse

from billing.choices import InvoiceStatus
from billing.models import Invoice, InvoiceLine
from billing.services.flags import (
    ISSUED,
    deviation_from,
    flag_context,
    rate_message,
    rate_mismatches,
    unassigned_message,
    unassigned_people,
)
from core.money import format_money, quantize
from core.roles import Role
from insights.detectors.wording import day
from insights.findings import Finding
from insights.models import InsightKind, InsightSeverity

KIND = InsightKind.INVOICE_ANOMALY
RECENT_DAYS = 60
HISTORY = 3
AUDIENCE = (Role.FINANCE,)


def _finding(invoice: Invoice, rule: str, **fields) -> Finding:
    return Finding(
        kind=KIND,
        rule=rule,
        fingerprint=f"{KIND}:{rule}:invoice:{invoice.pk}",
        subject_type="billing.invoice",
        subject_id=invoice.pk,
        subject_label=f"{invoice.number} {invoice.account.name}",
        audience=AUDIENCE,
        url=reverse("billing:invoice-detail", args=[invoice.pk]),
        **fields,
    )


def _histories(invoices: list[Invoice]) -> dict[int, list]:
    """Per invoice, the totals of up to three invoices of its contract issued before it (newest first)."""
    issued = defaultdict(list)
    contracts = {invoice.contract_id for invoice in invoices if invoice.contract_id}
    for row in (
        Invoice.objects.filter(contract_id__in=contracts, status__in=ISSUED)
        .order_by("contract_id", "issue_date", "id")
        .values("pk", "contract_id", "total_amount")
    ):
        issued[row["contract_id"]].append(row)
    histories = {}
    for rows in issued.values():
        for position, row in enumerate(rows):
            earlier = rows[max(0, position - HISTORY) : position]
            histories[row["pk"]] = [other["total_amount"] for other in reversed(earlier)]
    return histories


def detect(as_of: date):
    invoices = list(
        Invoice.objects.filter(
            status__in=ISSUED, issue_date__range=(as_of - timedelta(days=RECENT_DAYS - 1), as_of)
        )
        .exclude(status=InvoiceStatus.VOID)
        .select_related("account")
        .order_by("pk")
    )
    if not invoices:
        return
    lines = defaultdict(list)
    for line in InvoiceLine.objects.filter(invoice_id__in=[invoice.pk for invoice in invoices]).order_by(
        "invoice_id", "position", "id"
    ):
        lines[line.invoice_id].append(line)
    context = flag_context(invoices)
    histories = _histories(invoices)
    for invoice in invoices:
        money = invoice.currency
        history = histories.get(invoice.pk, [])
        mean = deviation_from(invoice.total_amount, history)
        if mean is not None:
            off = (invoice.total_amount - mean) / mean * 100
            yield _finding(
                invoice,
                "deviation",
                title=f"{invoice.number}: total {off:+.2f}% off the contract's history",
                explanation=(
                    f"{invoice.number} to {invoice.account.name}, issued {day(invoice.issue_date)}, totals "
                    f"{format_money(invoice.total_amount, money)}; the mean of the contract's {len(history)} "
                    f"invoice{'s' if len(history) > 1 else ''} before it is {format_money(mean, money)}, "
                    f"so it is {abs(off):.2f}% "
                    f"{'above' if off > 0 else 'below'} (flagged beyond 30%)."
                ),
                figures={
                    "total": str(quantize(invoice.total_amount, money)),
                    "history_mean": str(quantize(mean, money)),
                    "history": [str(quantize(total, money)) for total in history],
                    "deviation_percent": f"{off:.2f}",
                    "currency": money,
                },
            )
        mismatched = rate_mismatches(lines[invoice.pk], context)
        if mismatched:
            yield _finding(
                invoice,
                "rate_mismatch",
                title=f"{invoice.number}: {len(mismatched)} line(s) off the rate card",
                explanation=f"{invoice.number} to {invoice.account.name}: {rate_message(mismatched, money)}.",
                figures={
                    "currency": money,
                    "lines": [
                        {
                            "description": item.description,
                            "billed_rate": str(item.billed_rate),
                            "card_rate": str(item.card_rate),
                            "on": item.on.isoformat(),
                        }
                        for item in mismatched
                    ],
                },
            )
        unassigned = unassigned_people(lines[invoice.pk], context)
        if unassigned:
            yield _finding(
                invoice,
                "unassigned_person",
                title=f"{invoice.number}: time of {len(unassigned)} unassigned person(s)",
                explanation=f"{invoice.number} to {invoice.account.name}: {unassigned_message(unassigned)}.",
                severity=InsightSeverity.WARNING,
                figures={
                    "people": [
                        {
                            "person": item.person,
                            "project": item.project,
                            "hours": str(item.hours),
                            "first_date": item.first_date.isoformat(),
                            "last_date": item.last_date.isoformat(),
                        }
                        for item in unassigned
                    ]
                },
            )
