"""`python -m bench`: build the benchmark database, run the workloads, print and save the figures.

Needs PostgreSQL (DATABASE_URL); the benchmark creates and drops its own database `ledgerline_bench`.
"""

import argparse
import os
import sys
from functools import partial

from bench.generate import build_firm
from bench.harness import (
    BENCH_DATABASE,
    Measurement,
    clone_database,
    drop_database,
    format_table,
    machine,
    postgres_version,
    recreate_database,
    run_isolated,
    write_results,
)
from bench.workloads import api, billing, dunning, fanout, posting, reports, revenue

DEFAULT_N = 1_000_000
SMOKE_N = 2_000


def _billing(database_url: str, n: int, clone=None) -> list[Measurement]:
    """W1 on a freshly generated firm of n entries: baselines first, then the run, the release, the checks.
    `clone`: a callable copying the firm's database before W1 bills it, for W5 (returns its URL)."""
    firm = run_isolated(build_firm, database_url=database_url, n=n)
    print(f"  firm of {n:,} entries built in {firm['seconds']['total']:.1f} s", flush=True)
    fanout_url = clone() if clone else None
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
    found = []
    if fanout_url:
        found.append(_fanout(fanout_url, database_url, run))
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
        *found,
    ]


def _fanout(fanout_url: str, database_url: str, w1: dict) -> Measurement:
    """W5: the same run on the copy of the firm, fanned out over a Celery worker pool; W1 is the baseline."""
    print("W5 the billing run fanned out over a Celery worker pool …", flush=True)
    expected = run_isolated(fanout.run_digest, database_url=database_url, run_id=w1["run_id"])
    worker = fanout.start_worker(fanout_url)
    try:
        run = run_isolated(
            fanout.fanned_out_run,
            database_url=fanout_url,
            env={"REDIS_URL": fanout.bench_redis_url()},
            worker_log=str(fanout.WORKER_LOG),
        )
    finally:
        fanout.stop_worker(worker)
    got = run_isolated(fanout.run_digest, database_url=fanout_url, run_id=run["run_id"])
    # The digests and the run's counters and totals (each process's RSS aside).
    got.pop("peak_rss_mb")
    expected.pop("peak_rss_mb")
    if got != expected:
        raise SystemExit(f"W5 billed another answer than W1: {got} vs {expected}")
    overhead = (run["seconds"] - w1["seconds"]) / w1["seconds"]
    return Measurement(
        workload="W5 run fanned out (Celery)",
        scale=w1["entries_billed"],
        seconds=run["seconds"],
        baseline="W1 run in one process",
        baseline_seconds=w1["seconds"],
        ratio_kind="overhead (W5-W1)/W1",
        ratio=overhead,
        target="<= 0.10; same answer as W1",
        met=overhead <= 0.10,
        peak_rss_mb=0.0,
        extra={"run": run, "digests": got, "worker_concurrency": fanout.WORKER_CONCURRENCY},
    )


def _posting(database_url: str, n: int, single: int) -> list[Measurement]:
    copy_seconds = run_isolated(posting.copy_baseline, database_url=database_url, entries=n)["seconds"]
    batched = run_isolated(posting.batched_posting, database_url=database_url, entries=n)
    check = run_isolated(posting.check_ledger, database_url=database_url)
    if not check["ok"]:
        raise SystemExit(f"W2 left the ledger inconsistent: {check}")
    ratio = copy_seconds / batched["seconds"]
    single_run = run_isolated(posting.single_posting, database_url=database_url, entries=single)
    floor = run_isolated(posting.commit_floor, database_url=database_url, transactions=single)
    floor_entry = run_isolated(
        posting.commit_floor, database_url=database_url, transactions=single, statements=5
    )
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
            extra={"commit_floor": floor, "commit_floor_5_statements": floor_entry},
        ),
        Measurement(
            workload="W2 commit floor (reference)",
            scale=single,
            seconds=floor_entry["seconds"],
            baseline=f"{single:,} commits of 1 INSERT",
            baseline_seconds=floor["seconds"],
            ratio_kind="commits/s, 5 INSERTs each",
            ratio=floor_entry["per_second"],
            target="(reference)",
            met=None,
            peak_rss_mb=floor_entry["peak_rss_mb"],
            extra={
                "one_insert_per_second": floor["per_second"],
                "synchronous_commit": floor["synchronous_commit"],
            },
        ),
    ]


