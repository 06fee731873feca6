"""`kpis/`: who may read what, the answer's shape and figures, CSV, and the 400s."""

from datetime import date
from decimal import Decimal

import pytest

from analytics.services import refresh_rollups
from core.roles import Role
from projects.models import Person, Practice

D = Decimal
pytestmark = pytest.mark.django_db
URL = "/api/v1/kpis/"
WEEK = {"from": "2026-03-02", "to": "2026-03-06"}


@pytest.fixture
def rolled_up(firm):
    refresh_rollups(actor=None)
    return firm


def test_unauthenticated_is_401(api_client):
    assert api_client.get(URL, WEEK).status_code == 401


@pytest.mark.parametrize("role", [Role.EXECUTIVE, Role.FINANCE])
def test_executive_and_finance_read_the_firm(rolled_up, client_for, role):
    response = client_for(role).get(URL, {**WEEK, "group_by": "person"})
    assert response.status_code == 200
    body = response.json()
    assert (body["from"], body["to"], body["group_by"]) == ("2026-03-02", "2026-03-06", "person")
    sam = next(row for row in body["rows"] if row["name"] == "Sam Senior")
    assert {
        name: sam[name] for name in ("utilization", "realization", "effective_rate", "margin", "currency")
    } == {
        "utilization": "70.00",
        "realization": "85.71",
        "effective_rate": "128.57",
        "margin": "1360.00",
        "currency": "USD",
    }
    (usd,) = body["totals"]
    for field in (
        "utilization", "billable_utilization", "realization", "effective_rate", "revenue", "cost", "margin",
        "margin_percent", "backlog", "wip", "deferred_revenue", "dso", "days_to_invoice", "write_off_rate",
        "pipeline_weighted",
    ):  # fmt: skip
        assert field in usd
    assert (usd["wip"], usd["cost"], usd["pipeline_weighted"]) == ("1800.00", "3040.00", "0.00")
    assert {kpi["name"] for kpi in body["definitions"]} >= {"utilization", "realization", "margin_percent"}


def test_a_consultant_sees_only_their_own_work(rolled_up, client_for, people):
    client = client_for(Role.CONSULTANT)
    people.ana.user = client.user
    people.ana.save(update_fields=["user"])
    body = client.get(URL, {**WEEK, "group_by": "person"}).json()
    assert [row["name"] for row in body["rows"]] == ["Ana Analyst"]
    (total,) = body["totals"]
    assert (total["hours"], total["deferred_revenue"], total["dso"], body["win_rate"]) == (
        "20.00",
        None,
        None,
        None,
    )


def test_someone_without_a_person_or_a_firm_role_is_refused(client_for):
    response = client_for(Role.PROJECT_MANAGER).get(URL, WEEK)
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_an_api_key_needs_the_analytics_scope(db, token_client_for):
    without = token_client_for(Role.INTEGRATOR, scopes=("core:read",))
    assert without.get(URL, WEEK).status_code == 403
    with_scope = token_client_for(Role.INTEGRATOR, scopes=("analytics:read",))
    assert with_scope.get(URL, WEEK).status_code == 200


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        (
            {"from": "2026-13-01"},
            "from",
            "Date has wrong format. Use one of these formats instead: YYYY-MM-DD.",
        ),
        ({"from": "2026-03-06", "to": "2026-03-01"}, "to", "Must not be before from."),
        ({"from": "2023-01-01", "to": "2026-03-01"}, "from", "The range is at most two years (732 days)."),
        (
            {"group_by": "galaxy"},
            "group_by",
            '"galaxy" is not a grouping; use one of: practice, client, project, person, legal_entity, month.',
        ),
    ],
)
def test_bad_queries_are_400_with_the_field(finance_client, query, field, message):
    response = finance_client.get(URL, query)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert body["fields"] == {field: [message]}


def test_defaults_to_this_month_by_month(finance_client):
    body = finance_client.get(URL).json()
    today = date.today()
    assert (body["from"], body["to"], body["group_by"]) == (
        today.replace(day=1).isoformat(),
        today.isoformat(),
        "month",
    )


def test_csv_download(rolled_up, finance_client):
    response = finance_client.get(URL, {**WEEK, "group_by": "client", "format": "csv"})
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="kpis-client-2026-03-02-2026-03-06.csv"'
    lines = response.content.decode().splitlines()
    assert lines[0].startswith("key,name,currency,hours,billable_hours,available_hours,utilization")
    assert len(lines) == 4  # Globex, Initech, the USD total
    assert lines[2].split(",")[1:4] == ["Initech", "USD", "20.00"]
    assert lines[3].split(",")[1] == "Total USD"


def test_by_practice_with_people_without_one(rolled_up, client_for, people):
    erp = Practice.objects.create(name="ERP")
    Person.objects.filter(pk=people.sam.pk).update(practice=erp)
    body = client_for(Role.EXECUTIVE).get(URL, {**WEEK, "group_by": "practice"}).json()
    assert [(row["key"], row["name"], row["utilization"]) for row in body["rows"]] == [
        (str(erp.pk), "ERP", "70.00"),
        (None, "No practice", "50.00"),
    ]
