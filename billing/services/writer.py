"""Writing a run's drafts: invoices and lines in bulk, the bill-once links set-wise (`INSERT … SELECT`
joined to the new lines), scheduled items, over-cap holds and retainer movements; no query per entry."""

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection
from django.db.models import Case, IntegerField, Value, When

from billing.choices import ExceptionKind, HoldStatus, InvoiceStatus
from billing.models import (
    ExpenseBilling,
    Invoice,
    InvoiceLine,
    OverCapEntry,
    PlanItem,
    RetainerMovement,
    RunException,
    TimeEntryBilling,
)
from billing.services.flags import refresh_flags
from billing.services.tax import tax_codes_of, tax_summary
from core.errors import DomainError
from projects.choices import EntryStatus
from projects.models import TimeEntry

ZERO = Decimal(0)
KEYS_PER_STATEMENT = 2000


class StaleDraft(Exception):
    """The rows a draft was computed from changed before it was written; the chunk is redone."""


@dataclass
class WriteResult:
    invoices: dict = field(default_factory=dict)
    entries: int = 0
    expenses: int = 0
    items: int = 0
    exceptions: int = 0


def _link_time(run, keys: list[tuple], period_end) -> int:
    """Link every unbilled entry of each (project, role, rate) key to its line in one INSERT … SELECT per
    batch of keys; returns how many entries were linked."""
    link = TimeEntryBilling._meta.db_table
    entry = TimeEntry._meta.db_table
    hold = OverCapEntry._meta.db_table
    postgres = connection.vendor == "postgresql"
    linked = 0
    for start in range(0, len(keys), KEYS_PER_STATEMENT):
        batch = keys[start : start + KEYS_PER_STATEMENT]
        row = (
            "(%s::bigint, %s::bigint, %s::numeric, %s::bigint, %s::bigint)"
            if postgres
            else "(%s, %s, %s, %s, %s)"
        )
        values = ", ".join([row] * len(batch))
        params = [value for key in batch for value in key]
        # The chunk's projects, spelled out: the planner then reads only their rows through the billing
        # index instead of joining the whole time-entry table to the keys.
        project_ids = sorted({key[0] for key in batch})
        projects = ", ".join(["%s"] * len(project_ids))
        sql = f"""
            INSERT INTO {link} (time_entry_id, plan_id, invoice_line_id, run_id)
            WITH k(project_id, role_id, rate, plan_id, line_id) AS (VALUES {values})
            SELECT te.id, k.plan_id, k.line_id, %s
            FROM {entry} te
            JOIN k ON te.project_id = k.project_id AND te.role_id = k.role_id AND te.bill_rate = k.rate
            WHERE te.project_id IN ({projects}) AND te.status = %s AND te.billable = %s AND te.date <= %s
              AND NOT EXISTS (SELECT 1 FROM {link} b WHERE b.time_entry_id = te.id)
              AND NOT EXISTS (SELECT 1 FROM {hold} h WHERE h.time_entry_id = te.id)
        """  # noqa: S608 - table names are ours; every value is a parameter
        with connection.cursor() as cursor:
            cursor.execute(sql, [*params, run.pk, *project_ids, EntryStatus.APPROVED, True, period_end])
            linked += cursor.rowcount
    return linked


def _bill_items(item_lines: dict[int, int]) -> None:
    if not item_lines:
        return
    updated = PlanItem.objects.filter(pk__in=list(item_lines), invoice_line__isnull=True).update(
        invoice_line_id=Case(
            *[When(pk=pk, then=Value(line)) for pk, line in item_lines.items()], output_field=IntegerField()
        )
    )
    if updated != len(item_lines):
        raise StaleDraft("A scheduled item was billed by someone else meanwhile.")


