"""The one entry point that writes the general ledger: `post_entries` (and `post_entry` for one).

Every posting is validated here (lines, accounts, open period, balance per currency, functional
amounts at the dated rate), numbered gaplessly, and added to the per-day account balances in the
same transaction. PostgreSQL re-checks balance, immutability and the open period on its own.
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Context, Decimal
from typing import NamedTuple

from django.db import IntegrityError, connection, transaction
from django.db.utils import DatabaseError
from django.utils import timezone

from core.money import minor_unit_exponent, quantize
from ledger.choices import AccountRole, PeriodStatus
from ledger.errors import InactiveAccount, InvalidPosting, PeriodClosed, PeriodMissing, UnbalancedEntry
from ledger.models import (
    AccountBalance,
    EntrySequence,
    FiscalPeriod,
    GLAccount,
    JournalEntry,
    JournalLine,
    LegalEntity,
)
from ledger.selectors import exchange_rates

ZERO = Decimal(0)
ONE = Decimal(1)
# Products of an amount and a 12-place rate are kept exact; rounding happens once, in `quantize`.
EXACT = Context(prec=60)


@dataclass(frozen=True)
class LineSpec:
    """One line to post. Give `debit` or `credit` in the transaction currency.

    `functional_debit`/`functional_credit` override the conversion at the dated rate; a line with a
    zero transaction amount and only a functional amount carries an FX difference.
    """

    account: GLAccount
    currency: str
    debit: Decimal = ZERO
    credit: Decimal = ZERO
    functional_debit: Decimal | None = None
    functional_credit: Decimal | None = None
    client_id: int | None = None
    project_id: int | None = None
    person_id: int | None = None
    memo: str = ""


@dataclass(frozen=True)
class EntrySpec:
    legal_entity: LegalEntity
    date: date
    memo: str
    lines: Sequence[LineSpec]
    source_type: str
    source_id: str
    posting_key: str
    reversal_of_id: int | None = None


class _Row(NamedTuple):
    """A journal line ready to insert (the entry id is added at insert time)."""

    legal_entity_id: int
    date: date
    account_id: int
    currency: str
    debit: Decimal
    credit: Decimal
    rate: Decimal
    functional_debit: Decimal
    functional_credit: Decimal
    client_id: int | None
    project_id: int | None
    person_id: int | None
    memo: str


LINE_COLUMNS = ("entry_id", *_Row._fields)
ENTRY_COLUMNS = (
    "id", "legal_entity_id", "fiscal_year", "number", "date", "period_id", "memo", "source_type", "source_id",
    "posting_key", "reversal_of_id", "created_by_id", "posted_at",
)  # fmt: skip


@dataclass
class _Prepared:
    spec: EntrySpec
    period: FiscalPeriod
    lines: list[_Row] = field(default_factory=list)


def post_entry(
    *, actor, legal_entity, date, memo, lines, source_type, source_id, posting_key
) -> JournalEntry:
    """Post one balanced entry, or return the entry already posted under `posting_key`."""
    spec = EntrySpec(
        legal_entity=legal_entity,
        date=date,
        memo=memo,
        lines=list(lines),
        source_type=source_type,
        source_id=str(source_id),
        posting_key=posting_key,
    )
    return post_entries(actor=actor, entries=[spec])[0]


@transaction.atomic
def post_entries(*, actor, entries: Sequence[EntrySpec]) -> list[JournalEntry]:
    """Post many entries set-wise: one sequence lock per entity-year, bulk inserts, one balance upsert.

    Returns the entries in the order given; a key posted before returns its existing entry.
    """
    keys = [spec.posting_key for spec in entries]
    if len(set(keys)) != len(keys):
        raise InvalidPosting("Two entries in one posting share a posting key.")
    try:
        with transaction.atomic():
            return _post(actor, entries)
    except IntegrityError as exc:
        if "posting_key" not in str(exc):
            raise
    # A concurrent twin committed one of these keys first: its entries stand, post the rest.
    return _post(actor, entries)


def _post(actor, entries: Sequence[EntrySpec]) -> list[JournalEntry]:
    posted = _posted_ids(entries)
    existing = {e.posting_key: e for e in JournalEntry.objects.filter(pk__in=posted)} if posted else {}
    new_specs = [spec for spec in entries if spec.posting_key not in existing]
    if new_specs:
        prepared = _prepare(new_specs)
        created = _insert(actor, prepared)
        existing.update({entry.posting_key: entry for entry in created})
    return [existing[spec.posting_key] for spec in entries]


def _posted_ids(entries: Sequence[EntrySpec]) -> list[int]:
    """Ids of the entries already posted under these keys: one array parameter, not thousands."""
    keys = [spec.posting_key for spec in entries]
    if connection.vendor != "postgresql":
        return list(JournalEntry.objects.filter(posting_key__in=keys).values_list("pk", flat=True))
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM ledger_journalentry WHERE posting_key = ANY(%s)", [keys])
        return [row[0] for row in cursor.fetchall()]


def _prepare(specs: Sequence[EntrySpec]) -> list[_Prepared]:
    accounts = _accounts_of(specs)
    periods = _periods_for(specs)
    _check_clients(specs)
    for spec in specs:
        _check_entry(spec, accounts)
    rates = exchange_rates(
        {
            (line.currency, spec.legal_entity.functional_currency, spec.date)
            for spec in specs
            for line in spec.lines
            if line.currency != spec.legal_entity.functional_currency
            and line.functional_debit is None
            and line.functional_credit is None
        }
    )
    rounding_accounts: dict[int, GLAccount] = {}
    prepared = []
    for spec in specs:
        functional = spec.legal_entity.functional_currency
        item = _Prepared(spec=spec, period=periods[(spec.legal_entity.pk, spec.date)])
        converted = 0
        for index, line in enumerate(spec.lines):
            if line.functional_debit is None and line.functional_credit is None:
                if line.currency == functional:
                    rate, fn_debit, fn_credit = ONE, line.debit, line.credit
                else:
                    rate = rates[(line.currency, functional, spec.date)]
                    fn_debit = quantize(EXACT.multiply(line.debit, rate), functional) if line.debit else ZERO
                    fn_credit = (
                        quantize(EXACT.multiply(line.credit, rate), functional) if line.credit else ZERO
                    )
                    converted += 1
            else:
                fn_debit, fn_credit = line.functional_debit or ZERO, line.functional_credit or ZERO
                amount = line.debit or line.credit
                rate = ((fn_debit or fn_credit) / amount).quantize(RATE_PLACES) if amount else ZERO
                _check_amount(index, "functional amount", fn_debit + fn_credit, functional)
            item.lines.append(_line(spec, line, rate, fn_debit, fn_credit))
        _balance_functional(item, converted, functional, rounding_accounts)
        prepared.append(item)
    return prepared


def _check_entry(spec: EntrySpec, accounts: dict[int, GLAccount]) -> None:
    """The entry's own rules: a memo, two or more valid lines, debits = credits in every currency."""
    if len(spec.lines) < 2:
        raise UnbalancedEntry(
            "A journal entry needs at least two lines.", fields={"lines": ["At least two lines."]}
        )
    if not spec.memo.strip():
        raise InvalidPosting("Give the entry a memo.", fields={"memo": ["This field is required."]})
    totals: dict[str, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    for index, line in enumerate(spec.lines):
        _check_line(index, line, accounts, spec.legal_entity)
        totals[line.currency][0] += line.debit
        totals[line.currency][1] += line.credit
    for currency, (debit, credit) in totals.items():
        if debit != credit:
            raise UnbalancedEntry(
                f"Debits ({debit}) and credits ({credit}) in {currency} differ by {debit - credit}.",
                fields={"lines": [f"{currency} does not balance."]},
            )


def _check_line(index: int, line: LineSpec, accounts: dict[int, GLAccount], entity: LegalEntity) -> None:
    account = accounts.get(line.account.pk)
    if account is None or account.legal_entity_id != entity.pk:
        raise InvalidPosting(
            f"Line {index + 1}: the account belongs to another legal entity.",
            fields={"lines": [f"Line {index + 1}"]},
        )
    if not account.active:
        raise InactiveAccount(
            f"Line {index + 1}: account {account} is inactive.", fields={"lines": [f"Line {index + 1}"]}
        )
    if line.debit < 0 or line.credit < 0:
        raise InvalidPosting(
            f"Line {index + 1}: amounts must not be negative.", fields={"lines": [f"Line {index + 1}"]}
        )
    sides = (line.debit > 0) + (line.credit > 0)
    functional_sides = ((line.functional_debit or ZERO) > 0) + ((line.functional_credit or ZERO) > 0)
    # A line with no transaction amount is allowed only as a pure functional-currency difference.
    if sides == 2 or functional_sides == 2 or (sides == 0 and functional_sides != 1):
        raise InvalidPosting(
            f"Line {index + 1}: give a debit or a credit, not both or neither.",
            fields={"lines": [f"Line {index + 1}"]},
        )
    _check_amount(index, "amount", line.debit or line.credit, line.currency)


def _check_amount(index: int, what: str, amount: Decimal, currency: str) -> None:
    try:
        places = minor_unit_exponent(currency)
    except ValueError as exc:
        raise InvalidPosting(f"Line {index + 1}: {exc}.", fields={"lines": [f"Line {index + 1}"]}) from exc
    exponent = amount.as_tuple().exponent if isinstance(amount, Decimal) else 0
    # Cheap first: an amount written with no more places than the currency has is already quantized.
    if (isinstance(exponent, int) and -exponent <= places) or amount == quantize(amount, currency):
        return
    raise InvalidPosting(
        f"Line {index + 1}: the {what} {amount} has more than {places} decimals for {currency}.",
        fields={"lines": [f"Line {index + 1}"]},
    )


def _balance_functional(
    item: _Prepared, converted: int, functional: str, rounding: dict[int, GLAccount]
) -> None:
    """Conversion rounding leaves at most half a minor unit per converted line: book it to FX rounding."""
    difference = sum(line.functional_debit - line.functional_credit for line in item.lines)
    if difference == 0:
        return
    tolerance = Decimal(converted) / 2 * Decimal(1).scaleb(-minor_unit_exponent(functional))
    if abs(difference) > tolerance:
        raise UnbalancedEntry(
            f"Functional debits and credits differ by {difference} {functional}.",
            fields={"lines": ["The functional amounts do not balance."]},
        )
    entity = item.spec.legal_entity
    if entity.pk not in rounding:
        rounding[entity.pk] = GLAccount.objects.get(legal_entity=entity, role=AccountRole.FX_ROUNDING)
    foreign = next(line.currency for line in item.lines if line.currency != functional)
    spec = LineSpec(
        account=rounding[entity.pk],
        currency=foreign,
        functional_debit=-difference if difference < 0 else ZERO,
        functional_credit=difference if difference > 0 else ZERO,
        memo="FX conversion rounding",
    )
    item.lines.append(_line(item.spec, spec, ZERO, spec.functional_debit, spec.functional_credit))


RATE_PLACES = Decimal("1E-12")


def _line(spec: EntrySpec, line: LineSpec, rate, fn_debit, fn_credit) -> _Row:
    return _Row(
        spec.legal_entity.pk,
        spec.date,
        line.account.pk,
        line.currency,
        line.debit,
        line.credit,
        rate,
        fn_debit,
        fn_credit,
        line.client_id,
        line.project_id,
        line.person_id,
        line.memo[:300],
    )


def _check_clients(specs: Sequence[EntrySpec]) -> None:
    """A line's client dimension must be a client of the entry's legal entity."""
    from crm.models import Account

    wanted = {(spec.legal_entity.pk, ln.client_id) for spec in specs for ln in spec.lines if ln.client_id}
    if not wanted:
        return
    clients = Account.objects.filter(pk__in={client for _, client in wanted})
    entity_of = dict(clients.values_list("pk", "legal_entity_id"))
    for entity_id, client_id in sorted(wanted):
        if entity_of.get(client_id) != entity_id:
            raise InvalidPosting(
                f"Client #{client_id} is not a client of this legal entity.", fields={"lines": ["client"]}
            )


ACCOUNT_FIELDS = ("id", "legal_entity_id", "code", "name", "active")
PERIOD_FIELDS = ("id", "legal_entity_id", "fiscal_year", "start", "end", "status")


def _fetch(model, fields: Sequence[str], where: str, params: list) -> list:
    """Instances of `model` with only `fields` loaded (the rest deferred), by plain SQL: the posting
    path runs these reads for every entry, and compiling the ORM's query would cost more than running it."""
    columns = ", ".join(f'"{model._meta.get_field(name).column}"' for name in fields)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {columns} FROM {model._meta.db_table} WHERE {where}", params)  # noqa: S608
        return [model.from_db(connection.alias, fields, row) for row in cursor.fetchall()]


def _in(values) -> tuple[str, list]:
    values = sorted(values)
    return ", ".join(["%s"] * len(values)), values


def _accounts_of(specs: Sequence[EntrySpec]) -> dict[int, GLAccount]:
    marks, ids = _in({line.account.pk for spec in specs for line in spec.lines})
    return {account.pk: account for account in _fetch(GLAccount, ACCOUNT_FIELDS, f"id IN ({marks})", ids)}


def _periods_for(specs: Sequence[EntrySpec]) -> dict[tuple[int, date], FiscalPeriod]:
    wanted = {(spec.legal_entity.pk, spec.date) for spec in specs}
    entity_ids = {entity for entity, _ in wanted}
    low, high = min(d for _, d in wanted), max(d for _, d in wanted)
    marks, ids = _in(entity_ids)
    periods = _fetch(
        FiscalPeriod,
        PERIOD_FIELDS,
        f'legal_entity_id IN ({marks}) AND start <= %s AND "end" >= %s',
        [*ids, high, low],
    )
    found = {}
    for entity_id, day in wanted:
        period = next(
            (p for p in periods if p.legal_entity_id == entity_id and p.start <= day <= p.end), None
        )
        if period is None:
            raise PeriodMissing(
                f"No fiscal period covers {day.isoformat()} for this legal entity.",
                fields={"date": ["No fiscal period covers this date."]},
            )
        if period.status != PeriodStatus.OPEN:
            raise PeriodClosed(
                f"The period {period.start:%Y-%m} is closed; post into an open period or reopen it.",
                fields={"date": [f"{period.start:%Y-%m} is closed."]},
            )
        found[(entity_id, day)] = period
    return found


def _insert(actor, prepared: list[_Prepared]) -> list[JournalEntry]:
    actor_id = actor.pk if getattr(actor, "is_authenticated", False) else None
    now = timezone.now()
    if connection.vendor == "postgresql" and len(prepared) == 1:
        try:
            return [_insert_one(actor_id, now, prepared[0])]
        except DatabaseError as exc:
            _raise_guard_error(exc)
            raise
    numbers = _draw_numbers(prepared)
    entries = [
        JournalEntry(
            legal_entity_id=item.spec.legal_entity.pk,
            fiscal_year=item.period.fiscal_year,
            number=number,
            date=item.spec.date,
            period_id=item.period.pk,
            memo=item.spec.memo[:500],
            source_type=item.spec.source_type,
            source_id=item.spec.source_id,
            posting_key=item.spec.posting_key,
            reversal_of_id=item.spec.reversal_of_id,
            created_by_id=actor_id,
            posted_at=now,
        )
        for item, number in zip(prepared, numbers, strict=True)
    ]
    try:
        if connection.vendor == "postgresql":
            _copy_in(entries, prepared)
        else:
            JournalEntry.objects.bulk_create(entries)
            JournalLine.objects.bulk_create(
                [
                    JournalLine(entry_id=entry.pk, **row._asdict())
                    for item, entry in zip(prepared, entries, strict=True)
                    for row in item.lines
                ],
                batch_size=5000,
            )
    except DatabaseError as exc:
        _raise_guard_error(exc)
        raise
    _add_to_balances([row for item in prepared for row in item.lines])
    return entries


ONE_ENTRY_SQL = """
    WITH drawn AS (
        INSERT INTO ledger_entrysequence AS s (legal_entity_id, fiscal_year, next_number)
        VALUES (%s, %s, 2)
        ON CONFLICT (legal_entity_id, fiscal_year) DO UPDATE SET next_number = s.next_number + 1
        RETURNING s.next_number - 1 AS number),
    entry AS (
        INSERT INTO ledger_journalentry (legal_entity_id, fiscal_year, number, date, period_id, memo,
                                         source_type, source_id, posting_key, reversal_of_id,
                                         created_by_id, posted_at)
        SELECT %s, %s, drawn.number, %s, %s, %s, %s, %s, %s, %s, %s, %s FROM drawn
        RETURNING id, number),
    lines AS (
        INSERT INTO ledger_journalline (entry_id, legal_entity_id, date, account_id, currency, debit,
                                        credit, rate, functional_debit, functional_credit, client_id,
                                        project_id, person_id, memo)
        SELECT entry.id, l.entity, l.day, l.account, l.currency, l.debit, l.credit, l.rate, l.fn_debit,
               l.fn_credit, l.client, l.project, l.person, l.memo
          FROM entry,
               unnest(%s::bigint[], %s::date[], %s::bigint[], %s::varchar[], %s::numeric[],
                      %s::numeric[], %s::numeric[], %s::numeric[], %s::numeric[], %s::bigint[],
                      %s::bigint[], %s::bigint[], %s::varchar[])
               WITH ORDINALITY AS l(entity, day, account, currency, debit, credit, rate, fn_debit,
                                    fn_credit, client, project, person, memo, position)
         ORDER BY l.position),
    balances AS (
        INSERT INTO ledger_accountbalance AS b (account_id, date, currency, legal_entity_id, debit,
                                               credit, functional_debit, functional_credit)
        SELECT * FROM unnest(%s::bigint[], %s::date[], %s::varchar[], %s::bigint[], %s::numeric[],
                             %s::numeric[], %s::numeric[], %s::numeric[])
        ON CONFLICT (account_id, date, currency) DO UPDATE SET
            debit = b.debit + excluded.debit, credit = b.credit + excluded.credit,
            functional_debit = b.functional_debit + excluded.functional_debit,
            functional_credit = b.functional_credit + excluded.functional_credit)
    SELECT id, number FROM entry
"""


def _insert_one(actor_id, now, item: _Prepared) -> JournalEntry:
    """One entry in one statement: its number drawn, the entry, its lines and the balances written by
    data-modifying CTEs (the database's statement triggers and deferred checks run as for COPY). A
    single posting is then one round trip instead of six; its cost is mostly the commit's WAL flush."""
    spec, period = item.spec, item.period
    entry = JournalEntry(
        legal_entity_id=spec.legal_entity.pk,
        fiscal_year=period.fiscal_year,
        date=spec.date,
        period_id=period.pk,
        memo=spec.memo[:500],
        source_type=spec.source_type,
        source_id=spec.source_id,
        posting_key=spec.posting_key,
        reversal_of_id=spec.reversal_of_id,
        created_by_id=actor_id,
        posted_at=now,
    )
    lines = [list(column) for column in zip(*item.lines, strict=True)]
    balances = [list(column) for column in zip(*_balance_rows(item.lines), strict=True)]
    with connection.cursor() as cursor:
        cursor.execute(
            ONE_ENTRY_SQL,
            [
                entry.legal_entity_id,
                entry.fiscal_year,
                entry.legal_entity_id,
                entry.fiscal_year,
                entry.date,
                entry.period_id,
                entry.memo,
                entry.source_type,
                entry.source_id,
                entry.posting_key,
                entry.reversal_of_id,
                entry.created_by_id,
                entry.posted_at,
                *lines,
                *balances,
            ],
        )
        entry.pk, entry.number = cursor.fetchone()
    entry._state.adding = False
    entry._state.db = connection.alias
    return entry


def _copy_in(entries: list[JournalEntry], prepared: list[_Prepared]) -> None:
    """PostgreSQL: take a block of ids, then COPY entries and lines. The database checks them set-wise
    per statement (and the balance at commit) instead of one foreign-key lookup per row."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [JournalEntry._meta.db_table, len(entries)],
        )
        for entry, (entry_id,) in zip(entries, cursor.fetchall(), strict=True):
            entry.pk = entry_id
            entry._state.adding = False
            entry._state.db = connection.alias
        with connection.wrap_database_errors:
            with cursor.copy(_copy_sql(JournalEntry, ENTRY_COLUMNS)) as copy:
                for entry in entries:
                    copy.write_row([getattr(entry, column) for column in ENTRY_COLUMNS])
            with cursor.copy(_copy_sql(JournalLine, LINE_COLUMNS)) as copy:
                for item, entry in zip(prepared, entries, strict=True):
                    for row in item.lines:
                        copy.write_row((entry.pk, *row))


def _copy_sql(model, columns) -> str:
    return f"COPY {model._meta.db_table} ({', '.join(columns)}) FROM STDIN"


def _draw_numbers(prepared: list[_Prepared]) -> list[int]:
    """Gapless numbers: one upsert per entity-year takes a block of numbers and holds the row lock
    until commit, so concurrent posters number in commit order without gaps."""
    wanted: dict[tuple[int, int], int] = defaultdict(int)
    for item in prepared:
        wanted[(item.spec.legal_entity.pk, item.period.fiscal_year)] += 1
    table = EntrySequence._meta.db_table
    start: dict[tuple[int, int], int] = {}
    with connection.cursor() as cursor:
        for entity_id, year in sorted(wanted):
            count = wanted[(entity_id, year)]
            cursor.execute(
                f"""
                INSERT INTO {table} (legal_entity_id, fiscal_year, next_number) VALUES (%s, %s, %s)
                ON CONFLICT (legal_entity_id, fiscal_year)
                DO UPDATE SET next_number = {table}.next_number + excluded.next_number - 1
                RETURNING next_number
                """,  # noqa: S608 - the table name is ours; every value is a parameter
                [entity_id, year, count + 1],
            )
            start[(entity_id, year)] = cursor.fetchone()[0] - count
    numbers = []
    for item in prepared:
        key = (item.spec.legal_entity.pk, item.period.fiscal_year)
        numbers.append(start[key])
        start[key] += 1
    return numbers


def _balance_rows(lines: list[_Row]) -> list[tuple]:
    """(account, date, currency, entity, debit, credit, functional debit, functional credit) per balance
    row the lines add to, sorted so concurrent posters lock balance rows in one order (no deadlock)."""
    totals: dict[tuple[int, date, str, int], list[Decimal]] = defaultdict(lambda: [ZERO, ZERO, ZERO, ZERO])
    for line in lines:
        row = totals[(line.account_id, line.date, line.currency, line.legal_entity_id)]
        row[0] += line.debit
        row[1] += line.credit
        row[2] += line.functional_debit
        row[3] += line.functional_credit
    return [(*key, *sums) for key, sums in sorted(totals.items())]


def _add_to_balances(lines: list[_Row]) -> None:
    rows = _balance_rows(lines)
    table = AccountBalance._meta.db_table
    upsert = f"""
        ON CONFLICT (account_id, date, currency) DO UPDATE SET
            debit = {table}.debit + excluded.debit,
            credit = {table}.credit + excluded.credit,
            functional_debit = {table}.functional_debit + excluded.functional_debit,
            functional_credit = {table}.functional_credit + excluded.functional_credit
    """
    columns = (
        "account_id, date, currency, legal_entity_id, debit, credit, functional_debit, functional_credit"
    )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Eight array parameters instead of eight per row.
            cursor.execute(
                f"""
                INSERT INTO {table} ({columns})
                SELECT * FROM unnest(%s::bigint[], %s::date[], %s::varchar[], %s::bigint[],
                                     %s::numeric[], %s::numeric[], %s::numeric[], %s::numeric[])
                {upsert}
                """,  # noqa: S608 - the table name is ours; every value is a parameter
                [list(column) for column in zip(*rows, strict=True)],
            )
            return
        for start in range(0, len(rows), 1000):
            chunk = rows[start : start + 1000]
            values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s)"] * len(chunk))
            cursor.execute(
                f"INSERT INTO {table} ({columns}) VALUES {values} {upsert}",  # noqa: S608 - as above
                [value for row in chunk for value in row],
            )


def _raise_guard_error(exc: DatabaseError) -> None:
    """Turn a refusal by the database's own guards into the domain error a caller expects."""
    message = str(exc)
    if "period_closed" in message:
        raise PeriodClosed("The period is closed; post into an open period or reopen it.") from exc
    if "period_missing" in message:
        raise PeriodMissing("No fiscal period covers this date.") from exc


def reversal_spec(entry: JournalEntry, *, on: date, memo: str | None = None) -> EntrySpec:
    """The mirror of `entry` on `on`: every line's sides swapped, functional amounts as originally posted."""
    lines = [
        LineSpec(
            account=line.account,
            currency=line.currency,
            debit=line.credit,
            credit=line.debit,
            functional_debit=line.functional_credit,
            functional_credit=line.functional_debit,
            client_id=line.client_id,
            project_id=line.project_id,
            person_id=line.person_id,
            memo=line.memo,
        )
        for line in entry.lines.select_related("account")
    ]
    return EntrySpec(
        legal_entity=entry.legal_entity,
        date=on,
        memo=memo or f"Reversal of {entry.display_number}: {entry.memo}"[:500],
        lines=lines,
        source_type=entry.source_type,
        source_id=entry.source_id,
        posting_key=f"reversal:{entry.pk}",
        reversal_of_id=entry.pk,
    )
