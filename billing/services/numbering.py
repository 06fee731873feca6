"""Gapless document numbers per legal entity, year and kind, drawn inside the releasing transaction."""

from django.db import connection

from billing.models import DocumentSequence


def next_document_numbers(legal_entity, year: int, kind: str, count: int = 1) -> list[str]:
    """`count` consecutive numbers: "US-2026-000123" for an invoice, "US-2026-CN-000007" for a credit
    note. The upsert holds the row lock until commit, so a release that fails leaves no gap and
    concurrent releases queue."""
    table = DocumentSequence._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {table} (legal_entity_id, year, kind, next_number) VALUES (%s, %s, %s, %s)
            ON CONFLICT (legal_entity_id, year, kind) DO UPDATE SET next_number = {table}.next_number + %s
            RETURNING next_number
            """,  # noqa: S608 - the table name is ours; values are parameters
            [legal_entity.pk, year, kind, count + 1, count],
        )
        first = cursor.fetchone()[0] - count
    infix = "CN-" if kind == "credit_note" else ""
    prefix = f"{legal_entity.invoice_prefix}{year}-{infix}"
    return [f"{prefix}{number:06d}" for number in range(first, first + count)]


def next_document_number(legal_entity, year: int, kind: str) -> str:
    return next_document_numbers(legal_entity, year, kind, 1)[0]
