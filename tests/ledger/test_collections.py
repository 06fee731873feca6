"""Collections: disputes, promises to pay (kept, broken), calls, statements, and the workbench's priority."""

import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone
from pypdf import PdfReader

from core.errors import InvalidTransition, PermissionDenied, ValidationFailed
from core.models import AuditEvent, Event
from core.roles import Role
from crm.models import Account, Activity
from ledger.collections import client_file, historical_days_late, priority_score, trends, workbench
from ledger.models import CollectionHold, DunningRun
from ledger.services.ar import record_payment
from ledger.services.collections import (
    AlreadyDisputed,
    log_collection_call,
    open_dispute,
    record_promise_to_pay,
    resolve_dispute,
    resolve_hold,
    send_statement,
    settle_promises,
)
from tests.ledger.test_dunning import post_invoice

D = Decimal
pytestmark = pytest.mark.django_db


def today():
    return timezone.localdate()


def ago(days):
    return today() - timedelta(days=days)


@pytest.fixture(autouse=True)
def _deferred_checks(db):
    yield
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


@pytest.fixture
def finance(make_user):
    return make_user(Role.FINANCE, username="fin", first_name="Fran", last_name="Finance")


@pytest.fixture
def manager(make_user):
    return make_user(Role.PROJECT_MANAGER, username="am", first_name="Abe", last_name="Manager")


@pytest.fixture
def acme(usd_entity, manager):
    return Account.objects.create(
        name="Acme",
        legal_entity=usd_entity,
        currency="USD",
        payment_terms_days=30,
        billing_email="ap@acme.example",
        owner=manager,
    )


def invoice(entity, client, number, amount, days_overdue, *, issued_days_before_due=30):
    due = ago(days_overdue)
    return post_invoice(
        entity, client, number, amount, on=due - timedelta(days=issued_days_before_due), due=due
    )


# Disputes


def test_a_dispute_holds_the_invoice_notifies_the_account_manager_and_is_audited(
    usd_entity, acme, finance, manager
):
    item = invoice(usd_entity, acme, 1, "1200.00", 40)

    hold = open_dispute(actor=finance, ar_item=item, reason="  Hours on the March sprint are wrong. ")

    assert (hold.kind, hold.status, hold.client, hold.ar_item, hold.owner) == (
        "dispute",
        "open",
        acme,
        item,
        finance,
    )
    assert hold.reason == "Hours on the March sprint are wrong."
    event = Event.objects.get(type="invoice.disputed")
    assert (event.subject_id, event.data["ar_item"], event.data["reason"]) == (
        str(hold.pk),
        item.pk,
        "Hours on the March sprint are wrong.",
    )
    assert event.data["open_amount"] == "1200.0000"
    task = Activity.objects.get(account=acme)
    # The account's owner hears of it, not the person who logged it.
    assert (task.kind, task.owner, task.done, task.due) == ("task", manager, False, today())
    assert task.subject == f"Invoice {item.number} disputed ($1,200.00)"
    assert "Fran Finance" in task.notes
    assert AuditEvent.objects.filter(action="collection_hold.dispute_opened", object_id=str(hold.pk)).exists()


def test_dispute_refusals_change_nothing(usd_entity, acme, finance, make_user):
    item = invoice(usd_entity, acme, 1, "1200.00", 40)
    paid = invoice(usd_entity, acme, 2, "100.00", 40)
    record_payment(
        actor=finance, legal_entity=usd_entity, client=acme, date=today(), amount=D("100.00"), currency="USD",
        allocations=[(paid, D("100.00"))],
    )  # fmt: skip
    consultant = make_user(Role.CONSULTANT)
    other_manager = make_user(Role.PROJECT_MANAGER)

    with pytest.raises(PermissionDenied):
        open_dispute(actor=consultant, ar_item=item, reason="No")
    with pytest.raises(PermissionDenied):
        open_dispute(actor=other_manager, ar_item=item, reason="Not my client")
    with pytest.raises(ValidationFailed) as blank:
        open_dispute(actor=finance, ar_item=item, reason="   ")
    with pytest.raises(ValidationFailed) as settled:
        open_dispute(actor=finance, ar_item=paid, reason="Paid already")
    assert blank.value.fields == {"reason": ["Say what the client disputes."]}
    assert settled.value.fields == {"ar_item": ["Already paid."]}
    assert not CollectionHold.objects.exists()
    assert not Event.objects.filter(type="invoice.disputed").exists()

    open_dispute(actor=finance, ar_item=item, reason="Wrong rate")
    with pytest.raises(AlreadyDisputed) as twice:
        open_dispute(actor=finance, ar_item=item, reason="Again")
    assert (twice.value.code, twice.value.status_code) == ("already_disputed", 409)
    assert CollectionHold.objects.count() == 1


