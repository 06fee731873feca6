"""Master data writes: legal entities (with their chart and periods), accounts, exchange rates."""

import calendar
from datetime import date
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from core import audit
from core.errors import ValidationFailed
from core.events import emit
from core.roles import Role, require_role
from ledger.chart import SERVICES_FIRM_CHART
from ledger.choices import NORMAL_BALANCE_OF_TYPE
from ledger.models import Currency, ExchangeRate, FiscalPeriod, GLAccount, LegalEntity

# Closing and reopening moved to ledger.services.close; imported here for the callers of the old path.
from ledger.services.close import close_period, reopen_period  # noqa: F401


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    return date(day.year + month // 12, month % 12 + 1, 1)


def fiscal_year_of(entity: LegalEntity, on: date) -> int:
    """Fiscal years are named by the calendar year they start in."""
    return on.year if on.month >= entity.fiscal_year_start_month else on.year - 1


def ensure_fiscal_year(*, legal_entity: LegalEntity, fiscal_year: int) -> list[FiscalPeriod]:
    """Create the twelve monthly periods of `fiscal_year` that do not exist yet (safe to run twice)."""
    first = date(fiscal_year, legal_entity.fiscal_year_start_month, 1)
    periods = []
    for number in range(1, 13):
        start = _add_months(first, number - 1)
        end = start.replace(day=calendar.monthrange(start.year, start.month)[1])
        periods.append(
            FiscalPeriod(
                legal_entity=legal_entity, fiscal_year=fiscal_year, number=number, start=start, end=end
            )
        )
    FiscalPeriod.objects.bulk_create(periods, ignore_conflicts=True)
    return list(FiscalPeriod.objects.filter(legal_entity=legal_entity, fiscal_year=fiscal_year))


def _check_currency(code: str, field: str) -> str:
    if not Currency.objects.filter(code=code, active=True).exists():
        raise ValidationFailed(
            f"Unknown currency '{code}'.", fields={field: [f"'{code}' is not an ISO 4217 code."]}
        )
    return code


@transaction.atomic
def create_legal_entity(
    *,
    actor,
    name: str,
    functional_currency: str,
    invoice_prefix: str,
    address: str = "",
    tax_id: str = "",
    fiscal_year_start_month: int = 1,
    write_off_approval_threshold: Decimal = Decimal("500"),
    today: date | None = None,
) -> LegalEntity:
    """Create a legal entity with the services-firm chart and the periods of this and next fiscal year."""
    if actor is not None:
        require_role(actor, Role.FINANCE)
    _check_currency(functional_currency, "functional_currency")
    if not 1 <= fiscal_year_start_month <= 12:
        raise ValidationFailed(
            "The fiscal year must start in month 1 to 12.", fields={"fiscal_year_start_month": ["1–12."]}
        )
    if LegalEntity.objects.filter(name__iexact=name.strip()).exists():
        raise ValidationFailed(f"A legal entity named '{name}' exists.", fields={"name": ["Taken."]})
    entity = LegalEntity.objects.create(
        name=name.strip(),
        functional_currency=functional_currency,
        invoice_prefix=invoice_prefix,
        address=address,
        tax_id=tax_id,
        fiscal_year_start_month=fiscal_year_start_month,
        write_off_approval_threshold=write_off_approval_threshold,
    )
    GLAccount.objects.bulk_create(
        GLAccount(
            legal_entity=entity,
            code=code,
            name=account_name,
            type=account_type,
            normal_balance=NORMAL_BALANCE_OF_TYPE[account_type],
            role=role,
        )
        for code, account_name, account_type, role in SERVICES_FIRM_CHART
    )
    year = fiscal_year_of(entity, today or timezone.localdate())
    ensure_fiscal_year(legal_entity=entity, fiscal_year=year)
    ensure_fiscal_year(legal_entity=entity, fiscal_year=year + 1)
    audit.record(
        actor=actor,
        action="legal_entity.created",
        obj=entity,
        changes={"functional_currency": functional_currency},
    )
    emit(
        "legal_entity.created",
        entity,
        {"name": entity.name, "functional_currency": functional_currency},
        actor=actor,
    )
    return entity


@transaction.atomic
def set_exchange_rate(
    *, actor, from_currency: str, to_currency: str, on: date, rate: Decimal
) -> ExchangeRate:
    """Record or correct the rate of a pair on a day. A correction changes later lookups only: entries
    already posted keep the rate they were converted at."""
    if actor is not None:
        require_role(actor, Role.FINANCE)
    from_currency, to_currency = from_currency.upper(), to_currency.upper()
    _check_currency(from_currency, "from_currency")
    _check_currency(to_currency, "to_currency")
    if from_currency == to_currency:
        raise ValidationFailed(
            "A rate needs two different currencies.", fields={"to_currency": ["Same as from."]}
        )
    if rate <= 0:
        raise ValidationFailed("The rate must be positive.", fields={"rate": ["Must be greater than zero."]})
    existing = (
        ExchangeRate.objects.select_for_update()
        .filter(from_currency=from_currency, to_currency=to_currency, date=on)
        .first()
    )
    if existing is None:
        try:
            with transaction.atomic():
                row = ExchangeRate.objects.create(
                    from_currency=from_currency, to_currency=to_currency, date=on, rate=rate
                )
        except IntegrityError as exc:
            raise ValidationFailed("That rate was just recorded by someone else; reload.") from exc
        audit.record(actor=actor, action="exchange_rate.created", obj=row, changes={"rate": [None, rate]})
        return row
    if existing.rate != rate:
        audit.record(
            actor=actor, action="exchange_rate.changed", obj=existing, changes={"rate": [existing.rate, rate]}
        )
        existing.rate = rate
        existing.save(update_fields=["rate"])
    return existing
