"""Invoice anomalies: a time line off the rate card and a line billing an unassigned person are flagged on
the draft (the billing workbench) and raised as insights once released; a total far off the contract's
history too. The billing tests' firm: Globex, Sam (Senior) and Ana (Analyst); a standard card prices
Senior at 175.00 and Analyst at 100.00."""

from datetime import date
from decimal import Decimal

import pytest

from billing.models import Invoice
from billing.services.invoices import release_invoice
from billing.services.runs import execute_billing_run, start_billing_run
from insights.detectors import invoices as detector
from projects.models import Assignment, RateCard, RateCardRate
from tests.billing import conftest as billing
from tests.billing.conftest import approved_time, tm_line

D = Decimal
finance, entity, vat20, client_account, roles, people, make_contract = (
    billing.finance, billing.entity, billing.vat20, billing.client_account, billing.roles, billing.people,
    billing.make_contract,
)  # fmt: skip


@pytest.fixture
def standard_card(roles):
    card = RateCard.objects.create(name="Standard 2026", currency="USD")
    RateCardRate.objects.create(rate_card=card, role=roles.senior, rate=D("175"), valid_from=date(2026, 1, 1))
    RateCardRate.objects.create(
        rate_card=card, role=roles.analyst, rate=D("100"), valid_from=date(2026, 1, 1)
    )
    return card


def assign(person, project, role):
    return Assignment.objects.create(
        person=person,
        project=project,
        role=role,
        start=date(2026, 1, 1),
        end=date(2026, 12, 31),
        hours=D(500),
    )


def bill(finance, entity, period_end: date) -> list[Invoice]:
    run = start_billing_run(actor=finance, legal_entity=entity, period_end=period_end)
    execute_billing_run(run_id=run.pk)
    return list(Invoice.objects.filter(run=run).order_by("pk"))


def test_rate_and_assignment_flags_on_the_draft_then_insights_on_the_released_invoice(
    finance, entity, roles, people, make_contract, standard_card
):
    contract, project = make_contract([tm_line(roles.senior, "150")], code="GLX-RATES")
    assign(people.ana, project, roles.analyst)
    # Sam is not assigned, and his time was priced at 150.00 while the card says 175.00.
    approved_time(people.sam, project, date(2026, 3, 2), "8", "150")
    approved_time(people.sam, project, date(2026, 3, 4), "4.5", "150")
    approved_time(people.ana, project, date(2026, 3, 3), "6", "100", role=roles.analyst)
    # A clean contract: Ana assigned and priced at the card's rate.
    clean_contract, clean_project = make_contract([tm_line(roles.analyst, "100")], code="GLX-CLEAN")
    assign(people.ana, clean_project, roles.analyst)
    approved_time(people.ana, clean_project, date(2026, 3, 5), "7", "100", role=roles.analyst)

    draft, clean = bill(finance, entity, date(2026, 3, 31))

    senior_line = draft.lines.get(role=roles.senior)
    assert {flag["code"]: flag["message"] for flag in draft.flags} == {
        "rate_mismatch": f"“{senior_line.description}” bills $150.00 an hour, the rate card $175.00 on "
        "2026-03-04.",
        "unassigned_person": "Sam Senior was not assigned to GLX-RATES for 12.5 h billed (2026-03-02 to "
        "2026-03-04).",
    }
    assert clean.flags == []

    invoice = release_invoice(actor=finance, invoice=draft, issue_date=date(2026, 4, 1))
    release_invoice(actor=finance, invoice=clean, issue_date=date(2026, 4, 1))
    found = {finding.rule: finding for finding in detector.detect(date(2026, 4, 10))}

    assert set(found) == {"rate_mismatch", "unassigned_person"}
    rate = found["rate_mismatch"]
    assert rate.fingerprint == f"invoice_anomaly:rate_mismatch:invoice:{invoice.pk}"
    assert rate.audience == ("finance",)
    assert rate.url == f"/billing/invoices/{invoice.pk}/"
    assert rate.explanation == (
        f"{invoice.number} to Globex Corp: “{senior_line.description}” bills $150.00 an hour, the rate card "
        "$175.00 on 2026-03-04."
    )
    assert rate.figures["lines"] == [
        {
            "description": senior_line.description,
            "billed_rate": "150.0000",
            "card_rate": "175.0000",
            "on": "2026-03-04",
        }
    ]
    assert found["unassigned_person"].figures["people"] == [
        {
            "person": "Sam Senior",
            "project": "GLX-RATES",
            "hours": "12.50",
            "first_date": "2026-03-02",
            "last_date": "2026-03-04",
        }
    ]
    # Older than 60 days, it is no longer looked at.
    assert list(detector.detect(date(2026, 6, 30))) == []


def test_a_project_rate_override_is_not_a_mismatch(
    finance, entity, roles, people, make_contract, standard_card
):
    from projects.models import ProjectRateOverride

    contract, project = make_contract([tm_line(roles.senior, "150")], code="GLX-OVR")
    assign(people.sam, project, roles.senior)
    ProjectRateOverride.objects.create(
        project=project, person=people.sam, rate=D("150"), valid_from=date(2026, 1, 1)
    )
    approved_time(people.sam, project, date(2026, 3, 2), "8", "150")

    [draft] = bill(finance, entity, date(2026, 3, 31))

    assert draft.flags == []


def test_a_total_far_off_the_contracts_history(finance, entity, roles, people, make_contract, standard_card):
    contract, project = make_contract([tm_line(roles.senior, "175")], code="GLX-DEV")
    assign(people.sam, project, roles.senior)
    released = []
    # 10 h in each of January to March (2,100.00 with tax), then 20 h in April (4,200.00).
    for month, hours in ((1, "10"), (2, "10"), (3, "10"), (4, "20")):
        approved_time(people.sam, project, date(2026, month, 6), hours, "175")
        [draft] = bill(finance, entity, date(2026, month + 1, 1) - date.resolution)
        released.append(release_invoice(actor=finance, invoice=draft, issue_date=date(2026, month + 1, 1)))

    [found] = detector.detect(date(2026, 5, 10))

    latest = released[-1]
    assert found.rule == "deviation"
    assert found.title == f"{latest.number}: total +100.00% off the contract's history"
    assert found.explanation == (
        f"{latest.number} to Globex Corp, issued Fri 1 May 2026, totals $4,200.00; the mean of the "
        "contract's 3 invoices before it is $2,100.00, so it is 100.00% above (flagged beyond 30%)."
    )
    assert found.figures["history"] == ["2100.00", "2100.00", "2100.00"]
