"""W6 (dunning): one dunning run over n/10 open overdue invoices through the production services
(`start_dunning_run`, then `execute_dunning_run`), beside a COPY of the rows it wrote.

The invoices are receivables migrated from a legacy system: their AR items are COPYed (one per invoice,
the shape the run reads), each client's behind one opening entry (Dr AR / Cr retained earnings) posted
through `post_entries` at the items' functional total, so the subledger ties to the AR account. The
firm's default policy, made by `create_dunning_policy`, has three levels (a reminder at 15 days, a fee
and interest at 30, a higher fee at 60). `check_dunning` proves the run from the database.
"""

import random
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

from bench.firm import YEAR, bench_entity
from bench.harness import Timer
from bench.workloads.billing import _finance, queued_tasks, run_queued

AS_OF = date(YEAR, 11, 30)
DOCUMENT_TYPE = "bench.legacy_invoice"
SEND_TASK = "ledger.tasks.send_dunning_notices"
# How many queued notice e-mails (each renders a PDF: a worker's job) are sent afterwards to time one.
SENT_SAMPLE = 5
LEVELS = (
    # level, days overdue, fee, annual interest %
    (1, 15, Decimal("0"), None),
    (2, 30, Decimal("25.00"), Decimal("8")),
    (3, 60, Decimal("50.00"), Decimal("8")),
)
SUBJECT = "Reminder {{ level }}: {{ total_due }} overdue"
BODY = (
    "Dear {{ client.name }},\n{% for item in items %}{{ item.number }} due {{ item.due_date }}: "
    "{{ item.open_amount }} ({{ item.days_overdue }} days){% if item.interest != '' %}, interest "
    "{{ item.interest }}{% endif %}\n{% endfor %}Fee {{ fee }}; total due {{ total_due }}.\n"
    "{{ payment_instructions }}"
)
# The tables a dunning run appends to, and how to find one run's rows in each.
WRITTEN = (
    ("ledger_dunningnotice", "run_id = %(run)s"),
    (
        "ledger_dunningnoticeitem",
        "notice_id IN (SELECT id FROM ledger_dunningnotice WHERE run_id = %(run)s)",
    ),
    ("ledger_aritem", "id > %(item)s"),
    ("ledger_journalentry", "id > %(entry)s"),
    ("ledger_journalline", "entry_id > %(entry)s"),
)


def _check_as_of() -> None:
    from django.utils import timezone

    if timezone.localdate() < AS_OF:
        raise SystemExit(f"The dunning workload looks back from {AS_OF}; this machine's date is before it.")


