"""W3: the trial balance over the posted ledger, beside the same answer by a full scan of journal lines."""

from datetime import date

from bench.firm import YEAR, bench_entity
from bench.harness import Timer, p95


def trial_balance_timings(*, repeats: int = 30, scan_repeats: int = 5) -> dict:
    from django.db import connection

    from ledger.reports.financial import trial_balance

    entity = bench_entity()
    as_of = date(YEAR, 12, 31)
    fast = []
    for _ in range(repeats):
        with Timer() as timer:
            report = trial_balance(legal_entity=entity, as_of=as_of)
        fast.append(timer.seconds)
    scans = []
    for _ in range(scan_repeats):
        with Timer() as timer, connection.cursor() as cursor:
            cursor.execute(
                """SELECT account_id, sum(functional_debit), sum(functional_credit)
                     FROM ledger_journalline WHERE legal_entity_id = %s AND date <= %s
                    GROUP BY account_id ORDER BY account_id""",
                [entity.pk, as_of],
            )
            scanned = {account: (debit, credit) for account, debit, credit in cursor.fetchall()}
        scans.append(timer.seconds)
    reported = {row["account_id"]: (row["debit"], row["credit"]) for row in report["rows"]}
    agree = reported == {k: v for k, v in scanned.items() if v != (0, 0)}
    return {
        "p95": p95(fast),
        "scan_p95": p95(scans),
        "agree": agree,
        "balanced": report["totals"]["debit"] == report["totals"]["credit"],
    }


# AR aging by a plain scan: every AR item with what its allocations applied, bucketed by days past due.
AGING_SCAN = """
    SELECT a.client_id, a.currency,
           sum(a.amount - coalesce(d.applied, 0) + coalesce(c.applied, 0))
      FROM ledger_aritem a
      LEFT JOIN (SELECT debit_item_id AS id, sum(amount) AS applied FROM ledger_allocation
                  WHERE date <= %(as_of)s GROUP BY 1) d ON d.id = a.id
      LEFT JOIN (SELECT credit_item_id AS id, sum(amount) AS applied FROM ledger_allocation
                  WHERE date <= %(as_of)s GROUP BY 1) c ON c.id = a.id
     WHERE a.legal_entity_id = %(entity)s AND a.date <= %(as_of)s
     GROUP BY 1, 2 HAVING sum(a.amount - coalesce(d.applied, 0) + coalesce(c.applied, 0)) <> 0
"""
# The KPIs' work figures by a plain scan of the time entries: hours per month and currency.
HOURS_SCAN = """
    SELECT date_trunc('month', date)::date, currency, sum(hours) FROM projects_timeentry
     WHERE status = ANY(%(counted)s) AND date BETWEEN %(start)s AND %(end)s GROUP BY 1, 2
"""


def _timed(call, repeats: int) -> list[float]:
    samples = []
    for _ in range(repeats):
        with Timer() as timer:
            call()
        samples.append(timer.seconds)
    return samples


def _scan(sql: str, params: dict, repeats: int) -> tuple[list[float], list]:
    from django.db import connection

    rows = []

    def run():
        nonlocal rows
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()

    return _timed(run, repeats), rows


def ar_aging_timings(*, as_of: date, repeats: int = 30, scan_repeats: int = 5) -> dict:
    """`ar_aging` (the selector `reports/ar-aging/` calls) p95, beside the full scan; totals per client
    and currency must agree."""
    from ledger.reports.aging import ar_aging

    entity = bench_entity()
    report = ar_aging(legal_entity=entity, as_of=as_of)
    fast = _timed(lambda: ar_aging(legal_entity=entity, as_of=as_of), repeats)
    scans, scanned = _scan(AGING_SCAN, {"entity": entity.pk, "as_of": as_of}, scan_repeats)
    reported = {(row["client_id"], row["currency"]): row["total"] for row in report["rows"] if row["total"]}
    return {
        "p95": p95(fast),
        "scan_p95": p95(scans),
        "agree": reported == {(client, currency): total for client, currency, total in scanned},
        "clients": len(reported),
    }


def kpi_timings(*, repeats: int = 30, scan_repeats: int = 5) -> dict:
    """The executive KPIs over the year: rollups rebuilt first (untimed: the nightly job), then
    `kpi_report` (what `kpis/` answers) by month, and the executive dashboard page rendered through the
    Django test client for an executive, each p95 of `repeats`, beside a full scan of the time entries;
    hours per month and currency must agree."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.test import Client
    from django.urls import reverse

    from analytics.selectors import kpi_report
    from analytics.services import COUNTED, rebuild_rollups
    from core.roles import Role

    start, end = date(YEAR, 1, 1), date(YEAR, 12, 31)
    with Timer() as rollup:
        rebuild_rollups(actor=None)
    report = kpi_report(start=start, end=end, group_by="month")
    fast = _timed(lambda: kpi_report(start=start, end=end, group_by="month"), repeats)
    executive, _ = get_user_model().objects.get_or_create(
        username="bench-executive", defaults={"email": "executive@bench.example"}
    )
    executive.groups.add(Group.objects.get_or_create(name=Role.EXECUTIVE)[0])
    client = Client()
    client.force_login(executive)
    page = reverse("analytics:executive")
    status = client.get(page).status_code
    pages = _timed(lambda: client.get(page), repeats)
    params = {"counted": [str(status) for status in COUNTED], "start": start, "end": end}
    scans, scanned = _scan(HOURS_SCAN, params, scan_repeats)
    reported = {}
    for row in report["rows"]:
        key = (date.fromisoformat(row["key"]) if isinstance(row["key"], str) else row["key"], row["currency"])
        reported[key] = reported.get(key, 0) + (row["hours"] or 0)
    return {
        "p95": p95(fast),
        "page_p95": p95(pages),
        "page_status": status,
        "scan_p95": p95(scans),
        "rollup_rebuild_seconds": rollup.seconds,
        "agree": reported == {(month, currency): hours for month, currency, hours in scanned if hours},
        "months": len(reported),
    }
