"""The month-end close checklist of a fiscal period, computed live from the books.

Six items, each `ok`, `blocking` or `warning`, with a sentence, its figures, the offending rows (at most
`ROW_LIMIT`, with their full count) and where to fix it. Closing is refused while any item blocks:

1. Time and expenses dated in the month not approved (draft, submitted, rejected): blocking, because once
   the month is closed they can no longer be approved into it and would be lost to billing and cost.
2. Billing: blocking when the entity bills under contracts in the month and no completed whole-entity
   billing run reaches the month end. Unbilled approved billable work up to the month end and drafts not
   released are a warning, listed with their reason (over a cap, no billing plan, awaiting a run): those
   wait for a decision that need not hold up the close.
3. Revenue: blocking when the entity has active performance obligations and no revenue run for exactly
   this month end has completed; a warning when only a later month's run has (it recognised this month
   as a catch-up in its own month, and a run for this month is refused from then on).
4. FX revaluation: blocking when foreign-currency receivables are open at the month end, their booking
   rates differ from the closing rate, and no revaluation entry was posted for the month end.
5. Reconciliations: blocking when the AR subledger (open items at booking rates, functional) differs from
   the AR control account, or the deferred and unbilled revenue accounts differ from the revenue module's
   contract positions (per transaction currency).
6. Trial balance: blocking when debits and credits as of the month end differ, or an entry dated in the
   month does not balance. Journal entries are posted as they are created (the ledger has no drafts), so
   there is no draft entry to list; the database refuses an unbalanced one, and this item proves it.

Every item is a handful of aggregate queries, whatever the volume.
"""

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from decimal import Decimal

from django.db.models import Count, F, Q, Sum
from django.urls import reverse

from core.money import format_money, quantize
from ledger.choices import AccountRole
from ledger.models import FiscalPeriod, JournalEntry, JournalLine
from ledger.reports.reconciliation import account_balances, ar_control_at_booking_rates, contract_positions
from ledger.reports.unbilled import UNBILLED_REASONS, unbilled_by_reason

OK, BLOCKING, WARNING = "ok", "blocking", "warning"
ROW_LIMIT = 20
ZERO = Decimal(0)


@dataclass
class ChecklistItem:
    key: str
    title: str
    status: str
    sentence: str
    figures: dict = field(default_factory=dict)
    rows: list[dict] = field(default_factory=list)
    row_count: int = 0
    fix_url: str = ""
    fix_label: str = ""

    @property
    def blocking(self) -> bool:
        return self.status == BLOCKING


@dataclass
class Checklist:
    period: FiscalPeriod
    items: list[ChecklistItem]

    @property
    def blockers(self) -> list[ChecklistItem]:
        return [item for item in self.items if item.blocking]

    @property
    def can_close(self) -> bool:
        return not self.blockers

    def as_data(self) -> dict:
        """Plain values (amounts as strings, dates ISO) for the API and the stored close report."""
        from core.jsonable import to_jsonable

        return to_jsonable(
            {
                "period": self.period.pk,
                "legal_entity": self.period.legal_entity_id,
                "start": self.period.start,
                "end": self.period.end,
                "can_close": self.can_close,
                "items": [asdict(item) for item in self.items],
            }
        )


def _url(name: str, query: str = "", *args) -> str:
    return reverse(name, args=args) + (f"?{query}" if query else "")


def close_checklist(period: FiscalPeriod) -> Checklist:
    """The six checks of `period` as they stand now."""
    entity = period.legal_entity
    return Checklist(
        period=period,
        items=[
            unapproved_work(period),
            billing_done(period),
            revenue_done(period),
            revaluation_done(period),
            reconciliations(period, entity),
            trial_balance_check(period, entity),
        ],
    )


