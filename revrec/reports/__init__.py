"""Revenue recognition's reports: plain data (rows and totals) for the API, pages and CSV, each built by a
fixed handful of aggregate queries however many contracts, obligations and lines it covers."""

from revrec.reports.contracts import contract_revenue_summary
from revrec.reports.deferred import deferred_revenue_rollforward
from revrec.reports.rpo import rpo_disclosure
from revrec.reports.unbilled import unbilled_revenue
from revrec.reports.waterfall import revenue_waterfall

__all__ = [
    "contract_revenue_summary",
    "deferred_revenue_rollforward",
    "revenue_waterfall",
    "rpo_disclosure",
    "unbilled_revenue",
]
