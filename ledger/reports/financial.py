"""Financial statements of a legal entity, in its functional currency.

Totals come from the per-day `AccountBalance` rows (accounts × days with activity), never from a scan of
journal lines; only the general ledger reads lines, and only the page of lines it shows. Every amount is
a `Decimal` rounded to the functional currency's minor unit.
"""

from collections.abc import Mapping
from datetime import date
from decimal import Decimal

from django.db.models import Exists, OuterRef, Q, QuerySet, Sum

from core.errors import ValidationFailed
from core.money import quantize
from ledger.choices import AccountType, NormalBalance
from ledger.models import AccountBalance, GLAccount, JournalEntry, JournalLine, LegalEntity

ZERO = Decimal(0)
PROFIT_AND_LOSS_TYPES = (AccountType.REVENUE, AccountType.EXPENSE)
GENERAL_LEDGER_PAGE = 500


def fiscal_year_start(legal_entity: LegalEntity, on: date) -> date:
    """The first day of the fiscal year containing `on` (fiscal years start on the 1st of a month)."""
    month = legal_entity.fiscal_year_start_month
    return date(on.year if on.month >= month else on.year - 1, month, 1)


def _account_sums(legal_entity: LegalEntity, **dates) -> list[dict]:
    """Functional debit and credit totals per account over the balance rows matching `dates`, by code."""
    rows = (
        AccountBalance.objects.filter(legal_entity=legal_entity, **dates)
        .values("account_id", "account__code", "account__name", "account__type", "account__normal_balance")
        .annotate(debit=Sum("functional_debit"), credit=Sum("functional_credit"))
        .order_by("account__code")
    )
    currency = legal_entity.functional_currency
    return [
        {
            "account_id": row["account_id"],
            "code": row["account__code"],
            "name": row["account__name"],
            "type": row["account__type"],
            "normal_balance": row["account__normal_balance"],
            "debit": quantize(row["debit"] or ZERO, currency),
            "credit": quantize(row["credit"] or ZERO, currency),
        }
        for row in rows
    ]


def _total(rows: list[dict], key: str, legal_entity: LegalEntity) -> Decimal:
    return quantize(sum((row[key] for row in rows), ZERO), legal_entity.functional_currency)


def _signed(normal_balance: str, debit: Decimal, credit: Decimal) -> Decimal:
    """A balance as the account's normal side reads it: positive when it sits on its normal side."""
    return debit - credit if normal_balance == NormalBalance.DEBIT else credit - debit


def trial_balance(*, legal_entity: LegalEntity, as_of: date) -> dict:
    """Every account with activity up to `as_of`: total functional debits and credits and the balance.

    The balance is signed by the account's normal balance (an asset's debit balance is positive, so is a
    revenue account's credit balance). Total debits equal total credits: every entry balances.
    """
    rows = []
    for row in _account_sums(legal_entity, date__lte=as_of):
        if row["debit"] == ZERO and row["credit"] == ZERO:
            continue
        row["balance"] = _signed(row["normal_balance"], row["debit"], row["credit"])
        rows.append(row)
    return {
        "legal_entity_id": legal_entity.pk,
        "as_of": as_of,
        "currency": legal_entity.functional_currency,
        "rows": rows,
        "totals": {
            "debit": _total(rows, "debit", legal_entity),
            "credit": _total(rows, "credit", legal_entity),
        },
    }


def profit_and_loss(*, legal_entity: LegalEntity, start: date, end: date) -> dict:
    """Revenue and expense accounts' movements from `start` to `end` (inclusive), and the net income.

    A revenue amount is credits − debits, an expense amount debits − credits; accounts whose movement
    nets to zero are left out. Net income = revenue − expenses.
    """
    if end < start:
        raise ValidationFailed("The period ends before it starts.", fields={"end": ["Before start."]})
    sections: dict[str, list[dict]] = {AccountType.REVENUE: [], AccountType.EXPENSE: []}
    for row in _account_sums(legal_entity, date__gte=start, date__lte=end):
        if row["type"] not in sections:
            continue
        row["amount"] = _signed(row["normal_balance"], row["debit"], row["credit"])
        if row["amount"] != ZERO:
            sections[row["type"]].append(row)
    revenue = _total(sections[AccountType.REVENUE], "amount", legal_entity)
    expenses = _total(sections[AccountType.EXPENSE], "amount", legal_entity)
    return {
        "legal_entity_id": legal_entity.pk,
        "start": start,
        "end": end,
        "currency": legal_entity.functional_currency,
        "revenue": sections[AccountType.REVENUE],
        "expenses": sections[AccountType.EXPENSE],
        "totals": {"revenue": revenue, "expenses": expenses, "net_income": revenue - expenses},
    }


