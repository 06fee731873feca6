"""The rebuild command, the beat task and the demo hook all reach the same rollup services."""

from datetime import date, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

import analytics.services as rollup_services
from analytics.models import DailyRollup, RollupState
from analytics.tasks import refresh_kpi_rollups
from core.models import AuditEvent
from tests.analytics.conftest import work
from tests.billing.conftest import tm_line

D = Decimal
pytestmark = pytest.mark.django_db


def test_rebuild_command_and_the_task(people, make_contract, roles, monkeypatch):
    monkeypatch.setattr(rollup_services, "OVERLAP", timedelta(0))
    _, project = make_contract([tm_line(roles.senior, "150.00")])
    work(people.sam, project, date(2026, 3, 2), "7.5", rate="150", cost="80")
    out = StringIO()
    call_command("rebuild_rollups", stdout=out)
    assert "Rebuilt: 1 time entries, 0 expenses, 1 day cells" in out.getvalue()
    cell = DailyRollup.objects.get()
    assert (cell.hours, cell.time_cost, cell.wip_value) == (D("7.50"), D("600.000000"), D("1125.000000"))
    assert AuditEvent.objects.filter(action="analytics.rollups_rebuilt").count() == 1

    work(people.ana, project, date(2026, 3, 3), "2", rate="95", cost="40")
    assert refresh_kpi_rollups.delay().get()["cells"] == 1
    assert DailyRollup.objects.count() == 2
    assert RollupState.objects.get(name="work").last_cells == 1
    out = StringIO()
    call_command("rebuild_rollups", "--incremental", stdout=out)
    assert out.getvalue().startswith("Refreshed:")
