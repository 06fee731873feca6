"""What the dunning modules share: the fee receivables' document type and a run's policies."""

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from ledger.models import DunningLevel, DunningPolicy, LegalEntity

ZERO = Decimal(0)
# The AR items of fee receivables name their notice: ("ledger.dunningnotice", "<notice id>").
DUNNING_DOCUMENT = "ledger.dunningnotice"


@dataclass
class _Policies:
    """The entity's active policies and levels, loaded once per run."""

    by_id: dict[int, DunningPolicy]
    levels: dict[int, dict[int, DunningLevel]]
    default_id: int | None

    @classmethod
    def load(cls, legal_entity: LegalEntity) -> "_Policies":
        policies = {
            policy.pk: policy
            for policy in DunningPolicy.objects.filter(legal_entity=legal_entity, active=True).select_related(
                "legal_entity"
            )
        }
        levels: dict[int, dict[int, DunningLevel]] = defaultdict(dict)
        for level in DunningLevel.objects.filter(policy_id__in=policies):
            levels[level.policy_id][level.level] = level
        default_id = next((pk for pk, policy in policies.items() if policy.is_default), None)
        return cls(by_id=policies, levels=dict(levels), default_id=default_id)
