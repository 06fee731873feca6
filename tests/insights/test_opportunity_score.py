"""Opportunity score: the rule worked out by hand on a short history, the logistic model on a long one,
and the score on the opportunity's page."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from core.roles import Role as UserRole
from crm.models import Account, Opportunity, OpportunityLine, StageChange
from crm.stages import seed_stages
from insights.detectors import opportunities
from ledger.services.setup import create_legal_entity

AS_OF = date(2026, 6, 30)


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12, tzinfo=UTC)


@pytest.fixture
def sales(db):
    """deal(account, name, path, amount, service=…): an opportunity that moved through `path`,
    [(stage, day), …]; the last stage is where it is now (won or lost closes it that day)."""
    seed_stages()
    entity = create_legal_entity(
        actor=None, name="Acme Inc.", functional_currency="USD", invoice_prefix="AC-", today=date(2026, 1, 15)
    )
    probabilities = {"qualify": 10, "propose": 40, "negotiate": 70, "won": 100, "lost": 0}

    def account(name):
        return Account.objects.create(name=name, legal_entity=entity, currency="USD")

    def deal(client, name, path, amount, *, service="", probability=None, owner=None):
        stage, last_day = path[-1]
        closed = stage in ("won", "lost")
        opportunity = Opportunity.objects.create(
            account=client,
            name=name,
            stage=stage,
            probability=probabilities[stage] if probability is None else probability,
            amount=Decimal(amount),
            currency="USD",
            expected_close=AS_OF + timedelta(days=30),
            owner=owner,
            stage_changed_at=at(last_day),
            closed_at=at(last_day) if closed else None,
        )
        Opportunity.objects.filter(pk=opportunity.pk).update(created_at=at(path[0][1]))
        StageChange.objects.bulk_create(
            StageChange(
                opportunity=opportunity,
                from_stage=path[i - 1][0] if i else "",
                to_stage=to_stage,
                probability=probabilities[to_stage],
                changed_at=at(day),
            )
            for i, (to_stage, day) in enumerate(path)
        )
        if service:
            OpportunityLine.objects.create(
                opportunity=opportunity,
                service=service,
                billing_model="fixed_fee",
                amount=Decimal(amount),
                start=AS_OF,
                end=AS_OF + timedelta(days=90),
            )
        return opportunity

    return account, deal


def test_rule_flags_deals_far_from_their_pipeline_probability(sales, make_user, django_assert_num_queries):
    """Closed: Globex lost 10,000.00 (15 Jan), Initech won 30,000.00 (1 Feb): typical USD deal 20,000.00.
    Globex phase 2, Negotiate (70 %) since 1 April (90 days, over 60: −15), Globex only lost before (−10),
    50,000.00 = 2.5× typical (−10): 35 %, 35 points below: warning.
    Initech expansion, Propose (40 %) since 10 June (20 days), Initech won before (+10), 1.0×: 50 %, gap 10.
    Hooli pilot, Qualify (10 %) but 35 % in the pipeline (the owner's override), new client, 0.3×: 10 %,
    25 points below: warning."""
    account, deal = sales
    owner = make_user(UserRole.PROJECT_MANAGER)
    globex, initech, hooli = account("Globex"), account("Initech"), account("Hooli")
    deal(globex, "Globex ERP", [("qualify", date(2025, 11, 1)), ("lost", date(2026, 1, 15))], "10000")
    deal(initech, "Initech data", [("qualify", date(2025, 12, 1)), ("won", date(2026, 2, 1))], "30000")
    phase2 = deal(
        globex,
        "Globex phase 2",
        [("qualify", date(2026, 3, 1)), ("negotiate", date(2026, 4, 1))],
        "50000",
        service="ERP rollout",
        owner=owner,
    )
    expansion = deal(initech, "Initech expansion", [("propose", date(2026, 6, 10))], "20000")
    pilot = deal(hooli, "Hooli pilot", [("qualify", date(2026, 6, 20))], "5000", probability=35)

    # Stages, closed deals and their lines; open deals, their stage changes and their lines.
    with django_assert_num_queries(6):
        findings = list(opportunities.detect(AS_OF))

    assert [f.subject_id for f in findings] == [phase2.pk, pilot.pk]
    finding = findings[0]
    assert finding.fingerprint == f"opportunity_score:win_probability:opportunity:{phase2.pk}"
    assert (finding.kind, finding.rule, finding.severity) == (
        "opportunity_score",
        "win_probability",
        "warning",
    )
    assert finding.title == "Globex phase 2: 35% to win vs 70% in the pipeline"
    assert finding.figures == {
        "score": 35,
        "pipeline_probability": 70,
        "stage": "negotiate",
        "stage_probability": 70,
        "gap": -35,
        "method": "rule",
        "history": 0,
        "firm_closed_deals": 2,
        "firm_won_deals": 1,
        "days_in_stage": 90,
        "amount": "50000.00",
        "currency": "USD",
    }
    assert finding.factors == [
        {"factor": "Days in stage", "value": "90 days in Negotiate", "effect": "-15 points"},
        {"factor": "Client history", "value": "won 0, lost 1 before with Globex", "effect": "-10 points"},
        {"factor": "Size vs typical", "value": "2.5× the typical $20,000.00", "effect": "-10 points"},
    ]
    assert finding.explanation.startswith(
        "Globex phase 2 (Globex, Negotiate) scores 35% to win by the scoring rule (too little history for a "
        "model), 35 points below the 70% the pipeline gives it (the stage's default is 70%); the firm won 1 "
        "of the 2 deals it closed."
    )
    assert finding.audience == ("executive", "project_manager")
    assert finding.owner_id == owner.pk
    assert finding.url == f"/crm/opportunities/{phase2.pk}/"
    assert findings[1].figures["score"] == 10
    assert findings[1].figures["gap"] == -25

    page = opportunities.opportunity_score(expansion, as_of=AS_OF)
    assert (page.score.probability, page.score.method) == (50, "rule")
    assert (page.stage_name, page.stage_probability, page.gap) == ("Propose", 40, 10)
    assert page.score.factor_rows() == [
        {"factor": "Client history", "value": "won 1, lost 0 before with Initech", "effect": "+10 points"}
    ]


def test_the_page_score_reads_only_its_deal_once_the_history_is_cached(sales, django_assert_max_num_queries):
    account, deal = sales
    initech = account("Initech")
    for n in range(3):
        deal(initech, f"Old {n}", [("qualify", date(2025, 12, 1)), ("won", date(2026, 2, 1 + n))], "30000")
    expansion = deal(initech, "Initech expansion", [("propose", date(2026, 6, 10))], "20000", service="Data")
    first = opportunities.opportunity_score(expansion, as_of=AS_OF)

    # The cache key (closed deals, stages), then the deal, its stage changes and its lines.
    with django_assert_max_num_queries(5):
        again = opportunities.opportunity_score(expansion, as_of=AS_OF)

    assert again == first
    assert again.score.probability == 50


def test_a_closed_deal_has_no_score(sales):
    account, deal = sales
    won = deal(
        account("Initech"), "Initech data", [("qualify", date(2026, 1, 1)), ("won", date(2026, 2, 1))], "1"
    )

    assert opportunities.opportunity_score(won, as_of=AS_OF) is None
    assert list(opportunities.detect(AS_OF)) == []


def test_logistic_model_on_a_long_history(sales):
    """20 deals won with Loyal (Data platform, 20,000.00), each 10 days per stage; 20 lost with Drifter
    (Staff augmentation, 80,000.00) after 90 days in Qualify. 40 closed deals: the model is fit on their 80
    stage visits."""
    account, deal = sales
    loyal, drifter = account("Loyal"), account("Drifter")
    start = date(2024, 1, 1)
    for n in range(20):
        day = start + timedelta(days=20 * n)
        path = [("qualify", day), ("propose", day + timedelta(10)), ("negotiate", day + timedelta(20))]
        deal(loyal, f"Loyal {n}", [*path, ("won", day + timedelta(30))], "20000", service="Data platform")
        deal(
            drifter,
            f"Drifter {n}",
            [("qualify", day), ("lost", day + timedelta(90))],
            "80000",
            service="Staff augmentation",
        )
    renewal = deal(
        loyal, "Loyal renewal", [("negotiate", date(2026, 6, 25))], "20000", service="Data platform"
    )
    again = deal(
        drifter,
        "Drifter again",
        [("qualify", date(2026, 3, 1))],
        "80000",
        service="Staff augmentation",
        probability=60,
    )

    findings = {f.subject_id: f for f in opportunities.detect(AS_OF)}

    good = opportunities.opportunity_score(renewal, as_of=AS_OF).score
    bad = opportunities.opportunity_score(again, as_of=AS_OF).score
    assert (good.method, good.history) == ("logistic", 40)
    assert good.probability >= 80
    assert bad.probability <= 10
    finding = findings[again.pk]
    assert finding.figures["method"] == "logistic"
    assert finding.severity == "critical"
    assert len(finding.factors) == 3
    assert all(
        row["effect"].startswith("-") and row["effect"].endswith(" log-odds") for row in finding.factors
    )
    assert "logistic model fit on 40 past outcomes" in finding.explanation
    assert list(opportunities.detect(AS_OF)) == list(findings.values())


def test_the_opportunity_page_shows_the_score_beside_the_stage(sales, client, make_user):
    account, deal = sales
    manager = make_user(UserRole.PROJECT_MANAGER)
    initech = account("Initech")
    deal(initech, "Initech data", [("qualify", date(2025, 12, 1)), ("won", date(2026, 2, 1))], "30000")
    today = date.today()
    expansion = deal(initech, "Initech expansion", [("propose", today)], "20000", owner=manager)
    client.force_login(manager)

    response = client.get(f"/crm/opportunities/{expansion.pk}/")

    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="win-score"' in html
    assert "<strong" in html and "50%</strong>" in html
    assert "beside 40% for Propose" in html
    assert "won 1, lost 0 before with Initech" in html


def facts(stage=40, days=10, ratio="1", client=(0, 0), service=(0, 0)):
    described = [
        ("Stage", "…"),
        ("Days in stage", f"{days} days"),
        ("Size vs typical", f"{ratio}×"),
        ("Client history", "…"),
        ("Service line", "…"),
    ]
    return described, {
        "stage_probability": stage,
        "days": days,
        "ratio": Decimal(ratio),
        "typical": Decimal(100),
        "client": client,
        "service": service,
    }


@pytest.mark.parametrize(
    ("service", "probability"), [((2, 3), 45), ((1, 3), 35), ((3, 5), 40), ((1, 2), 40), ((0, 0), 40)]
)
def test_rule_service_line_points_need_three_closed_deals(service, probability):
    assert opportunities.rule_probability(*facts(service=service)).probability == probability


def test_rule_stays_within_one_and_ninety_nine():
    """10 − 15 (61 days) − 10 (only lost) − 10 (2×) − 5 (won 0 of 3) = −30: 1 %."""
    low = opportunities.rule_probability(*facts(stage=10, days=61, ratio="2", client=(0, 2), service=(0, 3)))
    assert low.probability == 1
    assert [f.effect for f in low.factors] == [-15, -10, -10, -5]
    high = opportunities.rule_probability(*facts(stage=95, client=(1, 0), service=(3, 3)))
    assert high.probability == 99
