"""Collections risk: for each client with open AR, the probability that it pays late, learned from the
firm's own payment history.

An invoice is settled on the date of the last allocation (payment, credit note or write-off, dated up to
`as_of`) that left nothing open; it was paid late if that date is after its due date, or if any of it
was written off. Each settled invoice is one past outcome, described by what was known of its client the
day before the invoice date:

- late share: the share of the client's invoices settled by then that were paid late;
- average days late: their mean days past due when settled (on time counts 0);
- days overdue: how far past due the client's oldest unpaid invoice was;
- size vs typical: the invoice's amount ÷ the client's average earlier invoice (1 without one);
- relationship: years since the client's first invoice.

A client with open AR is described the same way on `as_of`, its largest open invoice standing for the
size (÷ its average invoice). With enough past outcomes (`insights.scoring.logistic.enough_history`) a
logistic model fit on them gives the probability; otherwise `rule_probability` does. Clients at or above
`FLAG_AT` are flagged, critical from `CRITICAL_AT`. Amounts are compared in the legal entity's functional
currency (a client belongs to one entity), so a client invoiced in two currencies is still one history.
"""

import heapq
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Max, Q, Sum
from django.urls import reverse

from core.money import format_money, quantize
from core.roles import Role
from crm.models import Account
from insights.findings import Finding
from insights.models import InsightKind, InsightSeverity
from insights.scoring.logistic import LogisticModel, enough_history
from insights.scoring.score import Factor, Score, rule_score
from ledger.choices import ArItemKind
from ledger.models import Allocation, ArItem

ZERO = Decimal(0)
ONE = Decimal(1)
DAYS_PER_YEAR = Decimal(365)
FLAG_AT = 50
CRITICAL_AT = 75

FEATURES = ("late_share", "average_days_late", "days_overdue", "size_vs_typical", "relationship_years")

# The rule: a base rate plus points for each sign of late payment.
RULE_BASE = Decimal(10)
LATE_SHARE_POINTS = Decimal(40)  # × the share paid late
DAYS_LATE_PER_POINT = Decimal(3)
DAYS_LATE_MAX_POINTS = Decimal(15)
OVERDUE_POINTS = ((60, Decimal(30)), (30, Decimal(20)), (0, Decimal(10)))  # (more than N days, points)
LARGE_INVOICE_RATIO = Decimal(2)
LARGE_INVOICE_POINTS = Decimal(5)
NEW_CLIENT_YEARS = ONE
NEW_CLIENT_POINTS = Decimal(5)


@dataclass
class Invoice:
    pk: int
    client_id: int
    date: date
    due_date: date
    currency: str
    amount: Decimal  # transaction currency
    size: Decimal  # functional currency
    open: Decimal
    settled_on: date | None = None
    late: bool = False
    days_late: int = 0


@dataclass
class Profile:
    """What was known of a client on a day: its settled invoices and its oldest unpaid one."""

    settled: int
    late: int
    days_late_total: int
    days_overdue: int
    size_vs_typical: Decimal
    relationship_years: Decimal

    @property
    def late_share(self) -> Decimal:
        return Decimal(self.late) / self.settled if self.settled else ZERO

    @property
    def average_days_late(self) -> Decimal:
        return Decimal(self.days_late_total) / self.settled if self.settled else ZERO

    def row(self) -> list[float]:
        return [
            float(self.late_share),
            float(self.average_days_late),
            float(self.days_overdue),
            float(self.size_vs_typical),
            float(self.relationship_years),
        ]

    def described(self) -> list[tuple[str, str]]:
        """(factor, value in words) for each feature, in FEATURES order."""
        if self.settled:
            share = f"{self.late} of {self.settled} settled invoices paid late ({_percent(self.late_share)}%)"
        else:
            share = "no settled invoices yet"
        return [
            ("Late share", share),
            ("Average days late", f"{_one_place(self.average_days_late)} days past due on average"),
            (
                "Days overdue",
                f"oldest unpaid invoice {self.days_overdue} days past due"
                if self.days_overdue
                else "nothing past due",
            ),
            ("Size vs typical", f"{_one_place(self.size_vs_typical)}× its average invoice"),
            ("Relationship", f"invoiced for {_one_place(self.relationship_years)} years"),
        ]


