"""Month-end close: each checklist item fails on a constructed case and passes on a clean month; the close
is refused while an item blocks (nothing written), then accepted with a close report of exact figures;
reopening needs a reason and is audited."""

# ruff: noqa: F811 - pytest fixtures are imported by name and named again as arguments

import threading
from datetime import date
from decimal import Decimal

import pytest
from django.db import connections, transaction
from django.urls import reverse

from billing.choices import HoldStatus
from billing.models import BillingPlan, OverCapEntry
from core.errors import InvalidTransition, PermissionDenied, ValidationFailed
from core.models import AuditEvent, Event
from crm.models import Account
from ledger.choices import PeriodStatus
from ledger.close_checklist import close_checklist
from ledger.models import AccountBalance, GLAccount, PeriodCloseReport
from ledger.services.ar import post_receivable
from ledger.services.close import CloseBlocked, close_period, reopen_period
from ledger.services.entries import post_manual_entry
from ledger.services.posting import LineSpec
from ledger.services.revaluation import revalue_open_items
from ledger.services.setup import close_period as close_period_old_path
from ledger.services.setup import set_exchange_rate
from projects.choices import EntryStatus
from projects.models import Expense, TimeEntry
from projects.services.projects import create_project
from projects.services.time import record_time
from tests.billing.conftest import approved_expense, approved_time
from tests.ledger.close_books import (  # noqa: F401 - fixtures
    MARCH_END,
    bill,
    client_account,
    entity,
    finance,
    make_contract,
    march,
    people,
    period_of,
    recognise,
    roles,
    vat20,
    worked,
)

D = Decimal
pytestmark = pytest.mark.django_db


def items(period):
    return {item.key: item for item in close_checklist(period).items}


def test_a_billed_and_recognised_month_passes_every_item(march):
    checklist = close_checklist(march.period)
    assert [(item.key, item.status) for item in checklist.items] == [
        ("approvals", "ok"),
        ("billing", "ok"),
        ("revenue", "ok"),
        ("fx_revaluation", "ok"),
        ("reconciliations", "ok"),
        ("trial_balance", "ok"),
    ]
    assert checklist.can_close and checklist.blockers == []
    found = {item.key: item for item in checklist.items}
    # 1,500.00 + 20% tax billed on 31 March; recognised in full by the March run, so deferred revenue
    # went 1,500.00 up and down again: debits 1,800.00 (AR) + 1,500.00 (deferred) = credits 300.00 (tax)
    # + 1,500.00 (deferred) + 1,500.00 (revenue) = 3,300.00.
    assert found["reconciliations"].figures["ar_subledger"] == D("1800.00")
    assert found["reconciliations"].figures["ar_control"] == D("1800.00")
    assert found["reconciliations"].figures["deferred_revenue"] == {"USD": D("0.00")}
    assert found["trial_balance"].figures["debit"] == found["trial_balance"].figures["credit"] == D("3300.00")
    assert found["revenue"].figures["recognized_amount"] == D("1500.00")
    assert found["billing"].figures["unbilled_time_entries"] == 0


def test_an_entity_without_contracts_has_nothing_to_bill_or_recognise(entity):
    checklist = close_checklist(period_of(entity, MARCH_END))
    assert checklist.can_close
    found = {item.key: item for item in checklist.items}
    assert found["billing"].sentence.startswith("The entity bills no contract in the month")
    assert found["revenue"].sentence.startswith("The entity has no active performance obligations")


def test_unapproved_time_and_expenses_block_by_person(march):
    project, people = march.project, march.people
    draft = approved_time(people.ana, project, date(2026, 3, 10), "3", "150.00")
    submitted = approved_time(people.ana, project, date(2026, 3, 11), "2.5", "150.00")
    expense = approved_expense(people.sam, project, date(2026, 3, 5), "80.00")
    # April's draft is not March's business.
    april = approved_time(people.sam, project, date(2026, 4, 1), "8", "150.00")
    TimeEntry.objects.filter(pk__in=[draft.pk, april.pk]).update(status=EntryStatus.DRAFT)
    TimeEntry.objects.filter(pk=submitted.pk).update(status=EntryStatus.SUBMITTED)
    Expense.objects.filter(pk=expense.pk).update(status=EntryStatus.REJECTED)
    project.manager = people.sam
    project.save(update_fields=["manager"])

    item = items(march.period)["approvals"]

    assert item.status == "blocking"
    assert item.figures == {"time_entries": 2, "hours": D("5.50"), "expenses": 1, "people": 2}
    assert [
        (r["name"], r["time_entries"], r["hours"], r["expenses"], r["draft"], r["submitted"], r["rejected"])
        for r in item.rows
    ] == [("Ana Analyst", 2, D("5.50"), 0, 1, 1, 0), ("Sam Senior", 0, D("0"), 1, 0, 0, 1)]
    assert item.row_count == 2
    assert item.fix_url == reverse("projects:approvals")
    assert "2 time entries (5.50 h) and 1 expenses" in item.sentence
    # Finance cannot approve; the sentence names whom the submitted work waits for.
    assert item.sentence.endswith("Submitted, waiting for Sam Senior (1).")


