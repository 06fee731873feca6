"""Where a contract stands in billing: per plan, what is billed, what is left to bill, how much of a cap is
used or held over it, and how much of a retainer's prepaid hours is left."""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import DecimalField, OuterRef, Subquery, Sum

from billing.choices import DrawdownKind, HoldStatus
from billing.models import BillingPlan, OverCapEntry, PlanItem, RetainerMovement
from billing.services.drafts.time import cap_consumed
from core.money import quantize

ZERO = Decimal(0)
HUNDRED = Decimal(100)
# A retainer warns once this share of the hours its fees added has been drawn down.
RETAINER_ALERT_SHARE = Decimal("0.80")
AMOUNT = DecimalField(max_digits=20, decimal_places=4)
HOURS = DecimalField(max_digits=14, decimal_places=2)
SCHEDULED = ("fixed_fee", "milestone", "subscription", "retainer")


@dataclass(frozen=True)
class PlanBillingStatus:
    """One billing plan. Amounts are in `currency`; fields that do not apply to the model are None."""

    plan_id: int
    description: str
    billing_model: str
    status: str
    currency: str
    billed: Decimal
    # Scheduled models: the unbilled, uncancelled items; capped time and materials: cap − billed.
    remaining: Decimal | None
    cap_amount: Decimal | None
    cap_consumed_percent: Decimal | None
    held_over_cap: Decimal
    retainer_balance_hours: Decimal | None
    retainer_hours_added: Decimal | None
    retainer_hours_used: Decimal | None
    retainer_alert: bool


@dataclass(frozen=True)
class ContractBillingStatus:
    contract_id: int
    number: str
    currency: str
    plans: list[PlanBillingStatus]

    @property
    def billed(self) -> Decimal:
        return sum((plan.billed for plan in self.plans), ZERO)

    @property
    def remaining(self) -> Decimal:
        """What is known to be left: open-ended time and materials (no cap) adds nothing."""
        return sum((plan.remaining for plan in self.plans if plan.remaining is not None), ZERO)


def _sum(queryset, column: str, output) -> Subquery:
    """Σ `column` of the rows of `queryset` that belong to the outer plan."""
    total = queryset.filter(plan=OuterRef("pk")).order_by().values("plan").annotate(total=Sum(column))
    return Subquery(total.values("total"), output_field=output)


def _percent(part: Decimal, whole: Decimal) -> Decimal:
    return (part * HUNDRED / whole).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def contract_billing_status(contract) -> ContractBillingStatus:
    """Every billing plan of `contract` (ended ones too), in three queries.

    Billed to date = the plan's lines on invoices that are not void (drafts included: a draft already
    holds its share of a cap) less its lines credited by released credit notes, the measure the cap is
    enforced with. A retainer's balance is the balance after its last movement; its alert fires once the
    hours drawn down reach 80% of the hours its fees have added so far.
    """
    plans = list(
        BillingPlan.objects.filter(contract=contract)
        .order_by("id")
        .annotate(
            unbilled_items=_sum(
                PlanItem.objects.filter(invoice_line__isnull=True, cancelled=False), "amount", AMOUNT
            ),
            held=_sum(OverCapEntry.objects.filter(status=HoldStatus.HELD), "amount", AMOUNT),
            hours_added=_sum(RetainerMovement.objects.filter(kind=DrawdownKind.FEE), "hours", HOURS),
            hours_drawn=_sum(RetainerMovement.objects.filter(kind=DrawdownKind.USAGE), "hours", HOURS),
            balance_hours=Subquery(
                RetainerMovement.objects.filter(plan=OuterRef("pk"))
                .order_by("-id")
                .values("balance_hours")[:1],
                output_field=HOURS,
            ),
        )
    )
    billed = cap_consumed([plan.pk for plan in plans])
    rows = []
    for plan in plans:
        currency = plan.currency
        done = quantize(billed.get(plan.pk, ZERO), currency)
        capped = plan.billing_model == "time_and_materials" and plan.cap_amount is not None
        if plan.billing_model in SCHEDULED:
            remaining = quantize(plan.unbilled_items or ZERO, currency)
        elif capped:
            remaining = quantize(plan.cap_amount, currency) - done
        else:
            remaining = None
        retainer = plan.billing_model == "retainer"
        added = plan.hours_added or ZERO
        # Usage movements carry the hours drawn as a negative change of the balance.
        used = -(plan.hours_drawn or ZERO)
        rows.append(
            PlanBillingStatus(
                plan_id=plan.pk,
                description=plan.description,
                billing_model=plan.billing_model,
                status=plan.status,
                currency=currency,
                billed=done,
                remaining=remaining,
                cap_amount=quantize(plan.cap_amount, currency) if plan.cap_amount is not None else None,
                cap_consumed_percent=_percent(done, plan.cap_amount) if capped else None,
                held_over_cap=quantize(plan.held or ZERO, currency),
                retainer_balance_hours=(plan.balance_hours or ZERO) if retainer else None,
                retainer_hours_added=added if retainer else None,
                retainer_hours_used=used if retainer else None,
                retainer_alert=retainer and added > 0 and used >= added * RETAINER_ALERT_SHARE,
            )
        )
    return ContractBillingStatus(
        contract_id=contract.pk, number=contract.number, currency=contract.currency, plans=rows
    )