def test_the_account_manager_opens_and_resolves_a_dispute_once(usd_entity, acme, manager):
    item = invoice(usd_entity, acme, 1, "1200.00", 40)
    hold = open_dispute(actor=manager, ar_item=item, reason="Wrong rate")

    resolved = resolve_dispute(actor=manager, hold=hold, resolution="Rate confirmed; client pays in full.")

    assert (resolved.status, resolved.resolved_by, resolved.resolution) == (
        "resolved",
        manager,
        "Rate confirmed; client pays in full.",
    )
    assert Event.objects.get(type="invoice.dispute_resolved").data["resolution"] == resolved.resolution
    with pytest.raises(InvalidTransition):
        resolve_dispute(actor=manager, hold=hold, resolution="Again")
    with pytest.raises(ValidationFailed):
        resolve_hold(
            actor=manager, hold=open_dispute(actor=manager, ar_item=item, reason="New"), resolution=" "
        )


# Promises to pay


def test_a_promise_on_invoices_is_spread_oldest_due_first(usd_entity, acme, finance):
    older = invoice(usd_entity, acme, 1, "300.00", 50)
    newer = invoice(usd_entity, acme, 2, "500.00", 20)

    holds = record_promise_to_pay(
        actor=finance, client=acme, until=today() + timedelta(days=7), amount=D("600.00"),
        ar_items=[newer, older], note="CFO promised on the phone",
    )  # fmt: skip

    assert [(h.ar_item, h.promised_amount, h.currency, h.kind, h.reason) for h in holds] == [
        (older, D("300.00"), "USD", "promise", "CFO promised on the phone"),
        (newer, D("300.00"), "USD", "promise", "CFO promised on the phone"),
    ]
    assert Event.objects.filter(type="promise_to_pay.recorded").count() == 2


@pytest.mark.parametrize(
    ("until_days", "amount", "field"),
    [(-1, "100.00", "until"), (7, "0", "amount"), (7, "900.00", "amount"), (7, "200.00", "ar_items")],
)
def test_invalid_promises_are_refused(usd_entity, acme, finance, until_days, amount, field):
    older = invoice(usd_entity, acme, 1, "300.00", 50)
    newer = invoice(usd_entity, acme, 2, "500.00", 20)

    with pytest.raises(ValidationFailed) as refused:
        record_promise_to_pay(
            actor=finance, client=acme, until=today() + timedelta(days=until_days), amount=D(amount),
            ar_items=[older, newer],
        )  # fmt: skip

    assert field in refused.value.fields
    assert not CollectionHold.objects.exists()


def test_promises_are_kept_when_paid_and_broken_when_their_day_passes_unpaid(
    usd_entity, acme, finance, manager
):
    item = invoice(usd_entity, acme, 1, "800.00", 40)
    invoice(usd_entity, acme, 2, "1000.00", 35)
    on_item = record_promise_to_pay(
        actor=finance, client=acme, until=today(), amount=D("800.00"), ar_items=[item]
    )[0]
    whole = record_promise_to_pay(actor=finance, client=acme, until=today(), amount=D("1500.00"))[0]
    later = record_promise_to_pay(
        actor=finance, client=acme, until=today() + timedelta(days=9), amount=D("50.00")
    )[0]
    # 800.00 applied to invoice 1 (oldest first) and 400.00 to invoice 2: 1,200.00 received in all.
    record_payment(
        actor=finance, legal_entity=usd_entity, client=acme, date=today(), amount=D("1200.00"), currency="USD"
    )

    # Kept today: the promise on invoice 1 and the 50.00 one, which the 1,200.00 covers (any payment of
    # the client since the promise counts towards a promise on the whole account).
    assert settle_promises(as_of=today()) == {"kept": 2, "broken": 0}
    assert settle_promises(as_of=today() + timedelta(days=1)) == {"kept": 0, "broken": 1}

    on_item.refresh_from_db()
    whole.refresh_from_db()
    later.refresh_from_db()
    assert (on_item.status, on_item.resolution) == (
        "resolved",
        f"Kept: $800.00 paid by {today().isoformat()}.",
    )
    assert (whole.status, whole.resolution) == (
        "broken",
        f"Broken: $1,200.00 of $1,500.00 paid by {today().isoformat()}.",
    )
    assert later.status == "resolved"
    follow_up = Activity.objects.get(subject="Promise to pay broken by Acme")
    assert follow_up.owner == finance
    assert Event.objects.filter(type="promise_to_pay.broken").count() == 1
    assert AuditEvent.objects.filter(
        action="collection_hold.promise_broken", object_id=str(whole.pk)
    ).exists()


