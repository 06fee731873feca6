"""Writing a run's drafts: invoices and lines in bulk, the bill-once links from the entry ids the drafts
were priced from (COPY on PostgreSQL), scheduled items, over-cap holds and retainer movements; no query
per entry, and no second scan of the time entries."""

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection

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
from billing.services.bulk import insert_objects, insert_rows, update_rows
from billing.services.flags import flag_context, flags_for
from billing.services.tax import tax_codes_of, tax_summary
from core.errors import DomainError

ZERO = Decimal(0)


class StaleDraft(Exception):
    """The rows a draft was computed from changed before it was written; the chunk is redone."""


@dataclass
class WriteResult:
    invoices: dict = field(default_factory=dict)
    entries: int = 0
    expenses: int = 0
    items: int = 0
    exceptions: int = 0


TIME_LINK_COLUMNS = (
    "time_entry_id", "plan_id", "invoice_line_id", "run_id", "billed_hours", "amount", "drawn_hours",
)  # fmt: skip
EXPENSE_LINK_COLUMNS = ("expense_id", "plan_id", "invoice_line_id", "run_id", "amount")


class WholeEntries:
    """The links of entries billed whole on their line (most of a run's rows): kept as three flat id
    lists and, on PostgreSQL, written by one INSERT from their arrays, so no Python object or COPY row
    is made per entry."""

    def __init__(self):
        self.entries, self.plans, self.lines = [], [], []

    @property
    def count(self) -> int:
        return len(self.entries)

    def add(self, entry_ids: list[int], plan_id: int, line_id: int) -> None:
        self.entries += entry_ids
        self.plans += [plan_id] * len(entry_ids)
        self.lines += [line_id] * len(entry_ids)

    def insert(self, run_id: int) -> None:
        if not self.entries:
            return
        if connection.vendor != "postgresql":
            rows = zip(self.entries, self.plans, self.lines, strict=True)
            insert_rows(TimeEntryBilling, TIME_LINK_COLUMNS[:4], [(*row, run_id) for row in rows])
            return
        # In entry order: the link table's primary key is then filled in a few runs of pages.
        with connection.cursor() as cursor:
            cursor.execute(
                f"""INSERT INTO {TimeEntryBilling._meta.db_table} ({", ".join(TIME_LINK_COLUMNS[:4])})
                    SELECT entry, plan, line, %s
                      FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[]) AS link(entry, plan, line)
                     ORDER BY entry""",  # noqa: S608 - our table and columns; values are parameters
                [run_id, self.entries, self.plans, self.lines],
            )


def _bill_items(item_lines: dict[int, int]) -> None:
    if not item_lines:
        return
    rows = sorted(item_lines.items())
    if update_rows(PlanItem, ["invoice_line_id"], rows, where_null="invoice_line_id") != len(rows):
        raise StaleDraft("A scheduled item was billed by someone else meanwhile.")


def _exceptions_of(run, draft) -> list[RunException]:
    return [
        RunException(
            run=run,
            kind=kind,
            contract=draft.contract,
            project_id=data.get("project"),
            message=message,
            data={k: str(v) for k, v in data.items()},
        )
        for kind, message, data in draft.exceptions
    ]


def _invoice_of(run, draft, codes, exceptions: list) -> Invoice:
    contract = draft.contract
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
                "the draft has no tax until it is fixed.",
            )
        )
    subtotal = draft.subtotal
    tax = sum((row.tax for row in taxes), ZERO)
    return Invoice(
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


def _line_of(line, position: int) -> InvoiceLine:
    return InvoiceLine(
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


def write_drafts(*, run, drafts: dict) -> WriteResult:
    """Write the drafts of one chunk (inside the chunk's transaction). The drafts must carry their
    entry ids (`draft_contracts(..., entry_ids=True)`): the links are written from them."""
    result = WriteResult()
    codes = tax_codes_of(run.legal_entity_id)
    exceptions, invoices, owners, line_rows = [], [], [], []
    for draft in drafts.values():
        exceptions += _exceptions_of(run, draft)
        if draft.lines:
            invoices.append(_invoice_of(run, draft, codes, exceptions))
            owners.append(draft)
            line_rows.append([_line_of(line, position) for position, line in enumerate(draft.lines, 1)])
    # Flags are worked out before anything is written; holds this chunk adds or puts back count too.
    held = {draft.contract.pk for draft in drafts.values() if draft.over_cap or draft.reheld_ids}
    context = flag_context(invoices, over_cap_contracts=held)
    for invoice, rows in zip(invoices, line_rows, strict=True):
        invoice.flags = flags_for(invoice, rows, context)
    insert_objects(invoices)
    rows, sources = [], []
    for invoice, draft, invoice_rows in zip(invoices, owners, line_rows, strict=True):
        result.invoices[draft.contract.pk] = invoice
        for row in invoice_rows:
            row.invoice = invoice
        rows += invoice_rows
        sources += draft.lines
    insert_objects(rows)
    line_of = {id(source): row.pk for source, row in zip(sources, rows, strict=True)}

    whole = WholeEntries()
    links, expense_links, item_lines, released = [], [], {}, defaultdict(list)
    for source, row in zip(sources, rows, strict=True):
        if len(source.entry_ids) != source.entry_count:
            raise ValueError("The drafts were computed without their entry ids (entry_ids=True).")
        whole.add(source.entry_ids, source.plan_id, row.pk)
        links += [
            (link.entry_id, link.plan_id, row.pk, run.pk, link.billed_hours, link.amount, link.drawn_hours)
            for link in source.entry_links
        ]
        expense_links += [(pk, source.plan_id, row.pk, run.pk, amount) for pk, amount in source.expense_links]
        for pk in source.item_ids:
            item_lines[pk] = row.pk
        if source.released_hold_ids:
            released[row.pk] += source.released_hold_ids
    for draft in drafts.values():
        links += [
            (link.entry_id, link.plan_id, None, run.pk, link.billed_hours, link.amount, link.drawn_hours)
            for link in draft.unlined_links
        ]
    whole.insert(run.pk)
    insert_rows(TimeEntryBilling, TIME_LINK_COLUMNS, links)
    insert_rows(ExpenseBilling, EXPENSE_LINK_COLUMNS, expense_links)
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
    insert_objects(holds)
    if reheld:
        OverCapEntry.objects.filter(pk__in=reheld).update(status=HoldStatus.HELD)
    insert_objects(movements)
    insert_objects(exceptions)
    result.entries = whole.count + len(links)
    result.expenses = len(expense_links)
    result.items = len(item_lines) + sum(len(ids) for ids in released.values())
    result.exceptions = len(exceptions)
    return result
