"""`python -m bench`: build the benchmark database, run the workloads, print and save the figures.

Needs PostgreSQL (DATABASE_URL); the benchmark creates and drops its own database `ledgerline_bench`.
"""

import argparse
import os
import sys

from bench.generate import build_firm
from bench.harness import (
    BENCH_DATABASE,
    Measurement,
    format_table,
    machine,
    postgres_version,
    recreate_database,
    run_isolated,
    write_results,
)
from bench.workloads import billing, posting, reports, revenue

DEFAULT_N = 1_000_000
SMOKE_N = 2_000


def _billing(database_url: str, n: int) -> list[Measurement]:
    """W1 on a freshly generated firm of n entries: baselines first, then the run, the release, the checks."""
    firm = run_isolated(build_firm, database_url=database_url, n=n)
    print(f"  firm of {n:,} entries built in {firm['seconds']['total']:.1f} s", flush=True)
    baseline = run_isolated(billing.copy_baselines, database_url=database_url)
    run = run_isolated(billing.billing_run, database_url=database_url)
    release = run_isolated(billing.release_all, database_url=database_url, run_id=run["run_id"])
    if release["refused"]:
        raise SystemExit(f"W1 release refused {release['refused']} invoices: {release['refused_examples']}")
    check = run_isolated(billing.check_billing, database_url=database_url, run_id=run["run_id"])
    if not check["ok"]:
        raise SystemExit(f"W1 billed a wrong answer: {check}")
    copy = baseline["links_seconds"]
    ratio = copy / run["seconds"]
    both = run["seconds"] + release["seconds"]
    rss = max(run["peak_rss_mb"], release["peak_rss_mb"])
    # The run consumed every eligible entry (the check proves it): linked, or held over a cap.
    consumed = check["eligible_entries"]
    extra = {
        "run": run,
        "release": release,
        "check": check,
        "firm": firm,
        "baseline": baseline,
        "entries_per_second": run["entries_billed"] / run["seconds"],
    }
    return [
        Measurement(
            workload="W1 billing run",
            scale=n,
            seconds=run["seconds"],
            baseline=f"COPY {baseline['link_rows']:,} link rows",
            baseline_seconds=copy,
            ratio_kind="baseline/workload",
            ratio=ratio,
            target=">= 0.5; RSS <= 512 MB; >= 1,000,000 entries",
            met=ratio >= 0.5 and run["peak_rss_mb"] <= 512 and consumed >= 1_000_000,
            peak_rss_mb=run["peak_rss_mb"],
            extra=extra,
        ),
        Measurement(
            workload="W1 run + release",
            scale=n,
            seconds=both,
            baseline=f"COPY {baseline['link_rows']:,} link rows",
            baseline_seconds=copy,
            ratio_kind="baseline/workload",
            ratio=copy / both,
            target=">= 0.5; RSS <= 512 MB",
            met=copy / both >= 0.5 and rss <= 512,
            peak_rss_mb=rss,
            extra={
                "release_seconds": release["seconds"],
                "invoices": release["released"],
                "release_calls": release["calls"],
            },
        ),
        Measurement(
            workload="W1 run (reference)",
            scale=n,
            seconds=run["seconds"],
            baseline=f"COPY {baseline['entry_rows']:,} time entries",
            baseline_seconds=baseline["entries_seconds"],
            ratio_kind="baseline/workload",
            ratio=baseline["entries_seconds"] / run["seconds"],
            target="(reference)",
            met=None,
            peak_rss_mb=run["peak_rss_mb"],
        ),
    ]


def _posting(database_url: str, n: int, single: int) -> list[Measurement]:
    copy_seconds = run_isolated(posting.copy_baseline, database_url=database_url, entries=n)["seconds"]
    batched = run_isolated(posting.batched_posting, database_url=database_url, entries=n)
    check = run_isolated(posting.check_ledger, database_url=database_url)
    if not check["ok"]:
        raise SystemExit(f"W2 left the ledger inconsistent: {check}")
    ratio = copy_seconds / batched["seconds"]
    single_run = run_isolated(posting.single_posting, database_url=database_url, entries=single)
    return [
        Measurement(
            workload="W2 batched posting",
            scale=n,
            seconds=batched["seconds"],
            baseline=f"COPY {3 * n:,} lines",
            baseline_seconds=copy_seconds,
            ratio_kind="baseline/workload",
            ratio=ratio,
            target=">= 0.30",
            met=ratio >= 0.30,
            peak_rss_mb=batched["peak_rss_mb"],
            extra={"check": check, "entries_per_second": n / batched["seconds"]},
        ),
        Measurement(
            workload="W2 single-entry posting",
            scale=single,
            seconds=single_run["seconds"],
            baseline="(absolute)",
            baseline_seconds=0.0,
            ratio_kind="entries/s",
            ratio=single_run["per_second"],
            target=">= 400/s",
            met=single_run["per_second"] >= 400,
            peak_rss_mb=single_run["peak_rss_mb"],
        ),
    ]