def unapproved_work(period: FiscalPeriod) -> ChecklistItem:
    """Item 1: time entries and expenses dated in the month that are not approved, by person."""
    from projects.choices import EntryStatus
    from projects.models import Expense, TimeEntry

    waiting = (EntryStatus.DRAFT, EntryStatus.SUBMITTED, EntryStatus.REJECTED)
    scope = {"project__legal_entity_id": period.legal_entity_id, "date__range": (period.start, period.end)}
    people: dict[int, dict] = {}

    def row(person_id: int, name: str) -> dict:
        return people.setdefault(
            person_id,
            {"person": person_id, "name": name, "time_entries": 0, "hours": ZERO, "expenses": 0,
             "draft": 0, "submitted": 0, "rejected": 0},
        )  # fmt: skip

    by_status = {status: Count("pk", filter=Q(status=status)) for status in waiting}
    for group in (
        TimeEntry.objects.filter(status__in=waiting, **scope)
        .values("person_id", "person__name")
        .annotate(count=Count("pk"), hours=Sum("hours"), **by_status)
        .order_by()
    ):
        target = row(group["person_id"], group["person__name"])
        target["time_entries"] += group["count"]
        target["hours"] += group["hours"] or ZERO
        for status in waiting:
            target[status] += group[status]
    for group in (
        Expense.objects.filter(status__in=waiting, **scope)
        .values("person_id", "person__name")
        .annotate(count=Count("pk"), **by_status)
        .order_by()
    ):
        target = row(group["person_id"], group["person__name"])
        target["expenses"] += group["count"]
        for status in waiting:
            target[status] += group[status]
    rows = sorted(people.values(), key=lambda r: (r["name"], r["person"]))
    entries = sum(r["time_entries"] for r in rows)
    expenses = sum(r["expenses"] for r in rows)
    figures = {
        "time_entries": entries,
        "hours": sum((r["hours"] for r in rows), ZERO),
        "expenses": expenses,
        "people": len(rows),
    }
    if rows:
        sentence = (
            f"{entries} time entries ({figures['hours']} h) and {expenses} expenses dated in the month "
            f"are not approved, from {len(rows)} {'person' if len(rows) == 1 else 'people'}."
        )
        # Finance cannot approve: name the project managers the submitted work waits for.
        approvers: dict[str, int] = defaultdict(int)
        for model in (TimeEntry, Expense):
            for name, count in (
                model.objects.filter(status=EntryStatus.SUBMITTED, **scope)
                .values_list("project__manager__name")
                .annotate(count=Count("pk"))
                .order_by()
            ):
                approvers[name or "a project without a manager"] += count
        if approvers:
            sentence += (
                " Submitted, waiting for "
                + ", ".join(f"{name} ({count})" for name, count in sorted(approvers.items()))
                + "."
            )
    else:
        sentence = "Every time entry and expense dated in the month is approved."
    return ChecklistItem(
        key="approvals",
        title="Time and expenses approved",
        status=BLOCKING if rows else OK,
        sentence=sentence,
        figures=figures,
        rows=rows[:ROW_LIMIT],
        row_count=len(rows),
        fix_url=_url("projects:approvals"),
        fix_label="Approvals inbox (project managers)",
    )


def billing_done(period: FiscalPeriod) -> ChecklistItem:
    """Item 2: a completed billing run reaching the month end, and what is still unbilled."""
    from billing.choices import InvoiceStatus, RunStatus
    from billing.models import BillingPlan, BillingRun, Invoice

    entity_id = period.legal_entity_id
    bills = BillingPlan.objects.filter(
        legal_entity_id=entity_id, start__lte=period.end, end__gte=period.start
    )
    runs = BillingRun.objects.filter(
        legal_entity_id=entity_id, status=RunStatus.COMPLETED, period_end__gte=period.end
    )
    whole = [run for run in runs.order_by("-period_end", "-id")[:50] if not any((run.scope or {}).values())]
    scoped = runs.exists()
    rows = unbilled_by_reason(period)
    for row in rows:
        row["explanation"] = UNBILLED_REASONS[row["reason"]]
    drafts = Invoice.objects.filter(
        legal_entity_id=entity_id, status=InvoiceStatus.DRAFT, period_end__lte=period.end
    ).count()
    figures = {
        "billing_plans": bills.count(),
        "run": whole[0].pk if whole else None,
        "run_period_end": whole[0].period_end if whole else None,
        "unbilled_time_entries": sum(r["time_entries"] for r in rows),
        "unbilled_hours": sum((r["hours"] for r in rows), ZERO),
        "unbilled_expenses": sum(r["expenses"] for r in rows),
        "draft_invoices": drafts,
    }
    fix_url, fix_label = _url("billing:run-create"), "Start a billing run"
    if not figures["billing_plans"] and not rows and not drafts:
        return ChecklistItem(
            key="billing",
            title="Billing run completed",
            status=OK,
            sentence="The entity bills no contract in the month and has no unbilled work: nothing to bill.",
            figures=figures,
        )
    problems = []
    if not whole:
        status = BLOCKING
        problems.append(
            f"No completed billing run of the whole entity reaches {period.end.isoformat()}"
            + (" (only runs limited to some clients or contracts)." if scoped else ".")
        )
    else:
        status = OK
        problems.append(f"Billing run #{whole[0].pk} to {whole[0].period_end.isoformat()} completed.")
    if rows:
        status = status if status == BLOCKING else WARNING
        problems.append(
            f"{figures['unbilled_time_entries']} approved billable time entries "
            f"({figures['unbilled_hours']} h) and {figures['unbilled_expenses']} expenses up to the "
            "month end are not billed."
        )
        fix_url, fix_label = (
            (fix_url, fix_label) if not whole else (_url("billing:report-wip"), "Unbilled WIP")
        )
    if drafts:
        status = status if status == BLOCKING else WARNING
        problems.append(f"{drafts} draft invoices up to the month end are not released.")
        if whole and not rows:
            fix_url, fix_label = _url("billing:drafts"), "Review the drafts"
    return ChecklistItem(
        key="billing",
        title="Billing run completed",
        status=status,
        sentence=" ".join(problems),
        figures=figures,
        rows=rows[:ROW_LIMIT],
        row_count=len(rows),
        fix_url=fix_url,
        fix_label=fix_label,
    )