# Calls and statements


def test_a_call_is_a_done_crm_call_with_an_optional_follow_up(usd_entity, acme, finance):
    contact = acme.contacts.create(name="Pat Payables", email="pat@acme.example")
    call = log_collection_call(
        actor=finance,
        client=acme,
        summary="Pays Friday",
        contact=contact,
        follow_up=today() + timedelta(days=4),
    )

    assert (call.kind, call.done, call.owner, call.contact, call.subject) == (
        "call",
        True,
        finance,
        contact,
        "Collections call: Pays Friday",
    )
    task = Activity.objects.get(kind="task")
    assert (task.due, task.done, task.owner) == (today() + timedelta(days=4), False, finance)
    with pytest.raises(ValidationFailed):
        log_collection_call(actor=finance, client=acme, summary="")
    with pytest.raises(ValidationFailed):
        log_collection_call(actor=finance, client=acme, summary="x", follow_up=ago(1))


def _pdf_text(content: bytes) -> str:
    return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def test_a_statement_is_mailed_as_a_pdf_of_the_open_items(
    usd_entity, acme, finance, django_capture_on_commit_callbacks
):
    first = invoice(usd_entity, acme, 1, "1200.00", 40)
    invoice(usd_entity, acme, 2, "300.00", -10)

    with django_capture_on_commit_callbacks(execute=True):
        send_statement(actor=finance, client=acme)

    message = mail.outbox[0]
    assert message.to == ["ap@acme.example"]
    name, content, mimetype = message.attachments[0]
    assert (name, mimetype) == (f"statement-{today().isoformat()}.pdf", "application/pdf")
    text = _pdf_text(content)
    assert first.number in text
    assert "$1,200.00" in text and "$300.00" in text
    assert "Of which overdue $1,200.00" in text
    assert "Balance due USD $1,500.00" in text

    acme.billing_email = ""
    with pytest.raises(ValidationFailed) as refused:
        send_statement(actor=finance, client=acme)
    assert refused.value.code == "no_billing_email"


# The workbench


@pytest.fixture
def three_clients(usd_entity, finance, make_user):
    def client(name):
        return Account.objects.create(
            name=name, legal_entity=usd_entity, currency="USD", billing_email="a@x.io"
        )

    late, new, disputing = client("Late Payer"), client("New Client"), client("Disputing")
    # Late Payer's history: 2,000.00 paid 20 days after its due date, 1,000.00 paid 10 days early.
    h1 = post_invoice(usd_entity, late, 91, "2000.00", on=ago(130), due=ago(100))
    h2 = post_invoice(usd_entity, late, 92, "1000.00", on=ago(90), due=ago(60))
    record_payment(
        actor=finance, legal_entity=usd_entity, client=late, date=ago(80), amount=D("2000.00"),
        currency="USD", allocations=[(h1, D("2000.00"))],
    )  # fmt: skip
    record_payment(
        actor=finance, legal_entity=usd_entity, client=late, date=ago(70), amount=D("1000.00"),
        currency="USD", allocations=[(h2, D("1000.00"))],
    )  # fmt: skip
    invoice(usd_entity, late, 1, "1000.00", 40)
    invoice(usd_entity, late, 2, "500.00", 10)
    invoice(usd_entity, late, 3, "700.00", -5)  # not yet due: current, not overdue
    invoice(usd_entity, new, 4, "3000.00", 5)
    disputed = invoice(usd_entity, disputing, 5, "1000.00", 50)
    invoice(usd_entity, disputing, 6, "200.00", 20)
    open_dispute(actor=finance, ar_item=disputed, reason="Work not accepted")
    return late, new, disputing