def balance_sheet(*, legal_entity: LegalEntity, as_of: date) -> dict:
    """Assets, liabilities and equity on `as_of`, with the earnings not yet closed to retained earnings.

    Revenue and expense accounts are not closed into equity by an entry, so their balances appear as
    equity lines: `current_year_earnings` since the start of the fiscal year containing `as_of`, and
    `prior_years_earnings` before it. Every entry balances, so assets = liabilities + equity exactly.
    """
    year_start = fiscal_year_start(legal_entity, as_of)
    sections: dict[str, list[dict]] = {
        AccountType.ASSET: [],
        AccountType.LIABILITY: [],
        AccountType.EQUITY: [],
    }
    earnings = ZERO
    for row in _account_sums(legal_entity, date__lte=as_of):
        if row["type"] in PROFIT_AND_LOSS_TYPES:
            earnings += row["credit"] - row["debit"]
            continue
        row["amount"] = _signed(row["normal_balance"], row["debit"], row["credit"])
        if row["amount"] != ZERO:
            sections[row["type"]].append(row)
    current = ZERO
    for row in _account_sums(legal_entity, date__gte=year_start, date__lte=as_of):
        if row["type"] in PROFIT_AND_LOSS_TYPES:
            current += row["credit"] - row["debit"]
    currency = legal_entity.functional_currency
    earnings, current = quantize(earnings, currency), quantize(current, currency)
    assets = _total(sections[AccountType.ASSET], "amount", legal_entity)
    liabilities = _total(sections[AccountType.LIABILITY], "amount", legal_entity)
    equity_accounts = _total(sections[AccountType.EQUITY], "amount", legal_entity)
    equity = equity_accounts + earnings
    return {
        "legal_entity_id": legal_entity.pk,
        "as_of": as_of,
        "fiscal_year_start": year_start,
        "currency": currency,
        "assets": sections[AccountType.ASSET],
        "liabilities": sections[AccountType.LIABILITY],
        "equity": sections[AccountType.EQUITY],
        "current_year_earnings": current,
        "prior_years_earnings": earnings - current,
        "totals": {
            "assets": assets,
            "liabilities": liabilities,
            "equity_accounts": equity_accounts,
            "equity": equity,
            "liabilities_and_equity": liabilities + equity,
        },
    }


def _functional_movement(queryset: QuerySet) -> Decimal:
    """Debits − credits (functional) of balance rows or journal lines."""
    sums = queryset.aggregate(debit=Sum("functional_debit"), credit=Sum("functional_credit"))
    return (sums["debit"] or ZERO) - (sums["credit"] or ZERO)