def prepare_overdue(*, invoices: int, seed: int = 1) -> dict:
    """The default policy, and `invoices` open AR items past due by 1 to 370 days on AS_OF, spread over
    the firm's clients in their currencies, behind one opening entry per client (untimed)."""
    from django.db import connection, transaction
    from django.utils import timezone

    from core.money import quantize
    from crm.models import Account
    from ledger.choices import AccountRole
    from ledger.models import ArItem, ExchangeRate
    from ledger.selectors import account_by_role
    from ledger.services.dunning.policies import LevelSpec, create_dunning_policy
    from ledger.services.posting import EntrySpec, LineSpec, post_entries

    _check_as_of()
    entity = bench_entity()
    finance = _finance()
    rng = random.Random(seed)
    with Timer() as timer:
        create_dunning_policy(
            actor=finance,
            legal_entity=entity,
            name="Bench reminders",
            is_default=True,
            payment_instructions="Pay to IBAN XX00 0000 0000 0000.",
            levels=[
                LevelSpec(
                    level=level,
                    days_overdue=days,
                    subject_template=SUBJECT,
                    body_template=BODY,
                    fee_amount=fee,
                    annual_interest_percent=interest,
                )
                for level, days, fee, interest in LEVELS
            ],
        )
        clients = list(
            Account.objects.filter(legal_entity=entity)
            .order_by("pk")
            .values_list("pk", "currency", "owner_id")
        )
        opened = AS_OF - timedelta(days=31)
        rate = dict(
            ExchangeRate.objects.filter(to_currency="USD", date=opened).values_list("from_currency", "rate")
        )
        items = defaultdict(list)
        for index in range(invoices):
            client, currency, _ = clients[index % len(clients)]
            issued = AS_OF - timedelta(days=rng.randint(31, 400))
            amount = Decimal(rng.randint(5_000, 2_000_000)) / 100
            item_rate = Decimal(1) if currency == "USD" else rate[currency]
            items[(client, currency)].append(
                (index, issued, amount, item_rate, quantize(amount * item_rate, "USD"))
            )
        ar, opening = (
            account_by_role(entity, AccountRole.AR),
            account_by_role(entity, AccountRole.RETAINED_EARNINGS),
        )
        specs = [
            EntrySpec(
                legal_entity=entity,
                date=opened,
                memo=f"Open receivables of client #{client} migrated from the legacy system",
                lines=[
                    LineSpec(
                        account=account,
                        currency=currency,
                        debit=total if account is ar else Decimal(0),
                        credit=total if account is opening else Decimal(0),
                        functional_debit=functional if account is ar else Decimal(0),
                        functional_credit=functional if account is opening else Decimal(0),
                        client_id=client if account is ar else None,
                    )
                    for account in (ar, opening)
                ],
                source_type=DOCUMENT_TYPE,
                source_id=f"{client}:{currency}",
                posting_key=f"{DOCUMENT_TYPE}:{client}:{currency}",
            )
            for (client, currency), rows in items.items()
            for total, functional in [(sum(r[2] for r in rows), sum(r[4] for r in rows))]
        ]
        with transaction.atomic():
            entries = post_entries(actor=finance, entries=specs)
            now = timezone.now()
            columns = (
                "legal_entity_id, client_id, kind, document_type, document_id, number, date, due_date, "
                "currency, amount, open_amount, rate, functional_amount, journal_entry_id, created_at"
            )
            connection.ensure_connection()
            with (
                connection.cursor() as cursor,
                cursor.copy(f"COPY {ArItem._meta.db_table} ({columns}) FROM STDIN") as copy,
            ):
                for ((client, currency), rows), entry in zip(items.items(), entries, strict=True):
                    for index, issued, amount, item_rate, functional in rows:
                        copy.write_row(
                            (entity.pk, client, "invoice", DOCUMENT_TYPE, str(index), f"LG-{index:07d}",
                             issued, issued + timedelta(days=30), currency, amount, amount, item_rate,
                             functional, entry.pk, now)
                        )  # fmt: skip
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {ArItem._meta.db_table}")
    return {"seconds": timer.seconds, "invoices": invoices, "clients": len(items), "entries": len(entries)}


def dunning_run(*, as_of: date = AS_OF) -> dict:
    """Start the entity's dunning run and execute it here, timed; the tasks it queues are recorded (as
    W1's) and run afterwards, except the notice e-mails: SENT_SAMPLE of those are sent to time one."""
    from django.db.models import Max

    from ledger.choices import DunningRunStatus
    from ledger.models import ArItem, JournalEntry
    from ledger.services.dunning import execute_dunning_run, start_dunning_run
    from ledger.tasks import run_dunning

    _check_as_of()
    # A worker has the run's modules loaded (the e-mail's PDF renderer takes seconds to import).
    import ledger.services.collections  # noqa: F401

    finance = _finance()
    before = {
        "last_entry_before": JournalEntry.objects.aggregate(last=Max("id"))["last"] or 0,
        "last_item_before": ArItem.objects.aggregate(last=Max("id"))["last"] or 0,
    }
    with queued_tasks() as queued:
        run = start_dunning_run(actor=finance, legal_entity=bench_entity(), as_of=as_of)
    if [(task.name, args) for task, args, _ in queued] != [(run_dunning.name, (run.pk,))]:
        raise RuntimeError(f"start_dunning_run queued {queued}, expected run_dunning({run.pk})")
    with queued_tasks() as queued, Timer() as timer:
        run = execute_dunning_run(run_id=run.pk)
    if run.status != DunningRunStatus.COMPLETED:
        raise RuntimeError(f"Dunning run #{run.pk} ended {run.status}: {run.error}")
    sends = [(task, args, kwargs) for task, args, kwargs in queued if task.name == SEND_TASK]
    notices_to_send = [pk for _, args, _ in sends for pk in args[0]]
    workers = run_queued([entry for entry in queued if entry[0].name != SEND_TASK])
    sample = notices_to_send[:SENT_SAMPLE]
    sent = run_queued([(sends[0][0], (sample,), {})]) if sample else {"seconds": 0.0}
    return {
        "seconds": timer.seconds,
        "run_id": run.pk,
        **before,
        "clients_evaluated": run.clients_evaluated,
        "notices": run.notices_created,
        "items_noticed": run.items_noticed,
        "queued_tasks": workers,
        "notice_emails_queued": len(notices_to_send),
        "seconds_per_notice_email": sent["seconds"] / len(sample) if sample else None,
    }


