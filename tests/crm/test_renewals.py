"""Renewal and expansion triggers: nightly, each firing once per contract."""

from datetime import date
from decimal import Decimal

import pytest

from crm.models import Activity, Opportunity, RenewalTrigger
from crm.services.handoff import win_opportunity
from crm.services.renewals import run_renewal_triggers
from crm.tasks import nightly_renewal_triggers

pytestmark = pytest.mark.django_db


def test_the_ending_trigger_fires_once_with_an_activity_and_a_draft_renewal(mixed_deal, pm, roles):
    contract = win_opportunity(actor=pm, opportunity=mixed_deal)  # ends 2027-08-31

    assert run_renewal_triggers(today=date(2027, 6, 1)) == 0  # 91 days before the end
    assert run_renewal_triggers(today=date(2027, 7, 2)) == 1  # 60 days before
    assert run_renewal_triggers(today=date(2027, 7, 3)) == 0
    assert run_renewal_triggers(today=date(2027, 7, 20)) == 0

    trigger = RenewalTrigger.objects.get()
    assert (trigger.contract, trigger.kind) == (contract, "ending")
    activity = Activity.objects.get(contract=contract)
    assert (activity.owner, activity.kind, activity.done, activity.due) == (
        pm,
        "task",
        False,
        date(2027, 7, 9),
    )
    assert activity.subject == "Contract US-C-00001 ends 2027-08-31: agree the renewal"
    renewal = Opportunity.objects.get(renewal_of=contract)
    assert (renewal.name, renewal.stage, renewal.owner, renewal.source) == (
        "Renewal: Northwind EHR rollout",
        "qualify",
        pm,
        "renewal",
    )
    retainer = renewal.lines.get(service="Support retainer")
    # The contract ran 20 months: the renewal's lines are the same terms 20 months later.
    assert (retainer.start, retainer.end, retainer.amount) == (
        date(2028, 5, 1),
        date(2029, 4, 30),
        Decimal("96000.00"),
    )
    assert renewal.amount == Decimal("314000.00")


def test_the_consumption_trigger_uses_the_configured_threshold(mixed_deal, pm, monkeypatch):
    from crm import selectors
    from crm.models import SalesPolicy

    contract = win_opportunity(actor=pm, opportunity=mixed_deal)
    SalesPolicy.objects.update_or_create(pk=1, defaults={"renewal_consumption_percent": Decimal("75")})
    used = {"percent": Decimal("74.99")}
    monkeypatch.setattr(
        selectors, "contract_consumption", lambda c: {"consumed": 0, "base": 0, "percent": used["percent"]}
    )
    assert run_renewal_triggers(today=date(2026, 6, 1)) == 0
    used["percent"] = Decimal("75.00")
    assert nightly_renewal_triggers.delay().get() == 1
    assert nightly_renewal_triggers.delay().get() == 0
    assert RenewalTrigger.objects.get().kind == "consumption"
    assert Opportunity.objects.get(renewal_of=contract).name == "Expansion: Northwind EHR rollout"


def test_consumption_counts_approved_time_against_the_cap(mixed_deal, pm):
    from crm.selectors import contract_consumption

    contract = win_opportunity(actor=pm, opportunity=mixed_deal)
    # Base: the caps where set (75,000 for the senior line), else the amounts: 314,000 + 3,000.
    assert contract_consumption(contract) == {
        "consumed": Decimal("0.00"),
        "base": Decimal("317000.00"),
        "percent": Decimal("0.00"),
    }