@dataclass
class ClientHistory:
    """A client's invoices walked in date order, revealing outcomes as they become known."""

    first_date: date | None = None
    amounts_total: Decimal = ZERO
    count: int = 0
    settled: int = 0
    late: int = 0
    days_late_total: int = 0
    # (settled_on, pk, invoice) not yet known; (due_date, pk, invoice) possibly unpaid.
    pending: list = field(default_factory=list)
    unpaid: list = field(default_factory=list)

    def profile(self, known_by: date, on: date, size: Decimal, typical: Decimal | None) -> Profile:
        while self.pending and self.pending[0][0] <= known_by:
            invoice = heapq.heappop(self.pending)[2]
            self.settled += 1
            self.late += invoice.late
            self.days_late_total += invoice.days_late
        while self.unpaid and _settled_by(self.unpaid[0][2], known_by):
            heapq.heappop(self.unpaid)
        overdue = max((on - self.unpaid[0][0]).days, 0) if self.unpaid else 0
        years = (Decimal((on - self.first_date).days) / DAYS_PER_YEAR) if self.first_date else ZERO
        return Profile(
            settled=self.settled,
            late=self.late,
            days_late_total=self.days_late_total,
            days_overdue=overdue,
            size_vs_typical=(size / typical) if typical else ONE,
            relationship_years=years,
        )

    def add(self, invoice: Invoice) -> None:
        if self.first_date is None:
            self.first_date = invoice.date
        self.amounts_total += invoice.size
        self.count += 1
        if invoice.settled_on is not None:
            heapq.heappush(self.pending, (invoice.settled_on, invoice.pk, invoice))
        heapq.heappush(self.unpaid, (invoice.due_date, invoice.pk, invoice))

    @property
    def typical(self) -> Decimal | None:
        return self.amounts_total / self.count if self.count else None


def _settled_by(invoice: Invoice, day: date) -> bool:
    return invoice.settled_on is not None and invoice.settled_on <= day


def _percent(share: Decimal) -> int:
    return int((share * 100).quantize(ONE, rounding=ROUND_HALF_UP))


