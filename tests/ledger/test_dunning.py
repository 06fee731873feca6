"""Dunning: policies, runs that notice each overdue invoice once per level, fees and interest billed to AR."""

import io
import logging
import threading
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.db import OperationalError, connection
from django.utils import timezone
from pypdf import PdfReader

from core.errors import PermissionDenied, ValidationFailed
from core.models import AuditEvent, Event
from core.roles import Role
from crm.models import Account, Activity
from ledger.models import (
    ArItem,
    CollectionHold,
    Currency,
    DunningLevel,
    DunningNotice,
    DunningNoticeItem,
    DunningPolicy,
    DunningRun,
    FiscalPeriod,
    GLAccount,
    JournalEntry,
    LegalEntity,
)
from ledger.reports.aging import ar_aging
from ledger.services.ar import post_receivable, record_payment
from ledger.services.collections import open_dispute, record_promise_to_pay, resolve_dispute
from ledger.services.dunning import (
    DunningCurrencyMismatch,
    DunningPolicyInUse,
    DunningRunActive,
    InvalidDunningPolicy,
    LevelSpec,
    assign_dunning_policy,
    create_dunning_policy,
    delete_dunning_policy,
    execute_dunning_run,
    resend_dunning_notice,
    start_dunning_run,
    update_dunning_policy,
)
from ledger.services.dunning import runs as dunning_runs
from ledger.services.posting import LineSpec
from ledger.services.setup import close_period, create_legal_entity
from ledger.tasks import nightly_dunning

D = Decimal
SUBJECT = "Reminder {{ level }}: {{ total_due }} overdue"
BODY = (
    "Dear {{ client.name }},\n"
    "{% for item in items %}{{ item.number }} due {{ item.due_date|date:'Y-m-d' }}, "
    "{{ item.days_overdue }} days: {{ item.open_amount }}\n{% endfor %}"
    "Interest {{ interest }}, fee {{ fee }}, total due {{ total_due }}.\n{{ payment_instructions }}\n"
    "{{ legal_entity.name }}"
)


@pytest.fixture(autouse=True)
def _deferred_checks(db):
    """On PostgreSQL, fire the deferred balance triggers before the test's transaction is rolled back."""
    yield
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def level(number, days, fee="0", percent=None, **kwargs) -> LevelSpec:
    return LevelSpec(
        level=number,
        days_overdue=days,
        fee_amount=D(fee),
        annual_interest_percent=None if percent is None else D(percent),
        subject_template=kwargs.pop("subject", SUBJECT),
        body_template=kwargs.pop("body", BODY),
        **kwargs,
    )


def make_policy(actor, entity, levels, *, name="Standard", is_default=True, **kwargs) -> DunningPolicy:
    return create_dunning_policy(
        actor=actor,
        legal_entity=entity,
        name=name,
        levels=levels,
        is_default=is_default,
        payment_instructions=kwargs.pop("payment_instructions", "Pay to IBAN US00 1234."),
        **kwargs,
    )


def post_invoice(entity, client, number, amount, *, on, due, currency="USD", revenue=None) -> ArItem:
    """An invoice from billing into AR, as billing posts it."""
    revenue = revenue or GLAccount.objects.get(legal_entity=entity, code="4000")
    return post_receivable(
        actor=None,
        legal_entity=entity,
        client=client,
        kind="invoice",
        document_type="billing.invoice",
        document_id=str(number),
        number=f"US-2026-{number:06d}",
        date=on,
        due_date=due,
        currency=currency,
        amount=D(amount),
        lines=[LineSpec(account=revenue, currency=currency, credit=D(amount))],
        memo=f"Invoice {number}",
        posting_key=f"invoice:{number}",
    )


def run_as_of(capture, actor, entity, as_of) -> DunningRun:
    """Start a run and let it execute (and its e-mails go out) as the on-commit callbacks would."""
    with capture(execute=True):
        run = start_dunning_run(actor=actor, legal_entity=entity, as_of=as_of)
    run.refresh_from_db()
    return run


def _lines(entry):
    return [
        (
            line.account.code,
            line.currency,
            line.debit,
            line.credit,
            line.functional_debit,
            line.functional_credit,
        )
        for line in entry.lines.select_related("account").order_by("id")
    ]


@pytest.fixture
def finance(make_user):
    return make_user(Role.FINANCE, email="ar@ledgerline.example")


@pytest.fixture
def usd_client(usd_entity):
    return Account.objects.create(
        name="Initech",
        legal_entity=usd_entity,
        currency="USD",
        payment_terms_days=30,
        billing_email="ap@initech.example",
    )


@pytest.fixture
def run(django_capture_on_commit_callbacks, finance, usd_entity):
    def start(as_of, entity=None):
        return run_as_of(django_capture_on_commit_callbacks, finance, entity or usd_entity, as_of)

    return start


# The worked example of issue 8


