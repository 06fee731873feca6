"""Writing a run's rows in bulk. On PostgreSQL: ids drawn from the table's sequence in one query, then
COPY (the database checks constraints set-wise, with no per-row Python in the ORM's insert compiler).
Elsewhere (SQLite, the embedded default): `bulk_create` and `executemany`."""

from collections.abc import Iterable, Sequence
from operator import attrgetter

from django.db import connection, models


def _postgres() -> bool:
    return connection.vendor == "postgresql"


def _reserve_ids(model: type[models.Model], count: int) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [model._meta.db_table, model._meta.pk.column, count],
        )
        return [row[0] for row in cursor.fetchall()]


def _copy(table: str, columns: Sequence[str], rows: Iterable[Sequence]) -> None:
    sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    with connection.cursor() as cursor, connection.wrap_database_errors, cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)


def insert_objects(objs: list[models.Model]) -> list[models.Model]:
    """Insert unsaved instances of one model and set their primary keys (as `bulk_create` does)."""
    if not objs:
        return objs
    model = type(objs[0])
    if not _postgres():
        return model.objects.bulk_create(objs)
    fields = list(model._meta.concrete_fields)
    # A table keyed by another row (a one-to-one primary key) has its keys already; others draw theirs.
    if isinstance(model._meta.pk, models.AutoField):
        for obj, pk in zip(objs, _reserve_ids(model, len(objs)), strict=True):
            obj.pk = pk
    for obj in objs:
        obj._state.adding = False
        obj._state.db = connection.alias
    plain = attrgetter(*[field.attname for field in fields])
    prepared = [(index, field) for index, field in enumerate(fields) if _needs_preparing(field)]

    def row(obj):
        values = list(plain(obj))
        for index, field in prepared:
            values[index] = field.get_db_prep_save(field.pre_save(obj, True), connection)
        return values

    _copy(model._meta.db_table, [field.column for field in fields], (row(obj) for obj in objs))
    return objs


# Field types whose Python value COPY writes as is; any other field (JSON, say) goes through its
# `get_db_prep_save`, and auto_now timestamps through `pre_save`.
AS_IS = {
    "AutoField", "BigAutoField", "BigIntegerField", "BooleanField", "CharField", "DateField",
    "DateTimeField", "DecimalField", "ForeignKey", "IntegerField", "OneToOneField",
    "PositiveIntegerField", "PositiveSmallIntegerField", "SmallIntegerField", "TextField",
}  # fmt: skip


def _needs_preparing(field) -> bool:
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        return True
    return field.get_internal_type() not in AS_IS


def insert_rows(model: type[models.Model], columns: Sequence[str], rows: list[Sequence]) -> int:
    """Insert plain tuples into `model`'s table (its columns named); for link rows by the ten thousand,
    where building model instances would cost more than writing them."""
    if not rows:
        return 0
    table = model._meta.db_table
    if _postgres():
        _copy(table, columns, rows)
        return len(rows)
    placeholders = ", ".join(["%s"] * len(columns))
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})",  # noqa: S608 - our names
            rows,
        )
    return len(rows)


def update_rows(
    model: type[models.Model],
    columns: Sequence[str],
    rows: list[Sequence],
    *,
    constants: dict | None = None,
    where_null: str | None = None,
) -> int:
    """Set `columns` of each row whose primary key is the first value of a tuple in `rows` to the tuple's
    other values (and every row's `constants` columns to theirs), in one UPDATE joined to a VALUES list
    per batch: no CASE per field and row. PostgreSQL and SQLite both name a VALUES list's columns
    column1, column2, … `where_null`: only rows where that column is still null. Returns rows changed."""
    table, pk = model._meta.db_table, model._meta.pk.column
    constants = constants or {}
    assignments = [f"{column} = v.column{index}" for index, column in enumerate(columns, start=2)]
    assignments += [f"{column} = %s" for column in constants]
    condition = f" AND {table}.{where_null} IS NULL" if where_null else ""
    width = len(columns) + 1
    per_statement = max(1, ((connection.features.max_query_params or 30000) - len(constants)) // width)
    row_sql = "(" + ", ".join(["%s"] * width) + ")"
    changed = 0
    with connection.cursor() as cursor:
        for start in range(0, len(rows), per_statement):
            batch = rows[start : start + per_statement]
            cursor.execute(
                f"""UPDATE {table} SET {", ".join(assignments)}
                      FROM (VALUES {", ".join([row_sql] * len(batch))}) AS v
                     WHERE {table}.{pk} = v.column1{condition}""",  # noqa: S608 - our names; values are parameters
                [*constants.values(), *(value for row in batch for value in row)],
            )
            changed += cursor.rowcount
    return changed