def copy_baseline(*, run_id: int, last_entry_before: int, last_item_before: int) -> dict:
    """COPY the rows the run wrote (notices, notice items, fee AR items, their entries and lines)."""
    from bench.workloads.revenue import copy_rows_written

    params = {"run": int(run_id), "entry": int(last_entry_before), "item": int(last_item_before)}
    return copy_rows_written(WRITTEN, params)


CHECKS = {
    # Each overdue open invoice noticed exactly once, at the highest level its days past due reach.
    "items_not_noticed_at_their_level": """
        WITH expected AS (
            SELECT a.id,
                   (SELECT max(l.level) FROM ledger_dunninglevel l
                     WHERE l.policy_id = %(policy)s AND l.days_overdue <= %(as_of)s - a.due_date) AS level
              FROM ledger_aritem a WHERE a.document_type = %(document)s),
        noticed AS (
            SELECT i.ar_item_id, i.level FROM ledger_dunningnoticeitem i
              JOIN ledger_dunningnotice n ON n.id = i.notice_id WHERE n.run_id = %(run)s)
        SELECT count(*) FROM expected e FULL JOIN noticed n ON n.ar_item_id = e.id
         WHERE (e.level IS NOT NULL OR n.ar_item_id IS NOT NULL)
           AND (e.id IS NULL OR n.ar_item_id IS NULL OR e.level IS DISTINCT FROM n.level)""",
    # Each item's open amount and interest: open × percent × days ÷ 36,500, rounded half-up once.
    "item_amounts_wrong": """
        SELECT count(*) FROM ledger_dunningnoticeitem i
          JOIN ledger_dunningnotice n ON n.id = i.notice_id JOIN ledger_aritem a ON a.id = i.ar_item_id
         WHERE n.run_id = %(run)s AND (i.open_amount <> a.open_amount
            OR i.days_overdue <> %(as_of)s - a.due_date
            OR i.interest_amount <> coalesce(round(a.open_amount * i.interest_percent * i.interest_days
                                                   / 36500, 2), 0))""",
    # Each notice: its items' open and interest summed, its level's fee in the fee currency only.
    "notice_totals_wrong": """
        SELECT count(*) FROM ledger_dunningnotice n
          JOIN ledger_dunninglevel l ON l.id = n.policy_level_id
          JOIN (SELECT notice_id, sum(open_amount) AS open, sum(interest_amount) AS interest
                  FROM ledger_dunningnoticeitem GROUP BY 1) s ON s.notice_id = n.id
         WHERE n.run_id = %(run)s AND (n.total_open <> s.open OR n.interest_amount <> s.interest
            OR n.fee_amount <> CASE WHEN n.currency = 'USD' THEN l.fee_amount ELSE 0 END
            OR n.total_due <> n.total_open + n.interest_amount + n.fee_amount)""",
    # Charges billed: a fee receivable of fee + interest per notice that has any, none otherwise.
    "charges_not_billed": """
        SELECT count(*) FROM ledger_dunningnotice n LEFT JOIN ledger_aritem a ON a.id = n.fee_item_id
         WHERE n.run_id = %(run)s AND ((n.fee_amount + n.interest_amount > 0)
            <> (a.id IS NOT NULL) OR a.amount <> n.fee_amount + n.interest_amount)""",
}


def check_dunning(*, run_id: int) -> dict:
    """Prove the run from the database; the ledger must stay balanced (the fees are posted)."""
    from django.db import connection

    from bench.workloads.posting import check_ledger
    from ledger.models import DunningPolicy, DunningRun

    run = DunningRun.objects.get(pk=run_id)
    policy = DunningPolicy.objects.get(legal_entity_id=run.legal_entity_id, is_default=True)
    params = {"run": run.pk, "policy": policy.pk, "as_of": run.as_of, "document": DOCUMENT_TYPE}
    found = {}
    with connection.cursor() as cursor:
        for name, sql in CHECKS.items():
            cursor.execute(sql, params)
            found[name] = cursor.fetchone()[0]
        cursor.execute(
            """SELECT count(*) FROM ledger_dunningnoticeitem i
                 JOIN ledger_dunningnotice n ON n.id = i.notice_id WHERE n.run_id = %(run)s""",
            params,
        )
        noticed = cursor.fetchone()[0]
    ledger = check_ledger()
    ok = all(value == 0 for value in found.values()) and noticed == run.items_noticed > 0 and ledger["ok"]
    return {"ok": ok, "problems": found, "items_noticed": noticed, "ledger": ledger}