def test_worked_example_fee_and_interest_to_the_cent(usd_entity, usd_client, finance, run):
    make_policy(finance, usd_entity, [level(1, 30, fee="25.00", percent="8")])
    invoice = post_invoice(usd_entity, usd_client, 1, "2500.00", on=date(2026, 1, 2), due=date(2026, 2, 1))

    result = run(date(2026, 3, 18))  # 45 days after 1 February

    assert (result.status, result.progress, result.error) == ("completed", 100, "")
    assert (result.clients_evaluated, result.notices_created, result.items_noticed) == (1, 1, 1)
    notice = DunningNotice.objects.get()
    assert (notice.client, notice.level, notice.currency, notice.status) == (usd_client, 1, "USD", "sent")
    # Interest 2,500.00 × 8 ÷ 100 ÷ 365 × 45 = 24.657… → 24.66; with the 25.00 fee, 49.66 to bill.
    assert (notice.total_open, notice.interest_amount, notice.fee_amount) == (
        D("2500.00"),
        D("24.66"),
        D("25.00"),
    )
    assert (notice.charges_amount, notice.total_due) == (D("49.66"), D("2549.66"))
    item = notice.items.get()
    assert (item.ar_item, item.level, item.days_overdue, item.interest_days) == (invoice, 1, 45, 45)
    assert (item.open_amount, item.interest_percent, item.interest_amount) == (
        D("2500.00"),
        D("8"),
        D("24.66"),
    )

    fee = notice.fee_item
    assert (fee.kind, fee.document_type, fee.document_id, fee.number) == (
        "invoice",
        "ledger.dunningnotice",
        str(notice.pk),
        f"US-DUN-{notice.pk:06d}",
    )
    assert (fee.client, fee.currency, fee.amount, fee.open_amount) == (
        usd_client,
        "USD",
        D("49.66"),
        D("49.66"),
    )
    # Dated as of the run, due in the client's payment terms.
    assert (fee.date, fee.due_date) == (date(2026, 3, 18), date(2026, 4, 17))
    entry = fee.journal_entry
    assert (entry.source_type, entry.source_id, entry.date) == (
        "ledger.dunningnotice",
        str(notice.pk),
        date(2026, 3, 18),
    )
    assert _lines(entry) == [
        ("1100", "USD", D("49.66"), D("0"), D("49.66"), D("0")),
        ("4900", "USD", D("0"), D("49.66"), D("0"), D("49.66")),
    ]
    assert set(entry.lines.values_list("client_id", flat=True)) == {usd_client.pk}
    # The fee is a receivable like any other: it shows in aging, not yet due.
    aging = ar_aging(legal_entity=usd_entity, as_of=date(2026, 3, 18))
    assert aging["totals"][0]["current"] == D("49.66")
    assert aging["totals"][0]["31_60"] == D("2500.00")

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["ap@initech.example"]
    assert message.subject == "Reminder 1: $2,549.66 overdue"
    assert message.body == (
        "Dear Initech,\n"
        "US-2026-000001 due 2026-02-01, 45 days: $2,500.00\n"
        "Interest $24.66, fee $25.00, total due $2,549.66.\n"
        "Pay to IBAN US00 1234.\n"
        "Ledgerline Consulting Inc."
    )
    assert (notice.subject, notice.body, notice.recipient) == (
        message.subject,
        message.body,
        "ap@initech.example",
    )
    assert notice.sent_at is not None
    event = Event.objects.get(type="dunning.notice_created")
    assert event.data["total_due"] == "2549.66"
    assert event.data["ar_items"] == [invoice.pk]
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {
        "dunning_policy.created",
        "dunning_run.started",
        "dunning_notice.created",
        "dunning_run.completed",
    } <= actions
    assert {"dunning_notice.sent", "ar_item.posted"} <= actions


def test_a_second_run_notices_and_charges_nothing_again(usd_entity, usd_client, finance, run):
    make_policy(finance, usd_entity, [level(1, 14, fee="25.00", percent="8"), level(2, 60, fee="40.00")])
    post_invoice(usd_entity, usd_client, 1, "2500.00", on=date(2026, 1, 2), due=date(2026, 2, 1))
    post_invoice(usd_entity, usd_client, 2, "100.00", on=date(2026, 1, 5), due=date(2026, 2, 4))
    first = run(date(2026, 3, 1))
    entries = JournalEntry.objects.count()

    second = run(date(2026, 3, 1))
    later = run(date(2026, 3, 20))

    assert (first.notices_created, first.items_noticed) == (1, 2)
    assert (second.status, second.notices_created, second.items_noticed) == ("completed", 0, 0)
    assert (later.status, later.notices_created) == ("completed", 0)
    assert second.clients_evaluated == 1
    assert DunningNotice.objects.count() == 1
    assert ArItem.objects.filter(document_type="ledger.dunningnotice").count() == 1
    assert JournalEntry.objects.count() == entries
    assert len(mail.outbox) == 1
    # Delivering the finished run's task again does nothing either.
    assert execute_dunning_run(run_id=first.pk).status == "completed"
    assert DunningNotice.objects.count() == 1


def test_an_invoice_reaching_level_two_later_gets_only_the_level_two_notice(
    usd_entity, usd_client, finance, run
):
    make_policy(
        finance,
        usd_entity,
        [
            level(1, 14, fee="10.00", percent="8"),
            level(2, 30, fee="25.00", percent="8"),
            level(3, 90, fee="50.00"),
        ],
    )
    invoice = post_invoice(usd_entity, usd_client, 1, "2500.00", on=date(2026, 1, 2), due=date(2026, 2, 1))

    run(date(2026, 2, 21))  # 20 days
    run(date(2026, 3, 18))  # 45 days
    run(date(2026, 3, 25))  # 52 days: still level 2, noticed already

    notices = list(DunningNotice.objects.order_by("level"))
    assert [(n.level, n.fee_amount, n.interest_amount, n.total_due) for n in notices] == [
        # 2,500.00 × 8% × 20 ÷ 365 = 10.96
        (1, D("10.00"), D("10.96"), D("2520.96")),
        # Level 2 charges interest only for the 25 days level 1 did not: 2,500.00 × 8% × 25 ÷ 365 = 13.70.
        (2, D("25.00"), D("13.70"), D("2538.70")),
    ]
    items = DunningNoticeItem.objects.filter(ar_item=invoice).order_by("level")
    assert [(i.level, i.days_overdue, i.interest_days) for i in items] == [(1, 20, 20), (2, 45, 25)]
    fees = ArItem.objects.filter(document_type="ledger.dunningnotice").order_by("id")
    assert [f.amount for f in fees] == [D("20.96"), D("38.70")]
    assert [m.subject for m in mail.outbox] == [
        "Reminder 1: $2,520.96 overdue",
        "Reminder 2: $2,538.70 overdue",
    ]