def general_ledger(
    *,
    account: GLAccount,
    start: date,
    end: date,
    after: int | None = None,
    limit: int | None = GENERAL_LEDGER_PAGE,
) -> dict:
    """One account's lines from `start` to `end` with a running balance, between its opening and closing.

    Lines come in (date, id) order, `limit` at a time (None: all); `after` is the last line id of the
    previous page and `next_after` the value for the next one (None on the last page). The opening and
    closing balances and the period's debits and credits come from the day balances, and so does each
    page's starting balance (plus, at most, the lines of one day), so a page costs the same wherever it is.
    """
    if end < start:
        raise ValidationFailed("The period ends before it starts.", fields={"end": ["Before start."]})
    currency = account.legal_entity.functional_currency
    sign = 1 if account.normal_balance == NormalBalance.DEBIT else -1
    balances = AccountBalance.objects.filter(account=account)
    before, within = Q(date__lt=start), Q(date__gte=start)
    sums = balances.filter(date__lte=end).aggregate(
        opening_debit=Sum("functional_debit", filter=before),
        opening_credit=Sum("functional_credit", filter=before),
        debit=Sum("functional_debit", filter=within),
        credit=Sum("functional_credit", filter=within),
    )
    opening = quantize(sign * ((sums["opening_debit"] or ZERO) - (sums["opening_credit"] or ZERO)), currency)
    debit = quantize(sums["debit"] or ZERO, currency)
    credit = quantize(sums["credit"] or ZERO, currency)

    lines = JournalLine.objects.filter(account=account, date__gte=start, date__lte=end)
    running = opening
    if after is not None:
        last_day = lines.filter(pk=after).values_list("date", flat=True).first()
        if last_day is None:
            raise ValidationFailed(
                "`after` is not a line of this account in the period.",
                fields={"after": ["Not a line of this account between start and end."]},
            )
        running += sign * _functional_movement(balances.filter(date__gte=start, date__lt=last_day))
        running += sign * _functional_movement(lines.filter(date=last_day, pk__lte=after))
        lines = lines.filter(Q(date__gt=last_day) | Q(date=last_day, pk__gt=after))
    lines = lines.select_related("entry", "client").order_by("date", "id")
    page = list(lines if limit is None else lines[: limit + 1])
    more = limit is not None and len(page) > limit
    if more:
        page = page[:limit]
    rows = []
    for line in page:
        running += sign * (line.functional_debit - line.functional_credit)
        rows.append(
            {
                "id": line.pk,
                "date": line.date,
                "entry_id": line.entry_id,
                "entry_number": line.entry.display_number,
                "memo": line.entry.memo,
                "line_memo": line.memo,
                "source_type": line.entry.source_type,
                "source_id": line.entry.source_id,
                "client_id": line.client_id,
                "client_name": line.client.name if line.client else None,
                "project_id": line.project_id,
                "transaction_currency": line.currency,
                "transaction_debit": line.debit,
                "transaction_credit": line.credit,
                "debit": quantize(line.functional_debit, currency),
                "credit": quantize(line.functional_credit, currency),
                "balance": quantize(running, currency),
            }
        )
    return {
        "account": {
            "id": account.pk,
            "code": account.code,
            "name": account.name,
            "type": account.type,
            "normal_balance": account.normal_balance,
        },
        "legal_entity_id": account.legal_entity_id,
        "currency": currency,
        "start": start,
        "end": end,
        "opening_balance": opening,
        "debit": debit,
        "credit": credit,
        "closing_balance": opening + sign * (debit - credit),
        "lines": rows,
        "next_after": page[-1].pk if more else None,
    }


def journal(*, legal_entity: LegalEntity | None, filters: Mapping) -> QuerySet[JournalEntry]:
    """Journal entries for a journal browser, newest first, narrowed by the (optional) `filters`.

    Keys: `date_after`, `date_before` (inclusive dates), `source_type`, `source_id`, `status` ("posted"
    or "reversed"), and `account`, `client`, `project` (an instance or an id; an entry matches when one
    of its lines does). Missing or None values do not filter.
    """
    entries = JournalEntry.objects.all()
    if legal_entity is not None:
        entries = entries.filter(legal_entity=legal_entity)
    if filters.get("date_after"):
        entries = entries.filter(date__gte=filters["date_after"])
    if filters.get("date_before"):
        entries = entries.filter(date__lte=filters["date_before"])
    for key in ("source_type", "source_id"):
        if filters.get(key):
            entries = entries.filter(**{key: filters[key]})
    if filters.get("status"):
        entries = entries.filter(reversed_by__isnull=filters["status"] == "posted")
    line_filters = {}
    for key, column in (("account", "account_id"), ("client", "client_id"), ("project", "project_id")):
        value = filters.get(key)
        if value is not None and value != "":
            line_filters[column] = getattr(value, "pk", value)
    if line_filters:
        matching = JournalLine.objects.filter(entry=OuterRef("pk"), **line_filters)
        entries = entries.filter(Exists(matching))
    return entries.order_by("-date", "-id")
