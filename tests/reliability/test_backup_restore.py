"""Data safety: the documented backup (pg_dump) restores into a fresh database whose invariants hold and
whose books equal the source's; `check_invariants` itself notices broken books; migrations run forward
from an empty database with nothing left to make."""

import os
import subprocess
import uuid
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from billing.models import Invoice
from billing.services.invoices import release_invoices
from billing.services.runs import execute_billing_run, start_billing_run
from core.invariants import check_invariants, fingerprint
from ledger.services.ar import record_payment
from tests.billing.conftest import approved_time, tm_line
from tests.reliability.conftest import test_database_url

D = Decimal
ROOT = Path(__file__).resolve().parents[2]


def books(finance, entity, roles, people, make_contract, client_account):
    """Three invoices released and one paid: journal entries, AR items, an allocation."""
    for index in range(3):
        _, project = make_contract([tm_line(roles.senior, "150.00")], code=f"BR-{index}")
        approved_time(people.sam, project, date(2026, 3, 2), "4.00", "150.00")
    run = start_billing_run(actor=finance, legal_entity=entity, period_end=date(2026, 3, 31))
    execute_billing_run(run_id=run.pk)
    release_invoices(actor=finance, invoices=list(Invoice.objects.all()), issue_date=date(2026, 3, 31))
    # 4 h × 150.00 = 600.00 plus 20% tax: 720.00 an invoice.
    record_payment(
        actor=finance,
        legal_entity=entity,
        client=client_account,
        date=date(2026, 4, 10),
        amount=D("720.00"),
        currency="USD",
        reference="WIRE-1",
    )


def _drop(name: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # noqa: S608 - our own name


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_backup_restores_into_a_fresh_database_with_the_same_books(
    finance, entity, roles, people, make_contract, client_account
):
    with transaction.atomic():
        books(finance, entity, roles, people, make_contract, client_account)
    assert all(result.ok for result in check_invariants())
    source = fingerprint()
    # 3 invoices of 720.00, one paid: 1,440.00 still open.
    assert (source["invoices"], D(source["invoice_totals"]), D(source["ar_open"])) == (
        "3",
        D("2160.00"),
        D("1440.00"),
    )
    target = f"{connection.settings_dict['NAME']}_restored"
    try:
        result = subprocess.run(
            ["bash", "scripts/backup_restore.sh", test_database_url(), target],
            cwd=ROOT,
            env={**os.environ, "LEDGERLINE_ENV": "local"},
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "restored copy matches the source" in result.stdout
        assert "backup and restore verified" in result.stdout
    finally:
        _drop(target)


@pytest.mark.postgres
@pytest.mark.django_db
def test_check_invariants_notices_broken_books(finance, entity, roles, people, make_contract, client_account):
    books(finance, entity, roles, people, make_contract, client_account)
    call_command("check_invariants")
    with connection.cursor() as cursor:
        # Behind every guard's back (triggers off for this session): an AR item loses a cent.
        cursor.execute("SET session_replication_role = replica")
        cursor.execute(
            "UPDATE ledger_aritem SET open_amount = open_amount - 0.01, amount = amount - 0.01 "
            "WHERE id = (SELECT min(id) FROM ledger_aritem WHERE amount > 0 AND open_amount > 0)"
        )
        cursor.execute("SET session_replication_role = origin")
    failed = {result.name for result in check_invariants() if not result.ok}
    assert failed == {"ar_subledger_equals_control"}
    with pytest.raises(CommandError, match="ar_subledger_equals_control"):
        call_command("check_invariants")


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_migrations_run_forward_from_an_empty_database():
    name = f"{connection.settings_dict['NAME']}_empty_{uuid.uuid4().hex[:8]}"
    url = test_database_url().rsplit("/", 1)[0] + "/" + name
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')  # noqa: S608 - our own name
    env = {**os.environ, "LEDGERLINE_ENV": "local", "DATABASE_URL": url}
    try:
        for command in (
            ["migrate", "--noinput"],
            ["migrate", "--check"],
            ["makemigrations", "--check", "--dry-run"],
            ["check_invariants"],
        ):
            result = subprocess.run(
                [".venv/bin/python", "manage.py", *command],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=900,
            )
            assert result.returncode == 0, (command, result.stdout[-2000:], result.stderr[-2000:])
    finally:
        _drop(name)
