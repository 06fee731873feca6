"""Opportunity score: each open deal's win probability, learned from the firm's own closed deals, set
beside the probability the pipeline gives it.

A closed deal (won or lost by `as_of`) teaches one outcome per open stage it passed through
(`crm.StageChange`): what the deal looked like while in that stage, and whether it was won in the end.
A deal is described by:

- stage: the stage's default probability (admins' own weighting of the pipeline);
- days in stage: how long it had sat there (for an open deal: since it entered its current stage);
- size vs typical: its amount ÷ the median amount of closed deals in its currency (1 without one);
- client history: (wins + 1) ÷ (closed + 2) of the client's deals closed before, 0.5 for a new client;
- service line: the same smoothed win share for deals whose main line (the largest) sells that service.

With enough closed deals (`insights.scoring.logistic.enough_history`) a logistic model fit on those
snapshots gives the probability; otherwise `rule_probability` adjusts the stage's default. A deal whose
score is `GAP_POINTS` or more away from the pipeline's probability for it is raised: a warning below (the
forecast counts on it too much, critical from `CRITICAL_GAP` below), information above.

`opportunity_score` scores one deal for its page, with the history summary and model cached for the day.
"""

import bisect
import hashlib
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from django.core.cache import cache
from django.db.models import Count, Max
from django.urls import reverse
from django.utils import timezone

from core.money import format_money, quantize
from core.roles import Role
from crm.choices import StageOutcome
from crm.models import Opportunity, OpportunityLine, PipelineStage, StageChange
from insights.findings import Finding
from insights.models import InsightKind, InsightSeverity
from insights.scoring.logistic import LogisticModel, enough_history
from insights.scoring.score import Factor, Score, rule_score

ZERO = Decimal(0)
ONE = Decimal(1)
GAP_POINTS = 20
CRITICAL_GAP = 40

FEATURES = ("stage_probability", "days_in_stage", "size_vs_typical", "client_history", "service_line")

# The rule: the stage's default probability, adjusted for these signs.
STALE_DAYS = 60
STALE_POINTS = Decimal(-15)
CLIENT_WON_POINTS = Decimal(10)
CLIENT_ONLY_LOST_POINTS = Decimal(-10)
LARGE_DEAL_RATIO = Decimal(2)
LARGE_DEAL_POINTS = Decimal(-10)
SERVICE_MIN_CLOSED = 3
SERVICE_POINTS = Decimal(5)  # + when it wins two in three or more, − when one in three or fewer


def _day(moment: datetime) -> date:
    return timezone.localdate(moment) if timezone.is_aware(moment) else moment.date()


def _smoothed(wins: int, closed: int) -> Decimal:
    return Decimal(wins + 1) / Decimal(closed + 2)


@dataclass(frozen=True)
class Deal:
    """One deal in one stage: an open deal now, or a closed deal's past visit to an open stage."""

    pk: int
    account_id: int
    stage: str
    amount: Decimal
    currency: str
    entered: date
    service: str