def _reports(database_url: str, n: int, repeats: int = 30) -> list[Measurement]:
    timings = run_isolated(reports.trial_balance_timings, database_url=database_url, repeats=repeats)
    if not (timings["agree"] and timings["balanced"]):
        raise SystemExit(f"W3 trial balance disagrees with the full scan: {timings}")
    aging = run_isolated(
        reports.ar_aging_timings, database_url=database_url, as_of=revenue.PERIOD_END, repeats=repeats
    )
    if not aging["agree"]:
        raise SystemExit(f"W3 AR aging disagrees with the full scan: {aging}")
    kpis = run_isolated(reports.kpi_timings, database_url=database_url, repeats=repeats)
    if not kpis["agree"] or kpis["page_status"] != 200:
        raise SystemExit(f"W3 KPIs disagree with the full scan (or the dashboard failed): {kpis}")
    found = []
    # (name, p95, what the baseline scans, its p95, peak RSS, most seconds, most of the scan or None, extra)
    for name, seconds, baseline, scan, rss, limit, of_scan, extra in (
        ("trial balance", timings["p95"], "journal lines", timings["scan_p95"], timings["peak_rss_mb"],
         0.050, 0.05, {}),
        ("AR aging", aging["p95"], "AR items and allocations", aging["scan_p95"], aging["peak_rss_mb"],
         0.050, 0.05, {"clients": aging["clients"]}),
        ("kpis/ by month", kpis["p95"], "time entries by month", kpis["scan_p95"], kpis["peak_rss_mb"],
         0.300, None, {"rollup_rebuild_seconds": kpis["rollup_rebuild_seconds"]}),
        ("executive dashboard", kpis["page_p95"], "time entries by month", kpis["scan_p95"],
         kpis["peak_rss_mb"], 0.300, None, {}),
    ):  # fmt: skip
        ratio = seconds / scan
        target = f"<= {of_scan} and <= {limit * 1000:.0f} ms" if of_scan else f"<= {limit * 1000:.0f} ms"
        met = seconds <= limit and (of_scan is None or ratio <= of_scan)
        found.append(
            Measurement(
                workload=f"W3 {name} p95",
                scale=n,
                seconds=seconds,
                baseline=f"full-scan GROUP BY of {baseline} p95",
                baseline_seconds=scan,
                ratio_kind="workload/baseline",
                ratio=ratio,
                target=target,
                met=met,
                peak_rss_mb=rss,
                extra=extra,
            )
        )
    return found


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


