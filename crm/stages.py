"""The pipeline stages every installation starts with; admins add, rename and re-weight them."""

from crm.choices import StageOutcome

DEFAULT_STAGES = [
    # code, name, position, default probability, outcome
    ("qualify", "Qualify", 10, 10, StageOutcome.OPEN),
    ("propose", "Propose", 20, 40, StageOutcome.OPEN),
    ("negotiate", "Negotiate", 30, 70, StageOutcome.OPEN),
    ("won", "Won", 90, 100, StageOutcome.WON),
    ("lost", "Lost", 99, 0, StageOutcome.LOST),
]


def seed_stages(sender=None, using="default", **kwargs) -> None:
    """Create the default stages that are missing (post_migrate; a test flush empties the table)."""
    from crm.models import PipelineStage

    if PipelineStage.objects.using(using).exists():
        return
    PipelineStage.objects.using(using).bulk_create(
        [
            PipelineStage(code=code, name=name, position=position, probability=probability, outcome=outcome)
            for code, name, position, probability, outcome in DEFAULT_STAGES
        ],
        ignore_conflicts=True,
    )