def write_drafts(*, run, drafts: dict) -> WriteResult:
    """Write the drafts of one chunk (inside the chunk's transaction)."""
    result = WriteResult()
    codes = tax_codes_of(run.legal_entity_id)
    exceptions = []
    invoices, owners = [], []
    for draft in drafts.values():
        contract = draft.contract
        for kind, message, data in draft.exceptions:
            exceptions.append(
                RunException(
                    run=run,
                    kind=kind,
                    contract=contract,
                    project_id=data.get("project"),
                    message=message,
                    data={k: str(v) for k, v in data.items()},
                )
            )
        if not draft.lines:
            continue
        try:
            taxes = tax_summary(draft.lines, codes, contract.currency)
        except DomainError:
            taxes = []
            exceptions.append(
                RunException(
                    run=run,
                    kind=ExceptionKind.NO_TAX_CODE,
                    contract=contract,
                    message=f"{contract.number}: tax code '{draft.lines[0].tax_code}' does not exist; "
                    "the draft has "
                    "no tax until it is fixed.",
                )
            )
        subtotal = draft.subtotal
        tax = sum((row.tax for row in taxes), ZERO)
        invoices.append(
            Invoice(
                legal_entity_id=run.legal_entity_id,
                account=contract.account,
                contract=contract,
                project_id=next((line.project_id for line in draft.lines if line.project_id), None),
                run=run,
                status=InvoiceStatus.DRAFT,
                period_end=run.period_end,
                payment_terms_days=contract.payment_terms_days,
                currency=contract.currency,
                subtotal_amount=subtotal,
                tax_amount=tax,
                total_amount=subtotal + tax,
                created_by=run.created_by,
            )
        )
        owners.append(draft)
    Invoice.objects.bulk_create(invoices)
    rows, sources = [], []
    for invoice, draft in zip(invoices, owners, strict=True):
        result.invoices[draft.contract.pk] = invoice
        for position, line in enumerate(draft.lines, start=1):
            rows.append(
                InvoiceLine(
                    invoice=invoice,
                    position=position,
                    description=line.description[:300],
                    source_type=line.source_type,
                    plan_id=line.plan_id,
                    project_id=line.project_id,
                    role_id=line.role_id,
                    category=line.category,
                    quantity=line.quantity,
                    unit_price=line.unit_price,
                    amount=line.amount,
                    tax_code=line.tax_code,
                    original_quantity=line.quantity,
                    original_unit_price=line.unit_price,
                    original_amount=line.amount,
                    # Time and expense lines carry the dates of the work they bill.
                    period_start=line.period_start or line.first_date,
                    period_end=line.period_end or line.last_date,
                )
            )
            sources.append(line)
    InvoiceLine.objects.bulk_create(rows)
    line_of = {id(source): row.pk for source, row in zip(sources, rows, strict=True)}

    keys, expected = [], 0
    links, expense_links, item_lines, released = [], [], {}, defaultdict(list)
    for source, row in zip(sources, rows, strict=True):
        if source.time_key:
            project_id, role_id, rate, plan_id = source.time_key
            keys.append((project_id, role_id, rate, plan_id, row.pk))
            expected += source.entry_count
        for link in source.entry_links:
            links.append(
                TimeEntryBilling(
                    time_entry_id=link.entry_id,
                    plan_id=link.plan_id,
                    invoice_line_id=row.pk,
                    run=run,
                    billed_hours=link.billed_hours,
                    amount=link.amount,
                    drawn_hours=link.drawn_hours,
                )
            )
        expense_links += [
            ExpenseBilling(
                expense_id=pk, plan_id=source.plan_id, invoice_line_id=row.pk, run=run, amount=amount
            )
            for pk, amount in source.expense_links
        ]
        for pk in source.item_ids:
            item_lines[pk] = row.pk
        if source.released_hold_ids:
            released[row.pk] += source.released_hold_ids
    for draft in drafts.values():
        links += [
            TimeEntryBilling(
                time_entry_id=link.entry_id,
                plan_id=link.plan_id,
                run=run,
                billed_hours=link.billed_hours,
                amount=link.amount,
                drawn_hours=link.drawn_hours,
            )
            for link in draft.unlined_links
        ]
    linked = _link_time(run, keys, run.period_end) if keys else 0
    if linked != expected:
        raise StaleDraft(f"Expected to link {expected} time entries, linked {linked}.")
    TimeEntryBilling.objects.bulk_create(links, batch_size=5000)
    ExpenseBilling.objects.bulk_create(expense_links, batch_size=5000)
    _bill_items(item_lines)
    for line_id, hold_ids in released.items():
        OverCapEntry.objects.filter(pk__in=hold_ids, status=HoldStatus.RELEASED).update(
            status=HoldStatus.BILLED, invoice_line_id=line_id
        )
    holds, movements, reheld = [], [], []
    for draft in drafts.values():
        holds += [
            OverCapEntry(
                time_entry_id=spec.entry_id,
                plan_id=spec.plan_id,
                run=run,
                hours=spec.hours,
                amount=spec.amount,
            )
            for spec in draft.over_cap
        ]
        movements += [
            RetainerMovement(
                plan_id=spec.plan_id,
                run=run,
                kind=spec.kind,
                date=spec.date,
                hours=spec.hours,
                amount=spec.amount,
                balance_hours=spec.balance_hours,
                invoice_line_id=line_of.get(id(spec.line)) if spec.line is not None else None,
                note=spec.note[:300],
            )
            for spec in draft.movements
        ]
        reheld += draft.reheld_ids
    OverCapEntry.objects.bulk_create(holds)
    if reheld:
        OverCapEntry.objects.filter(pk__in=reheld).update(status=HoldStatus.HELD)
    RetainerMovement.objects.bulk_create(movements)
    RunException.objects.bulk_create(exceptions)
    refresh_flags(invoices)
    result.entries = linked + len(links)
    result.expenses = len(expense_links)
    result.items = len(item_lines) + sum(len(ids) for ids in released.values())
    result.exceptions = len(exceptions)
    return result