def test_billing_blocks_until_a_whole_entity_run_reaches_the_month_end(worked, finance, client_account):
    item = items(worked.period)["billing"]
    assert item.status == "blocking"
    assert [(r["code"], r["reason"], r["time_entries"], r["hours"]) for r in item.rows] == [
        (worked.project.code, "awaiting_run", 1, D("10.00"))
    ]
    assert item.fix_url == reverse("billing:run-create")
    # A run to February does not cover March.
    assert bill(finance, worked.entity, period_end=date(2026, 2, 28)) == []
    assert items(worked.period)["billing"].status == "blocking"

    bill(finance, worked.entity)
    assert items(worked.period)["billing"].status == "ok"

    # Approved after the run, and time on a project with no contract: listed with their reasons.
    approved_time(worked.people.ana, worked.project, date(2026, 3, 20), "2", "150.00")
    internal = create_project(
        actor=None,
        account=client_account,
        legal_entity=worked.entity,
        code="INT-1",
        name="Internal tooling",
        currency="USD",
        start=date(2026, 1, 1),
        end=date(2026, 12, 31),
        tasks=[{"name": "Build", "billable": True}],
    )
    approved_time(worked.people.sam, internal, date(2026, 3, 3), "4", "150.00")
    # Held over the cap, and released by a raised cap (billed by the next run).
    plan = BillingPlan.objects.get(contract=worked.contract)
    held = approved_time(worked.people.sam, worked.project, date(2026, 3, 25), "5", "150.00")
    raised = approved_time(worked.people.ana, worked.project, date(2026, 3, 26), "1", "150.00")
    OverCapEntry.objects.create(time_entry=held, plan=plan, hours=D("5"), amount=D("750.00"))
    OverCapEntry.objects.create(
        time_entry=raised, plan=plan, hours=D("1"), amount=D("150.00"), status=HoldStatus.RELEASED
    )
    item = items(worked.period)["billing"]
    assert item.status == "warning"
    assert [(r["code"], r["reason"], r["time_entries"], r["hours"]) for r in item.rows] == [
        ("INT-1", "no_contract", 1, D("4.00")),
        (worked.project.code, "awaiting_run", 1, D("2.00")),
        (worked.project.code, "cap_raised", 1, D("1.00")),
        (worked.project.code, "over_cap", 1, D("5.00")),
    ]
    assert item.figures["unbilled_hours"] == D("12.00")
    assert item.fix_url == reverse("billing:report-wip")


def test_revenue_blocks_until_the_run_for_the_month_completes(worked, finance):
    bill(finance, worked.entity)
    item = items(worked.period)["revenue"]
    assert item.status == "blocking"
    assert item.sentence == (
        "No revenue run for 2026-03-31: 1 active performance obligations are not recognised for the month."
    )
    run = recognise(finance, worked.entity)
    item = items(worked.period)["revenue"]
    assert (item.status, item.figures["run"]) == ("ok", run.pk)


def test_a_later_revenue_run_leaves_the_month_as_a_warning(worked, finance):
    bill(finance, worked.entity)
    later = recognise(finance, worked.entity, period_end=date(2026, 4, 30))
    item = items(worked.period)["revenue"]
    assert item.status == "warning"
    assert f"the later run #{later.pk} to 2026-04-30" in item.sentence


def test_open_foreign_receivables_block_until_revalued(march, finance):
    for day, rate in ((date(2026, 3, 1), "1.1000"), (MARCH_END, "1.1500")):
        set_exchange_rate(actor=None, from_currency="EUR", to_currency="USD", on=day, rate=D(rate))
    client = Account.objects.create(name="Globex EU", legal_entity=march.entity, currency="EUR")
    revenue = GLAccount.objects.get(legal_entity=march.entity, code="4000")
    post_receivable(
        actor=None,
        legal_entity=march.entity,
        client=client,
        kind="invoice",
        document_type="test.invoice",
        document_id="EU-1",
        number="EU-1",
        date=date(2026, 3, 10),
        due_date=date(2026, 4, 9),
        currency="EUR",
        amount=D("1000.00"),
        lines=[LineSpec(account=revenue, currency="EUR", credit=D("1000.00"))],
        memo="EU-1",
        posting_key="EU-1",
    )
    item = items(march.period)["fx_revaluation"]
    assert item.status == "blocking"
    assert item.rows == [
        {"currency": "EUR", "items": 1, "open": D("1000.00"), "closing_rate": D("1.1500"), "differs": 1}
    ]
    assert item.fix_url == reverse("ledger:period-revalue", args=[march.period.pk])

    entry = revalue_open_items(actor=finance, legal_entity=march.entity, period_end=MARCH_END)

    found = items(march.period)
    assert (found["fx_revaluation"].status, found["fx_revaluation"].figures["entry"]) == ("ok", entry.pk)
    # The revaluation's 50.00 on AR is not in the subledger (booking rates): the AR check leaves it out.
    assert found["reconciliations"].status == "ok"
    assert found["reconciliations"].figures["ar_subledger"] == D("2900.00")