def _dunning(database_url: str, n: int) -> list[Measurement]:
    """W6 dunning: n/10 open overdue invoices (COPYed, untimed), one dunning run over all of them, a COPY
    of what it wrote."""
    prepared = run_isolated(dunning.prepare_overdue, database_url=database_url, invoices=max(200, n // 10))
    run = run_isolated(dunning.dunning_run, database_url=database_url)
    check = run_isolated(dunning.check_dunning, database_url=database_url, run_id=run["run_id"])
    if not check["ok"]:
        raise SystemExit(f"W6 dunning run noticed a wrong answer: {check}")
    baseline = run_isolated(
        dunning.copy_baseline,
        database_url=database_url,
        run_id=run["run_id"],
        last_entry_before=run["last_entry_before"],
        last_item_before=run["last_item_before"],
    )
    ratio = baseline["seconds"] / run["seconds"]
    return [
        Measurement(
            workload="W6 dunning run",
            scale=prepared["invoices"],
            seconds=run["seconds"],
            baseline=f"COPY {baseline['total_rows']:,} rows it wrote",
            baseline_seconds=baseline["seconds"],
            ratio_kind="baseline/workload",
            ratio=ratio,
            target=">= 0.25",
            met=ratio >= 0.25,
            peak_rss_mb=run["peak_rss_mb"],
            extra={"run": run, "check": check, "baseline": baseline, "prepared": prepared},
        )
    ]


def _api(database_url: str, n: int, rounds: dict | None = None) -> list[Measurement]:
    """W4: gunicorn on the benchmark's database under 16 and 64 concurrent clients."""
    setup = run_isolated(api.prepare_api, database_url=database_url)
    load = api.api_load(database_url=database_url, setup=setup, rounds=rounds or api.ROUNDS)
    found = []
    for phase in load["phases"]:
        clients, trivial = phase["clients"], phase["trivial"]["p95"]
        for kind, label in (("create", "time-entry bulk create (a week)"), ("detail", "invoice detail"),
                            ("list", "time-entry list page")):  # fmt: skip
            figures = phase[kind]
            ratio = figures["p95"] / trivial
            if kind == "list":
                target = "<= 2 x detail p95; no errors"
                met = figures["p95"] <= 2 * phase["detail"]["p95"]
            elif clients == 16:
                target, met = "<= 3 x trivial and <= 25 ms; no errors", ratio <= 3 and figures["p95"] <= 0.025
            else:
                target, met = "<= 3 x trivial; no errors", ratio <= 3
            found.append(
                Measurement(
                    workload=f"W4 {label} p95, {clients} clients",
                    scale=figures["requests"],
                    seconds=figures["p95"],
                    baseline="users/me/ p95",
                    baseline_seconds=trivial,
                    ratio_kind="workload/baseline",
                    ratio=ratio,
                    target=target,
                    met=met and phase["errors"] == 0,
                    peak_rss_mb=0.0,
                    extra={
                        **figures,
                        "errors": phase["errors"],
                        "error_examples": phase["error_examples"],
                        "requests_per_second": phase["requests_per_second"],
                        "trivial": phase["trivial"],
                        "gunicorn_workers": load["workers"],
                    },  # fmt: skip
                )
            )
    return found


# The workloads whose growth `--scale` reports: time at 2N over time at N.
SCALED = ("W1 billing run", "W1 run + release", "W2 batched posting", "W6 revenue run", "W6 dunning run")


def _growth(measurements: list[Measurement]) -> list[Measurement]:
    """S: for each scaled workload, time(2N) ÷ time(N) between consecutive scales (N/4→N/2, N/2→N)."""
    found = []
    for name in SCALED:
        runs = sorted((m for m in measurements if m.workload == name), key=lambda m: m.scale)
        for smaller, larger in zip(runs, runs[1:], strict=False):
            if larger.scale == smaller.scale:
                # A floor held the scale (the smoke run's 200 overdue invoices): no growth to report.
                continue
            growth = larger.seconds / smaller.seconds
            found.append(
                Measurement(
                    workload=f"S {name}",
                    scale=larger.scale,
                    seconds=larger.seconds,
                    baseline=f"same at {smaller.scale:,}",
                    baseline_seconds=smaller.seconds,
                    ratio_kind="workload/baseline",
                    ratio=growth,
                    target="<= 2.1",
                    met=growth <= 2.1,
                    peak_rss_mb=larger.peak_rss_mb,
                )
            )
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--n",
        type=int,
        default=DEFAULT_N,
        help="approved billable time entries billed by W1, entries posted by W2 (default 1,000,000)",
    )
    parser.add_argument("--smoke", action="store_true", help=f"everything at a tiny scale (n={SMOKE_N:,})")
    parser.add_argument(
        "--scale",
        action="store_true",
        help="also run W1, W2 and W6 at n/4 and n/2 and report S: time(2N) / time(N)",
    )
    parser.add_argument(
        "--only",
        default="W1,W2,W3,W4,W5,W6",
        help="the workloads to run, comma-separated (default all: W1,W2,W3,W4,W5,W6; W4, W5 and W6 need W1)",
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
            copy = f"{args.database}_w5"
            clone = (
                partial(clone_database, source, args.database, copy) if "W5" in only and scale == n else None
            )
            try:
                measurements += _billing(database_url, scale, clone)
            finally:
                if clone:
                    drop_database(source, copy)
        if "W2" in only:
            print(f"W2 posting at n={scale:,} …", flush=True)
            measurements += _posting(database_url, scale, single if scale == n else 100)
        if "W6" in only and "W1" in only:
            print(f"W6 revenue run at n={scale:,} …", flush=True)
            measurements += _revenue(database_url, scale)
            print(f"W6 dunning run over {max(200, scale // 10):,} overdue invoices …", flush=True)
            measurements += _dunning(database_url, scale)
        if "W4" in only and "W1" in only and scale == n:
            print("W4 API under load (gunicorn, 16 and 64 clients) …", flush=True)
            measurements += _api(database_url, scale, api.SMOKE_ROUNDS if args.smoke else None)
        if "W3" in only and scale == n:
            print("W3 trial balance, AR aging, KPIs and the executive dashboard …", flush=True)
            measurements += _reports(database_url, scale, repeats=5 if args.smoke else 30)
    if args.scale:
        measurements += _growth(measurements)
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