def test_an_invoice_found_late_gets_the_highest_level_reached_and_never_a_lower_one(
    usd_entity, usd_client, finance, run
):
    make_policy(finance, usd_entity, [level(1, 14, fee="10.00"), level(2, 30, fee="25.00")])
    post_invoice(usd_entity, usd_client, 1, "1000.00", on=date(2026, 1, 2), due=date(2026, 2, 1))
    run(date(2026, 3, 18))
    # The policy's level 2 is moved later: the invoice is back within level 1's days, but was past it.
    policy = DunningPolicy.objects.get()
    update_dunning_policy(
        actor=finance, policy=policy, levels=[level(1, 14, fee="10.00"), level(2, 60, fee="25.00")]
    )
    run(date(2026, 3, 20))

    assert list(DunningNotice.objects.values_list("level", "fee_amount")) == [(2, D("25.00"))]


def test_one_notice_per_client_level_and_currency_with_the_fee_once(
    usd_entity, usd_client, finance, run, eur_usd
):
    eur_usd({date(2026, 1, 1): "1.1000"})
    make_policy(finance, usd_entity, [level(1, 10, fee="15.00")])
    other = Account.objects.create(
        name="Globex", legal_entity=usd_entity, currency="USD", billing_email="pay@globex.example"
    )
    post_invoice(usd_entity, usd_client, 1, "300.00", on=date(2026, 1, 2), due=date(2026, 2, 1))
    post_invoice(usd_entity, usd_client, 2, "200.00", on=date(2026, 1, 9), due=date(2026, 2, 8))
    post_invoice(
        usd_entity, usd_client, 3, "500.00", on=date(2026, 1, 9), due=date(2026, 2, 8), currency="EUR"
    )
    post_invoice(usd_entity, other, 4, "50.00", on=date(2026, 1, 9), due=date(2026, 2, 8))

    result = run(date(2026, 3, 1))

    assert (result.clients_evaluated, result.notices_created, result.items_noticed) == (2, 3, 4)
    rows = DunningNotice.objects.order_by("client__name", "currency").values_list(
        "client__name", "currency", "total_open", "fee_amount", "total_due", "fee_note"
    )
    assert list(rows) == [
        ("Globex", "USD", D("50.00"), D("15.00"), D("65.00"), ""),
        # Fees are billed in the policy's USD only; the EUR invoice's notice bills none, and says why.
        (
            "Initech",
            "EUR",
            D("500.00"),
            D("0.00"),
            D("500.00"),
            "No fee: the policy bills its fees in USD and these invoices are in EUR; "
            "fees are never converted.",
        ),
        ("Initech", "USD", D("500.00"), D("15.00"), D("515.00"), ""),
    ]
    assert DunningNotice.objects.get(currency="EUR").fee_item is None
    assert ArItem.objects.filter(document_type="ledger.dunningnotice").count() == 2
    assert sorted(len(m.body.splitlines()) for m in mail.outbox) == [5, 5, 6]


def test_items_not_overdue_paid_or_below_the_first_level_are_skipped(usd_entity, usd_client, finance, run):
    make_policy(finance, usd_entity, [level(1, 14, fee="10.00")])
    due = date(2026, 2, 1)
    noticed = post_invoice(usd_entity, usd_client, 1, "100.00", on=date(2026, 1, 2), due=due)
    post_invoice(
        usd_entity, usd_client, 2, "100.00", on=date(2026, 2, 1), due=date(2026, 3, 3)
    )  # not yet due
    post_invoice(usd_entity, usd_client, 3, "100.00", on=date(2026, 2, 1), due=date(2026, 2, 20))  # 9 days
    paid = post_invoice(usd_entity, usd_client, 4, "100.00", on=date(2026, 1, 2), due=due)
    paid_later = post_invoice(usd_entity, usd_client, 5, "100.00", on=date(2026, 1, 2), due=due)
    partly = post_invoice(usd_entity, usd_client, 6, "100.00", on=date(2026, 1, 2), due=due)
    record_payment(
        actor=finance, legal_entity=usd_entity, client=usd_client, date=date(2026, 2, 10), amount=D("160.00"),
        currency="USD", allocations=[(paid, D("100.00")), (partly, D("60.00"))],
    )  # fmt: skip
    # Paid after the run's day but before it runs: not dunned any more.
    record_payment(
        actor=finance, legal_entity=usd_entity, client=usd_client, date=date(2026, 3, 5), amount=D("100.00"),
        currency="USD", allocations=[(paid_later, D("100.00"))],
    )  # fmt: skip
    # A credit note is never dunned.
    post_receivable(
        actor=None, legal_entity=usd_entity, client=usd_client, kind="credit_note",
        document_type="billing.creditnote", document_id="9", number="CN-9", date=date(2026, 1, 3),
        due_date=date(2026, 1, 3), currency="USD", amount=D("5.00"),
        lines=[LineSpec(account=GLAccount.objects.get(legal_entity=usd_entity, code="4000"), currency="USD",
                        debit=D("5.00"))],
        memo="Credit note", posting_key="credit:9",
    )  # fmt: skip

    run(date(2026, 3, 1))

    items = DunningNoticeItem.objects.order_by("ar_item_id")
    assert [(i.ar_item_id, i.open_amount) for i in items] == [
        (noticed.pk, D("100.00")),
        (partly.pk, D("40.00")),
    ]
    assert DunningNotice.objects.get().total_open == D("140.00")