def _reports(database_url: str, n: int) -> list[Measurement]:
    timings = run_isolated(reports.trial_balance_timings, database_url=database_url)
    if not (timings["agree"] and timings["balanced"]):
        raise SystemExit(f"W3 trial balance disagrees with the full scan: {timings}")
    ratio = timings["p95"] / timings["scan_p95"]
    return [
        Measurement(
            workload="W3 trial balance p95",
            scale=n,
            seconds=timings["p95"],
            baseline="full-scan GROUP BY p95",
            baseline_seconds=timings["scan_p95"],
            ratio_kind="workload/baseline",
            ratio=ratio,
            target="<= 0.05 and <= 50 ms",
            met=ratio <= 0.05 and timings["p95"] <= 0.050,
            peak_rss_mb=timings["peak_rss_mb"],
        )
    ]


def _revenue(database_url: str, n: int) -> list[Measurement]:
    """W6 revenue: obligations made (untimed), one revenue run over all of them, a COPY of what it wrote."""
    prepared = run_isolated(revenue.prepare_obligations, database_url=database_url)
    run = run_isolated(revenue.revenue_run, database_url=database_url)
    check = run_isolated(revenue.check_revenue, database_url=database_url, run_id=run["run_id"])
    if not check["ok"]:
        raise SystemExit(f"W6 revenue run disagrees with the ledger: {check}")
    baseline = run_isolated(
        revenue.copy_baseline,
        database_url=database_url,
        run_id=run["run_id"],
        last_entry_before=run["last_entry_before"],
    )
    ratio = baseline["seconds"] / run["seconds"]
    return [
        Measurement(
            workload="W6 revenue run",
            scale=n,
            seconds=run["seconds"],
            baseline=f"COPY {baseline['total_rows']:,} rows it wrote",
            baseline_seconds=baseline["seconds"],
            ratio_kind="baseline/workload",
            ratio=ratio,
            target=">= 0.25",
            met=ratio >= 0.25,
            peak_rss_mb=run["peak_rss_mb"],
            extra={"run": run, "check": check, "baseline": baseline, "obligations": prepared},
        )
    ]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--n",
        type=int,
        default=DEFAULT_N,
        help="approved billable time entries billed by W1, entries posted by W2 (default 1,000,000)",
    )
    parser.add_argument("--smoke", action="store_true", help=f"everything at a tiny scale (n={SMOKE_N:,})")
    parser.add_argument("--scale", action="store_true", help="also run W1 and W2 at n/4 and n/2 (growth)")
    parser.add_argument(
        "--only",
        default="W1,W2,W3,W6",
        help="the workloads to run, comma-separated (default W1,W2,W3,W6; W6 needs W1's invoices)",
    )
    parser.add_argument(
        "--database", default=BENCH_DATABASE, help=f"the database to (re)create (default {BENCH_DATABASE})"
    )
    args = parser.parse_args(argv)
    only = {name.strip().upper() for name in args.only.split(",")}
    source = os.environ.get("DATABASE_URL", "")
    if not source:
        print(
            "The benchmark needs PostgreSQL: set DATABASE_URL=postgres://user@host:5432/db", file=sys.stderr
        )
        return 2
    n = SMOKE_N if args.smoke else args.n
    single = max(100, min(10_000, n // 100))
    scales = [n // 4, n // 2, n] if args.scale else [n]
    measurements: list[Measurement] = []
    for scale in scales:
        database_url = recreate_database(source, args.database)
        if "W1" in only:
            print(f"W1 billing run at n={scale:,} …", flush=True)
            measurements += _billing(database_url, scale)
        if "W2" in only:
            print(f"W2 posting at n={scale:,} …", flush=True)
            measurements += _posting(database_url, scale, single if scale == n else 100)
        if "W3" in only and scale == n:
            print("W3 trial balance …", flush=True)
            measurements += _reports(database_url, scale)
        if "W6" in only and "W1" in only:
            print(f"W6 revenue run at n={scale:,} …", flush=True)
            measurements += _revenue(database_url, scale)
    meta = {
        "n": n,
        "smoke": args.smoke,
        "workloads": sorted(only),
        "machine": machine(),
        "postgresql": postgres_version(database_url),
    }
    path = write_results(measurements, meta, smoke=args.smoke)
    print(format_table(measurements))
    print(f"\nSaved {path.relative_to(path.parents[2])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
