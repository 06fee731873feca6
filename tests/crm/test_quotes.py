"""Quotes: priced from the rate card, margin against people's cost rates, the approval rule, statuses."""

from datetime import date
from decimal import Decimal

import pytest

from core.errors import InvalidTransition, PermissionDenied
from core.roles import Role
from crm.models import Quote, SalesPolicy
from crm.services.pipeline import create_opportunity
from crm.services.quotes import accept_quote, approve_quote, create_quote, reject_quote, submit_quote

pytestmark = pytest.mark.django_db
TODAY = date(2026, 1, 10)


@pytest.fixture
def standard_card(roles):
    from projects.services.rates import create_rate_card

    return create_rate_card(
        actor=None,
        name="Standard USD",
        currency="USD",
        rates=[
            {"role": roles["senior"], "rate": Decimal("200.00"), "valid_from": date(2025, 1, 1)},
            {"role": roles["analyst"], "rate": Decimal("120.00"), "valid_from": date(2025, 1, 1)},
        ],
    )


@pytest.fixture
def deal(client_account, pm, roles):
    return create_opportunity(
        actor=pm,
        account=client_account,
        name="Data platform",
        expected_close=date(2026, 2, 1),
        stage="propose",
        lines=[
            {
                "service": "Build: senior",
                "billing_model": "time_and_materials",
                "role": roles["senior"].pk,
                "hours": Decimal("100"),
                "start": date(2026, 3, 1),
                "end": date(2026, 5, 29),
            },
            {
                "service": "Build: analyst",
                "billing_model": "time_and_materials",
                "role": roles["analyst"].pk,
                "hours": Decimal("200"),
                "start": date(2026, 3, 1),
                "end": date(2026, 5, 29),
            },
        ],
    )


def test_lines_are_priced_from_the_rate_card_with_cost_and_margin(deal, pm, standard_card, cost_rates):
    quote = create_quote(actor=pm, opportunity=deal, today=TODAY)

    lines = list(quote.lines.order_by("id"))
    assert [(line.rate, line.amount, line.cost_rate, line.cost_amount) for line in lines] == [
        (Decimal("200.0000"), Decimal("20000.00"), Decimal("100.0000"), Decimal("10000.00")),
        (Decimal("120.0000"), Decimal("24000.00"), Decimal("60.0000"), Decimal("12000.00")),
    ]
    assert (quote.version, quote.total_amount, quote.cost_amount) == (
        1,
        Decimal("44000.00"),
        Decimal("22000.00"),
    )
    assert quote.margin_percent == Decimal("50.00")
    assert quote.approval_reasons == []
    quote = submit_quote(actor=pm, quote=quote, today=TODAY)
    assert quote.status == "approved"
    assert accept_quote(actor=pm, quote=quote, today=TODAY).status == "accepted"


def test_a_low_margin_quote_needs_the_approvers_approval_before_acceptance(
    deal, pm, make_user, standard_card, cost_rates
):
    SalesPolicy.objects.update_or_create(
        pk=1, defaults={"margin_target_percent": Decimal("35"), "max_discount_percent": Decimal("25")}
    )
    # 30% off: price 30,800.00 against 22,000.00 of cost is a 28.57% margin.
    quote = create_quote(actor=pm, opportunity=deal, discount_percent=Decimal("30"), today=TODAY)
    assert quote.total_amount == Decimal("30800.00")
    assert quote.margin_percent == Decimal("28.57")
    assert quote.approval_reasons == [
        "Build: senior is discounted 30%, more than the 25% allowed without approval.",
        "Build: analyst is discounted 30%, more than the 25% allowed without approval.",
        "The margin is 28.57%, under the 35% target.",
    ]
    quote = submit_quote(actor=pm, quote=quote, today=TODAY)
    assert quote.status == "submitted"
    with pytest.raises(InvalidTransition):
        accept_quote(actor=pm, quote=quote, today=TODAY)
    with pytest.raises(PermissionDenied):
        approve_quote(actor=pm, quote=quote)
    with pytest.raises(PermissionDenied):
        approve_quote(actor=make_user(Role.EXECUTIVE), quote=quote)
    assert Quote.objects.get(pk=quote.pk).status == "submitted"

    quote = approve_quote(actor=make_user(Role.FINANCE), quote=quote, reason="Strategic logo")
    assert quote.status == "approved"
    assert accept_quote(actor=pm, quote=quote, today=TODAY).status == "accepted"


def test_unknown_cost_rates_need_approval(deal, pm, standard_card):
    quote = create_quote(actor=pm, opportunity=deal, today=TODAY)
    assert quote.cost_amount is None and quote.margin_percent is None
    assert quote.approval_reasons == [
        "No cost rate is known for Senior consultant: the margin of Build: senior cannot be checked.",
        "No cost rate is known for Analyst: the margin of Build: analyst cannot be checked.",
    ]


def test_a_new_version_expires_the_open_one_and_rejection_needs_a_reason(deal, pm, make_user, standard_card):
    first = create_quote(actor=pm, opportunity=deal, today=TODAY)
    second = create_quote(actor=pm, opportunity=deal, discount_percent=Decimal("5"), today=TODAY)
    first.refresh_from_db()
    assert (first.status, first.decision_reason) == ("expired", "Superseded by version 2.")
    assert second.version == 2
    assert second.lines.first().rate == Decimal("190.0000")
    submit_quote(actor=pm, quote=second, today=TODAY)
    rejected = reject_quote(actor=make_user(Role.FINANCE), quote=second, reason="Margin unknown")
    assert rejected.status == "rejected"
    with pytest.raises(InvalidTransition):
        submit_quote(actor=pm, quote=rejected, today=TODAY)


def test_winning_sells_the_accepted_quote(deal, pm, standard_card, cost_rates):
    from crm.services.handoff import win_opportunity

    quote = create_quote(actor=pm, opportunity=deal, discount_percent=Decimal("10"), today=TODAY)
    accept_quote(actor=pm, quote=submit_quote(actor=pm, quote=quote, today=TODAY), today=TODAY)
    contract = win_opportunity(actor=pm, opportunity=deal)
    assert contract.quote == quote
    assert contract.total_amount == Decimal("39600.00")
    assert sorted(contract.all_lines.values_list("rate", flat=True)) == [
        Decimal("108.0000"),
        Decimal("180.0000"),
    ]
