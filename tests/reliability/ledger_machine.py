"""A hypothesis state machine that drives the books through the real services and checks the ledger's
invariants (`core.invariants`) after every step.

Steps: manual postings and their reversals, time billed by billing runs and released as invoices, credit
notes and voids, payments applied automatically, partly or not at all, later allocations and their
reversals, write-offs (posted at once, approved or rejected), EUR rate moves, FX revaluations, revenue
runs, month-end closes (billing run, release, revenue run, revaluation, close), reopening the last closed
month, and attempts to write into a closed month, which must be refused and change nothing.

Each example runs in a savepoint of the test's transaction and is rolled back at its end, so every
example starts from the same small firm (`Firm`). A step is a committed transaction in all but name: the
database's deferred checks (entry balance at commit, foreign keys) are fired after every step by
`SET CONSTRAINTS ALL IMMEDIATE`.
"""

import calendar
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from time import perf_counter

from django.db import connection, transaction
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from billing.choices import InvoiceStatus
from billing.models import Invoice
from billing.services.credit_notes import create_credit_note, credited_so_far, release_credit_note
from billing.services.invoices import release_invoices, void_invoice
from billing.services.runs import execute_billing_run, start_billing_run
from core.errors import DomainError
from core.invariants import check_invariants, closed_period_digests, fingerprint
from core.money import quantize
from ledger.choices import AccountRole, ArItemKind
from ledger.errors import PeriodClosed
from ledger.models import (
    Allocation,
    ArItem,
    FiscalPeriod,
    JournalEntry,
    LegalEntity,
    Payment,
    WriteOffRequest,
)
from ledger.services.ar import (
    allocate_payment,
    approve_write_off,
    record_payment,
    reject_write_off,
    request_write_off,
    reverse_allocation,
)
from ledger.services.close import CloseBlocked, close_period, reopen_period
from ledger.services.entries import MANUAL_SOURCE, post_manual_entry, reverse_entry
from ledger.services.posting import LineSpec
from ledger.services.revaluation import revalue_open_items
from ledger.services.setup import set_exchange_rate
from projects.models import TimeEntry
from revrec.choices import RunStatus as RevenueRunStatus
from revrec.models import RevenueRun
from revrec.services.runs import execute_revenue_run, start_revenue_run
from tests.billing.conftest import approved_time

D = Decimal
YEAR = 2026
# Closes stop at September: the open window (the first open month and the next) stays inside the year.
LAST_CLOSE = 8
# A month-end close (billing and revenue runs, revaluation, the checklist) costs as much as dozens of other
# steps: a month closes at most once every CLOSE_EVERY steps.
CLOSE_EVERY = 40
RATES = ("1.0850", "1.1000", "0.9137", "1.23456", "1.3333", "1.0050")
# Accounts a manual adjustment may touch: not the control accounts, which move only with their subledgers
# (AR: refused by the service; deferred and unbilled revenue: the revenue module's contract positions).
MANUAL_ROLES = (
    AccountRole.CASH,
    AccountRole.REVENUE_TM,
    AccountRole.COST_OF_SERVICES,
    AccountRole.FEE_INCOME,
    AccountRole.BAD_DEBT,
    AccountRole.TAX_PAYABLE,
)


@dataclass
class Firm:
    """What every example starts from: one USD entity with a USD and an EUR client, a time-and-materials
    contract for each, a ratable fixed-fee contract (revenue before billing), finance users and rates."""

    entity: LegalEntity
    finance: object
    approver: object
    clients: dict  # currency → client
    projects: dict  # currency → (person, project, bill rate)
    accounts: dict  # role → GLAccount


def month_start(index: int) -> date:
    return date(YEAR, index + 1, 1)


def month_end(index: int) -> date:
    return date(YEAR, index + 1, calendar.monthrange(YEAR, index + 1)[1])


def amount(cents: int) -> Decimal:
    return D(cents).scaleb(-2)