def revenue_done(period: FiscalPeriod) -> ChecklistItem:
    """Item 3: the revenue run for exactly this month end has completed."""
    from revrec.choices import ObligationStatus, RunStatus
    from revrec.models import PerformanceObligation, RevenueRun

    entity_id = period.legal_entity_id
    obligations = PerformanceObligation.objects.filter(
        legal_entity_id=entity_id, status=ObligationStatus.ACTIVE
    ).count()
    runs = list(
        RevenueRun.objects.filter(legal_entity_id=entity_id, period_end=period.end)
        .order_by("-created_at", "-id")
        .values("pk", "status", "recognized_amount", "finished_at")[:ROW_LIMIT]
    )
    done = next((run for run in runs if run["status"] == RunStatus.COMPLETED), None)
    # Once a later month has run, this month's run is refused: that run recognised it as a catch-up.
    later = (
        RevenueRun.objects.filter(
            legal_entity_id=entity_id, status=RunStatus.COMPLETED, period_end__gt=period.end
        )
        .order_by("period_end", "id")
        .values("pk", "period_end")
        .first()
    )
    figures = {
        "active_obligations": obligations,
        "run": done["pk"] if done else None,
        "recognized_amount": (
            quantize(done["recognized_amount"], period.legal_entity.functional_currency) if done else None
        ),
    }
    fix_url, fix_label = _url("revrec:run-create"), "Start a revenue run"
    if done:
        status, sentence = OK, f"Revenue run #{done['pk']} for {period.end.isoformat()} completed."
        fix_url, fix_label = _url("revrec:run-detail", "", done["pk"]), "Open the run"
    elif not obligations:
        status, sentence = OK, "The entity has no active performance obligations: no revenue to recognise."
        fix_url = fix_label = ""
    elif later:
        status = WARNING
        sentence = (
            f"No revenue run for {period.end.isoformat()}; the later run #{later['pk']} to "
            f"{later['period_end'].isoformat()} recognised the month as a catch-up, booked in its own month."
        )
        fix_url, fix_label = _url("revrec:run-detail", "", later["pk"]), "Open the run"
    elif runs:
        latest = runs[0]
        status = BLOCKING
        sentence = f"The revenue run #{latest['pk']} for {period.end.isoformat()} is {latest['status']}."
        fix_url, fix_label = _url("revrec:run-detail", "", latest["pk"]), "Open the run"
    else:
        status = BLOCKING
        sentence = (
            f"No revenue run for {period.end.isoformat()}: {obligations} active performance obligations "
            "are not recognised for the month."
        )
    return ChecklistItem(
        key="revenue",
        title="Revenue run completed",
        status=status,
        sentence=sentence,
        figures=figures,
        rows=[{k: v for k, v in run.items() if k != "finished_at"} for run in runs],
        row_count=len(runs),
        fix_url=fix_url,
        fix_label=fix_label,
    )


