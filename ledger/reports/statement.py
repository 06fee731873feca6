"""Customer statement: a client's AR activity over a date range with a running balance, per currency."""

from datetime import date
from decimal import Decimal

from django.db.models import Sum

from core.money import quantize
from ledger.models import Allocation, ArItem

ZERO = Decimal(0)


def customer_statement(*, client, start: date, end: date) -> dict:
    """Opening balance, the items and allocations dated `start`..`end` in order, and the closing balance.

    The balance is what the client owes: invoices add, payments, credit notes and write-offs subtract.
    Allocations only match credits to invoices, so they are listed (with the amount `applied`) without
    moving the balance. Amounts stay in the items' currency; a client billed in several currencies gets
    one section per currency. Three queries whatever the size of the range.

    Returns {"client_id", "client_name", "start", "end", "currencies": [{"currency", "opening_balance",
    "lines": [{date, type, reference, description, due_date, amount, applied, balance}], "closing_balance"}]}.
    """
    opening = {
        row["currency"]: quantize(row["total"], row["currency"])
        for row in ArItem.objects.filter(client=client, date__lt=start)
        .order_by()
        .values("currency")
        .annotate(total=Sum("amount"))
    }
    entries: list[tuple] = []
    for item in ArItem.objects.filter(client=client, date__gte=start, date__lte=end).order_by("date", "id"):
        amount = quantize(item.amount, item.currency)
        line = {
            "date": item.date,
            "type": item.kind,
            "reference": item.number,
            "description": f"{item.get_kind_display()} {item.number}",
            "due_date": item.due_date if item.amount > 0 else None,
            "amount": amount,
            "applied": None,
        }
        entries.append((item.currency, item.date, 0, item.pk, line))
    allocations = (
        Allocation.objects.filter(debit_item__client=client, date__gte=start, date__lte=end)
        .select_related("debit_item", "credit_item")
        .order_by("date", "id")
    )
    for allocation in allocations:
        debit, credit = allocation.debit_item, allocation.credit_item
        reversal = allocation.reversal_of_id is not None
        what = "Reversed application of" if reversal else "Applied"
        line = {
            "date": allocation.date,
            "type": "allocation_reversal" if reversal else "allocation",
            "reference": f"{credit.number} → {debit.number}",
            "description": f"{what} {credit} to {debit}",
            "due_date": None,
            "amount": ZERO,
            "applied": quantize(allocation.amount, debit.currency),
        }
        entries.append((debit.currency, allocation.date, 1, allocation.pk, line))
    sections = []
    for currency in sorted(set(opening) | {entry[0] for entry in entries}):
        balance = opening.get(currency, quantize(ZERO, currency))
        section = {"currency": currency, "opening_balance": balance, "lines": []}
        for *_, line in sorted((e for e in entries if e[0] == currency), key=lambda e: e[:4]):
            balance += line["amount"]
            section["lines"].append({**line, "balance": balance})
        section["closing_balance"] = balance
        sections.append(section)
    return {
        "client_id": client.pk,
        "client_name": client.name,
        "start": start,
        "end": end,
        "currencies": sections,
    }
