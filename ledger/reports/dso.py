"""Days sales outstanding: how many days of billing the open receivables represent."""

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Q, Sum

from core.money import quantize
from ledger.choices import ArItemKind
from ledger.models import ArItem, LegalEntity
from ledger.reports.aging import ar_balance

ZERO = Decimal(0)
TENTH = Decimal("0.1")


def _months_back(as_of: date, months: int) -> list[tuple[date, date]]:
    """Calendar months, newest first: the month of `as_of` cut at `as_of`, then `months − 1` whole months."""
    windows = [(as_of.replace(day=1), as_of)]
    while len(windows) < months:
        end = windows[-1][0] - timedelta(days=1)
        windows.append((end.replace(day=1), end))
    return windows


def _invoiced(legal_entity: LegalEntity, windows: list[tuple[date, date]]) -> list[Decimal]:
    """Functional value of the invoices dated in each window, in one aggregate query."""
    sums = ArItem.objects.filter(legal_entity=legal_entity, kind=ArItemKind.INVOICE).aggregate(
        **{
            f"w{index}": Sum("functional_amount", filter=Q(date__gte=start, date__lte=end))
            for index, (start, end) in enumerate(windows)
        }
    )
    currency = legal_entity.functional_currency
    return [quantize(sums[f"w{index}"] or ZERO, currency) for index in range(len(windows))]


def dso_countback(*, legal_entity: LegalEntity, as_of: date, months: int = 12) -> Decimal | None:
    """DSO by the countback method: walk back month by month until the billing covers the AR balance.

    AR is the functional balance on `as_of` (open invoices less unapplied credits, at booking rates).
    Starting with the month of `as_of` (its days up to `as_of`), each month whose invoicing the
    remaining balance still covers counts all its days and is subtracted; the month where the balance
    runs out counts the fraction of its days that the remainder is of its invoicing. A month with no
    invoicing counts whole (the balance is older). A balance older than `months` months of billing
    counts every day of those months. Credit notes do not reduce a month's invoicing.

    Example, as of 31 March with AR 15,000.00: March invoiced 10,000.00, so March's 31 days count and
    5,000.00 remains; February invoiced 8,000.00, more than what remains, so it counts
    28 × 5,000 / 8,000 = 17.5 days. DSO = 31 + 17.5 = 48.5.

    Returns days rounded to 0.1, or None when nothing was invoiced in the `months` months.
    """
    windows = _months_back(as_of, months)
    invoiced = _invoiced(legal_entity, windows)
    if not any(invoiced):
        return None
    remaining = ar_balance(legal_entity=legal_entity, as_of=as_of)
    days = ZERO
    for (start, end), billed in zip(windows, invoiced, strict=True):
        if remaining <= 0:
            break
        length = (end - start).days + 1
        if billed > remaining:
            days += length * remaining / billed
            break
        days += length
        remaining -= billed
    return days.quantize(TENTH, rounding=ROUND_HALF_UP)


def dso_simple(*, legal_entity: LegalEntity, as_of: date, days: int = 90) -> Decimal | None:
    """DSO = AR on `as_of` ÷ invoicing of the `days` days ending on `as_of` × `days` (functional currency).

    Example: AR 15,000.00, invoiced 45,000.00 in the last 90 days: 15,000 / 45,000 × 90 = 30.0 days.
    Returns days rounded to 0.1, or None when nothing was invoiced in the window.
    """
    invoiced = _invoiced(legal_entity, [(as_of - timedelta(days=days - 1), as_of)])[0]
    if not invoiced:
        return None
    balance = ar_balance(legal_entity=legal_entity, as_of=as_of)
    return (balance * days / invoiced).quantize(TENTH, rounding=ROUND_HALF_UP)