@dataclass
class PipelineHistory:
    """What the closed deals (by `as_of`) say: stages, typical sizes, clients' and services' records."""

    as_of: date
    stages: dict[str, dict]  # code → {"name", "probability", "outcome"}
    typical: dict[str, Decimal] = field(default_factory=dict)
    # Each client's closes in date order, [(day, won)], and each service's (wins, closed).
    client_closes: dict[int, list[tuple[date, bool]]] = field(default_factory=dict)
    services: dict[str, tuple[int, int]] = field(default_factory=dict)
    closed: int = 0
    won: int = 0
    model: LogisticModel | None = None

    def client_record(self, account_id: int, before: date) -> tuple[int, int]:
        """(wins, losses) of the client's deals closed before `before`."""
        closes = self.client_closes.get(account_id, [])
        earlier = closes[: bisect.bisect_left(closes, (before, False))]
        wins = sum(1 for _, won in earlier if won)
        return wins, len(earlier) - wins

    def service_record(self, service: str, exclude_won: bool | None = None) -> tuple[int, int]:
        """(wins, closed) of the service's deals, leaving one deal's own outcome out when it is one."""
        wins, closed = self.services.get(service, (0, 0))
        if exclude_won is not None:
            wins, closed = wins - int(exclude_won), closed - 1
        return wins, closed

    def features(
        self, deal: Deal, on: date, *, account_name: str, own_outcome: bool | None = None
    ) -> tuple[list[float], list[tuple[str, str]], dict]:
        """The deal as seen on `on`: the model's row (FEATURES order), each feature in words, and the raw
        facts the rule reads. `own_outcome` leaves a closed deal's own result out of its service's record."""
        stage = self.stages.get(deal.stage, {"name": deal.stage, "probability": 0})
        days = max((on - deal.entered).days, 0)
        typical = self.typical.get(deal.currency)
        ratio = deal.amount / typical if typical and deal.amount > 0 else ONE
        wins, losses = self.client_record(deal.account_id, on)
        service_wins, service_closed = (
            self.service_record(deal.service, own_outcome) if deal.service else (0, 0)
        )
        row = [
            float(stage["probability"]),
            float(days),
            float(ratio),
            float(_smoothed(wins, wins + losses)),
            float(_smoothed(service_wins, service_closed)),
        ]
        size_words = (
            f"{ratio.quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)}× the typical "
            f"{format_money(typical, deal.currency)}"
            if typical
            else "no closed deals in its currency yet"
        )
        described = [
            ("Stage", f"{stage['name']} (default {stage['probability']}%)"),
            ("Days in stage", f"{days} days in {stage['name']}"),
            ("Size vs typical", size_words),
            (
                "Client history",
                f"won {wins}, lost {losses} before with {account_name}"
                if wins + losses
                else f"no earlier deals with {account_name}",
            ),
            (
                "Service line",
                f"{deal.service}: won {service_wins} of {service_closed} closed"
                if deal.service
                else "no lines yet",
            ),
        ]
        facts = {
            "stage_probability": stage["probability"],
            "days": days,
            "ratio": ratio,
            "typical": typical,
            "client": (wins, losses),
            "service": (service_wins, service_closed),
        }
        return row, described, facts

    def score(self, deal: Deal, on: date, *, account_name: str) -> Score:
        row, described, facts = self.features(deal, on, account_name=account_name)
        if self.model is not None:
            return self.model.score(row, described)
        return rule_probability(described, facts)

    def as_dict(self) -> dict:
        return {
            "as_of": self.as_of.isoformat(),
            "stages": self.stages,
            "typical": {currency: str(value) for currency, value in self.typical.items()},
            "client_closes": {
                account: [(day.isoformat(), won) for day, won in closes]
                for account, closes in self.client_closes.items()
            },
            "services": self.services,
            "closed": self.closed,
            "won": self.won,
            "model": self.model.as_dict() if self.model else None,
        }

    @classmethod
    def from_dict(cls, data: dict) -> "PipelineHistory":
        return cls(
            as_of=date.fromisoformat(data["as_of"]),
            stages=data["stages"],
            typical={currency: Decimal(value) for currency, value in data["typical"].items()},
            client_closes={
                int(account): [(date.fromisoformat(day), won) for day, won in closes]
                for account, closes in data["client_closes"].items()
            },
            services={service: tuple(record) for service, record in data["services"].items()},
            closed=data["closed"],
            won=data["won"],
            model=LogisticModel.from_dict(data["model"]) if data["model"] else None,
        )


def rule_probability(described: list[tuple[str, str]], facts: dict) -> Score:
    """The transparent rule: the stage's default probability; − 15 points after more than 60 days in the
    stage; + 10 if the client has been won before, − 10 if it has only been lost; − 10 for a deal at
    least twice the typical size; ± 5 for a service line (3 or more closed) that wins two in three or
    more / one in three or fewer. Kept within 1–99 %."""
    words = dict(described)
    wins, losses = facts["client"]
    service_wins, service_closed = facts["service"]
    service_points = ZERO
    if service_closed >= SERVICE_MIN_CLOSED:
        if 3 * service_wins >= 2 * service_closed:
            service_points = SERVICE_POINTS
        elif 3 * service_wins <= service_closed:
            service_points = -SERVICE_POINTS
    client_points = CLIENT_WON_POINTS if wins else (CLIENT_ONLY_LOST_POINTS if losses else ZERO)
    factors = [
        Factor("Days in stage", words["Days in stage"], STALE_POINTS if facts["days"] > STALE_DAYS else ZERO),
        Factor("Client history", words["Client history"], client_points),
        Factor(
            "Size vs typical",
            words["Size vs typical"],
            LARGE_DEAL_POINTS if facts["typical"] and facts["ratio"] >= LARGE_DEAL_RATIO else ZERO,
        ),
        Factor("Service line", words["Service line"], service_points),
    ]
    return rule_score(Decimal(facts["stage_probability"]), factors)


def _stages() -> dict[str, dict]:
    stages = {
        code: {"name": name, "probability": probability, "outcome": outcome}
        for code, name, probability, outcome in PipelineStage.objects.values_list(
            "code", "name", "probability", "outcome"
        )
    }
    for code, outcome in (
        (Opportunity.Stage.WON, StageOutcome.WON),
        (Opportunity.Stage.LOST, StageOutcome.LOST),
    ):
        stages.setdefault(code, {"name": code.label, "probability": 0, "outcome": outcome})
    return stages


