"""Collections risk: the rule worked out by hand on a short history, the logistic model on a long one."""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from crm.models import Account
from insights.detectors import collections
from insights.scoring.logistic import enough_history
from ledger.models import GLAccount
from ledger.services.ar import post_receivable, record_payment
from ledger.services.posting import LineSpec
from ledger.services.setup import create_legal_entity

AS_OF = date(2026, 6, 30)


@pytest.fixture
def entity(db):
    # Periods of 2025 and 2026 are open, so the history can start in January 2025.
    return create_legal_entity(
        actor=None,
        name="Ledgerline Inc.",
        functional_currency="USD",
        invoice_prefix="US-",
        today=date(2025, 1, 15),
    )


@pytest.fixture
def book(entity, make_user):
    """invoice(client, number, on, due, amount) posts an invoice; pay(client, on, invoice) settles it."""
    revenue = GLAccount.objects.get(legal_entity=entity, code="4000")
    finance = make_user("finance")

    def invoice(client, number, on, due, amount="1000.00"):
        return post_receivable(
            actor=None,
            legal_entity=entity,
            client=client,
            kind="invoice",
            document_type="billing.invoice",
            document_id=number,
            number=number,
            date=on,
            due_date=due,
            currency="USD",
            amount=Decimal(amount),
            lines=[LineSpec(account=revenue, currency="USD", credit=Decimal(amount))],
            memo=number,
            posting_key=number,
        )

    def pay(client, on, item):
        record_payment(
            actor=finance,
            legal_entity=entity,
            client=client,
            date=on,
            amount=item.amount,
            currency="USD",
            reference=f"P-{item.number}",
            allocations=[(item, item.amount)],
        )

    return invoice, pay


def client(entity, name, owner=None):
    return Account.objects.create(name=name, legal_entity=entity, currency="USD", owner=owner)


def test_rule_flags_a_client_that_pays_late_with_its_figures(
    entity, book, make_user, django_assert_num_queries
):
    """Globex (owner Ann): 4 settled invoices, 3 late by 20, 10 and 30 days (1 on time): share 3/4, 15.0
    days late on average; open G5 is 45 days past due on 30 June; first invoiced January 2025.
    Rule: 10 base + 40 × 0.75 = 30 + 15 / 3 = 5 + 20 (31–60 days overdue) + 0 (size 1.0×) + 0 (> 1 year)
    = 65 %. Initech paid its 2 invoices on time and owes one not yet due: 10 %, not flagged."""
    invoice, pay = book
    ann = make_user("project_manager")
    globex = client(entity, "Globex Corp", owner=ann)
    initech = client(entity, "Initech")
    for number, on, due, paid in [
        ("G1", date(2025, 1, 10), date(2025, 2, 9), date(2025, 3, 1)),
        ("G2", date(2025, 3, 10), date(2025, 4, 9), date(2025, 4, 19)),
        ("G3", date(2025, 5, 10), date(2025, 6, 9), date(2025, 7, 9)),
        ("G4", date(2025, 7, 10), date(2025, 8, 9), date(2025, 8, 1)),
    ]:
        pay(globex, paid, invoice(globex, number, on, due))
    invoice(globex, "G5", date(2026, 4, 1), date(2026, 5, 16))
    for number, on, due, paid in [
        ("I1", date(2025, 6, 1), date(2025, 7, 1), date(2025, 6, 25)),
        ("I2", date(2025, 9, 1), date(2025, 10, 1), date(2025, 10, 1)),
    ]:
        pay(initech, paid, invoice(initech, number, on, due))
    invoice(initech, "I3", date(2026, 6, 15), date(2026, 7, 15), "2500.00")

    # Applied amounts, invoices, credits and their applications, then the flagged clients: not one per row.
    with django_assert_num_queries(5):
        findings = list(collections.detect(AS_OF))

    assert len(findings) == 1
    finding = findings[0]
    assert finding.fingerprint == f"collections_risk:late_payment:account:{globex.pk}"
    assert (finding.kind, finding.rule, finding.severity) == ("collections_risk", "late_payment", "warning")
    assert (finding.subject_type, finding.subject_id, finding.owner_id) == ("crm.account", globex.pk, ann.pk)
    assert finding.title == "Globex Corp: 65% likely to pay late"
    assert finding.audience == ("finance", "executive")
    assert finding.url == f"/crm/accounts/{globex.pk}/"
    assert finding.figures == {
        "probability": 65,
        "threshold": 50,
        "method": "rule",
        "history": 0,
        "firm_settled_invoices": 6,
        "firm_late_invoices": 3,
        "settled_invoices": 4,
        "late_invoices": 3,
        "average_days_late": "15.0",
        "oldest_overdue_days": 45,
        "open": {"USD": "1000.00"},
    }
    assert finding.factors == [
        {"factor": "Late share", "value": "3 of 4 settled invoices paid late (75%)", "effect": "+30 points"},
        {"factor": "Days overdue", "value": "oldest unpaid invoice 45 days past due", "effect": "+20 points"},
        {"factor": "Average days late", "value": "15.0 days past due on average", "effect": "+5 points"},
    ]
    assert finding.explanation.startswith(
        "Globex Corp is 65% likely to pay late, by the scoring rule (too little history for a model); "
        "firm-wide, 3 of 6 settled invoices were paid late. "
        "3 of 4 settled invoices paid late (75%), 15.0 days past due on average; "
        "oldest unpaid invoice 45 days past due. Open: $1,000.00."
    )
    scores = {c.client_id: c.score for c in collections.score_clients(AS_OF)}
    assert (scores[initech.pk].probability, scores[initech.pk].method) == (10, "rule")


