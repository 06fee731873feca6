"""Two winners at once on PostgreSQL: one contract, one project, one `opportunity.won`."""

import threading

import pytest
from django.db import connection, connections

from core.models import Event
from crm.models import Contract, Opportunity
from crm.services.handoff import win_opportunity


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_concurrent_double_win_creates_one_contract(mixed_deal, pm):
    barrier = threading.Barrier(2)
    results, errors = [], []

    def win():
        try:
            barrier.wait(timeout=10)
            results.append(
                win_opportunity(actor=pm, opportunity=Opportunity.objects.get(pk=mixed_deal.pk)).pk
            )
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=win) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert len(results) == 2 and results[0] == results[1]
    assert Contract.objects.filter(opportunity=mixed_deal).count() == 1
    assert Event.objects.filter(type="opportunity.won").count() == 1
    assert Event.objects.filter(type="project.created").count() == 1
    assert connection.vendor == "postgresql"