def test_a_manual_entry_to_deferred_revenue_breaks_the_reconciliation(march, finance):
    accounts = {a.code: a for a in GLAccount.objects.filter(legal_entity=march.entity)}
    post_manual_entry(
        actor=finance,
        legal_entity=march.entity,
        date=date(2026, 3, 15),
        memo="Misposted accrual",
        lines=[
            LineSpec(account=accounts["6100"], currency="USD", debit=D("100.00")),
            LineSpec(account=accounts["2100"], currency="USD", credit=D("100.00")),
        ],
    )
    item = items(march.period)["reconciliations"]
    assert item.status == "blocking"
    assert item.rows == [
        {
            "check": "deferred_revenue",
            "currency": "USD",
            "subledger": D("0.00"),
            "ledger": D("100.00"),
            "difference": D("100.00"),
        }
    ]
    assert item.fix_url.startswith(reverse("revrec:report-deferred"))


def test_a_trial_balance_out_of_balance_blocks(march):
    # No service can post an unbalanced entry (the database refuses it); a damaged balance row can exist.
    cash = GLAccount.objects.get(legal_entity=march.entity, code="1000")
    AccountBalance.objects.create(
        legal_entity=march.entity, account=cash, date=date(2026, 3, 20), currency="USD",
        debit=D("10.00"), functional_debit=D("10.00"),
    )  # fmt: skip
    item = items(march.period)["trial_balance"]
    assert item.status == "blocking"
    assert (item.figures["debit"], item.figures["credit"]) == (D("3310.00"), D("3300.00"))


def test_close_is_refused_with_the_blockers_then_accepted_with_a_report(worked, finance):
    with pytest.raises(CloseBlocked) as refused:
        close_period(actor=finance, period=worked.period, reason="Month end")
    assert refused.value.code == "close_blocked"
    assert refused.value.status_code == 409
    assert [b["key"] for b in refused.value.blockers] == ["billing", "revenue"]
    assert list(refused.value.fields["checklist"]) == ["billing", "revenue"]
    worked.period.refresh_from_db()
    assert worked.period.status == PeriodStatus.OPEN and worked.period.closed_at is None
    assert not PeriodCloseReport.objects.exists()
    assert not AuditEvent.objects.filter(action="period.closed").exists()
    assert not Event.objects.filter(type="period.closed").exists()

    bill(finance, worked.entity)
    recognise(finance, worked.entity)
    period = close_period(actor=finance, period=worked.period, reason="March final")

    assert (period.status, period.closed_by) == (PeriodStatus.CLOSED, finance)
    report = PeriodCloseReport.objects.get(period=period)
    assert (report.closed_by, report.reason, report.closed_at) == (finance, "March final", period.closed_at)
    assert report.checklist["can_close"] is True
    assert [i["status"] for i in report.checklist["items"]] == ["ok"] * 6
    assert report.checklist["items"][4]["figures"]["ar_control"] == "1800.00"
    assert report.trial_balance["totals"] == {"debit": "3300.00", "credit": "3300.00"}
    assert [(r["code"], r["debit"], r["credit"], r["balance"]) for r in report.trial_balance["rows"]] == [
        ("1100", "1800.00", "0.00", "1800.00"),
        ("2100", "1500.00", "1500.00", "0.00"),
        ("2200", "0.00", "300.00", "300.00"),
        ("4000", "0.00", "1500.00", "1500.00"),
    ]
    month = report.profit_and_loss["month"]
    assert [(r["code"], r["amount"]) for r in month["revenue"]] == [("4000", "1500.00")]
    assert month["totals"] == {"revenue": "1500.00", "expenses": "0.00", "net_income": "1500.00"}
    assert report.profit_and_loss["year_to_date"]["start"] == "2026-01-01"
    audit = AuditEvent.objects.get(action="period.closed", object_id=str(period.pk))
    assert (audit.actor, audit.reason, audit.changes["close_report"]) == (finance, "March final", report.pk)
    event = Event.objects.get(type="period.closed")
    assert event.data["close_report"] == report.pk and event.data["end"] == "2026-03-31"

    with pytest.raises(InvalidTransition):
        close_period(actor=finance, period=period, reason="Again")


