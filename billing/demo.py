"""Demo firm, billing part: tax codes per legal entity and on the clients, then the last three completed
months billed through the real services. The two older months are released (issued the first working day
after month end), partly paid, one invoice credited; the newest month's drafts wait in the review
workbench, a client over its credit limit among them. None is e-mailed (sending renders the invoice PDF).

Tax codes are created once by code; the billing history is loaded once (skipped when the demo's legal
entities already have billing runs), in one transaction, so a second run adds nothing.
"""

from datetime import date, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Sum

from billing.choices import InvoiceStatus, SourceType, TaxKind
from billing.models import BillingRun, Invoice, TaxCode
from billing.services.credit_notes import create_credit_note, release_credit_note
from billing.services.flags import refresh_flags
from billing.services.invoices import release_invoice
from billing.services.runs import execute_billing_run, start_billing_run
from billing.services.tax import create_tax_code
from core.errors import DomainError
from core.money import quantize
from crm.models import Account, Contract
from crm.services.accounts import update_account
from ledger.choices import AccountRole, PeriodStatus
from ledger.models import ArItem, FiscalPeriod, LegalEntity
from ledger.selectors import account_by_role
from ledger.services.ar import record_payment

D = Decimal
MONTHS = 3
# Per functional currency of the legal entity: code, name, kind, rate %, whether it posts to tax payable.
TAX_CODES = {
    "USD": [("US-EXEMPT", "Exempt: professional services", TaxKind.EXEMPT, "0", False)],
    "EUR": [
        ("DE19", "VAT 19% (Germany)", TaxKind.STANDARD, "19", True),
        ("EU-RC", "Reverse charge: the client accounts for the VAT", TaxKind.ZERO_RATED, "0", False),
    ],
}
DEFAULT_CODE = {"USD": "US-EXEMPT", "EUR": "DE19"}
# The European entity's business clients outside Germany: invoiced net under the reverse charge.
REVERSE_CHARGE_CLIENTS = {
    "Umbrella Pharma Ltd",
    "Alpine Ski House AG",
    "Margie's Travel BV",
    "Trey Research SA",
    "Graphic Design Institute",
}
# Of the released invoices of each older month (oldest first): the share paid in full and partly by now.
PAID_SHARE = [D("0.70"), D("0.40")]
PARTLY_PAID_SHARE = D("0.15")
KEPT_IN_DRAFT_SHARE = D("0.10")


def load(ctx) -> None:
    entities = {
        e.functional_currency: e for e in LegalEntity.objects.filter(functional_currency__in=TAX_CODES)
    }
    finance = get_user_model().objects.filter(username="finance").first()
    if not entities or finance is None:
        ctx.stdout.write("  skipped: the ledger demo's legal entities or the finance user are missing")
        return
    codes = _tax_codes(finance, entities)
    _client_codes(entities)
    if BillingRun.objects.filter(legal_entity__in=entities.values()).exists():
        ctx.stdout.write(f"  {codes} tax codes; billing history already loaded")
        return
    with transaction.atomic():
        summary = _History(ctx, finance, list(entities.values())).run()
    ctx.stdout.write(f"  {codes} tax codes, {summary}")


def _tax_codes(finance, entities: dict[str, LegalEntity]) -> int:
    for currency, entity in entities.items():
        existing = set(TaxCode.objects.filter(legal_entity=entity).values_list("code", flat=True))
        for code, name, kind, rate, posts in TAX_CODES[currency]:
            if code in existing:
                continue
            create_tax_code(
                actor=finance,
                legal_entity=entity,
                code=code,
                name=name,
                kind=kind,
                rate_percent=D(rate),
                account=account_by_role(entity, AccountRole.TAX_PAYABLE) if posts else None,
            )
    return TaxCode.objects.filter(legal_entity__in=entities.values()).count()