def test_clients_without_a_policy_or_on_an_inactive_one_are_not_dunned(usd_entity, usd_client, finance, run):
    paused = make_policy(finance, usd_entity, [level(1, 14)], name="Paused", is_default=False)
    assign_dunning_policy(actor=finance, client=usd_client, policy=paused)
    update_dunning_policy(actor=finance, policy=paused, active=False)
    other = Account.objects.create(name="Globex", legal_entity=usd_entity, currency="USD")
    post_invoice(usd_entity, usd_client, 1, "100.00", on=date(2026, 1, 2), due=date(2026, 2, 1))
    post_invoice(usd_entity, other, 2, "100.00", on=date(2026, 1, 2), due=date(2026, 2, 1))

    result = run(date(2026, 3, 1))

    # No default policy: Globex has none; Initech's own policy is inactive.
    assert (result.status, result.clients_evaluated, result.notices_created) == ("completed", 2, 0)
    make_policy(finance, usd_entity, [level(1, 14)], name="Default")
    run(date(2026, 3, 2))
    assert list(DunningNotice.objects.values_list("client__name", flat=True)) == ["Globex"]


def test_a_client_with_its_own_policy_follows_it_not_the_default(usd_entity, usd_client, finance, run):
    make_policy(finance, usd_entity, [level(1, 14, fee="10.00")], name="Default")
    strict = make_policy(finance, usd_entity, [level(1, 5, fee="30.00")], name="Strict", is_default=False)
    assign_dunning_policy(actor=finance, client=usd_client, policy=strict)
    post_invoice(usd_entity, usd_client, 1, "100.00", on=date(2026, 1, 2), due=date(2026, 2, 20))

    run(date(2026, 3, 1))  # 9 days: past Strict's 5, not Default's 14

    notice = DunningNotice.objects.get()
    assert (notice.policy, notice.policy_level.days_overdue, notice.fee_amount) == (strict, 5, D("30.00"))


def test_client_without_billing_email_gets_a_failed_notice_with_the_reason(
    usd_entity, usd_client, finance, run, django_capture_on_commit_callbacks
):
    usd_client.billing_email = ""
    usd_client.save()
    make_policy(finance, usd_entity, [level(1, 14, fee="10.00")])
    post_invoice(usd_entity, usd_client, 1, "100.00", on=date(2026, 1, 2), due=date(2026, 2, 1))

    result = run(date(2026, 3, 1))

    assert result.status == "completed"
    notice = DunningNotice.objects.get()
    assert (notice.status, notice.failure_reason, notice.sent_at) == (
        "failed",
        "Initech has no billing e-mail address.",
        None,
    )
    assert notice.fee_item.amount == D("10.00")
    assert mail.outbox == []

    usd_client.billing_email = "ap@initech.example"
    usd_client.save()
    with django_capture_on_commit_callbacks(execute=True):
        resend_dunning_notice(actor=finance, notice=notice)
    notice.refresh_from_db()
    assert (notice.status, notice.failure_reason, notice.recipient) == ("sent", "", "ap@initech.example")
    assert [m.to for m in mail.outbox] == [["ap@initech.example"]]
    assert ArItem.objects.filter(document_type="ledger.dunningnotice").count() == 1


def test_a_mail_server_error_marks_the_notice_failed(usd_entity, usd_client, finance, run, monkeypatch):
    def refuse(self, fail_silently=False):
        raise ConnectionRefusedError("Connection refused")

    monkeypatch.setattr("django.core.mail.EmailMessage.send", refuse)
    make_policy(finance, usd_entity, [level(1, 14)])
    post_invoice(usd_entity, usd_client, 1, "100.00", on=date(2026, 1, 2), due=date(2026, 2, 1))

    assert run(date(2026, 3, 1)).status == "completed"
    notice = DunningNotice.objects.get()
    assert (notice.status, notice.failure_reason) == (
        "failed",
        "The mail server refused the message: Connection refused",
    )
    # No fee and no interest configured: nothing is billed.
    assert notice.fee_item is None


def test_escalation_copies_the_account_owner(usd_entity, usd_client, finance, make_user, run):
    owner = make_user(Role.FINANCE, email="owner@ledgerline.example")
    usd_client.owner = owner
    usd_client.save()
    make_policy(finance, usd_entity, [level(1, 14), level(2, 30, escalate_to_owner=True)])
    post_invoice(usd_entity, usd_client, 1, "100.00", on=date(2026, 1, 2), due=date(2026, 2, 1))

    run(date(2026, 2, 20))
    run(date(2026, 3, 10))

    assert [m.cc for m in mail.outbox] == [[], ["owner@ledgerline.example"]]
    escalated = Event.objects.get(type="dunning.escalated")
    assert escalated.data["owner"] == owner.pk
    assert DunningNotice.objects.get(level=2).escalated_to == owner


def test_a_run_into_a_closed_period_fails_with_the_reason_and_bills_nothing(
    usd_entity, usd_client, finance, run
):
    make_policy(finance, usd_entity, [level(1, 14, fee="10.00")])
    post_invoice(usd_entity, usd_client, 1, "100.00", on=date(2026, 1, 2), due=date(2026, 2, 1))
    close_period(
        actor=finance,
        period=FiscalPeriod.objects.get(legal_entity=usd_entity, start=date(2026, 3, 1)),
        reason="x",
    )

    result = run(date(2026, 3, 1))

    assert result.status == "failed"
    assert "closed" in result.error
    assert result.finished_at is not None
    assert not DunningNotice.objects.exists()
    assert not DunningNoticeItem.objects.exists()
    assert mail.outbox == []
    # The run is over: another may start for the same day.
    assert start_dunning_run(actor=finance, legal_entity=usd_entity, as_of=date(2026, 3, 1)).pk != result.pk


def test_progress_is_saved_per_chunk(usd_entity, finance, run, monkeypatch):
    monkeypatch.setattr(dunning_runs, "CHUNK_CLIENTS", 2)
    make_policy(finance, usd_entity, [level(1, 14)])
    for number in range(1, 6):
        client = Account.objects.create(
            name=f"Client {number}",
            legal_entity=usd_entity,
            currency="USD",
            billing_email=f"c{number}@x.example",
        )
        post_invoice(usd_entity, client, number, "10.00", on=date(2026, 1, 2), due=date(2026, 2, 1))
    seen = []
    real = dunning_runs._notice_chunk

    def spy(run_, policies, rows):
        seen.append(DunningRun.objects.get(pk=run_.pk).progress)
        return real(run_, policies, rows)

    monkeypatch.setattr(dunning_runs, "_notice_chunk", spy)
    result = run(date(2026, 3, 1))
    assert seen == [0, 40, 80]
    assert (result.progress, result.notices_created, result.clients_evaluated) == (100, 5, 5)


