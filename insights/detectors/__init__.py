"""The detectors, one module per insight kind. Each module defines `detect(as_of: date) -> Iterable[Finding]`:
read-only, set-based (a few aggregate queries, never a query per row), and deterministic for a given
database and date, so a run can be repeated and a test can construct the case that fires it."""

from importlib import import_module

from insights.models import InsightKind

DETECTOR_MODULES = {
    InsightKind.TIMESHEET_ANOMALY: "insights.detectors.timesheets",
    InsightKind.INVOICE_ANOMALY: "insights.detectors.invoices",
    InsightKind.MARGIN_RISK: "insights.detectors.margin",
    InsightKind.COLLECTIONS_RISK: "insights.detectors.collections",
    InsightKind.OPPORTUNITY_SCORE: "insights.detectors.opportunities",
    InsightKind.STAFFING: "insights.detectors.staffing",
}


def detector(kind: str):
    """The `detect` function of `kind`'s module."""
    return import_module(DETECTOR_MODULES[kind]).detect