def test_priority_score_worked_by_hand(usd_entity, three_clients):
    late, new, disputing = three_clients

    rows = workbench(legal_entity=usd_entity, as_of=today())

    assert [row.client_name for row in rows] == ["Late Payer", "New Client", "Disputing"]
    late_row, new_row, disputing_row = rows
    # Late Payer: 1,000.00 × 40 + 500.00 × 10 = 45,000 amount-days over 1,500.00: 30 days on average.
    # History: (2,000 × 20 + 1,000 × 0) ÷ 3,000 = 13.3 → 13 days late; 45,000 × (1 + 13/30) = 64,500.
    assert (late_row.overdue, late_row.average_days, late_row.days_late, late_row.score) == (
        D("1500.00"),
        30,
        13,
        64500,
    )
    assert late_row.buckets == {
        "current": D("700.00"),
        "1_30": D("500.00"),
        "31_60": D("1000.00"),
        "61_90": D("0"),
        "over_90": D("0"),
    }
    assert late_row.explanation == "$1,500.00 overdue for 30 days on average; pays 13 days late historically"
    # New Client: 3,000.00 × 5 = 15,000, no history to weigh.
    assert (new_row.score, new_row.days_late) == (15000, None)
    assert (
        new_row.explanation
        == "$3,000.00 overdue for 5 days on average; no payments in the last year to judge by"
    )
    # Disputing: the disputed 1,000.00 is shown but not chased; 200.00 × 20 = 4,000.
    assert (disputing_row.overdue, disputing_row.disputed, disputing_row.score) == (
        D("1200.00"),
        D("1000.00"),
        4000,
    )
    assert disputing_row.explanation == (
        "$200.00 overdue for 20 days on average; $1,000.00 disputed, not counted; "
        "no payments in the last year to judge by"
    )
    assert [hold.kind for hold in disputing_row.holds] == ["dispute"]
    assert [row.client_name for row in workbench(legal_entity=usd_entity, as_of=today(), sort="overdue")] == [
        "New Client",
        "Late Payer",
        "Disputing",
    ]
    by_name = workbench(legal_entity=usd_entity, as_of=today(), sort="name", descending=False)
    assert [row.client_name for row in by_name] == ["Disputing", "Late Payer", "New Client"]


def test_priority_score_formula():
    assert priority_score(D("582800"), 18) == 932480  # 12,400.00 × 47 days × (1 + 18/30)
    assert priority_score(D("1000"), None) == 1000
    assert priority_score(D("1000"), 0) == 1000


def test_historical_days_late_only_for_clients_with_payments(usd_entity, three_clients):
    late, new, _ = three_clients
    assert historical_days_late(client_ids=[late.pk, new.pk], as_of=today()) == {late.pk: 13}


def test_workbench_reads_in_a_fixed_number_of_queries(
    usd_entity, three_clients, django_assert_max_num_queries
):
    with django_assert_max_num_queries(6):
        workbench(legal_entity=usd_entity, as_of=today())


def test_trends_and_client_file(usd_entity, three_clients):
    late, _, disputing = three_clients
    points = trends(legal_entity=usd_entity, as_of=today(), months=3)

    assert [point["date"] for point in points][-1] == today()
    # Open now: 1,000 + 500 + 700 + 3,000 + 1,000 + 200 = 6,400.00, of which 5,700.00 overdue.
    assert (points[-1]["ar"], points[-1]["overdue"]) == (D("6400.00"), D("5700.00"))
    # Invoiced in the 90 days after ago(90): the six open invoices, 6,400.00 (the history is older);
    # DSO = 6,400 × 90 ÷ 6,400 = 90.0 days.
    assert points[-1]["dso"] == D("90.0")
    file = client_file(client=disputing, as_of=today())
    assert [(row.item.number, row.days_overdue, row.dispute is not None) for row in file["items"]] == [
        ("US-2026-000005", 50, True),
        ("US-2026-000006", 20, False),
    ]


# Pages