def test_a_transient_database_error_hands_the_run_back_and_the_retry_finishes_it(
    usd_entity, finance, monkeypatch
):
    monkeypatch.setattr(dunning_runs, "CHUNK_CLIENTS", 2)
    make_policy(finance, usd_entity, [level(1, 14, fee="5.00")])
    for number in range(1, 6):
        client = Account.objects.create(
            name=f"Client {number}",
            legal_entity=usd_entity,
            currency="USD",
            billing_email=f"c{number}@x.example",
        )
        post_invoice(usd_entity, client, number, "10.00", on=date(2026, 1, 2), due=date(2026, 2, 1))
    started = start_dunning_run(actor=finance, legal_entity=usd_entity, as_of=date(2026, 3, 1))
    real, calls = dunning_runs._notice_chunk, []

    def drop_the_second_chunk_once(run_, policies, rows):
        calls.append(len(rows))
        if len(calls) == 2:
            raise OperationalError("server closed the connection unexpectedly")
        return real(run_, policies, rows)

    monkeypatch.setattr(dunning_runs, "_notice_chunk", drop_the_second_chunk_once)
    with pytest.raises(OperationalError):
        dunning_runs.execute_dunning_run(run_id=started.pk)
    started.refresh_from_db()
    assert (started.status, started.notices_created, started.error) == ("pending", 2, "")

    retried = dunning_runs.execute_dunning_run(run_id=started.pk)
    assert (retried.status, retried.notices_created, retried.progress) == ("completed", 5, 100)
    assert DunningNoticeItem.objects.count() == 5
    assert sorted(DunningNotice.objects.values_list("fee_amount", flat=True)) == [Decimal("5.00")] * 5


# Starting runs


def test_start_refusals(usd_entity, finance, make_user, django_capture_on_commit_callbacks):
    with pytest.raises(PermissionDenied):
        start_dunning_run(actor=make_user(Role.EXECUTIVE), legal_entity=usd_entity, as_of=date(2026, 3, 1))
    with pytest.raises(ValidationFailed) as future:
        start_dunning_run(
            actor=finance, legal_entity=usd_entity, as_of=timezone.localdate() + timedelta(days=1)
        )
    assert future.value.fields == {"as_of": ["Must not be after today."]}
    first = start_dunning_run(actor=finance, legal_entity=usd_entity, as_of=date(2026, 3, 1))
    with pytest.raises(DunningRunActive) as active:
        start_dunning_run(actor=finance, legal_entity=usd_entity, as_of=date(2026, 3, 1))
    assert active.value.status_code == 409
    assert DunningRun.objects.get().pk == first.pk


def test_a_run_lost_with_its_worker_is_continued(
    usd_entity, usd_client, finance, django_capture_on_commit_callbacks
):
    make_policy(finance, usd_entity, [level(1, 14)])
    post_invoice(usd_entity, usd_client, 1, "100.00", on=date(2026, 1, 2), due=date(2026, 2, 1))
    lost = start_dunning_run(actor=finance, legal_entity=usd_entity, as_of=date(2026, 3, 1))
    stale = lost.created_at - timedelta(hours=1)
    DunningRun.objects.filter(pk=lost.pk).update(status="running", heartbeat_at=stale, created_at=stale)
    # A fresh running run is not claimed twice.
    DunningRun.objects.filter(pk=lost.pk).update(heartbeat_at=lost.created_at)
    assert execute_dunning_run(run_id=lost.pk).notices_created == 0
    DunningRun.objects.filter(pk=lost.pk).update(heartbeat_at=stale)

    with django_capture_on_commit_callbacks(execute=True):
        again = start_dunning_run(actor=finance, legal_entity=usd_entity, as_of=date(2026, 3, 1))

    again.refresh_from_db()
    assert (again.pk, again.status, again.notices_created) == (lost.pk, "completed", 1)