class LedgerMachine(RuleBasedStateMachine):
    """Set `firm`, `tally` and `seconds` (Counters shared by all examples) before running."""

    firm: Firm
    tally: Counter
    seconds: Counter

    def __init__(self):
        super().__init__()
        self._example = transaction.atomic()
        self._example.__enter__()
        self.first_open = 0  # months are indexed from January; all before this one are closed
        self.digests: dict[int, str] = {}
        periods = FiscalPeriod.objects.filter(legal_entity=self.firm.entity, fiscal_year=YEAR)
        self.period_ids = {number - 1: pk for number, pk in periods.values_list("number", "pk")}
        self.checks = 0
        # What makes the heavy steps (runs, closes) eligible, so they stay a small share of the steps.
        self.steps_since_close = 0
        self.revenue_runs_this_month = 0
        self.revaluations_this_month = 0
        self.bills_this_month = 0
        self.reopened = False

    def teardown(self):
        transaction.set_rollback(True)
        self._example.__exit__(None, None, None)
        # The first check runs before any step.
        self.tally["steps"] += max(self.checks - 1, 0)

    def window(self) -> tuple[date, date]:
        """The open dates steps write into: the first open month and the next."""
        return month_start(self.first_open), month_end(self.first_open + 1)

    def day(self, offset: int, not_before: date | None = None) -> date:
        start, end = self.window()
        day = start + timedelta(days=offset % ((end - start).days + 1))
        return max(day, not_before) if not_before else day

    def attempt(self, name: str, action, **kwargs):
        """Run one service call as a view would. A refusal (a domain error) must leave the books as they
        were: the service's own transaction undoes its writes. Only then are the books compared, with
        what they were before the call (a savepoint taken before it, rolled back after)."""
        before = transaction.savepoint()
        started = perf_counter()
        try:
            result = action(**kwargs)
        except DomainError as exc:
            after = fingerprint()
            transaction.savepoint_rollback(before)
            assert fingerprint() == after, f"{name} was refused ({exc}) but changed the books"
            self.tally[f"{name} refused: {type(exc).__name__}"] += 1
            return None
        finally:
            self.seconds[name] += perf_counter() - started
        transaction.savepoint_commit(before)
        self.tally[name] += 1
        return result

    def pick(self, queryset, index: int):
        count = queryset.count()
        return queryset[index % count] if count else None

    @rule(
        offset=st.integers(0, 61),
        cents=st.integers(1, 2_000_000),
        currency=st.sampled_from(("USD", "EUR")),
        roles=st.lists(st.sampled_from(MANUAL_ROLES), min_size=2, max_size=3, unique=True),
    )
    def manual_entry(self, offset, cents, currency, roles):
        """An adjustment: the first account debited, the others credited, the total split between them."""
        total = amount(cents)
        credits = [quantize(total / (len(roles) - 1), currency)] * (len(roles) - 1)
        credits[-1] = total - sum(credits[:-1])
        accounts = self.firm.accounts
        lines = [LineSpec(account=accounts[roles[0]], currency=currency, debit=total)]
        lines += [
            LineSpec(account=accounts[role], currency=currency, credit=credit)
            for role, credit in zip(roles[1:], credits, strict=True)
            if credit > 0
        ]
        self.attempt(
            "manual entry",
            post_manual_entry,
            actor=self.firm.finance,
            legal_entity=self.firm.entity,
            date=self.day(offset),
            memo="Adjustment",
            lines=lines,
        )

    @rule(pick=st.integers(0, 10**6), offset=st.integers(0, 61))
    def reverse_manual_entry(self, pick, offset):
        entries = JournalEntry.objects.filter(
            source_type=MANUAL_SOURCE, reversal_of__isnull=True, reversed_by__isnull=True
        ).order_by("pk")
        entry = self.pick(entries, pick)
        if entry is not None:
            self.attempt(
                "reversal",
                reverse_entry,
                actor=self.firm.finance,
                entry=entry,
                on=self.day(offset, not_before=entry.date),
            )

    @rule(currency=st.sampled_from(("USD", "EUR")), offset=st.integers(0, 61), quarters=st.integers(1, 40))
    def record_time(self, currency, offset, quarters):
        """Approved billable time on a contract (what approval leaves behind; the projects tests cover
        approving it)."""
        person, project, rate = self.firm.projects[currency]
        taken = set(TimeEntry.objects.filter(person=person).values_list("date", flat=True))
        start, end = self.window()
        # One entry per person, task and day: the first free day from the drawn one on.
        free = (self.day(offset + shift) for shift in range((end - start).days + 1))
        day = next((day for day in free if day not in taken), None)
        if day is None:
            return
        approved_time(person, project, day, D(quarters) / 4, rate)
        self.tally["time entry"] += 1

    @precondition(lambda self: self.bills_this_month < 3)
    @rule(currency=st.sampled_from(("USD", "EUR")), offset=st.integers(0, 61), quarters=st.integers(1, 40))
    def bill(self, currency, offset, quarters):
        """Time on a contract billed at once: a billing run scoped to the contract up to that day (it
        also bills time recorded earlier), its invoice released that day."""
        self.record_time(currency, offset, quarters)
        _, project, _ = self.firm.projects[currency]
        day = self.day(offset)
        self.bills_this_month += 1
        run = self.attempt(
            "billing run",
            start_billing_run,
            actor=self.firm.finance,
            legal_entity=self.firm.entity,
            period_end=day,
            contracts=[project.contract_id],
        )
        if run is not None:
            self.run_and_release(run, day)

    def run_and_release(self, run, issue_date: date) -> None:
        started = perf_counter()
        execute_billing_run(run_id=run.pk)
        drafts = list(Invoice.objects.filter(run=run, status=InvoiceStatus.DRAFT).order_by("pk"))
        if drafts:
            result = release_invoices(actor=self.firm.finance, invoices=drafts, issue_date=issue_date)
            self.tally["invoices released"] += len(result.released)
            for error in result.refused.values():
                self.tally[f"invoice release refused: {type(error).__name__}"] += 1
        self.seconds["billing run and release"] += perf_counter() - started

    def released_invoices(self):
        return Invoice.objects.filter(status__in=(InvoiceStatus.RELEASED, InvoiceStatus.SENT)).order_by("pk")

    @rule(pick=st.integers(0, 10**6), offset=st.integers(0, 61), percent=st.integers(1, 100))
    def credit_note(self, pick, offset, percent):
        """Credit part (or all that is left) of one line of a released invoice, released at once."""
        invoice = self.pick(self.released_invoices(), pick)
        if invoice is None:
            return
        line = invoice.lines.order_by("pk").first()
        left = line.amount - credited_so_far([line.pk]).get(line.pk, D(0))
        credit = min(left, quantize(line.amount * percent / 100, invoice.currency))
        note = self.attempt(
            "credit note",
            create_credit_note,
            actor=self.firm.finance,
            invoice=invoice,
            reason="Goodwill",
            lines=[{"invoice_line": line.pk, "amount": str(credit)}],
        )
        if note is not None:
            self.attempt(
                "credit note release",
                release_credit_note,
                actor=self.firm.finance,
                credit_note=note,
                issue_date=self.day(offset, not_before=invoice.issue_date),
            )

    @rule(pick=st.integers(0, 10**6))
    def void(self, pick):
        invoice = self.pick(self.released_invoices(), pick)
        if invoice is not None:
            self.attempt(
                "void", void_invoice, actor=self.firm.finance, invoice=invoice, reason="Billed twice"
            )

    def open_invoice_items(self, client, currency: str, on: date):
        return ArItem.objects.filter(
            client=client, currency=currency, amount__gt=0, open_amount__gt=0, date__lte=on
        ).order_by("pk")

    @rule(
        currency=st.sampled_from(("USD", "EUR")),
        pay_in=st.sampled_from(("own", "own", "own", "USD")),
        offset=st.integers(0, 61),
        cents=st.integers(1, 3_000_000),
        mode=st.sampled_from(("oldest first", "one invoice", "unallocated")),
        pick=st.integers(0, 10**6),
    )
    def payment(self, currency, pay_in, offset, cents, mode, pick):
        """A client pays, in its own currency (now and then in USD): applied oldest due first, partly to
        one invoice, or left as unallocated credit."""
        client = self.firm.clients[currency]
        paid_in = currency if pay_in == "own" else pay_in
        day = self.day(offset)
        allocations = None if mode == "oldest first" else []
        if mode == "one invoice":
            item = self.pick(self.open_invoice_items(client, paid_in, day), pick)
            if item is not None:
                allocations = [(item, min(item.open_amount, amount(cents)))]
        self.attempt(
            "payment",
            record_payment,
            actor=self.firm.finance,
            legal_entity=self.firm.entity,
            client=client,
            date=day,
            amount=amount(cents),
            currency=paid_in,
            reference="WIRE",
            allocations=allocations,
        )

    @rule(pick=st.integers(0, 10**6), offset=st.integers(0, 61))
    def allocate(self, pick, offset):
        """Apply what is left of a payment to the client's open invoices, oldest due first."""
        payment = self.pick(Payment.objects.filter(ar_item__open_amount__lt=0).order_by("pk"), pick)
        if payment is not None:
            self.attempt(
                "allocation",
                allocate_payment,
                actor=self.firm.finance,
                payment=payment,
                on=self.day(offset, not_before=payment.date),
            )

    @rule(pick=st.integers(0, 10**6), offset=st.integers(0, 61))
    def unallocate(self, pick, offset):
        allocations = (
            Allocation.objects.filter(reversal_of__isnull=True, reversed_by__isnull=True)
            .exclude(credit_item__kind=ArItemKind.WRITE_OFF)
            .order_by("pk")
        )
        allocation = self.pick(allocations, pick)
        if allocation is not None:
            self.attempt(
                "allocation reversal",
                reverse_allocation,
                actor=self.firm.finance,
                allocation=allocation,
                reason="Applied to the wrong invoice",
                on=self.day(offset, not_before=allocation.date),
            )

    @rule(pick=st.integers(0, 10**6), offset=st.integers(0, 61), percent=st.integers(1, 100))
    def write_off(self, pick, offset, percent):
        """Write off part or all of an open invoice: posted at once up to the threshold, else pending."""
        items = ArItem.objects.filter(kind=ArItemKind.INVOICE, open_amount__gt=0).order_by("pk")
        item = self.pick(items, pick)
        if item is not None:
            self.attempt(
                "write-off",
                request_write_off,
                actor=self.firm.finance,
                ar_item=item,
                reason="Client in administration",
                on=self.day(offset, not_before=item.date),
                amount=max(quantize(item.open_amount * percent / 100, item.currency), D("0.01")),
            )

    @rule(pick=st.integers(0, 10**6), approve=st.booleans())
    def decide_write_off(self, pick, approve):
        pending = WriteOffRequest.objects.filter(status=WriteOffRequest.Status.PENDING).order_by("pk")
        request = self.pick(pending, pick)
        if request is None:
            return
        if approve:
            self.attempt("write-off approval", approve_write_off, actor=self.firm.approver, request=request)
        else:
            self.attempt(
                "write-off rejection",
                reject_write_off,
                actor=self.firm.approver,
                request=request,
                reason="Collect it",
            )

    @rule(offset=st.integers(0, 61), rate=st.sampled_from(RATES))
    def move_rate(self, offset, rate):
        self.attempt(
            "rate",
            set_exchange_rate,
            actor=self.firm.finance,
            from_currency="EUR",
            to_currency="USD",
            on=self.day(offset),
            rate=D(rate),
        )

    @precondition(lambda self: self.revaluations_this_month < 2)
    @rule()
    def revalue(self):
        """Revalue at the first open month's end; the second time for a month returns the first entry."""
        self.revaluations_this_month += 1
        self.attempt(
            "revaluation",
            revalue_open_items,
            actor=self.firm.finance,
            legal_entity=self.firm.entity,
            period_end=month_end(self.first_open),
        )

    @precondition(lambda self: self.revenue_runs_this_month < 2)
    @rule()
    def recognise_revenue(self):
        self.revenue_run(month_end(self.first_open))

    def revenue_run(self, period_end: date) -> None:
        run = self.attempt(
            "revenue run",
            start_revenue_run,
            actor=self.firm.finance,
            legal_entity=self.firm.entity,
            period_end=period_end,
        )
        if run is not None:
            self.revenue_runs_this_month += 1
            started = perf_counter()
            execute_revenue_run(run_id=run.pk)
            self.seconds["revenue run execution"] += perf_counter() - started

    def period(self, index: int) -> FiscalPeriod:
        return FiscalPeriod.objects.get(legal_entity=self.firm.entity, start=month_start(index))

    @precondition(lambda self: self.first_open <= LAST_CLOSE and self.steps_since_close >= CLOSE_EVERY)
    @rule()
    def close_month(self):
        """The month-end routine: bill the whole entity to the month end and release, recognise revenue,
        revalue foreign receivables, close. The checklist must then let the month close."""
        started = perf_counter()
        end = month_end(self.first_open)
        finance, entity = self.firm.finance, self.firm.entity
        run = start_billing_run(actor=finance, legal_entity=entity, period_end=end)
        self.run_and_release(run, end)
        # Drafts left by earlier runs (refused at release then) are released with the month.
        drafts = list(Invoice.objects.filter(status=InvoiceStatus.DRAFT, period_end__lte=end).order_by("pk"))
        if drafts:
            release_invoices(actor=finance, invoices=drafts, issue_date=end)
        self.revenue_run(end)
        revalue_open_items(actor=finance, legal_entity=entity, period_end=end)
        self.steps_since_close = 0
        try:
            with transaction.atomic():
                period = close_period(actor=finance, period=self.period(self.first_open), reason="Month end")
        except CloseBlocked as blocked:
            self.check_known_block(blocked, end)
            return
        self.tally["close"] += 1
        self.first_open += 1
        self.revenue_runs_this_month = 0
        self.revaluations_this_month = 0
        self.bills_this_month = 0
        self.digests[period.pk] = closed_period_digests()[period.pk]
        self.seconds["close month"] += perf_counter() - started

    def check_known_block(self, blocked: CloseBlocked, end: date) -> None:
        """The one close refusal the machine accepts (a known gap, reported to revrec; the month stays
        open): in a reopened month, a credit note moves a contract's position after a later month's
        revenue run; the month end's unbilled-revenue reclass cannot be redone (a run for that month end
        is refused once a later one exists), so the reconciliation blocks the close."""
        keys = {item["key"] for item in blocked.blockers}
        later_run = RevenueRun.objects.filter(
            legal_entity=self.firm.entity, period_end__gt=end, status=RevenueRunStatus.COMPLETED
        ).exists()
        assert self.reopened and later_run and keys == {"reconciliations"}, f"close refused: {blocked}"
        self.tally["close blocked: stale reclass in a reopened month"] += 1
        self.tally["close blocked: stale reclass in a reopened month"] += 1

    @precondition(lambda self: self.first_open > 0 and not self.reopened)
    @rule()
    def reopen_month(self):
        """Reopen the last closed month (once an example: each reopen means closing the month again)."""
        period = self.period(self.first_open - 1)
        reopen_period(actor=self.firm.finance, period=period, reason="Late supplier credit")
        self.tally["reopen"] += 1
        self.first_open -= 1
        self.reopened = True
        self.revenue_runs_this_month = 0
        self.revaluations_this_month = 0
        self.bills_this_month = 0
        del self.digests[period.pk]

    @precondition(lambda self: self.first_open > 0)
    @rule(
        offset=st.integers(0, 400), cents=st.integers(1, 2_000_000), currency=st.sampled_from(("USD", "EUR"))
    )
    def write_into_closed_month(self, offset, cents, currency):
        """A posting and a payment dated in a closed month are refused with PeriodClosed; nothing changes."""
        start, end = month_start(0), month_end(self.first_open - 1)
        day = start + timedelta(days=offset % ((end - start).days + 1))
        accounts = self.firm.accounts
        before = fingerprint()
        attempts = (
            lambda: post_manual_entry(
                actor=self.firm.finance,
                legal_entity=self.firm.entity,
                date=day,
                memo="Late adjustment",
                lines=[
                    LineSpec(account=accounts[AccountRole.CASH], currency=currency, debit=amount(cents)),
                    LineSpec(
                        account=accounts[AccountRole.FEE_INCOME], currency=currency, credit=amount(cents)
                    ),
                ],
            ),
            lambda: record_payment(
                actor=self.firm.finance,
                legal_entity=self.firm.entity,
                client=self.firm.clients[currency],
                date=day,
                amount=amount(cents),
                currency=currency,
            ),
        )
        for write in attempts:
            try:
                write()
            except PeriodClosed:
                self.tally["closed month refusal"] += 1
            else:
                raise AssertionError(f"a write dated {day} went into a closed month")
        assert fingerprint() == before

    @invariant()
    def books_hold(self):
        self.checks += 1
        self.steps_since_close += 1
        started = perf_counter()
        # What commit would check (the deferred balance trigger, foreign keys) is checked now.
        connection.check_constraints()
        failed = {result.name: result.violations for result in check_invariants() if not result.ok}
        assert not failed, f"invariants broken: {failed}"
        now = closed_period_digests()
        changed = [period for period, digest in self.digests.items() if now.get(period) != digest]
        assert not changed, f"closed periods changed: {changed}"
        # Exactly the months before the first open one are closed.
        assert set(now) == {self.period_ids[index] for index in range(self.first_open)}
        self.seconds["invariants"] += perf_counter() - started