def revaluation_done(period: FiscalPeriod) -> ChecklistItem:
    """Item 4: open foreign-currency receivables are revalued at the month end's closing rate.

    The revaluation records itself as the journal entry keyed `fx-revaluation:<entity>:<month end>`; it
    posts nothing when no item's booking rate differs from the closing rate, or when the differences
    cancel per client, so neither is that needed.
    """
    from ledger.errors import MissingExchangeRate
    from ledger.reports.aging import open_items_as_of
    from ledger.selectors import exchange_rate
    from ledger.services.revaluation import revaluation_differences

    entity = period.legal_entity
    functional = entity.functional_currency
    entry = JournalEntry.objects.filter(
        posting_key=f"fx-revaluation:{entity.pk}:{period.end.isoformat()}"
    ).first()
    groups = list(
        open_items_as_of(legal_entity=entity, as_of=period.end)
        .exclude(currency=functional)
        .exclude(open_as_of=0)
        .values("currency", "rate")
        .annotate(items=Count("pk"), open=Sum("open_as_of"))
        .order_by("currency", "rate")
    )
    per_currency: dict[str, dict] = {}
    missing = []
    for group in groups:
        currency = group["currency"]
        row = per_currency.setdefault(
            currency, {"currency": currency, "items": 0, "open": ZERO, "closing_rate": None, "differs": 0}
        )
        row["items"] += group["items"]
        row["open"] += group["open"] or ZERO
        if row["closing_rate"] is None and currency not in missing:
            try:
                row["closing_rate"] = exchange_rate(currency, functional, period.end)
            except MissingExchangeRate:
                missing.append(currency)
        if row["closing_rate"] is not None and group["rate"] != row["closing_rate"]:
            row["differs"] += group["items"]
    rows = []
    for row in per_currency.values():
        row["open"] = quantize(row["open"], row["currency"])
        rows.append(row)
    items = sum(r["items"] for r in rows)
    figures = {"open_foreign_items": items, "entry": entry.pk if entry else None}
    fix_url = _url("ledger:period-revalue", "", period.pk)
    fix_label = "Post the FX revaluation"
    if entry is not None:
        status, sentence = OK, f"FX revaluation {entry.display_number} is posted at {period.end.isoformat()}."
        fix_url, fix_label = _url("ledger:entry-detail", "", entry.pk), "Open the entry"
    elif not items:
        status, sentence = OK, "No foreign-currency receivable is open at the month end: nothing to revalue."
        fix_url = fix_label = ""
    elif missing:
        status = BLOCKING
        sentence = (
            f"{items} foreign-currency receivables are open; no closing rate to "
            f"{functional} on {period.end.isoformat()} for {', '.join(sorted(missing))}."
        )
        fix_url, fix_label = _url("ledger:exchange-rates"), "Add the closing rates"
    elif not any(r["differs"] for r in rows):
        status, sentence = (
            OK,
            f"{items} foreign-currency receivables are open, all booked at the closing rate.",
        )
        fix_url = fix_label = ""
    elif not any(revaluation_differences(legal_entity=entity, period_end=period.end)[1].values()):
        # Items at other rates whose differences cancel per client (an invoice and an unapplied credit
        # at one rate): the revaluation has nothing to post, so no entry can ever be there.
        status = OK
        sentence = f"{items} foreign-currency receivables are open; revalued, they change AR by nothing."
        fix_url = fix_label = ""
    else:
        status = BLOCKING
        sentence = (
            f"{items} foreign-currency receivables are open at the month end and not revalued at the "
            "closing rate."
        )
    return ChecklistItem(
        key="fx_revaluation",
        title="FX revaluation posted",
        status=status,
        sentence=sentence,
        figures=figures,
        rows=rows,
        row_count=len(rows),
        fix_url=fix_url,
        fix_label=fix_label,
    )


