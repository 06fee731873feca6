"""The periods API of the month-end close: the checklist, close refused with its blockers (409), the
period with its reopen details and latest close report, and the close report."""

# ruff: noqa: F811 - pytest fixtures are imported by name and named again as arguments

from decimal import Decimal

import pytest

from core.roles import Role
from ledger.choices import PeriodStatus
from ledger.models import PeriodCloseReport
from tests.ledger.close_books import (  # noqa: F401 - fixtures
    client_account,
    entity,
    finance,
    make_contract,
    march,
    people,
    roles,
    vat20,
    worked,
)

D = Decimal
pytestmark = pytest.mark.django_db
PERIODS = "/api/v1/periods/"


@pytest.fixture
def api(client_for):
    return client_for(Role.FINANCE)


def test_checklist_lists_each_item_with_its_figures(api, worked):
    response = api.get(f"{PERIODS}{worked.period.pk}/checklist/")
    assert response.status_code == 200
    body = response.json()
    assert (body["period"], body["start"], body["end"], body["can_close"]) == (
        worked.period.pk,
        "2026-03-01",
        "2026-03-31",
        False,
    )
    by_key = {item["key"]: item for item in body["items"]}
    assert list(by_key) == [
        "approvals",
        "billing",
        "revenue",
        "fx_revaluation",
        "reconciliations",
        "trial_balance",
    ]
    billing = by_key["billing"]
    assert (billing["status"], billing["row_count"], billing["fix_url"]) == (
        "blocking",
        1,
        "/billing/runs/new/",
    )
    assert billing["rows"][0]["reason"] == "awaiting_run"
    assert billing["rows"][0]["hours"] == "10.00"
    assert billing["figures"]["unbilled_hours"] == "10.00"
    assert by_key["approvals"]["status"] == "ok"


def test_close_with_blockers_is_409_with_the_list_and_changes_nothing(api, worked):
    response = api.post(f"{PERIODS}{worked.period.pk}/close/", {"reason": "Month end"}, format="json")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "close_blocked"
    assert list(body["fields"]["checklist"]) == ["billing", "revenue"]
    assert body["fields"]["checklist"]["revenue"] == [
        "No revenue run for 2026-03-31: 1 active performance obligations are not recognised for the month."
    ]
    worked.period.refresh_from_db()
    assert worked.period.status == PeriodStatus.OPEN
    assert not PeriodCloseReport.objects.exists()


def test_close_then_reopen_shows_on_the_period_with_its_report(api, march):
    url = f"{PERIODS}{march.period.pk}/"
    assert api.get(f"{url}close-report/").status_code == 404
    assert api.post(f"{url}close/", {"reason": ""}, format="json").json()["code"] == "invalid"

    closed = api.post(f"{url}close/", {"reason": "March final"}, format="json")
    assert closed.status_code == 200, closed.json()
    report = PeriodCloseReport.objects.get()
    assert (closed.json()["status"], closed.json()["latest_close_report"]) == ("closed", report.pk)

    body = api.get(f"{url}close-report/").json()
    assert (body["id"], body["period"], body["reason"], body["closed_by"]) == (
        report.pk,
        march.period.pk,
        "March final",
        api.user.pk,
    )
    assert body["trial_balance"]["totals"] == {"debit": "3300.00", "credit": "3300.00"}
    assert body["profit_and_loss"]["month"]["totals"]["net_income"] == "1500.00"
    assert body["checklist"]["can_close"] is True

    reopened = api.post(f"{url}reopen/", {"reason": "Late supplier credit"}, format="json")
    assert reopened.status_code == 200
    period = api.get(url).json()
    assert (period["status"], period["reopened_by"], period["reopen_reason"]) == (
        "open",
        api.user.pk,
        "Late supplier credit",
    )
    assert period["reopened_at"] is not None and period["closed_at"] is None
    assert period["latest_close_report"] == report.pk
    listed = api.get(PERIODS, {"legal_entity": march.entity.pk}).json()["results"]
    assert [p["latest_close_report"] for p in listed if p["id"] == march.period.pk] == [report.pk]


def test_executives_read_the_checklist_but_cannot_close(client_for, march):
    executive = client_for(Role.EXECUTIVE)
    assert executive.get(f"{PERIODS}{march.period.pk}/checklist/").status_code == 200
    response = executive.post(f"{PERIODS}{march.period.pk}/close/", {"reason": "x"}, format="json")
    assert response.status_code == 403
    consultant = client_for(Role.CONSULTANT)
    assert consultant.get(f"{PERIODS}{march.period.pk}/checklist/").status_code == 403
    march.period.refresh_from_db()
    assert march.period.status == PeriodStatus.OPEN


def test_the_periods_list_reads_the_latest_report_in_one_query(api, march, django_assert_max_num_queries):
    api.post(f"{PERIODS}{march.period.pk}/close/", {"reason": "March final"}, format="json")
    with django_assert_max_num_queries(8):
        response = api.get(PERIODS, {"legal_entity": march.entity.pk})
    assert response.status_code == 200
    assert len(response.json()["results"]) >= 12