def test_the_workbench_page_ranks_clients_and_explains_the_score(client, usd_entity, three_clients, finance):
    _, _, disputing = three_clients
    DunningRun.objects.create(
        legal_entity=usd_entity,
        as_of=today(),
        status="completed",
        notices_created=2,
        items_noticed=3,
        items_on_hold=1,
        skipped=[
            {
                "client": disputing.pk,
                "client_name": "Disputing",
                "items": ["US-2026-000005"],
                "kind": "dispute",
                "reason": "Disputed (invoice US-2026-000005): Work not accepted",
            }
        ],
    )
    client.force_login(finance)

    page = client.get("/ledger/collections/", {"legal_entity": usd_entity.pk})

    assert page.status_code == 200
    html = page.content.decode()
    table = html.split('aria-label="Overdue clients"')[1]
    assert table.index("Late Payer") < table.index("New Client") < table.index("Disputing")
    assert "64,500" in html
    assert "$1,500.00 overdue for 30 days on average; pays 13 days late historically" in html
    assert 'id="dso-chart"' in html
    assert "2 notices for 3 invoices; 1 invoice skipped on hold." in html
    assert "(US-2026-000005): Disputed (invoice US-2026-000005): Work not accepted" in html
    by_name = client.get(
        "/ledger/collections/", {"legal_entity": usd_entity.pk, "sort": "name", "dir": "asc"}
    )
    table = by_name.content.decode().split('aria-label="Overdue clients"')[1]
    assert table.index("Disputing") < table.index("Late Payer") < table.index("New Client")


def test_the_workbench_empty_state_and_who_may_open_it(client, usd_entity, make_user):
    client.force_login(make_user(Role.EXECUTIVE))
    page = client.get("/ledger/collections/", {"legal_entity": usd_entity.pk})
    assert page.status_code == 200
    assert "has an overdue invoice as of" in page.content.decode()
    client.force_login(make_user(Role.CONSULTANT))
    assert client.get("/ledger/collections/").status_code == 403


def test_client_page_actions_call_the_services(
    client, usd_entity, acme, finance, django_capture_on_commit_callbacks
):
    item = invoice(usd_entity, acme, 1, "1200.00", 40)
    client.force_login(finance)
    base = f"/ledger/collections/clients/{acme.pk}/"

    assert client.get(base).status_code == 200
    promised = client.post(
        f"{base}promise/",
        {
            "promise-until": (today() + timedelta(days=5)).isoformat(),
            "promise-amount": "400",
            "promise-currency": "USD",
        },
    )
    assert promised.status_code == 302
    hold = CollectionHold.objects.get(kind="promise")
    assert (hold.promised_amount, hold.ar_item) == (D("400.00"), None)
    refused = client.post(f"{base}dispute/", {"dispute-ar_item": item.pk, "dispute-reason": ""})
    assert refused.status_code == 400
    assert "This field is required." in refused.content.decode()
    assert (
        client.post(f"{base}dispute/", {"dispute-ar_item": item.pk, "dispute-reason": "Wrong PO"}).status_code
        == 302
    )
    dispute = CollectionHold.objects.get(kind="dispute")
    assert client.post(f"{base}resolve/", {"hold": dispute.pk, "resolution": "PO fixed"}).status_code == 302
    dispute.refresh_from_db()
    assert dispute.status == "resolved"
    assert client.post(f"{base}call/", {"call-summary": "Pays next week"}).status_code == 302
    assert Activity.objects.filter(kind="call", done=True).count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"{base}statement/").status_code == 302
    assert mail.outbox[-1].to == ["ap@acme.example"]
    paid = client.post(
        f"{base}payment/",
        {
            "payment-date": today().isoformat(),
            "payment-amount": "1200",
            "payment-currency": "USD",
            "payment-bank_account": _bank(usd_entity),
        },
    )
    assert paid.status_code == 302
    item.refresh_from_db()
    assert item.open_amount == D("0")
    pdf = client.get(f"{base}statement.pdf")
    assert (pdf.status_code, pdf["Content-Type"]) == (200, "application/pdf")
    assert client.post(f"{base}refund/").status_code == 404


def _bank(entity):
    from ledger.forms import bank_accounts

    return next(account.pk for account in bank_accounts(entity) if account.role == "cash")


def test_readers_may_not_post_client_actions(client, usd_entity, acme, make_user):
    client.force_login(make_user(Role.EXECUTIVE))
    base = f"/ledger/collections/clients/{acme.pk}/"
    assert client.get(base).status_code == 200
    assert client.post(f"{base}call/", {"call-summary": "x"}).status_code == 403
    assert not Activity.objects.exists()