def test_nightly_task_starts_one_run_per_entity_and_day(
    usd_entity, usd_client, finance, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr("django.utils.timezone.localdate", lambda *args: date(2026, 3, 1))
    create_legal_entity(
        actor=None,
        name="No Dunning Ltd",
        functional_currency="GBP",
        invoice_prefix="UK-",
        today=date(2026, 1, 15),
    )
    make_policy(finance, usd_entity, [level(1, 14, fee="10.00")])
    post_invoice(usd_entity, usd_client, 1, "100.00", on=date(2026, 1, 2), due=date(2026, 2, 1))

    with django_capture_on_commit_callbacks(execute=True):
        first = nightly_dunning.delay().get()
    with django_capture_on_commit_callbacks(execute=True):
        second = nightly_dunning.delay().get()

    run = DunningRun.objects.get()
    assert first == second == [run.pk]
    assert (run.legal_entity, run.as_of, run.trigger, run.status) == (
        usd_entity,
        date(2026, 3, 1),
        "nightly",
        "completed",
    )
    assert run.created_by is None
    assert DunningNotice.objects.count() == 1
    assert len(mail.outbox) == 1
    assert not DunningRun.objects.filter(legal_entity__name="No Dunning Ltd").exists()


def test_the_nightly_schedule_runs_at_two():
    from django.conf import settings

    entry = settings.CELERY_BEAT_SCHEDULE["nightly-dunning"]
    assert entry["task"] == "ledger.tasks.nightly_dunning"
    assert (entry["schedule"].hour, entry["schedule"].minute) == ({2}, {0})


# Policies


def test_policy_defaults_and_one_default_per_entity(usd_entity, finance):
    first = make_policy(finance, usd_entity, [level(1, 14, fee="25.00", percent="8")], name="First")
    assert (first.fee_currency, first.is_default, first.active) == ("USD", True, True)
    assert list(
        first.levels.values_list("level", "days_overdue", "fee_amount", "annual_interest_percent")
    ) == [(1, 14, D("25.00"), D("8"))]
    second = make_policy(finance, usd_entity, [level(1, 10)], name="Second")
    first.refresh_from_db()
    assert (first.is_default, second.is_default) == (False, True)
    update_dunning_policy(actor=finance, policy=first, is_default=True)
    assert list(DunningPolicy.objects.filter(is_default=True)) == [first]
    # Deactivating the default leaves the entity without one.
    update_dunning_policy(actor=finance, policy=first, active=False)
    assert not DunningPolicy.objects.filter(is_default=True).exists()


def _policy_state():
    return (
        list(DunningPolicy.objects.order_by("id").values_list("id", "name", "fee_currency", "is_default")),
        list(DunningLevel.objects.order_by("id").values_list("id", "level", "days_overdue", "fee_amount")),
        AuditEvent.objects.count(),
    )


@pytest.mark.parametrize(
    ("levels", "fields"),
    [
        ([], {"levels": ["A policy needs at least one level."]}),
        (
            [level(2, 30), level(1, 14)],
            {
                "levels": {
                    0: {"level": ["Levels are numbered 1, 2, 3… by days overdue: expected 1, not 2."]},
                    1: {
                        "level": ["Levels are numbered 1, 2, 3… by days overdue: expected 2, not 1."],
                        "days_overdue": [
                            "Must be more than the previous level's 30 days: levels escalate over time."
                        ],
                    },
                }
            },
        ),
        (
            [level(1, 14, fee="-5.00"), level(2, 30), level(3, 30, fee="1.001", percent="101")],
            {
                "levels": {
                    0: {"fee_amount": ["Must not be negative."]},
                    2: {
                        "days_overdue": [
                            "Must be more than the previous level's 30 days: levels escalate over time."
                        ],
                        "fee_amount": ["USD has 2 decimals; round the fee to them."],
                        "annual_interest_percent": ["Between 0 and 100 (percent a year), or null for none."],
                    },
                }
            },
        ),
        (
            [level(0, 0, subject="", body="{% if %}")],
            {
                "levels": {
                    0: {
                        "level": ["Levels are numbered 1, 2, 3… by days overdue: expected 1, not 0."],
                        "days_overdue": ["At least 1 day past due."],
                        "subject_template": ["This field is required."],
                        "body_template": [
                            "The template does not compile: Unexpected end of expression in if tag."
                        ],
                    }
                }
            },
        ),
        (
            [level(1, 14, body="{% load static %}{% include 'x.html' %}")],
            {
                "levels": {
                    0: {
                        "body_template": [
                            "The template does not compile: Invalid block tag on line 1: 'load'. "
                            "Did you forget to register or load this tag?"
                        ]
                    }
                }
            },
        ),
    ],
)
def test_invalid_policies_are_refused_with_errors_per_level(usd_entity, finance, levels, fields):
    make_policy(finance, usd_entity, [level(1, 14)], name="Existing")
    before = _policy_state()
    with pytest.raises(InvalidDunningPolicy) as refused:
        make_policy(finance, usd_entity, levels, name="New")
    assert refused.value.code == "invalid_dunning_policy"
    assert refused.value.fields == fields
    assert refused.value.detail.startswith("The dunning policy is invalid: ")
    assert _policy_state() == before

    existing = DunningPolicy.objects.get()
    with pytest.raises(InvalidDunningPolicy) as refused:
        update_dunning_policy(actor=finance, policy=existing, levels=levels)
    assert refused.value.fields == fields
    assert _policy_state() == before


def test_policy_name_currency_and_default_rules(usd_entity, finance):
    make_policy(finance, usd_entity, [level(1, 14)], name="Standard")
    with pytest.raises(InvalidDunningPolicy) as refused:
        make_policy(
            finance,
            usd_entity,
            [level(1, 14)],
            name="standard",
            fee_currency="XYZ",
            is_default=True,
            active=False,
        )
    assert refused.value.fields == {
        "name": ["Ledgerline Consulting Inc. already has a dunning policy named 'standard'."],
        "fee_currency": ["'XYZ' is not an active currency."],
        "is_default": ["An inactive policy cannot be the default."],
    }
    with pytest.raises(PermissionDenied):
        create_dunning_policy(actor=None, legal_entity=usd_entity, name="X", levels=[level(1, 14)])


def test_levels_are_replaced_as_a_whole_and_kept_rows_keep_their_ids(usd_entity, finance):
    policy = make_policy(finance, usd_entity, [level(1, 14), level(2, 30), level(3, 60)])
    ids = dict(policy.levels.values_list("level", "id"))
    update_dunning_policy(
        actor=finance, policy=policy, name="Renamed", levels=[level(1, 7, fee="5.00"), level(2, 21)]
    )
    policy.refresh_from_db()
    assert policy.name == "Renamed"
    assert list(policy.levels.values_list("id", "level", "days_overdue", "fee_amount")) == [
        (ids[1], 1, 7, D("5.00")),
        (ids[2], 2, 21, D("0")),
    ]
    change = AuditEvent.objects.filter(action="dunning_policy.changed").last()
    assert set(change.changes) == {"name", "levels"}


def test_assigning_a_policy_checks_entity_and_fee_currency(usd_entity, eur_entity, usd_client, finance):
    fees = make_policy(finance, usd_entity, [level(1, 14, fee="10.00")], name="Fees", is_default=False)
    no_fees = make_policy(
        finance, usd_entity, [level(1, 14, percent="8")], name="Interest only", is_default=False
    )
    eur_client = Account.objects.create(name="Globex", legal_entity=usd_entity, currency="EUR")

    with pytest.raises(DunningCurrencyMismatch) as mismatch:
        assign_dunning_policy(actor=finance, client=eur_client, policy=fees)
    assert mismatch.value.code == "dunning_currency_mismatch"
    assert "charges fees in USD, but Globex is billed in another currency" in mismatch.value.detail
    eur_client.refresh_from_db()
    assert eur_client.dunning_policy is None
    # Interest is a percentage: a policy without fees serves any currency.
    assert assign_dunning_policy(actor=finance, client=eur_client, policy=no_fees).dunning_policy == no_fees
    # Once a client in another currency follows it, the policy cannot start charging fees.
    with pytest.raises(DunningCurrencyMismatch):
        update_dunning_policy(actor=finance, policy=no_fees, levels=[level(1, 14, fee="1.00")])
    assert not DunningLevel.objects.filter(policy=no_fees, fee_amount__gt=0).exists()

    foreign = make_policy(finance, eur_entity, [level(1, 14)], name="EU", is_default=False)
    with pytest.raises(ValidationFailed) as other_entity:
        assign_dunning_policy(actor=finance, client=usd_client, policy=foreign)
    assert other_entity.value.fields == {"policy": ["Belongs to another legal entity."]}

    assign_dunning_policy(actor=finance, client=usd_client, policy=fees)
    assert assign_dunning_policy(actor=finance, client=usd_client, policy=None).dunning_policy is None
    assert AuditEvent.objects.filter(action="client.dunning_policy_assigned").count() == 3


def test_a_policy_in_use_is_not_deleted(usd_entity, usd_client, finance):
    unused = make_policy(finance, usd_entity, [level(1, 14)], name="Unused", is_default=False)
    used = make_policy(finance, usd_entity, [level(1, 14)], name="Used", is_default=False)
    assign_dunning_policy(actor=finance, client=usd_client, policy=used)
    with pytest.raises(DunningPolicyInUse):
        delete_dunning_policy(actor=finance, policy=used)
    delete_dunning_policy(actor=finance, policy=unused)
    assert list(DunningPolicy.objects.values_list("name", flat=True)) == ["Used"]
    assert not DunningLevel.objects.filter(policy_id=unused.pk).exists()


# The chart


def test_new_entities_get_the_fee_income_account(usd_entity):
    account = GLAccount.objects.get(legal_entity=usd_entity, role="fee_income")
    assert (account.code, account.name, account.type, account.normal_balance) == (
        "4900",
        "Interest and late-fee income",
        "revenue",
        "credit",
    )


def test_migration_adds_the_fee_income_account_to_existing_entities(usd_entity, eur_entity):
    from importlib import import_module

    from django.apps import apps

    migration = import_module("ledger.migrations.0005_fee_income_account")
    GLAccount.objects.filter(legal_entity=usd_entity, role="fee_income").delete()
    GLAccount.objects.filter(legal_entity=eur_entity, role="fee_income").update(code="4900-X", role=None)
    GLAccount.objects.filter(legal_entity=eur_entity, code="4900-X").update(code="4900")
    migration.add_fee_income_accounts(apps, None)
    migration.add_fee_income_accounts(apps, None)

    rows = GLAccount.objects.filter(role="fee_income").order_by("legal_entity__name")
    assert [(a.legal_entity.name, a.code) for a in rows] == [
        ("Ledgerline Consulting Inc.", "4900"),
        # Code 4900 was taken by an account of the firm's own: the next free code.
        ("Ledgerline Europe GmbH", "4901"),
    ]
    assert LegalEntity.objects.count() == 2


# Concurrency


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_twin_runs_notice_each_invoice_once_per_level(make_user, monkeypatch, caplog):
    caplog.set_level(logging.INFO, logger="ledgerline.dunning")
    # An earlier transactional test may have flushed the currencies the migrations seed.
    Currency.objects.get_or_create(code="USD", defaults={"name": "US Dollar", "minor_units": 2})
    entity = create_legal_entity(
        actor=None,
        name="Twin Runs Inc.",
        functional_currency="USD",
        invoice_prefix="TW-",
        today=date(2026, 1, 15),
    )
    finance = make_user(Role.FINANCE)
    make_policy(finance, entity, [level(1, 14, fee="10.00", percent="8")])
    invoices = []
    for number in range(1, 7):
        client = Account.objects.create(
            name=f"Client {number}", legal_entity=entity, currency="USD", billing_email=f"c{number}@x.example"
        )
        invoices.append(
            post_invoice(entity, client, number, "1000.00", on=date(2026, 1, 2), due=date(2026, 2, 1))
        )
    # Two runs that both see every invoice at level 1: yesterday's, started by hand, and today's.
    runs = [
        DunningRun.objects.create(legal_entity=entity, as_of=date(2026, 3, 1)),
        DunningRun.objects.create(legal_entity=entity, as_of=date(2026, 3, 2)),
    ]
    both_read = threading.Barrier(2, timeout=10)
    real = dunning_runs._candidates
    calls = threading.local()

    def candidates_then_wait(run, policies, client_ids=None):
        rows = real(run, policies, client_ids=client_ids)
        if not getattr(calls, "waited", False):
            calls.waited = True
            both_read.wait()  # both runs hold the same candidates before either inserts
        return rows

    monkeypatch.setattr(dunning_runs, "_candidates", candidates_then_wait)
    errors = []

    def execute(run_id):
        try:
            execute_dunning_run(run_id=run_id)
        except Exception as exc:  # surfaced below, in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=execute, args=(run.pk,)) for run in runs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert errors == []
    # The loser collided on the notice items' unique key, rolled its chunk back and re-read it.
    assert "a chunk collided with a concurrent run" in caplog.text
    finished = list(DunningRun.objects.order_by("id").values_list("status", "notices_created", "error"))
    assert [status for status, _, _ in finished] == ["completed", "completed"]
    # Every invoice was noticed once at level 1, by one run or the other; the loser's chunk rolled back.
    assert sum(created for _, created, _ in finished) == 6
    assert sorted(DunningNoticeItem.objects.values_list("ar_item_id", "level")) == [
        (i.pk, 1) for i in invoices
    ]
    assert DunningNotice.objects.count() == 6
    assert ArItem.objects.filter(document_type="ledger.dunningnotice").count() == 6
    assert JournalEntry.objects.filter(source_type="ledger.dunningnotice").count() == 6


# Holds, escalation and the letter


def _pdf_text(content: bytes) -> str:
    return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def test_the_notice_email_carries_the_letter_with_the_worked_example_figures(
    usd_entity, usd_client, finance, run
):
    make_policy(finance, usd_entity, [level(1, 30, fee="25.00", percent="8")])
    post_invoice(usd_entity, usd_client, 1, "2500.00", on=date(2026, 1, 2), due=date(2026, 2, 1))

    run(date(2026, 3, 18))

    notice = DunningNotice.objects.get()
    name, content, mimetype = mail.outbox[0].attachments[0]
    assert (name, mimetype) == (f"reminder-{notice.pk}-level-1.pdf", "application/pdf")
    text = _pdf_text(content)
    assert "PAYMENT REMINDER" in text
    assert "Initech" in text
    assert "US-2026-000001 2026-01-02 2026-02-01 45 $2,500.00 $24.66" in text
    assert "Interest $24.66" in text
    assert "Reminder fee $25.00" in text
    assert "Total due USD $2,549.66" in text
    assert "Pay to IBAN US00 1234." in text


def test_a_disputed_invoice_is_skipped_with_the_reason_until_resolved(usd_entity, usd_client, finance, run):
    make_policy(finance, usd_entity, [level(1, 14, fee="10.00")])
    disputed = post_invoice(usd_entity, usd_client, 1, "900.00", on=date(2026, 1, 2), due=date(2026, 2, 1))
    other = post_invoice(usd_entity, usd_client, 2, "100.00", on=date(2026, 1, 2), due=date(2026, 2, 1))
    hold = open_dispute(actor=finance, ar_item=disputed, reason="Milestone not accepted")

    first = run(date(2026, 3, 1))

    assert (first.notices_created, first.items_noticed, first.items_on_hold) == (1, 1, 1)
    assert list(DunningNoticeItem.objects.values_list("ar_item", flat=True)) == [other.pk]
    assert first.skipped == [
        {
            "client": usd_client.pk,
            "client_name": "Initech",
            "items": ["US-2026-000001"],
            "kind": "dispute",
            "reason": "Disputed (invoice US-2026-000001): Milestone not accepted, worked by "
            f"{finance.get_full_name() or finance.username}",
        }
    ]

    resolve_dispute(actor=finance, hold=hold, resolution="Accepted after all")
    second = run(date(2026, 3, 2))

    assert (second.notices_created, second.items_noticed, second.items_on_hold, second.skipped) == (
        1,
        1,
        0,
        [],
    )
    assert DunningNoticeItem.objects.filter(ar_item=disputed, level=1).exists()


def test_a_promise_holds_the_client_and_a_broken_one_lets_dunning_resume(
    usd_entity, usd_client, finance, run
):
    make_policy(finance, usd_entity, [level(1, 14, fee="10.00")])
    post_invoice(usd_entity, usd_client, 1, "900.00", on=date(2026, 1, 2), due=date(2026, 2, 1))
    post_invoice(usd_entity, usd_client, 2, "100.00", on=date(2026, 1, 2), due=date(2026, 2, 1))
    promise = record_promise_to_pay(
        actor=finance, client=usd_client, until=timezone.localdate(), amount=D("1000.00"), note="By Friday"
    )[0]

    held = run(date(2026, 3, 1))

    assert (held.notices_created, held.items_on_hold) == (0, 2)
    assert held.skipped[0]["kind"] == "promise"
    assert held.skipped[0]["reason"] == (
        f"Promised to pay $1,000.00 by {timezone.localdate().isoformat()} (all invoices)"
    )
    assert held.skipped[0]["items"] == ["US-2026-000001", "US-2026-000002"]
    assert not DunningNotice.objects.exists()

    # The promised day passes without a payment (as if the promise was made in February).
    CollectionHold.objects.filter(pk=promise.pk).update(until=date(2026, 2, 25))
    resumed = run(date(2026, 3, 2))

    promise.refresh_from_db()
    assert promise.status == "broken"
    assert promise.resolution == "Broken: $0.00 of $1,000.00 paid by 2026-02-25."
    assert (resumed.notices_created, resumed.items_noticed, resumed.items_on_hold) == (1, 2, 0)


def test_escalation_creates_a_crm_task_for_the_account_owner(usd_entity, usd_client, finance, make_user, run):
    owner = make_user(Role.PROJECT_MANAGER, email="owner@ledgerline.example")
    usd_client.owner = owner
    usd_client.save()
    make_policy(finance, usd_entity, [level(1, 14), level(2, 30, fee="25.00", escalate_to_owner=True)])
    post_invoice(usd_entity, usd_client, 1, "100.00", on=date(2026, 1, 2), due=date(2026, 2, 1))

    run(date(2026, 2, 20))
    assert not Activity.objects.exists()
    run(date(2026, 3, 10))

    task = Activity.objects.get()
    assert (task.account, task.kind, task.owner, task.due, task.done) == (
        usd_client,
        "task",
        owner,
        date(2026, 3, 10),
        False,
    )
    assert task.subject == "Collect $125.00: level 2 reminder"
    # Run again the same day: the level was noticed, so no second task.
    run(date(2026, 3, 10))
    assert Activity.objects.count() == 1
