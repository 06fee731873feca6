"""Contracts: numbering per legal entity, amendments as versions (old ones kept), closing."""

from datetime import date
from decimal import Decimal

import pytest

from core.errors import InvalidTransition, PermissionDenied, ValidationFailed
from core.models import AuditEvent, Event
from core.roles import Role
from crm.models import ContractLine, ContractVersion
from crm.services.contracts import amend_contract, close_contract, current_lines, next_contract_number
from crm.services.handoff import win_opportunity

pytestmark = pytest.mark.django_db


def test_numbers_are_gapless_per_legal_entity(usd_entity):
    from ledger.services.setup import create_legal_entity

    eur = create_legal_entity(
        actor=None, name="EU GmbH", functional_currency="EUR", invoice_prefix="EU-", today=date(2026, 1, 1)
    )
    assert [next_contract_number(usd_entity) for _ in range(2)] == ["US-C-00001", "US-C-00002"]
    assert next_contract_number(eur) == "EU-C-00001"


def test_an_amendment_is_a_new_version_and_the_old_one_stays_readable(mixed_deal, pm):
    contract = win_opportunity(actor=pm, opportunity=mixed_deal)
    senior = current_lines(contract).get(description="Implementation: senior consultant")
    retainer = current_lines(contract).get(description="Support retainer")

    amended = amend_contract(
        actor=pm,
        contract=contract,
        reason="Change order 1: more senior time, retainer dropped",
        lines=[
            {"id": senior.pk, "hours": Decimal("500"), "amount": None, "cap_amount": Decimal("95000.00")},
            {
                "description": "Data migration",
                "billing_model": "fixed_fee",
                "amount": Decimal("12000.00"),
                "start": date(2026, 5, 1),
                "end": date(2026, 5, 29),
            },
        ],
        remove=[retainer.pk],
    )

    assert amended.version == 2
    assert amended.total_amount == Decimal("314000.00") + Decimal("18000.00") - Decimal("96000.00") + Decimal(
        "12000.00"
    )
    assert amended.end == date(2026, 8, 28)
    new_senior = current_lines(amended).get(description="Implementation: senior consultant")
    assert (new_senior.hours, new_senior.amount, new_senior.cap_amount, new_senior.origin_id) == (
        Decimal("500.00"),
        Decimal("90000.00"),
        Decimal("95000.00"),
        senior.pk,
    )
    assert sorted(current_lines(amended).values_list("description", flat=True)) == [
        "Data migration",
        "Delivery milestones",
        "Discovery",
        "Implementation: analyst",
        "Implementation: senior consultant",
    ]
    # Version 1 is untouched.
    old = ContractLine.objects.get(pk=senior.pk)
    assert (old.hours, old.amount, old.contract_version.number) == (Decimal("400.00"), Decimal("72000.00"), 1)
    assert ContractLine.objects.filter(contract_version__number=1, contract=contract).count() == 5
    v2 = ContractVersion.objects.get(contract=contract, number=2)
    assert (v2.reason, v2.created_by, v2.total_amount) == (
        "Change order 1: more senior time, retainer dropped",
        pm,
        amended.total_amount,
    )
    audit = AuditEvent.objects.get(action="contract.amended")
    assert audit.reason == "Change order 1: more senior time, retainer dropped"
    assert Event.objects.filter(type="contract.amended").count() == 1


def test_amending_a_closed_contract_is_an_invalid_transition(mixed_deal, pm):
    contract = win_opportunity(actor=pm, opportunity=mixed_deal)
    close_contract(actor=pm, contract=contract, reason="Delivered")
    line = current_lines(contract).first()
    with pytest.raises(InvalidTransition):
        amend_contract(actor=pm, contract=contract, reason="Too late", lines=[{"id": line.pk, "hours": 1}])
    assert ContractVersion.objects.filter(contract=contract).count() == 1


def test_amendments_are_checked_and_only_the_owner_amends(mixed_deal, pm, make_user):
    contract = win_opportunity(actor=pm, opportunity=mixed_deal)
    line = current_lines(contract).get(description="Delivery milestones")
    with pytest.raises(ValidationFailed) as refused:
        amend_contract(
            actor=pm, contract=contract, reason="Bigger", lines=[{"id": line.pk, "amount": Decimal("40000")}]
        )
    assert "lines.4.milestones" in refused.value.fields
    with pytest.raises(PermissionDenied):
        amend_contract(
            actor=make_user(Role.PROJECT_MANAGER),
            contract=contract,
            reason="Mine now",
            lines=[{"id": line.pk, "end": date(2026, 9, 30)}],
        )
    assert contract.versions.count() == 1
