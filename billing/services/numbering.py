"""Gapless document numbers per legal entity, year and kind, drawn inside the releasing transaction."""

from django.db import connection

from billing.models import DocumentSequence


def next_document_number(legal_entity, year: int, kind: str) -> str:
    """ "US-2026-000123" for an invoice, "US-2026-CN-000007" for a credit note. The upsert holds the row
    lock until commit, so a release that fails leaves no gap and concurrent releases queue."""
    table = DocumentSequence._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {table} (legal_entity_id, year, kind, next_number) VALUES (%s, %s, %s, 2)
            ON CONFLICT (legal_entity_id, year, kind) DO UPDATE SET next_number = {table}.next_number + 1
            RETURNING next_number
            """,  # noqa: S608 - the table name is ours; values are parameters
            [legal_entity.pk, year, kind],
        )
        number = cursor.fetchone()[0] - 1
    infix = "CN-" if kind == "credit_note" else ""
    return f"{legal_entity.invoice_prefix}{year}-{infix}{number:06d}"