def test_a_client_whose_invoices_are_all_paid_is_not_scored(entity, book):
    invoice, pay = book
    globex = client(entity, "Globex Corp")
    # Paid 40 days late, but nothing is open any more.
    pay(globex, date(2026, 3, 12), invoice(globex, "G1", date(2026, 1, 1), date(2026, 1, 31)))

    assert collections.score_clients(AS_OF) == []
    assert list(collections.detect(AS_OF)) == []


def test_a_new_client_with_a_large_invoice_long_overdue_is_critical(entity, book):
    """No settled history, first invoiced 1 March 2026 (under a year): 10 + 30 (M1 is 91 days past due on
    30 June, over 60) + 5 (the largest open, M2 3,000.00, is 2 × the 1,500.00 average invoice) + 5 (new)
    = 50 %: flagged at the threshold, a warning."""
    invoice, _ = book
    # The longest name a client may have still leaves a title that fits the insight's.
    initech = client(entity, "Initech " + "x" * 192)
    invoice(initech, "M1", date(2026, 3, 1), date(2026, 3, 31), "0.01")
    invoice(initech, "M2", date(2026, 3, 17), date(2026, 4, 16), "3000.00")
    invoice(initech, "M3", date(2026, 6, 1), date(2026, 7, 1), "1499.99")

    (finding,) = collections.detect(AS_OF)

    assert finding.figures["probability"] == 50
    assert len(finding.title) <= 200 and finding.title.endswith("x: 50% likely to pay late")
    assert (
        "(too little history for a model); no invoice of the firm's is settled yet. No settled invoices yet; "
        "oldest unpaid invoice 91 days past due. Open: $4,500.00."
    ) in finding.explanation
    assert finding.severity == "warning"
    assert [row["factor"] for row in finding.factors] == ["Days overdue", "Size vs typical", "Relationship"]
    assert [row["effect"] for row in finding.factors] == ["+30 points", "+5 points", "+5 points"]


