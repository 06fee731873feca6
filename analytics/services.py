"""Keeping the rollups current: `refresh_rollups` re-reads only what changed since the watermark,
`rebuild_rollups` recreates everything. Both are idempotent; a concurrent twin writes the same rows.

What changed is found through the sources' own timestamps:
- time entries and expenses whose `updated_at` moved (every status change of projects and billing sets it);
- invoices whose `updated_at`, `released_at` or `voided_at` moved, or a credit note on which was released:
  the entries they link now and the entries they linked before (the facts remember the invoice), so a
  line removed from a draft or work a credit note took back is seen;
- over-cap holds created since (the held time leaves WIP);
- journal entries posted since (lines are immutable: only new lines ever change a month).
The watermark is re-read with an overlap, because a row stamped just before the last refresh may have
committed just after it; re-reading a row is harmless.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Count, DecimalField, Exists, OuterRef, Q, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from analytics.models import (
    DailyRollup,
    ExpenseFact,
    GLMonthRollup,
    InvoiceLagRollup,
    MonthlyRollup,
    RollupState,
    TimeFact,
)
from billing.choices import InvoiceStatus
from billing.models import CreditNote, ExpenseBilling, Invoice, OverCapEntry, TimeEntryBilling
from billing.services.drafts.expenses import rebill_amount
from ledger.models import JournalEntry, JournalLine
from projects.choices import EntryStatus
from projects.models import Expense, RateCardRate, TimeEntry

ZERO = Decimal(0)
OVERLAP = timedelta(minutes=5)
CHUNK = 2000
GL_CHUNK = 50
LAG_DAYS = 31
# Approved work counts from approval on; drafts and submissions may still change or disappear.
COUNTED = (EntryStatus.APPROVED, EntryStatus.BILLED, EntryStatus.WRITTEN_OFF)
BILLED_STATUSES = (
    InvoiceStatus.RELEASED,
    InvoiceStatus.SENT,
    InvoiceStatus.PARTIALLY_PAID,
    InvoiceStatus.PAID,
)
EXACT = DecimalField(max_digits=30, decimal_places=6)
WORK = "work"
GL = "gl"


@dataclass
class RefreshResult:
    entries: int = 0
    expenses: int = 0
    cells: int = 0
    gl_cells: int = 0
    full: bool = False


class StandardRates:
    """The standard rate cards' rates (cards with neither client nor contract), in memory: for a role, day
    and currency, the most recently created active card holding a valid rate wins (as projects prices)."""

    def __init__(self):
        self.rates: dict[tuple[int, str], list[tuple]] = defaultdict(list)
        rows = RateCardRate.objects.filter(
            rate_card__account__isnull=True, rate_card__contract__isnull=True, rate_card__active=True
        ).values_list(
            "role_id",
            "rate_card__currency",
            "valid_from",
            "valid_to",
            "rate",
            "rate_card__created_at",
            "rate_card_id",
        )
        for role_id, currency, valid_from, valid_to, rate, created_at, card_id in rows:
            self.rates[(role_id, currency)].append((created_at, card_id, valid_from, valid_to, rate))
        for candidates in self.rates.values():
            candidates.sort(reverse=True)

    def rate(self, role_id: int, currency: str, day: date) -> Decimal | None:
        for _created, _card, valid_from, valid_to, rate in self.rates.get((role_id, currency), ()):
            if valid_from <= day and (valid_to is None or day <= valid_to):
                return rate
        return None


def _time_facts(ids: list[int], standard: StandardRates) -> list[TimeFact]:
    entries = TimeEntry.objects.filter(pk__in=ids, status__in=COUNTED).values_list(
        "pk", "person_id", "project_id", "role_id", "date", "currency", "billable", "hours", "bill_rate",
        "cost_rate", "status", "approved_at",
    )  # fmt: skip
    links = {
        row[0]: row
        for row in TimeEntryBilling.objects.filter(time_entry_id__in=ids).values_list(
            "time_entry_id",
            "billed_hours",
            "amount",
            "invoice_line__amount",
            "invoice_line__original_amount",
            "invoice_line__invoice_id",
            "invoice_line__invoice__status",
            "invoice_line__invoice__issue_date",
        )  # fmt: skip
    }
    held = set(OverCapEntry.objects.filter(time_entry_id__in=ids).values_list("time_entry_id", flat=True))
    facts = []
    for (
        pk,
        person,
        project,
        role,
        day,
        currency,
        billable,
        hours,
        bill_rate,
        cost_rate,
        status,
        approved,
    ) in entries:
        link = links.get(pk)
        billed, invoice_id, days_to_invoice, settled = ZERO, None, None, status == EntryStatus.WRITTEN_OFF
        if link:
            _, billed_hours, amount, line_amount, original, invoice_id, invoice_status, issued = link
            if invoice_id and invoice_status in BILLED_STATUSES:
                settled = True
                billed = (
                    amount
                    if amount is not None
                    else (billed_hours if billed_hours is not None else hours) * bill_rate
                )
                if original and line_amount is not None and line_amount != original:
                    # A write-up or write-down of the line moves each entry's share in proportion.
                    billed = (billed * line_amount / original).quantize(Decimal("0.000001"))
                if issued and approved:
                    # The invoice's own date is when the client was billed (release may be keyed later).
                    days_to_invoice = (issued - timezone.localtime(approved).date()).days
        standard_rate = standard.rate(role, currency, day)
        rate = standard_rate if standard_rate is not None else bill_rate
        standard_value = hours * rate if billable else ZERO
        unbilled = status == EntryStatus.APPROVED and billable and link is None and pk not in held
        facts.append(
            TimeFact(
                time_entry_id=pk,
                person_id=person,
                project_id=project,
                date=day,
                currency=currency,
                billable=billable,
                hours=hours,
                standard_value=standard_value,
                cost=hours * cost_rate,
                billed_value=billed,
                billed_standard_value=standard_value if settled else ZERO,
                wip_value=hours * bill_rate if unbilled else ZERO,
                invoice_id=invoice_id,
                approved_on=timezone.localtime(approved).date() if approved else None,
                days_to_invoice=days_to_invoice,
            )
        )
    return facts


def _expense_facts(ids: list[int]) -> list[ExpenseFact]:
    rows = Expense.objects.filter(pk__in=ids, status__in=COUNTED).values_list(
        "pk", "person_id", "project_id", "date", "project_currency", "converted_amount", "billable",
        "markup_percent", "status",
    )  # fmt: skip
    links = dict(
        ExpenseBilling.objects.filter(expense_id__in=ids).values_list(
            "expense_id", "invoice_line__invoice_id"
        )
    )
    return [
        ExpenseFact(
            expense_id=pk,
            person_id=person,
            project_id=project,
            date=day,
            currency=currency,
            cost=cost,
            wip_value=rebill_amount(cost, markup, currency)
            if status == EntryStatus.APPROVED and billable and pk not in links
            else ZERO,
            invoice_id=links.get(pk),
        )
        for pk, person, project, day, currency, cost, billable, markup, status in rows
    ]


TIME_FACT_FIELDS = [f.name for f in TimeFact._meta.fields if not f.primary_key]
EXPENSE_FACT_FIELDS = [f.name for f in ExpenseFact._meta.fields if not f.primary_key]
ROLLUP_FIELDS = [
    "currency", "hours", "billable_hours", "standard_value", "billed_standard_value", "time_cost",
    "expense_cost", "billed_value", "wip_value",
]  # fmt: skip
MONTH_SUMS = ROLLUP_FIELDS[1:]


def _cells_of(model, ids: list[int]) -> set[tuple]:
    key = model._meta.pk.name
    return set(model.objects.filter(**{f"{key}__in": ids}).values_list("date", "person_id", "project_id"))


@transaction.atomic
def _refresh_time_chunk(ids: list[int], standard: StandardRates) -> tuple[set[tuple], set[date]]:
    """Rewrite these entries' facts; returns the (day, person, project) cells and the approval days whose
    counts they were or now are in."""
    before = TimeFact.objects.filter(time_entry_id__in=ids).values_list(
        "date", "person_id", "project_id", "approved_on"
    )
    cells, approved = set(), set()
    for day, person, project, approved_on in before:
        cells.add((day, person, project))
        approved.add(approved_on)
    facts = _time_facts(ids, standard)
    TimeFact.objects.filter(time_entry_id__in=ids).exclude(time_entry_id__in=[f.pk for f in facts]).delete()
    TimeFact.objects.bulk_create(
        facts, update_conflicts=True, unique_fields=["time_entry_id"], update_fields=TIME_FACT_FIELDS
    )
    cells |= {(f.date, f.person_id, f.project_id) for f in facts}
    approved |= {f.approved_on for f in facts}
    approved.discard(None)
    return cells, approved


@transaction.atomic
def _refresh_expense_chunk(ids: list[int]) -> set[tuple]:
    cells = _cells_of(ExpenseFact, ids)
    facts = _expense_facts(ids)
    ExpenseFact.objects.filter(expense_id__in=ids).exclude(expense_id__in=[f.pk for f in facts]).delete()
    ExpenseFact.objects.bulk_create(
        facts, update_conflicts=True, unique_fields=["expense_id"], update_fields=EXPENSE_FACT_FIELDS
    )
    return cells | {(f.date, f.person_id, f.project_id) for f in facts}


@transaction.atomic
def _rollup_cells(cells: list[tuple]) -> None:
    """Re-sum the facts of these (day, person, project) cells; cells left without facts are deleted."""
    days = {c[0] for c in cells}
    people = {c[1] for c in cells}
    projects = {c[2] for c in cells}
    wanted = set(cells)
    sums: dict[tuple, dict] = {}

    def cell(key, currency):
        if key not in sums:
            sums[key] = dict.fromkeys(ROLLUP_FIELDS[1:], ZERO) | {"currency": currency}
        return sums[key]

    scope = {"date__in": days, "person_id__in": people, "project_id__in": projects}
    for row in TimeFact.objects.filter(**scope).values_list(
        "date", "person_id", "project_id", "currency", "billable", "hours", "standard_value", "cost",
        "billed_value", "wip_value", "billed_standard_value",
    ):  # fmt: skip
        key = row[:3]
        if key not in wanted:
            continue
        _, _, _, currency, billable, hours, standard_value, cost, billed, wip, billed_standard = row
        target = cell(key, currency)
        target["hours"] += hours
        target["billable_hours"] += hours if billable else ZERO
        target["standard_value"] += standard_value
        target["billed_standard_value"] += billed_standard
        target["time_cost"] += cost
        target["billed_value"] += billed
        target["wip_value"] += wip
    for row in ExpenseFact.objects.filter(**scope).values_list(
        "date", "person_id", "project_id", "currency", "cost", "wip_value"
    ):
        key = row[:3]
        if key in wanted:
            target = cell(key, row[3])
            target["expense_cost"] += row[4]
            target["wip_value"] += row[5]
    empty = wanted - set(sums)
    if empty:
        stale = DailyRollup.objects.filter(
            date__in={c[0] for c in empty},
            person_id__in={c[1] for c in empty},
            project_id__in={c[2] for c in empty},
        ).values_list("pk", "date", "person_id", "project_id")
        DailyRollup.objects.filter(pk__in=[row[0] for row in stale if row[1:] in empty]).delete()
    DailyRollup.objects.bulk_create(
        [
            DailyRollup(date=key[0], person_id=key[1], project_id=key[2], **values)
            for key, values in sums.items()
        ],
        update_conflicts=True,
        unique_fields=["date", "person", "project"],
        update_fields=ROLLUP_FIELDS,
    )


@transaction.atomic
def _rollup_month(month: date, cells: set[tuple[int, int]]) -> None:
    """Re-sum one month's daily cells of these (person, project) pairs; pairs left without any are deleted.

    One grouped read of the month per call, so a refresh that touched every day costs a query per month.
    """
    days = DailyRollup.objects.filter(
        date__gte=month,
        date__lt=_month_after(month),
        person_id__in={person for person, _ in cells},
        project_id__in={project for _, project in cells},
    )
    sums = {}
    for values in (
        days.values("person_id", "project_id", "currency")
        .annotate(**{field: Sum(field) for field in MONTH_SUMS})
        .order_by()
    ):
        key = (values.pop("person_id"), values.pop("project_id"))
        if key in cells:
            sums[key] = values
    stale = cells - set(sums)
    if stale:
        current = MonthlyRollup.objects.filter(
            month=month,
            person_id__in={person for person, _ in stale},
            project_id__in={project for _, project in stale},
        ).values_list("pk", "person_id", "project_id")
        MonthlyRollup.objects.filter(pk__in=[row[0] for row in current if row[1:] in stale]).delete()
    for batch in _chunks(sums, CHUNK):
        MonthlyRollup.objects.bulk_create(
            [MonthlyRollup(month=month, person_id=key[0], project_id=key[1], **sums[key]) for key in batch],
            update_conflicts=True,
            unique_fields=["month", "person", "project"],
            update_fields=ROLLUP_FIELDS,
        )


@transaction.atomic
def _rollup_lags(days: list[date]) -> None:
    """Recount the days-to-invoice histogram of the entries approved on these days."""
    counts = (
        TimeFact.objects.filter(approved_on__in=days, days_to_invoice__isnull=False)
        .values_list("approved_on", "days_to_invoice")
        .annotate(n=Count("pk"))
        .order_by()
    )
    InvoiceLagRollup.objects.filter(approved_on__in=days).delete()
    InvoiceLagRollup.objects.bulk_create(
        InvoiceLagRollup(approved_on=day, days_to_invoice=lag, entries=n) for day, lag, n in counts
    )


def _chunks(values, size: int):
    values = sorted(values)
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _month_after(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


@transaction.atomic
def _rollup_gl(pairs: list[tuple[int, date]] | None) -> int:
    """Re-sum journal lines of these (account, month) pairs per client and project (all when None)."""
    lines = JournalLine.objects.all()
    if pairs is not None:
        condition = None
        for account_id, month in pairs:
            q = JournalLine.objects.filter(
                account_id=account_id, date__gte=month, date__lt=_month_after(month)
            )
            condition = q if condition is None else condition | q
        lines = condition
    rows = (
        lines.annotate(month=TruncMonth("date"))
        .values("legal_entity_id", "account_id", "month", "client_id", "project_id")
        .annotate(
            debit=Sum("functional_debit", output_field=EXACT),
            credit=Sum("functional_credit", output_field=EXACT),
        )
        .order_by()
    )
    objects = [
        GLMonthRollup(
            legal_entity_id=row["legal_entity_id"],
            account_id=row["account_id"],
            month=row["month"],
            client_id=row["client_id"] or 0,
            project_id=row["project_id"] or 0,
            functional_debit=Decimal(row["debit"] or ZERO).quantize(Decimal("0.0001")),
            functional_credit=Decimal(row["credit"] or ZERO).quantize(Decimal("0.0001")),
        )
        for row in rows
    ]
    GLMonthRollup.objects.bulk_create(
        objects,
        update_conflicts=True,
        unique_fields=["account_id", "month", "client_id", "project_id"],
        update_fields=["legal_entity_id", "functional_debit", "functional_credit"],
        batch_size=CHUNK,
    )
    return len(objects)


def _claim_watermark(name: str) -> datetime | None:
    state, _ = RollupState.objects.get_or_create(name=name)
    return state.watermark


def _advance(name: str, started, **counts) -> None:
    RollupState.objects.filter(name=name).update(watermark=started, refreshed_at=timezone.now(), **counts)


def refresh_rollups(*, actor=None, full: bool = False) -> RefreshResult:
    """Bring the rollups up to date: re-read the entries, expenses, invoices and journal entries changed
    since the last refresh (everything when `full`), chunk by chunk, each chunk in its own transaction.

    `actor` is who asked (None for the beat schedule); the refresh writes derived data only, so it is not
    audited row by row (a rebuild is, by `rebuild_rollups`).
    """
    started = timezone.now()
    result = RefreshResult(full=full)
    work_mark = None if full else _claim_watermark(WORK)
    gl_mark = None if full else _claim_watermark(GL)
    if full:
        RollupState.objects.get_or_create(name=WORK)
        RollupState.objects.get_or_create(name=GL)
    standard = StandardRates()
    cells: set[tuple] = set()

    if work_mark is None:
        TimeFact.objects.all().delete()
        ExpenseFact.objects.all().delete()
        DailyRollup.objects.all().delete()
        MonthlyRollup.objects.all().delete()
        InvoiceLagRollup.objects.all().delete()
        entry_ids = TimeEntry.objects.filter(status__in=COUNTED).values_list("pk", flat=True)
        expense_ids = Expense.objects.filter(status__in=COUNTED).values_list("pk", flat=True)
    else:
        since = work_mark - OVERLAP
        # Release writes invoices with bulk_update, which leaves `updated_at` as it was: read `released_at`.
        touched = list(
            Invoice.objects.filter(
                Q(updated_at__gt=since) | Q(released_at__gt=since) | Q(voided_at__gt=since)
            ).values_list("pk", flat=True)
        )
        # A released credit note takes work back off its invoice without touching the invoice or the
        # entries: the facts still name that invoice.
        touched += CreditNote.objects.filter(released_at__gt=since).values_list("invoice_id", flat=True)
        # Facts that point at an invoice that no longer exists (a discarded draft).
        orphaned = TimeFact.objects.filter(invoice_id__isnull=False).filter(
            ~Exists(Invoice.objects.filter(pk=OuterRef("invoice_id")))
        )
        entry_ids = (
            set(TimeEntry.objects.filter(updated_at__gt=since).values_list("pk", flat=True))
            | set(TimeFact.objects.filter(invoice_id__in=touched).values_list("time_entry_id", flat=True))
            | set(
                TimeEntryBilling.objects.filter(invoice_line__invoice_id__in=touched).values_list(
                    "time_entry_id", flat=True
                )
            )
            | set(OverCapEntry.objects.filter(created_at__gt=since).values_list("time_entry_id", flat=True))
            | set(orphaned.values_list("time_entry_id", flat=True))
        )
        expense_ids = (
            set(Expense.objects.filter(updated_at__gt=since).values_list("pk", flat=True))
            | set(ExpenseFact.objects.filter(invoice_id__in=touched).values_list("expense_id", flat=True))
            | set(
                ExpenseBilling.objects.filter(invoice_line__invoice_id__in=touched).values_list(
                    "expense_id", flat=True
                )
            )
            | set(
                ExpenseFact.objects.filter(invoice_id__isnull=False)
                .filter(~Exists(Invoice.objects.filter(pk=OuterRef("invoice_id"))))
                .values_list("expense_id", flat=True)
            )
        )
    entry_ids, expense_ids = list(entry_ids), list(expense_ids)
    approved: set[date] = set()
    for chunk in _chunks(entry_ids, CHUNK):
        chunk_cells, chunk_days = _refresh_time_chunk(chunk, standard)
        cells |= chunk_cells
        approved |= chunk_days
    for chunk in _chunks(expense_ids, CHUNK):
        cells |= _refresh_expense_chunk(chunk)
    for chunk in _chunks(cells, CHUNK):
        _rollup_cells(chunk)
    months: dict[date, set[tuple[int, int]]] = defaultdict(set)
    for day, person, project in cells:
        months[day.replace(day=1)].add((person, project))
    for month in sorted(months):
        _rollup_month(month, months[month])
    for days in _chunks(approved, LAG_DAYS):
        _rollup_lags(days)
    result.entries, result.expenses, result.cells = len(entry_ids), len(expense_ids), len(cells)
    _advance(WORK, started, last_entries=result.entries, last_cells=result.cells)

    if gl_mark is None:
        GLMonthRollup.objects.all().delete()
        result.gl_cells = _rollup_gl(None)
    else:
        pairs = set(
            JournalLine.objects.filter(
                entry__in=JournalEntry.objects.filter(posted_at__gt=gl_mark - OVERLAP).values("pk")
            )
            .annotate(month=TruncMonth("date"))
            .values_list("account_id", "month")
            .distinct()
        )
        for chunk in _chunks(pairs, GL_CHUNK):
            result.gl_cells += _rollup_gl(chunk)
    _advance(GL, started, last_cells=result.gl_cells)
    return result


def rebuild_rollups(*, actor=None) -> RefreshResult:
    """Recreate every rollup from the sources (after a restore, a rate-card reprice or a bug fix)."""
    from core import audit

    result = refresh_rollups(actor=actor, full=True)
    state = RollupState.objects.get(name=WORK)
    audit.record(
        actor=actor,
        action="analytics.rollups_rebuilt",
        obj=state,
        changes={"entries": result.entries, "expenses": result.expenses, "cells": result.cells,
                 "gl_cells": result.gl_cells},
    )  # fmt: skip
    return result
