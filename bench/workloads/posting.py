"""W2: journal entries of three lines through the batched and the single-entry posting services."""

import random
from datetime import date, timedelta
from decimal import Decimal

from bench.firm import YEAR, bench_entity
from bench.harness import Timer

LINE_COLUMNS = (
    "entry_id, legal_entity_id, date, account_id, currency, debit, credit, rate, "
    "functional_debit, functional_credit, memo"
)


def _amounts(rng: random.Random) -> tuple[Decimal, Decimal]:
    fee = Decimal(rng.randint(10_000, 1_000_000)) / 100
    tax = (fee / 10).quantize(Decimal("0.01"))
    return fee, tax


def _day(rng: random.Random) -> date:
    return date(YEAR, 1, 1) + timedelta(days=rng.randrange(365))


def copy_baseline(*, entries: int, chunk: int = 60_000) -> dict:
    """COPY `3 × entries` rows shaped like journal lines into a scratch table with the same indexes."""
    from django.db import connection

    rng = random.Random(7)
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_copy_lines")
        cursor.execute("CREATE TABLE bench_copy_lines (LIKE ledger_journalline INCLUDING ALL)")
    timer = Timer()
    rows_left = entries * 3
    entry_id = 0
    connection.ensure_connection()
    raw = connection.connection
    while rows_left > 0:
        size = min(chunk, rows_left)
        lines = []
        for _ in range(size // 3):
            entry_id += 1
            fee, tax = _amounts(rng)
            day = _day(rng).isoformat()
            total = fee + tax
            lines.append(f"{entry_id}\t1\t{day}\t1\tUSD\t{total}\t0\t1\t{total}\t0\t")
            lines.append(f"{entry_id}\t1\t{day}\t2\tUSD\t0\t{fee}\t1\t0\t{fee}\t")
            lines.append(f"{entry_id}\t1\t{day}\t3\tUSD\t0\t{tax}\t1\t0\t{tax}\t")
        data = ("\n".join(lines) + "\n").encode()
        with timer, raw.cursor() as cursor:
            with cursor.copy(f"COPY bench_copy_lines ({LINE_COLUMNS}) FROM STDIN") as copy:
                copy.write(data)
            raw.commit()
        rows_left -= size
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE bench_copy_lines")
    return {"seconds": timer.seconds}


def batched_posting(
    *, entries: int, batch: int = 5_000, foreign_share: float = 0.1, key_offset: int = 0
) -> dict:
    """Post `entries` invoices-shaped entries (Dr AR / Cr revenue / Cr tax) in batches of `batch`."""
    from ledger.models import GLAccount
    from ledger.services.posting import EntrySpec, LineSpec, post_entries

    entity = bench_entity()
    accounts = {a.role: a for a in GLAccount.objects.filter(legal_entity=entity, role__isnull=False)}
    rng = random.Random(11)
    timer = Timer()
    posted = 0
    while posted < entries:
        specs = []
        for n in range(posted, min(entries, posted + batch)):
            fee, tax = _amounts(rng)
            currency = "EUR" if rng.random() < foreign_share else "USD"
            specs.append(
                EntrySpec(
                    legal_entity=entity,
                    date=_day(rng),
                    memo=f"Invoice BN-{n}",
                    lines=[
                        LineSpec(account=accounts["ar"], currency=currency, debit=fee + tax, client_id=None),
                        LineSpec(account=accounts["revenue_tm"], currency=currency, credit=fee),
                        LineSpec(account=accounts["tax_payable"], currency=currency, credit=tax),
                    ],
                    source_type="bench.invoice",
                    source_id=str(n),
                    posting_key=f"bench:batched:{n + key_offset}",
                )
            )
        with timer:
            post_entries(actor=None, entries=specs)
        posted += len(specs)
    return {"seconds": timer.seconds, "entries": entries}


def single_posting(*, entries: int, run: str = "1") -> dict:
    """Post `entries` entries one call (and one transaction) each."""
    from ledger.models import GLAccount
    from ledger.services.posting import LineSpec, post_entry

    entity = bench_entity()
    accounts = {a.role: a for a in GLAccount.objects.filter(legal_entity=entity, role__isnull=False)}
    rng = random.Random(13)
    timer = Timer()
    for n in range(entries):
        fee, tax = _amounts(rng)
        lines = [
            LineSpec(account=accounts["ar"], currency="USD", debit=fee + tax),
            LineSpec(account=accounts["revenue_tm"], currency="USD", credit=fee),
            LineSpec(account=accounts["tax_payable"], currency="USD", credit=tax),
        ]
        with timer:
            post_entry(
                actor=None,
                legal_entity=entity,
                date=_day(rng),
                memo=f"Single {n}",
                lines=lines,
                source_type="bench.single",
                source_id=str(n),
                posting_key=f"bench:single:{run}:{n}",
            )
    return {"seconds": timer.seconds, "entries": entries, "per_second": entries / timer.seconds}


def check_ledger() -> dict:
    """The ledger after posting: balanced, balances = lines, gapless numbers. A fast wrong answer fails."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT sum(functional_debit) - sum(functional_credit), count(*) FROM ledger_journalline"
        )
        difference, lines = cursor.fetchone()
        cursor.execute(
            """SELECT count(*) FROM (
                 SELECT account_id, sum(functional_debit) d, sum(functional_credit) c
                   FROM ledger_journalline GROUP BY account_id) l
               FULL JOIN (
                 SELECT account_id, sum(functional_debit) d, sum(functional_credit) c
                   FROM ledger_accountbalance GROUP BY account_id) b USING (account_id)
              WHERE l.d IS DISTINCT FROM b.d OR l.c IS DISTINCT FROM b.c"""
        )
        mismatched_accounts = cursor.fetchone()[0]
        cursor.execute(
            """SELECT count(*) FROM (
                 SELECT legal_entity_id, fiscal_year, max(number) m, count(*) n
                   FROM ledger_journalentry GROUP BY 1, 2) s WHERE m <> n"""
        )
        numbering_gaps = cursor.fetchone()[0]
    ok = difference == 0 and mismatched_accounts == 0 and numbering_gaps == 0
    return {
        "ok": ok,
        "trial_balance_difference": str(difference),
        "lines": lines,
        "accounts_where_balances_differ_from_lines": mismatched_accounts,
        "entity_years_with_numbering_gaps": numbering_gaps,
    }


def commit_floor(*, transactions: int, statements: int = 1) -> dict:
    """What one transaction costs on this machine at least: `transactions` commits of `statements` small
    INSERTs each into a scratch table (round trips and the commit's WAL flush; `synchronous_commit` as
    the server has it). The floor under single-entry posting, which needs several statements per entry."""
    from django.db import connection

    connection.ensure_connection()
    raw = connection.connection
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_commit_floor")
        cursor.execute("CREATE TABLE bench_commit_floor (id bigserial PRIMARY KEY, memo text NOT NULL)")
        cursor.execute("SHOW synchronous_commit")
        synchronous_commit = cursor.fetchone()[0]
    timer = Timer()
    with raw.cursor() as cursor:
        for n in range(transactions):
            with timer:
                for _ in range(statements):
                    cursor.execute("INSERT INTO bench_commit_floor (memo) VALUES (%s)", [f"floor {n}"])
                raw.commit()
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE bench_commit_floor")
    return {
        "seconds": timer.seconds,
        "per_second": transactions / timer.seconds,
        "statements": statements,
        "synchronous_commit": synchronous_commit,
    }
