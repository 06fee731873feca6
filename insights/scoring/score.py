"""A probability with the factors behind it, from a fitted model or a points rule, and its rounding."""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

LOGISTIC = "logistic"
RULE = "rule"
TOP_FACTORS = 3


def whole_percent(value: Decimal) -> int:
    """`value` (a percentage) rounded half-up to a whole percent."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class Factor:
    """One input of a score: what it is, its value in words, and how far it moved the result.

    `effect` is in log-odds for a logistic model (coefficient × standardized value) and in percentage
    points for a rule; positive raises the probability.
    """

    name: str
    value: str
    effect: Decimal


@dataclass(frozen=True)
class Score:
    probability: int  # whole percent
    method: str  # LOGISTIC or RULE
    factors: tuple[Factor, ...]  # largest effect first
    # Past outcomes the model was fit on (0 for a rule).
    history: int = 0

    @property
    def unit(self) -> str:
        return "log-odds" if self.method == LOGISTIC else "points"

    @property
    def method_label(self) -> str:
        if self.method == LOGISTIC:
            return f"logistic model fit on {self.history} past outcomes"
        return "scoring rule (too little history for a model)"

    def top(self, count: int = TOP_FACTORS) -> tuple[Factor, ...]:
        return self.factors[:count]

    def factor_rows(self, count: int = TOP_FACTORS) -> list[dict]:
        """The top factors as `Finding.factors` rows, the effect signed with its unit."""
        places = Decimal("0.01") if self.method == LOGISTIC else Decimal(1)
        return [
            {
                "factor": factor.name,
                "value": factor.value,
                "effect": f"{factor.effect.quantize(places, rounding=ROUND_HALF_UP):+f} {self.unit}",
            }
            for factor in self.top(count)
        ]


def ranked(factors) -> tuple[Factor, ...]:
    """Factors by the size of their effect, largest first; ties keep their given order."""
    return tuple(sorted(factors, key=lambda factor: -abs(factor.effect)))


def rule_score(base: Decimal, factors: list[Factor], *, floor: int = 1, ceiling: int = 99) -> Score:
    """A points rule: `base` percent plus each factor's points, kept within [floor, ceiling] (a rule is
    never certain). Factors that add nothing are not listed."""
    total = base + sum((factor.effect for factor in factors), Decimal(0))
    probability = min(max(whole_percent(total), floor), ceiling)
    return Score(probability=probability, method=RULE, factors=ranked(f for f in factors if f.effect))