def _closed_codes(stages: dict[str, dict]) -> dict[str, bool]:
    """{stage code: won?} for the won and lost stages."""
    return {
        code: s["outcome"] == StageOutcome.WON
        for code, s in stages.items()
        if s["outcome"] != StageOutcome.OPEN
    }


def _main_services(opportunity_ids) -> dict[int, str]:
    """Each opportunity's main service: the service of its largest line (the first on a tie)."""
    services = {}
    for opportunity_id, service in (
        OpportunityLine.objects.filter(opportunity_id__in=opportunity_ids)
        .order_by("opportunity_id", "-amount", "pk")
        .values_list("opportunity_id", "service")
    ):
        services.setdefault(opportunity_id, service)
    return services


def load_history(as_of: date) -> PipelineHistory:
    """The closed deals' summary and, when there are enough of them, the model fit on their stage visits."""
    stages = _stages()
    closed_codes = _closed_codes(stages)
    closed = []
    for row in (
        Opportunity.objects.filter(stage__in=closed_codes)
        .order_by("pk")
        .values(
            "pk", "account_id", "stage", "amount", "currency", "created_at", "stage_changed_at", "closed_at"
        )
    ):
        # Deals imported without a close time count as closed when their stage last changed.
        row["closed_on"] = _day(row["closed_at"] or row["stage_changed_at"] or row["created_at"])
        if row["closed_on"] <= as_of:
            closed.append(row)
    history = PipelineHistory(as_of=as_of, stages=stages, closed=len(closed))
    amounts = defaultdict(list)
    client_closes = defaultdict(list)
    services = _main_services([row["pk"] for row in closed])
    service_counts = defaultdict(lambda: [0, 0])
    for row in closed:
        won = closed_codes[row["stage"]]
        row["won"] = won
        amounts[row["currency"]].append(row["amount"])
        client_closes[row["account_id"]].append((row["closed_on"], won))
        if services.get(row["pk"]):
            service_counts[services[row["pk"]]][0] += int(won)
            service_counts[services[row["pk"]]][1] += 1
    history.typical = {currency: statistics.median(values) for currency, values in sorted(amounts.items())}
    history.client_closes = {account: sorted(closes) for account, closes in client_closes.items()}
    history.services = {service: tuple(counts) for service, counts in service_counts.items()}
    outcomes = [row["won"] for row in closed]
    history.won = sum(outcomes)
    if not enough_history(outcomes):
        return history
    visits = defaultdict(list)
    for opportunity_id, to_stage, changed_at in (
        StageChange.objects.filter(opportunity_id__in=[row["pk"] for row in closed])
        .order_by("opportunity_id", "changed_at", "pk")
        .values_list("opportunity_id", "to_stage", "changed_at")
    ):
        visits[opportunity_id].append((to_stage, _day(changed_at)))
    rows, snapshot_outcomes = [], []
    for row in closed:
        path = visits.get(row["pk"], [])
        for (stage, entered), (_, left) in zip(path, [*path[1:], (None, row["closed_on"])], strict=True):
            if stage in closed_codes:
                continue
            deal = Deal(
                row["pk"],
                row["account_id"],
                stage,
                row["amount"],
                row["currency"],
                entered,
                services.get(row["pk"], ""),
            )
            features, _, _ = history.features(deal, left, account_name="", own_outcome=row["won"])
            rows.append(features)
            snapshot_outcomes.append(row["won"])
    if enough_history(snapshot_outcomes):
        history.model = LogisticModel.fit(FEATURES, rows, snapshot_outcomes, history=len(closed))
    return history


def _entered(opportunities: list[dict]) -> dict[int, date]:
    """When each open deal entered its current stage: its last stage change into it, else its record."""
    current = {row["pk"]: row["stage"] for row in opportunities}
    entered = {}
    for opportunity_id, to_stage, changed_at in (
        StageChange.objects.filter(opportunity_id__in=current)
        .order_by("opportunity_id", "changed_at", "pk")
        .values_list("opportunity_id", "to_stage", "changed_at")
    ):
        if to_stage == current[opportunity_id]:
            entered[opportunity_id] = _day(changed_at)
    for row in opportunities:
        if row["pk"] not in entered:
            entered[row["pk"]] = _day(row["stage_changed_at"] or row["created_at"])
    return entered


