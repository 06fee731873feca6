"""Rate resolution: the most specific source wins on the day (person override → contract card → client card →
standard card), cost rates are effective-dated and converted, and the rates an entry was saved with survive
later rate changes; re-rating reaches drafts and submitted entries only."""

from datetime import date
from decimal import Decimal

import pytest

from core.errors import ValidationFailed
from crm.models import Contract
from ledger.services.setup import set_exchange_rate
from projects.choices import RateSource
from projects.errors import Locked
from projects.models import RateCard, RateCardRate, TimeEntry
from projects.selectors.rates import resolve_rates
from projects.services.people import create_assignment
from projects.services.projects import create_project
from projects.services.rates import (
    add_rate_card_rate,
    create_rate_card,
    set_cost_rate,
    set_project_rate,
    update_rate_card,
)
from projects.services.time import approve_time_entries, record_time, rerate_time_entries, submit_timesheet

from .conftest import MONDAY, TODAY

D = Decimal
pytestmark = pytest.mark.django_db


@pytest.fixture
def contracted(firm):
    """A second project of the same client under a contract, Chloe assigned as a consultant, with every
    kind of rate source set up around March 2026."""
    contract = Contract.objects.create(
        account=firm.client,
        legal_entity=firm.entity,
        number="C-1",
        currency="USD",
        start=date(2026, 1, 1),
        end=date(2026, 12, 31),
    )
    project = create_project(
        actor=None,
        account=firm.client,
        legal_entity=firm.entity,
        contract=contract,
        code="GLX-2",
        name="Globex support",
        currency="USD",
        start=date(2026, 1, 1),
        end=date(2026, 12, 31),
        manager=firm.pm,
        tasks=[{"name": "Support"}],
    )
    create_assignment(
        actor=None,
        person=firm.chloe,
        project=project,
        start=date(2026, 1, 1),
        end=date(2026, 12, 31),
        hours=D(500),
    )
    consultant = firm.roles.consultant
    create_rate_card(
        actor=None,
        name="Globex client rates",
        currency="USD",
        account=firm.client,
        rates=[
            {
                "role": consultant,
                "rate": D("140"),
                "valid_from": date(2026, 2, 1),
                "valid_to": date(2026, 3, 31),
            }
        ],
    )
    create_rate_card(
        actor=None,
        name="Contract C-1",
        currency="USD",
        contract=contract,
        rates=[{"role": consultant, "rate": D("130"), "valid_from": date(2026, 3, 10)}],
    )
    set_project_rate(
        actor=None,
        project=project,
        person=firm.chloe,
        rate=D("120"),
        valid_from=date(2026, 3, 16),
        valid_to=date(2026, 3, 17),
    )
    return project


@pytest.mark.parametrize(
    "day, rate, source",
    [
        (date(2026, 1, 20), "150", RateSource.STANDARD_CARD),  # only the standard card is valid
        (date(2026, 2, 10), "140", RateSource.CLIENT_CARD),  # the client card starts 1 Feb
        (date(2026, 3, 12), "130", RateSource.CONTRACT_CARD),  # the contract card starts 10 Mar
        (date(2026, 3, 16), "120", RateSource.PROJECT_OVERRIDE),  # Chloe's own rate, 16–17 Mar
        (date(2026, 3, 18), "130", RateSource.CONTRACT_CARD),  # the override has ended
        (date(2026, 4, 2), "130", RateSource.CONTRACT_CARD),  # the client card has ended, not the contract's
    ],
)
def test_most_specific_valid_source_wins(firm, contracted, day, rate, source):
    pricing = resolve_rates(person=firm.chloe, project=contracted, on=day)
    assert (pricing.bill_rate, pricing.rate_source) == (D(rate), source)


def test_other_projects_of_the_client_use_the_client_card_not_the_contract(firm, contracted):
    # GLX-1 has no contract: the client card applies in its window, the standard card outside it.
    assert resolve_rates(person=firm.chloe, project=firm.project, on=date(2026, 3, 12)).bill_rate == D("140")
    assert resolve_rates(person=firm.chloe, project=firm.project, on=date(2026, 4, 1)).bill_rate == D("150")


def test_the_role_comes_from_the_assignment_on_the_day(firm):
    # Chloe is a consultant (150) but staffed as a senior consultant (200) for two weeks in April.
    create_assignment(
        actor=None,
        person=firm.chloe,
        project=firm.project,
        role=firm.roles.senior,
        start=date(2026, 7, 1),
        end=date(2026, 7, 14),
        hours=D(80),
    )
    senior = resolve_rates(person=firm.chloe, project=firm.project, on=date(2026, 7, 2))
    assert (senior.role_id, senior.bill_rate) == (firm.roles.senior.pk, D("200"))
    # Outside that window her project assignment (as her primary role) applies.
    assert resolve_rates(person=firm.chloe, project=firm.project, on=date(2026, 3, 2)).bill_rate == D("150")


def test_a_rate_card_in_another_currency_does_not_apply(firm):
    create_rate_card(
        actor=None,
        name="Globex EUR",
        currency="EUR",
        account=firm.client,
        rates=[{"role": firm.roles.consultant, "rate": D("99"), "valid_from": date(2025, 1, 1)}],
    )
    assert resolve_rates(person=firm.chloe, project=firm.project, on=TODAY).bill_rate == D("150")


