"""What a detector reports: one `Finding` per thing worth a look, stored as an `Insight` by the run."""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Finding:
    kind: str  # an InsightKind
    rule: str
    # Unique per finding across runs: kind, rule, subject and the period or date it concerns, e.g.
    # "timesheet_anomaly:day_above_norm:person:12:2026-11-03". Re-detection updates, never duplicates.
    fingerprint: str
    subject_type: str  # "projects.person", "crm.account", …
    subject_id: int
    subject_label: str
    title: str
    explanation: str  # why, in words, with the numbers
    severity: str = "warning"  # an InsightSeverity
    figures: dict = field(default_factory=dict)
    factors: list = field(default_factory=list)  # [{"factor": str, "value": str, "effect": str}]
    audience: tuple = ()  # Role values whose inbox shows it
    owner_id: int | None = None  # a user id
    url: str = ""