def _one_place(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def invoices_as_of(as_of: date) -> dict[int, list[Invoice]]:
    """The invoices dated up to `as_of` by client, in date order, each with what was applied by then."""
    applied = {
        row["debit_item_id"]: row
        for row in Allocation.objects.filter(
            date__lte=as_of, debit_item__kind=ArItemKind.INVOICE, debit_item__date__lte=as_of
        )
        .values("debit_item_id")
        .annotate(
            total=Sum("amount"),
            last=Max("date", filter=Q(amount__gt=0)),
            written_off=Sum("amount", filter=Q(credit_item__kind=ArItemKind.WRITE_OFF)),
        )
    }
    by_client: dict[int, list[Invoice]] = defaultdict(list)
    for pk, client_id, on, due, currency, amount, size in (
        ArItem.objects.filter(kind=ArItemKind.INVOICE, date__lte=as_of, amount__gt=0)
        .order_by("client_id", "date", "pk")
        .values_list("pk", "client_id", "date", "due_date", "currency", "amount", "functional_amount")
    ):
        allocation = applied.get(pk)
        open_amount = amount - (allocation["total"] if allocation else ZERO)
        invoice = Invoice(pk, client_id, on, due, currency, amount, size, open_amount)
        if open_amount <= 0 and allocation:
            invoice.settled_on = allocation["last"]
            invoice.days_late = max((invoice.settled_on - due).days, 0)
            invoice.late = invoice.days_late > 0 or bool(allocation["written_off"])
        by_client[client_id].append(invoice)
    return by_client


def unapplied_credits(as_of: date) -> dict[int, dict[str, Decimal]]:
    """{client id: {currency: payments and credit notes dated up to `as_of` not yet applied then}}."""
    unapplied: dict[int, dict[str, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    for client_id, currency, total in (
        ArItem.objects.filter(date__lte=as_of, amount__lt=0)
        .values("client_id", "currency")
        .annotate(total=Sum("amount"))
        .values_list("client_id", "currency", "total")
    ):
        unapplied[client_id][currency] -= total
    for client_id, currency, total in (
        Allocation.objects.filter(date__lte=as_of, credit_item__date__lte=as_of, credit_item__amount__lt=0)
        .values("credit_item__client_id", "credit_item__currency")
        .annotate(total=Sum("amount"))
        .values_list("credit_item__client_id", "credit_item__currency", "total")
    ):
        unapplied[client_id][currency] -= total
    return unapplied


@dataclass
class ClientRisk:
    client_id: int
    profile: Profile
    open_invoices: list[Invoice]
    # Credits the client has with the firm, not yet applied to an invoice, by currency.
    unapplied: dict[str, Decimal] = field(default_factory=dict)
    score: Score | None = None

    def open_by_currency(self) -> dict[str, Decimal]:
        totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
        for invoice in self.open_invoices:
            totals[invoice.currency] += invoice.open
        return dict(sorted(totals.items()))

    @property
    def covered(self) -> bool:
        """Unapplied cash or credit notes cover every open invoice: nothing is really owed."""
        return all(
            amount <= self.unapplied.get(currency, ZERO)
            for currency, amount in self.open_by_currency().items()
        )


def history_and_clients(as_of: date) -> tuple[list[list[float]], list[bool], list[ClientRisk]]:
    """The past outcomes (feature rows and whether paid late) and the clients with open AR on `as_of`."""
    rows: list[list[float]] = []
    outcomes: list[bool] = []
    clients: list[ClientRisk] = []
    credits = unapplied_credits(as_of)
    for client_id, invoices in sorted(invoices_as_of(as_of).items()):
        history = ClientHistory()
        for invoice in invoices:
            if invoice.settled_on is not None:
                profile = history.profile(
                    invoice.date - timedelta(days=1), invoice.date, invoice.size, history.typical
                )
                rows.append(profile.row())
                outcomes.append(invoice.late)
            history.add(invoice)
        open_invoices = [invoice for invoice in invoices if invoice.open > 0]
        if open_invoices:
            largest = max(open_invoices, key=lambda invoice: (invoice.size, invoice.pk))
            profile = history.profile(as_of, as_of, largest.size, history.typical)
            unapplied = {currency: amount for currency, amount in credits[client_id].items() if amount > 0}
            client = ClientRisk(client_id, profile, open_invoices, unapplied)
            if not client.covered:
                clients.append(client)
    return rows, outcomes, clients


def rule_probability(profile: Profile) -> Score:
    """The transparent rule: 10 % base; + 40 points × the share paid late; + 1 point per 3 average days
    late (at most 15); + 10 / 20 / 30 points when the oldest unpaid invoice is 1–30 / 31–60 / over 60 days
    past due; + 5 when the open invoice is at least twice the client's average; + 5 for a client invoiced
    for less than a year. Kept within 1–99 %."""
    described = dict(profile.described())
    overdue_points = next((points for days, points in OVERDUE_POINTS if profile.days_overdue > days), ZERO)
    factors = [
        Factor("Late share", described["Late share"], (LATE_SHARE_POINTS * profile.late_share)),
        Factor(
            "Average days late",
            described["Average days late"],
            min(profile.average_days_late / DAYS_LATE_PER_POINT, DAYS_LATE_MAX_POINTS),
        ),
        Factor("Days overdue", described["Days overdue"], overdue_points),
        Factor(
            "Size vs typical",
            described["Size vs typical"],
            LARGE_INVOICE_POINTS if profile.size_vs_typical >= LARGE_INVOICE_RATIO else ZERO,
        ),
        Factor(
            "Relationship",
            described["Relationship"],
            NEW_CLIENT_POINTS if profile.relationship_years < NEW_CLIENT_YEARS else ZERO,
        ),
    ]
    return rule_score(RULE_BASE, factors)


def score_clients(as_of: date) -> list[ClientRisk]:
    """Every client with open AR on `as_of`, scored by the model when there is enough history."""
    rows, outcomes, clients = history_and_clients(as_of)
    return _scored(rows, outcomes, clients)


def _scored(rows: list[list[float]], outcomes: list[bool], clients: list[ClientRisk]) -> list[ClientRisk]:
    model = LogisticModel.fit(FEATURES, rows, outcomes) if enough_history(outcomes) else None
    for client in clients:
        if model is None:
            client.score = rule_probability(client.profile)
        else:
            client.score = model.score(client.profile.row(), client.profile.described())
    return clients


def _open_text(client: ClientRisk) -> tuple[str, dict[str, str]]:
    totals = client.open_by_currency()
    text = " + ".join(format_money(amount, currency) for currency, amount in totals.items())
    if client.unapplied:
        credit = " + ".join(format_money(a, c) for c, a in sorted(client.unapplied.items()))
        text += f", less {credit} of payments or credit notes not yet applied"
    return text, {currency: str(quantize(amount, currency)) for currency, amount in totals.items()}


def detect(as_of: date) -> Iterable[Finding]:
    rows, outcomes, clients = history_and_clients(as_of)
    clients = [client for client in _scored(rows, outcomes, clients) if client.score.probability >= FLAG_AT]
    # The firm-wide rate the client's figures stand against.
    baseline = (
        f"firm-wide, {sum(outcomes)} of {len(outcomes)} settled invoices were paid late"
        if outcomes
        else "no invoice of the firm's is settled yet"
    )
    accounts = {
        pk: (name, owner_id)
        for pk, name, owner_id in Account.objects.filter(pk__in=[c.client_id for c in clients]).values_list(
            "pk", "name", "owner_id"
        )
    }
    for client in clients:
        name, owner_id = accounts[client.client_id]
        score, profile = client.score, client.profile
        open_text, open_figures = _open_text(client)
        words = dict(profile.described())
        record = words["Late share"]
        if profile.settled:
            record += f", {words['Average days late']}"
        explanation = (
            f"{name} is {score.probability}% likely to pay late, by the {score.method_label}; {baseline}. "
            f"{record[0].upper()}{record[1:]}; {words['Days overdue']}. Open: {open_text}. "
            "Top factors: " + "; ".join(f"{f.name.lower()}: {f.value}" for f in score.top()) + "."
        )
        yield Finding(
            kind=InsightKind.COLLECTIONS_RISK,
            rule="late_payment",
            fingerprint=f"collections_risk:late_payment:account:{client.client_id}",
            subject_type="crm.account",
            subject_id=client.client_id,
            subject_label=name,
            title=f"{name:.150}: {score.probability}% likely to pay late",
            explanation=explanation,
            severity=InsightSeverity.CRITICAL
            if score.probability >= CRITICAL_AT
            else InsightSeverity.WARNING,
            figures={
                "probability": score.probability,
                "threshold": FLAG_AT,
                "method": score.method,
                "history": score.history,
                "firm_settled_invoices": len(outcomes),
                "firm_late_invoices": sum(outcomes),
                "settled_invoices": profile.settled,
                "late_invoices": profile.late,
                "average_days_late": str(_one_place(profile.average_days_late)),
                "oldest_overdue_days": profile.days_overdue,
                "open": open_figures,
            },
            factors=score.factor_rows(),
            audience=(Role.FINANCE, Role.EXECUTIVE),
            owner_id=owner_id,
            url=reverse("crm:account-detail", args=[client.client_id]),
        )