def reconciliations(period: FiscalPeriod, entity) -> ChecklistItem:
    """Item 5: AR subledger = AR control; deferred and unbilled revenue accounts = contract positions."""
    from ledger.reports.aging import ar_balance

    functional = entity.functional_currency
    subledger = ar_balance(legal_entity=entity, as_of=period.end)
    control = ar_control_at_booking_rates(entity, period.end)
    rows = []
    if subledger != control:
        rows.append(
            {"check": "ar", "currency": functional, "subledger": subledger, "ledger": control,
             "difference": control - subledger}
        )  # fmt: skip
    deferred_gl, _ = account_balances(entity.pk, AccountRole.DEFERRED_REVENUE, period.end)
    unbilled_gl, _ = account_balances(entity.pk, AccountRole.UNBILLED_REVENUE, period.end)
    deferred, unbilled = contract_positions(entity, period.end)
    for check, ledger, positions, sign in (
        ("deferred_revenue", deferred_gl, deferred, -1),
        ("unbilled_revenue", unbilled_gl, unbilled, 1),
    ):
        for currency in sorted({*ledger, *positions}):
            booked = quantize(sign * ledger.get(currency, ZERO), currency)
            expected = quantize(positions.get(currency, ZERO), currency)
            if booked != expected:
                rows.append(
                    {"check": check, "currency": currency, "subledger": expected, "ledger": booked,
                     "difference": booked - expected}
                )  # fmt: skip
    figures = {
        "ar_subledger": subledger,
        "ar_control": control,
        "deferred_revenue": {c: quantize(-v, c) for c, v in sorted(deferred_gl.items())},
        "unbilled_revenue": {c: quantize(v, c) for c, v in sorted(unbilled_gl.items())},
        "contract_liabilities": {c: v for c, v in sorted(deferred.items())},
        "contract_assets": {c: v for c, v in sorted(unbilled.items())},
    }
    labels = {"ar": "AR", "deferred_revenue": "deferred revenue", "unbilled_revenue": "unbilled revenue"}
    if rows:
        sentence = (
            "Out of balance: "
            + "; ".join(
                f"{labels[r['check']]} {r['currency']} ledger {r['ledger']} vs subledger {r['subledger']}"
                for r in rows
            )
            + "."
        )
    else:
        sentence = (
            f"AR subledger equals the AR control account ({format_money(subledger, functional)}); "
            "deferred and unbilled "
            "revenue equal the contracts' positions."
        )
    query = f"legal_entity={entity.pk}&as_of={period.end.isoformat()}"
    return ChecklistItem(
        key="reconciliations",
        title="Subledgers reconcile",
        status=BLOCKING if rows else OK,
        sentence=sentence,
        figures=figures,
        rows=rows,
        row_count=len(rows),
        fix_url=_url("ledger:ar-aging", query)
        if not rows or rows[0]["check"] == "ar"
        else _url(
            "revrec:report-deferred",
            f"legal_entity={entity.pk}&start={period.start.isoformat()}&end={period.end.isoformat()}",
        ),
        fix_label="AR aging" if not rows or rows[0]["check"] == "ar" else "Deferred revenue roll-forward",
    )


def trial_balance_check(period: FiscalPeriod, entity) -> ChecklistItem:
    """Item 6: the trial balance balances at the month end and every entry of the month balances."""
    from ledger.reports.financial import trial_balance

    report = trial_balance(legal_entity=entity, as_of=period.end)
    totals = report["totals"]
    unbalanced = list(
        JournalLine.objects.filter(entry__legal_entity_id=entity.pk, date__range=(period.start, period.end))
        .values("entry_id", "currency")
        .annotate(debit=Sum("debit"), credit=Sum("credit"))
        .exclude(debit=F("credit"))
        .order_by("entry_id")[: ROW_LIMIT + 1]
    )
    entries = JournalEntry.objects.filter(legal_entity_id=entity.pk, period_id=period.pk).count()
    figures = {"debit": totals["debit"], "credit": totals["credit"], "entries_in_month": entries}
    rows = [{"entry": r["entry_id"], "currency": r["currency"], "debit": r["debit"], "credit": r["credit"]}
            for r in unbalanced[:ROW_LIMIT]]  # fmt: skip
    if totals["debit"] != totals["credit"] or rows:
        status = BLOCKING
        sentence = (
            f"The trial balance at {period.end.isoformat()} shows debits {totals['debit']} and credits "
            f"{totals['credit']}" + (f"; {len(rows)} entries of the month do not balance." if rows else ".")
        )
    else:
        status = OK
        sentence = (
            f"The trial balance balances at {period.end.isoformat()} (debits = credits = "
            f"{format_money(totals['debit'], entity.functional_currency)}); the month's {entries} entries "
            "are posted, none is a draft."
        )
    return ChecklistItem(
        key="trial_balance",
        title="Trial balance balances",
        status=status,
        sentence=sentence,
        figures=figures,
        rows=rows,
        row_count=len(unbalanced),
        fix_url=_url("ledger:trial-balance", f"legal_entity={entity.pk}&as_of={period.end.isoformat()}"),
        fix_label="Open the trial balance",
    )