def test_cash_not_yet_applied_covers_the_open_invoice(entity, book, make_user):
    """Globex's G2 is 45 days past due, but its 1,000.00 payment is recorded and not yet matched: nothing
    is really owed. Initech's 600.00 unapplied covers only part of its 2,000.00: still scored, and said."""
    invoice, _ = book
    finance = make_user("finance")
    globex, initech = client(entity, "Globex Corp"), client(entity, "Initech")
    invoice(globex, "G2", date(2026, 4, 1), date(2026, 5, 16))
    invoice(initech, "I2", date(2026, 4, 1), date(2026, 5, 16), "2000.00")
    for who, amount in ((globex, "1000.00"), (initech, "600.00")):
        record_payment(
            actor=finance, legal_entity=entity, client=who, date=date(2026, 6, 20), amount=Decimal(amount),
            currency="USD", reference=f"Unmatched {who.name}", allocations=[],
        )  # fmt: skip

    (scored,) = collections.score_clients(AS_OF)

    assert scored.client_id == initech.pk
    assert scored.unapplied == {"USD": Decimal("600.00")}
    # 10 + 20 (45 days) + 5 (new client) = 35 %: below the flag, so no finding; the text is still right.
    assert scored.score.probability == 35
    assert collections._open_text(scored)[0] == (
        "$2,000.00, less $600.00 of payments or credit notes not yet applied"
    )


@pytest.mark.parametrize(
    ("days_overdue", "probability"), [(0, 10), (1, 20), (30, 20), (31, 30), (60, 30), (61, 40)]
)
def test_rule_points_for_the_oldest_unpaid_invoice(days_overdue, probability):
    profile = collections.Profile(0, 0, 0, days_overdue, Decimal(1), Decimal(2))
    assert collections.rule_probability(profile).probability == probability


def test_rule_never_says_certain():
    """10 + 40 (all late) + 15 (60 days late on average, capped) + 30 + 5 (3× typical) + 5 (new) = 105."""
    profile = collections.Profile(10, 10, 600, 90, Decimal(3), Decimal("0.5"))
    score = collections.rule_probability(profile)
    assert score.probability == 99
    assert [f.effect for f in score.factors] == [40, 30, 15, 5, 5]


def test_enough_history_needs_thirty_outcomes_with_five_of_each():
    assert enough_history([True] * 5 + [False] * 25)
    assert not enough_history([True] * 4 + [False] * 26)
    assert not enough_history([True] * 5 + [False] * 24)


def test_logistic_model_on_a_long_history_separates_late_and_punctual_payers(entity, book):
    """16 monthly invoices each: Latecomer pays every one 40 days after its due date, Punctual 5 days
    before. 32 settled outcomes, 16 late: the model is fit. Latecomer's open invoice is 60 days past due,
    Punctual's is not yet due."""
    invoice, pay = book
    latecomer = client(entity, "Latecomer Ltd")
    punctual = client(entity, "Punctual plc")
    start = date(2025, 1, 5)
    for month in range(16):
        on = date(start.year + (start.month + month - 1) // 12, (start.month + month - 1) % 12 + 1, 5)
        due = on + timedelta(days=30)
        pay(latecomer, due + timedelta(days=40), invoice(latecomer, f"L{month}", on, due))
        pay(punctual, due - timedelta(days=5), invoice(punctual, f"P{month}", on, due))
    invoice(latecomer, "L-open", date(2026, 4, 1), date(2026, 5, 1))
    invoice(punctual, "P-open", date(2026, 6, 20), date(2026, 7, 20))

    scores = {c.client_id: c.score for c in collections.score_clients(AS_OF)}
    findings = list(collections.detect(AS_OF))

    late, prompt = scores[latecomer.pk], scores[punctual.pk]
    assert (late.method, late.history) == ("logistic", 32)
    assert late.probability >= 80
    assert prompt.probability <= 20
    assert [f.subject_id for f in findings] == [latecomer.pk]
    finding = findings[0]
    assert finding.figures["method"] == "logistic"
    assert finding.severity == "critical"
    assert len(finding.factors) == 3
    assert all(row["effect"].endswith(" log-odds") for row in finding.factors)
    # The strongest push toward late is its record of paying late or being overdue now.
    assert finding.factors[0]["factor"] in {"Late share", "Average days late", "Days overdue"}
    assert finding.factors[0]["effect"].startswith("+")
    assert "logistic model fit on 32 past outcomes" in finding.explanation
    assert list(collections.detect(AS_OF)) == findings