def test_close_needs_finance_and_a_reason(march, make_user):
    with pytest.raises(PermissionDenied):
        close_period(actor=make_user("project_manager"), period=march.period, reason="Month end")
    with pytest.raises(ValidationFailed) as no_reason:
        close_period(actor=march.finance, period=march.period, reason="   ")
    assert no_reason.value.fields == {"reason": ["This field is required."]}
    march.period.refresh_from_db()
    assert march.period.status == PeriodStatus.OPEN
    # The old import path closes through the same checks.
    assert close_period_old_path is close_period


def test_reopen_needs_a_reason_is_audited_and_shown_on_the_period(march, make_user):
    finance = march.finance
    close_period(actor=finance, period=march.period, reason="March final")
    with pytest.raises(ValidationFailed):
        reopen_period(actor=finance, period=march.period, reason="")
    with pytest.raises(PermissionDenied):
        reopen_period(actor=make_user("executive"), period=march.period, reason="Peek")
    controller = make_user("finance", username="carla")

    period = reopen_period(actor=controller, period=march.period, reason="Late supplier credit")

    period.refresh_from_db()
    assert (period.status, period.closed_at, period.closed_by) == (PeriodStatus.OPEN, None, None)
    assert (period.reopened_by, period.reopen_reason) == (controller, "Late supplier credit")
    assert period.reopened_at is not None
    audit = AuditEvent.objects.get(action="period.reopened")
    assert (audit.actor, audit.reason, audit.changes["status"]) == (
        controller,
        "Late supplier credit",
        ["closed", "open"],
    )
    assert audit.changes["closed_by"] == finance.pk
    assert Event.objects.get(type="period.reopened").data["reason"] == "Late supplier credit"
    # Closing again stores a second report; the first stays.
    close_period(actor=finance, period=period, reason="March final, take two")
    assert list(PeriodCloseReport.objects.filter(period=period).values_list("reason", flat=True)) == [
        "March final, take two",
        "March final",
    ]


def close_while_writing(march, write) -> dict:
    """Run `write` in a transaction held open in one thread while another closes March; return what the
    close did, after asserting it waited for the write's transaction."""
    written, release, outcome = threading.Event(), threading.Event(), {}

    def writer():
        try:
            with transaction.atomic():
                write()
                written.set()
                release.wait(timeout=10)
        finally:
            connections.close_all()

    def closer():
        try:
            assert written.wait(timeout=10)
            close_period(actor=march.finance, period=march.period, reason="March final")
            outcome["closed"] = True
        except CloseBlocked as exc:
            outcome["blockers"] = [blocker["key"] for blocker in exc.blockers]
        finally:
            connections.close_all()

    threads = threading.Thread(target=writer), threading.Thread(target=closer)
    for thread in threads:
        thread.start()
    threads[1].join(timeout=2)
    assert threads[1].is_alive()  # waiting on the period row the write holds
    release.set()
    for thread in threads:
        thread.join(timeout=20)
    return outcome


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_close_waits_for_time_being_recorded_into_the_month_and_then_sees_it(march):
    """The close locks the period row; a time entry being written into March holds a share lock on it, so
    the close waits for that write to commit and its checklist then finds the new draft."""
    task = march.project.tasks.first()
    outcome = close_while_writing(
        march,
        lambda: record_time(
            actor=march.admin, person=march.people.ana, project=march.project, task=task,
            date=date(2026, 3, 20), hours=D("2"),
        ),
    )  # fmt: skip
    assert outcome == {"blockers": ["approvals"]}
    march.period.refresh_from_db()
    assert march.period.status == PeriodStatus.OPEN
    assert TimeEntry.objects.filter(date=date(2026, 3, 20), status=EntryStatus.DRAFT).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_close_waits_for_a_posting_into_the_month_and_then_sees_it(march):
    """A journal entry's foreign key to its period key-share-locks the period row, which the close locks
    for update: the close waits for a manual entry in flight into March, then its checklist finds the
    misposted deferred revenue and refuses."""
    accounts = {a.code: a for a in GLAccount.objects.filter(legal_entity=march.entity)}
    outcome = close_while_writing(
        march,
        lambda: post_manual_entry(
            actor=march.finance, legal_entity=march.entity, date=date(2026, 3, 15), memo="Accrual",
            lines=[
                LineSpec(account=accounts["6100"], currency="USD", debit=D("100.00")),
                LineSpec(account=accounts["2100"], currency="USD", credit=D("100.00")),
            ],
        ),
    )  # fmt: skip
    assert outcome == {"blockers": ["reconciliations"]}
    march.period.refresh_from_db()
    assert march.period.status == PeriodStatus.OPEN