def test_the_newest_card_of_a_scope_wins(firm):
    create_rate_card(
        actor=None,
        name="Standard 2026",
        currency="USD",
        rates=[{"role": firm.roles.consultant, "rate": D("155"), "valid_from": date(2026, 1, 1)}],
    )
    assert resolve_rates(person=firm.chloe, project=firm.project, on=TODAY).bill_rate == D("155")
    assert resolve_rates(person=firm.chloe, project=firm.project, on=date(2025, 12, 31)).bill_rate == D("150")


def test_no_rate_anywhere_prices_at_zero_and_says_so(firm):
    pricing = resolve_rates(person=firm.chloe, project=firm.project, on=date(2024, 6, 1))
    assert (pricing.bill_rate, pricing.rate_source) == (D("0"), RateSource.NONE)


def test_cost_rates_are_effective_dated(firm):
    set_cost_rate(actor=None, person=firm.chloe, rate=D("66"), valid_from=date(2026, 3, 17))
    # The open-ended 60 from 2025 now ends the day before.
    rows = list(firm.chloe.cost_rates.order_by("valid_from").values_list("rate", "valid_from", "valid_to"))
    assert rows == [(D("60"), date(2025, 1, 1), date(2026, 3, 16)), (D("66"), date(2026, 3, 17), None)]
    assert resolve_rates(person=firm.chloe, project=firm.project, on=date(2026, 3, 16)).cost_rate == D("60")
    assert resolve_rates(person=firm.chloe, project=firm.project, on=date(2026, 3, 17)).cost_rate == D("66")


def test_a_cost_rate_in_another_currency_is_converted_at_the_days_rate(firm, make_person):
    hans = make_person("Hans Roth", "consultant")
    set_cost_rate(actor=None, person=hans, rate=D("55"), currency="EUR", valid_from=date(2025, 1, 1))
    set_exchange_rate(actor=None, from_currency="EUR", to_currency="USD", on=date(2026, 3, 1), rate=D("1.1"))
    # 55 EUR × 1.1 = 60.5 USD an hour
    assert resolve_rates(person=hans, project=firm.project, on=TODAY).cost_rate == D("60.5000")


def test_overlapping_rates_are_refused(firm):
    with pytest.raises(ValidationFailed) as refused:
        create_rate_card(
            actor=None,
            name="Bad",
            currency="USD",
            rates=[
                {
                    "role": firm.roles.analyst,
                    "rate": D("90"),
                    "valid_from": date(2026, 1, 1),
                    "valid_to": date(2026, 6, 30),
                },
                {"role": firm.roles.analyst, "rate": D("95"), "valid_from": date(2026, 6, 1)},
            ],
        )
    assert "overlaps" in refused.value.detail
    assert not RateCard.objects.filter(name="Bad").exists()
    with pytest.raises(ValidationFailed):
        set_cost_rate(
            actor=None,
            person=firm.chloe,
            rate=D("50"),
            valid_from=date(2024, 6, 1),
            valid_to=date(2025, 6, 1),
        )
    assert firm.chloe.cost_rates.count() == 1


def test_the_snapshot_survives_a_rate_change_and_rerating_reaches_open_entries_only(firm):
    chloe = firm.chloe.user
    approved = record_time(
        actor=chloe,
        person=firm.chloe,
        project=firm.project,
        task=firm.workshops,
        date=MONDAY,
        hours=D(8),
        today=TODAY,
    )
    submit_timesheet(actor=chloe, timesheet=approved.timesheet)
    approve_time_entries(actor=firm.pm.user, entries=[approved])
    draft = record_time(
        actor=chloe,
        person=firm.chloe,
        project=firm.project,
        task=firm.workshops,
        date=date(2026, 3, 23),
        hours=D(4),
        today=TODAY,
    )
    assert (approved.bill_rate, draft.bill_rate) == (D("150"), D("150"))

    # From 1 March consultants cost the client 160: the open-ended 150 is closed on 28 Feb.
    add_rate_card_rate(
        actor=None,
        rate_card=firm.standard_card,
        role=firm.roles.consultant,
        rate=D("160"),
        valid_from=date(2026, 3, 1),
    )
    assert list(
        RateCardRate.objects.filter(role=firm.roles.consultant)
        .values_list("rate", "valid_to")
        .order_by("valid_from")
    ) == [(D("150"), date(2026, 2, 28)), (D("160"), None)]
    approved.refresh_from_db()
    draft.refresh_from_db()
    assert (approved.bill_rate, draft.bill_rate) == (D("150"), D("150"))

    rerate_time_entries(actor=firm.pm.user, entries=[draft])
    draft.refresh_from_db()
    assert (draft.bill_rate, draft.rate_source) == (D("160"), RateSource.STANDARD_CARD)
    with pytest.raises(Locked):
        rerate_time_entries(actor=firm.pm.user, entries=[approved, draft])
    approved.refresh_from_db()
    assert approved.bill_rate == D("150")


def test_replacing_a_cards_rates_leaves_saved_entries_alone(firm):
    entry = record_time(
        actor=firm.chloe.user,
        person=firm.chloe,
        project=firm.project,
        task=firm.workshops,
        date=MONDAY,
        hours=D("7.5"),
        today=TODAY,
    )
    update_rate_card(
        actor=None,
        rate_card=firm.standard_card,
        rates=[{"role": firm.roles.consultant, "rate": D("175"), "valid_from": date(2025, 1, 1)}],
    )
    assert TimeEntry.objects.get(pk=entry.pk).bill_rate == D("150")
    assert resolve_rates(person=firm.chloe, project=firm.project, on=MONDAY).bill_rate == D("175")
