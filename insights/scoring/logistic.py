"""A logistic regression on standardized features, fit with scikit-learn, that explains each prediction.

Fitting is deterministic: the callers pass rows in a fixed order, the solver (lbfgs) is deterministic and
`random_state` is fixed. The fitted model is kept as plain numbers (means, scales, coefficients), so a
page can score one row from a cached model without refitting.
"""

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal

from insights.scoring.score import LOGISTIC, Factor, Score, ranked, whole_percent

# A model needs this many past outcomes, and this many of each kind, to be worth more than the rule.
MIN_HISTORY = 30
MIN_PER_OUTCOME = 5
# Beyond this the probability is 0 or 100 to the percent anyway; keeps exp() in range.
MAX_LOG_ODDS = 50.0
FLOOR, CEILING = 1, 99


def enough_history(outcomes: Sequence[bool]) -> bool:
    positives = sum(1 for outcome in outcomes if outcome)
    negatives = len(outcomes) - positives
    return len(outcomes) >= MIN_HISTORY and min(positives, negatives) >= MIN_PER_OUTCOME


@dataclass(frozen=True)
class LogisticModel:
    features: tuple[str, ...]
    means: tuple[float, ...]
    scales: tuple[float, ...]
    coefficients: tuple[float, ...]
    intercept: float
    history: int

    @classmethod
    def fit(
        cls,
        features: Sequence[str],
        rows: Sequence[Sequence[float]],
        outcomes: Sequence[bool],
        *,
        history: int | None = None,
    ):
        """Fit on `rows` and their `outcomes`; `history` counts the past cases they come from when one
        case gives several rows (default: one row each)."""
        # scikit-learn loads slowly; only a run that has enough history pays for it.
        import numpy as np
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler

        x = np.asarray(rows, dtype=float)
        y = np.asarray([int(bool(outcome)) for outcome in outcomes])
        scaler = StandardScaler().fit(x)
        regression = LogisticRegression(C=1.0, max_iter=1000, random_state=0).fit(scaler.transform(x), y)
        return cls(
            features=tuple(features),
            means=tuple(float(v) for v in scaler.mean_),
            # A feature that never varies has scale 1 (scikit-learn's choice), so it contributes 0.
            scales=tuple(float(v) for v in scaler.scale_),
            coefficients=tuple(float(v) for v in regression.coef_[0]),
            intercept=float(regression.intercept_[0]),
            history=len(outcomes) if history is None else history,
        )

    def contributions(self, row: Sequence[float]) -> list[Decimal]:
        """Each feature's coefficient × its standardized value, in log-odds (4 places)."""
        return [
            Decimal(repr(round(coefficient * (value - mean) / scale, 4)))
            for value, mean, scale, coefficient in zip(
                row, self.means, self.scales, self.coefficients, strict=True
            )
        ]

    def probability_percent(self, row: Sequence[float]) -> Decimal:
        log_odds = self.intercept + sum(
            coefficient * (value - mean) / scale
            for value, mean, scale, coefficient in zip(
                row, self.means, self.scales, self.coefficients, strict=True
            )
        )
        log_odds = min(max(log_odds, -MAX_LOG_ODDS), MAX_LOG_ODDS)
        return Decimal(repr(round(100 / (1 + math.exp(-log_odds)), 6)))

    def score(self, row: Sequence[float], described: Sequence[tuple[str, str]]) -> Score:
        """The probability of `row` with every feature as a factor; `described` gives each feature's
        (name, value in words), in the model's feature order."""
        factors = [
            Factor(name=name, value=value, effect=effect)
            for (name, value), effect in zip(described, self.contributions(row), strict=True)
        ]
        # Like the rule, never certain: perfectly separated history would otherwise say 0 % or 100 %.
        probability = min(max(whole_percent(self.probability_percent(row)), FLOOR), CEILING)
        return Score(
            probability=probability,
            method=LOGISTIC,
            factors=ranked(factors),
            history=self.history,
        )

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "LogisticModel":
        return cls(**{key: tuple(value) if isinstance(value, list) else value for key, value in data.items()})
