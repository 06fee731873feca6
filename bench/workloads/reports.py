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