def _open_deals(queryset, history: PipelineHistory) -> list[tuple[Deal, dict]]:
    open_codes = [code for code, s in history.stages.items() if s["outcome"] == StageOutcome.OPEN]
    rows = list(
        queryset.filter(stage__in=open_codes)
        .order_by("pk")
        .values(
            "pk", "name", "account_id", "account__name", "stage", "probability", "amount", "currency",
            "owner_id", "created_at", "stage_changed_at",
        )
    )  # fmt: skip
    entered = _entered(rows)
    services = _main_services([row["pk"] for row in rows])
    return [
        (
            Deal(
                row["pk"],
                row["account_id"],
                row["stage"],
                row["amount"],
                row["currency"],
                entered[row["pk"]],
                services.get(row["pk"], ""),
            ),
            row,
        )
        for row in rows
    ]


def _history_key(as_of: date) -> str:
    """A cache key that changes when a deal closes or the stages are re-weighted."""
    closed = Opportunity.objects.filter(closed_at__isnull=False).aggregate(
        count=Count("pk"), last=Max("closed_at"), last_pk=Max("pk")
    )
    stages = ",".join(
        f"{code}={probability}/{outcome}"
        for code, probability, outcome in PipelineStage.objects.order_by("code").values_list(
            "code", "probability", "outcome"
        )
    )
    signature = f"{closed['count']}|{closed['last']}|{closed['last_pk']}|{stages}"
    # Hashed: a key safe for any cache backend, whatever the stage codes hold.
    return f"insights:pipeline-history:{as_of.isoformat()}:{hashlib.sha256(signature.encode()).hexdigest()}"


@dataclass(frozen=True)
class OpportunityScore:
    score: Score
    stage_name: str
    stage_probability: int

    @property
    def gap(self) -> int:
        return self.score.probability - self.stage_probability


def opportunity_score(opportunity: Opportunity, *, as_of: date | None = None) -> OpportunityScore | None:
    """The win score of one open deal for its page (None once it is won or lost). The closed-deal summary
    and model are cached for the day, so a page view reads only this deal's rows."""
    as_of = as_of or timezone.localdate()
    key = _history_key(as_of)
    cached = cache.get(key)
    if cached is None:
        history = load_history(as_of)
        cache.set(key, history.as_dict(), timeout=60 * 60 * 24)
    else:
        history = PipelineHistory.from_dict(cached)
    deals = _open_deals(Opportunity.objects.filter(pk=opportunity.pk), history)
    if not deals:
        return None
    deal, row = deals[0]
    stage = history.stages.get(deal.stage, {"name": deal.stage, "probability": row["probability"]})
    return OpportunityScore(
        score=history.score(deal, as_of, account_name=row["account__name"]),
        stage_name=stage["name"],
        stage_probability=stage["probability"],
    )


def detect(as_of: date) -> Iterable[Finding]:
    history = load_history(as_of)
    for deal, row in _open_deals(Opportunity.objects.all(), history):
        score = history.score(deal, as_of, account_name=row["account__name"])
        gap = score.probability - row["probability"]
        if abs(gap) < GAP_POINTS:
            continue
        stage = history.stages[deal.stage]
        if gap <= -CRITICAL_GAP:
            severity = InsightSeverity.CRITICAL
        elif gap < 0:
            severity = InsightSeverity.WARNING
        else:
            severity = InsightSeverity.INFO
        direction = "below" if gap < 0 else "above"
        explanation = (
            f"{row['name']} ({row['account__name']}, {stage['name']}) scores {score.probability}% to win "
            f"by the {score.method_label}, {abs(gap)} points {direction} the {row['probability']}% the "
            f"pipeline gives it (the stage's default is {stage['probability']}%); the firm won "
            f"{history.won} of the {history.closed} deals it closed. Top factors: "
            + "; ".join(f"{f.name.lower()}: {f.value}" for f in score.top())
            + "."
        )
        yield Finding(
            kind=InsightKind.OPPORTUNITY_SCORE,
            rule="win_probability",
            fingerprint=f"opportunity_score:win_probability:opportunity:{deal.pk}",
            subject_type="crm.opportunity",
            subject_id=deal.pk,
            subject_label=row["name"],
            title=f"{row['name']:.140}: {score.probability}% to win vs {row['probability']}% in the pipeline",
            explanation=explanation,
            severity=severity,
            figures={
                "score": score.probability,
                "pipeline_probability": row["probability"],
                "stage": deal.stage,
                "stage_probability": stage["probability"],
                "gap": gap,
                "method": score.method,
                "history": score.history,
                "firm_closed_deals": history.closed,
                "firm_won_deals": history.won,
                "days_in_stage": max((as_of - deal.entered).days, 0),
                "amount": str(quantize(deal.amount, deal.currency)),
                "currency": deal.currency,
            },
            factors=score.factor_rows(),
            audience=(Role.EXECUTIVE, Role.PROJECT_MANAGER),
            owner_id=row["owner_id"],
            url=reverse("crm:opportunity-detail", args=[deal.pk]),
        )