def _client_codes(entities: dict[str, LegalEntity]) -> None:
    """Give each client (and its contracts, which copied the client's code when signed) a tax code of
    its legal entity, where it has none or one that names no tax code there."""
    for currency, entity in entities.items():
        known = set(TaxCode.objects.filter(legal_entity=entity).values_list("code", flat=True))
        for account in Account.objects.filter(legal_entity=entity).exclude(tax_code__in=known).order_by("pk"):
            code = "EU-RC" if account.name in REVERSE_CHARGE_CLIENTS else DEFAULT_CODE[currency]
            update_account(actor=None, account=account, tax_code=code)
            # No service re-terms a signed contract's tax code; this is arranging the demo's data.
            Contract.objects.filter(account=account).exclude(tax_code__in=known).update(tax_code=code)


def completed_months(today: date, count: int) -> list[tuple[date, date]]:
    """The last `count` months that ended before `today`, oldest first, as (first day, last day)."""
    months = []
    end = date(today.year, today.month, 1) - timedelta(days=1)
    for _ in range(count):
        start = end.replace(day=1)
        months.append((start, end))
        end = start - timedelta(days=1)
    return months[::-1]


def next_working_day(day: date) -> date:
    day += timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


class _History:
    def __init__(self, ctx, finance, entities: list[LegalEntity]):
        self.ctx = ctx
        self.rng = ctx.rng
        self.today = ctx.today
        self.finance = finance
        self.entities = sorted(entities, key=lambda e: e.pk)
        self.closed = set(
            FiscalPeriod.objects.filter(
                legal_entity__in=self.entities, status=PeriodStatus.CLOSED
            ).values_list("legal_entity_id", "start", "end")
        )

    def run(self) -> str:
        months = completed_months(self.today, MONTHS)
        released: list[list[Invoice]] = []
        runs = []
        for _, last in months[:-1]:
            month_runs = self._bill(last)
            runs += month_runs
            released.append(self._release(month_runs, next_working_day(last)))
        final_runs = self._bill(months[-1][1])
        runs += final_runs
        credited = self._credit_note([invoice for month in released for invoice in month])
        paid, partly = self._payments(released)
        limited = self._credit_limits(final_runs)
        drafts = Invoice.objects.filter(run__in=runs, status=InvoiceStatus.DRAFT).count()
        return (
            f"{len(runs)} billing runs, {sum(map(len, released))} invoices released ({paid} paid, "
            f"{partly} partly paid, {credited} credited), {drafts} drafts to review, "
            f"{limited} clients with a credit limit"
        )

    def _open(self, entity_id: int, day: date) -> bool:
        """Whether the ledger takes postings of this legal entity on this day."""
        return not any(pk == entity_id and start <= day <= end for pk, start, end in self.closed)

    def _bill(self, period_end: date) -> list[BillingRun]:
        runs = []
        for entity in self.entities:
            run = start_billing_run(actor=self.finance, legal_entity=entity, period_end=period_end)
            runs.append(execute_billing_run(run_id=run.pk))
        return runs

    def _release(self, runs: list[BillingRun], issue_date: date) -> list[Invoice]:
        """Most drafts of the month, in id order so numbers follow the runs; a few stay for review."""
        released = []
        drafts = Invoice.objects.filter(run__in=runs, status=InvoiceStatus.DRAFT).order_by("pk")
        for invoice in drafts:
            if self.rng.random() < KEPT_IN_DRAFT_SHARE or not self._open(invoice.legal_entity_id, issue_date):
                continue
            try:
                released.append(release_invoice(actor=self.finance, invoice=invoice, issue_date=issue_date))
            except DomainError as exc:
                # Say, a missing exchange rate: the draft stays in the workbench with its problem.
                self.ctx.stdout.write(f"  left {invoice} in draft: {exc.detail}")
        return released

    def _credit_note(self, released: list[Invoice]) -> int:
        """A goodwill credit of a tenth of one time line of the oldest month, a week after the invoice."""
        for invoice in released:
            line = (
                invoice.lines.filter(source_type=SourceType.TIME, amount__gte=1000)
                .order_by("position")
                .first()
            )
            day = invoice.issue_date + timedelta(days=7)
            if line is None or day >= self.today or not self._open(invoice.legal_entity_id, day):
                continue
            note = create_credit_note(
                actor=self.finance,
                invoice=invoice,
                reason="Goodwill: two workshop days the client's team could not attend",
                lines=[{"invoice_line": line.pk, "amount": quantize(line.amount / 10, invoice.currency)}],
                rebill=False,
            )
            release_credit_note(actor=self.finance, credit_note=note, issue_date=day)
            return 1
        return 0

    def _payments(self, released: list[list[Invoice]]) -> tuple[int, int]:
        """Clients pay some invoices in full around their due date, a few in part; the rest stay open."""
        paid = partly = 0
        for month, invoices in enumerate(released):
            for invoice in invoices:
                item = ArItem.objects.get(pk=invoice.ar_item_id)
                roll = D(self.rng.randint(0, 99)) / 100
                day = invoice.issue_date + timedelta(
                    days=self.rng.randint(10, invoice.payment_terms_days + 12)
                )
                if roll >= PAID_SHARE[month] + PARTLY_PAID_SHARE or item.open_amount <= 0:
                    continue
                if day >= self.today or not self._open(invoice.legal_entity_id, day):
                    continue
                full = roll < PAID_SHARE[month]
                amount = item.open_amount if full else quantize(item.open_amount / 2, invoice.currency)
                record_payment(
                    actor=self.finance,
                    legal_entity=invoice.legal_entity,
                    client=invoice.account,
                    date=day,
                    amount=amount,
                    currency=invoice.currency,
                    reference=f"DEMO-REMIT-{invoice.number}",
                    allocations=[(item, amount)],
                )
                paid, partly = (paid + 1, partly) if full else (paid, partly + 1)
        return paid, partly

    def _credit_limits(self, runs: list[BillingRun]) -> int:
        """Credit limits on the clients with the most at stake: the largest one set below what it would
        owe with its new draft (so the workbench flags it), the next ones with room to spare."""
        drafts = list(
            Invoice.objects.filter(run__in=runs, status=InvoiceStatus.DRAFT)
            .select_related("account")
            .order_by("pk")
        )
        if not drafts:
            return 0
        # As the flag reckons it: what the client owes now plus its largest new draft.
        exposure: dict[int, Decimal] = {}
        for invoice in drafts:
            if invoice.currency == invoice.account.currency:
                exposure[invoice.account_id] = max(
                    exposure.get(invoice.account_id, D(0)), invoice.total_amount
                )
        currencies = {invoice.account_id: invoice.account.currency for invoice in drafts}
        for client_id, currency, total in (
            ArItem.objects.filter(client_id__in=list(exposure))
            .values("client_id", "currency")
            .annotate(total=Sum("open_amount"))
            .values_list("client_id", "currency", "total")
        ):
            if currency == currencies[client_id]:
                exposure[client_id] += total or D(0)
        ranked = sorted(exposure, key=lambda pk: (-exposure[pk], pk))[:3]
        limits = {}
        for rank, client_id in enumerate(ranked):
            if rank == 0:
                limit = (exposure[client_id] * D("0.8") / 1000).to_integral_value(rounding=ROUND_FLOOR) * 1000
            else:
                limit = (exposure[client_id] * 2 / 10000).to_integral_value(rounding=ROUND_CEILING) * 10000
            if limit > 0:
                limits[client_id] = limit
        for client_id, limit in limits.items():
            # The account service does not edit credit limits; arranging the demo's clients directly.
            Account.objects.filter(pk=client_id, credit_limit__isnull=True).update(credit_limit=limit)
        refresh_flags(list(Invoice.objects.filter(pk__in=[i.pk for i in drafts if i.account_id in limits])))
        return len(limits)
