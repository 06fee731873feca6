"""The revenue recognition API: obligations (standalone price, estimate), schedules, runs (create, poll,
resume, preview), the revenue reports (JSON and CSV), bad input, roles, API key scopes and query counts."""

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.models import AuditEvent
from core.roles import Role
from ledger.models import FiscalPeriod, JournalEntry
from revrec.choices import RunStatus
from revrec.models import PerformanceObligation, RevenueRun, RevenueScheduleLine
from revrec.services.runs import execute_revenue_run, start_revenue_run
from tests.billing.conftest import approved_expense
from tests.ledger.close_books import mark_closed

D = Decimal
pytestmark = pytest.mark.django_db

OBLIGATIONS = "/api/v1/performance-obligations/"
SCHEDULES = "/api/v1/revenue-schedules/"
RUNS = "/api/v1/revenue-runs/"
REPORTS = "/api/v1/revenue-reports/"


def support_line(amount="9000.00", start=date(2026, 1, 16), end=date(2026, 4, 15), description="Support"):
    return {
        "description": description,
        "billing_model": "fixed_fee",
        "amount": D(amount),
        "revenue_method": "ratable",
        "start": start,
        "end": end,
    }


def implementation_line(amount="500000.00"):
    return {
        "description": "Implementation",
        "billing_model": "fixed_fee",
        "amount": D(amount),
        "revenue_method": "percent_complete",
        "start": date(2026, 1, 1),
        "end": date(2026, 12, 31),
    }


def recognise(finance, entity, period_end):
    run = start_revenue_run(actor=finance, legal_entity=entity, period_end=period_end)
    return execute_revenue_run(run_id=run.pk)


@pytest.fixture
def api(client_for):
    """A finance user's API client."""
    return client_for(Role.FINANCE)


@pytest.fixture
def support(make_contract):
    """9,000.00 ratable over 2026-01-16..2026-04-15 (90 days) → 1,600.00 / 2,800.00 / 3,100.00 / 1,500.00."""
    contract, _ = make_contract([support_line()])
    return PerformanceObligation.objects.get(contract=contract)


def state():
    """What a write would change: runs, schedule lines, journal entries, audit rows."""
    return (
        RevenueRun.objects.count(),
        sorted(RevenueScheduleLine.objects.values_list("obligation_id", "period_start", "amount", "status")),
        JournalEntry.objects.count(),
        AuditEvent.objects.count(),
    )


# Performance obligations


def test_an_obligation_as_the_api_shows_it(api, finance, entity, support):
    recognise(finance, entity, date(2026, 2, 28))
    body = api.get(f"{OBLIGATIONS}{support.pk}/").json()
    assert {key: body[key] for key in (
        "id", "contract", "contract_line", "description", "method", "standalone_price", "allocated_amount",
        "measure", "excluded", "estimated_total_cost", "estimated_total_hours", "service_start",
        "service_end", "currency", "status", "recognized_to_date",
    )} == {
        "id": support.pk,
        "contract": support.contract_id,
        "contract_line": support.contract_line_id,
        "description": "Support",
        "method": "ratable",
        "standalone_price": "9000.00",
        "allocated_amount": "9000.00",
        "measure": "cost",
        "excluded": False,
        "estimated_total_cost": None,
        "estimated_total_hours": None,
        "service_start": "2026-01-16",
        "service_end": "2026-04-15",
        "currency": "USD",
        "status": "active",
        "recognized_to_date": "4400.00",  # 1,600.00 + 2,800.00
    }  # fmt: skip


def test_standalone_prices_reallocate_the_price(api, make_contract):
    """The issue's example: price 90,000.00, SSPs 40,000 / 35,000 / 25,000 → 36,000.00 / 31,500.00 /
    22,500.00."""
    contract, _ = make_contract([support_line("30000.00", description=name) for name in ("A", "B", "C")])
    ids = list(
        PerformanceObligation.objects.filter(contract=contract).order_by("id").values_list("pk", flat=True)
    )
    for pk, price in zip(ids, ("40000", "35000", "25000"), strict=True):
        response = api.post(
            f"{OBLIGATIONS}{pk}/set-standalone-price/", {"price": price, "reason": "Observable price list"}
        )
        assert response.status_code == 200, response.json()
    assert (response.json()["standalone_price"], response.json()["allocated_amount"]) == (
        "25000.00",
        "22500.00",
    )
    listed = api.get(OBLIGATIONS, {"contract": contract.pk}).json()["results"]
    assert [(row["id"], row["standalone_price"], row["allocated_amount"]) for row in listed] == [
        (ids[0], "40000.00", "36000.00"),
        (ids[1], "35000.00", "31500.00"),
        (ids[2], "25000.00", "22500.00"),
    ]
    assert AuditEvent.objects.filter(action="obligation.ssp_changed").count() == 3


def test_standalone_price_bad_input_changes_nothing(api, support):
    path = f"{OBLIGATIONS}{support.pk}/set-standalone-price/"
    before = state()
    negative = api.post(path, {"price": "-1", "reason": "x"})
    assert (negative.status_code, negative.json()["code"], list(negative.json()["fields"])) == (
        400,
        "invalid",
        ["price"],
    )
    no_reason = api.post(path, {"price": "100"})
    assert (no_reason.status_code, list(no_reason.json()["fields"])) == (400, ["reason"])
    not_a_number = api.post(path, {"price": "lots", "reason": "x"})
    assert (not_a_number.status_code, list(not_a_number.json()["fields"])) == (400, ["price"])
    # The contract's only obligation priced at zero: nothing to allocate by.
    zero = api.post(path, {"price": "0", "reason": "Free"})
    assert (zero.status_code, zero.json()["code"]) == (400, "ssp_zero")
    assert state() == before
    support.refresh_from_db()
    assert (support.standalone_price, support.allocated_amount) == (D("9000.00"), D("9000.00"))
    assert (
        api.post(f"{OBLIGATIONS}999999/set-standalone-price/", {"price": "1", "reason": "x"}).status_code
        == 404
    )


def test_set_estimate_and_its_refusals(api, finance, entity, people, make_contract):
    contract, project = make_contract([implementation_line()])
    obligation = PerformanceObligation.objects.get(contract=contract)
    path = f"{OBLIGATIONS}{obligation.pk}/set-estimate/"
    response = api.post(path, {"total_cost": "400000", "reason": "Plan at signing"})
    assert response.status_code == 200, response.json()
    assert (response.json()["estimated_total_cost"], response.json()["method"]) == (
        "400000.00",
        "percent_complete",
    )
    before = state()
    zero = api.post(path, {"total_cost": "0", "reason": "Oops"})
    assert (zero.status_code, zero.json()["code"], list(zero.json()["fields"])) == (
        400,
        "estimate_zero",
        ["total_cost"],
    )
    neither = api.post(path, {"reason": "Nothing"})
    assert (neither.status_code, list(neither.json()["fields"])) == (400, ["total_cost"])
    no_reason = api.post(path, {"total_hours": "100"})
    assert (no_reason.status_code, list(no_reason.json()["fields"])) == (400, ["reason"])
    assert state() == before
    obligation.refresh_from_db()
    assert obligation.estimated_total_cost == D("400000")
    hours = api.post(path, {"total_hours": "1200.50", "reason": "Hours too"}).json()
    assert hours["estimated_total_hours"] == "1200.5"


def test_obligation_filters_and_bad_filters(api, roles, make_contract, support):
    contract, _ = make_contract([implementation_line(), {
        "description": "Senior time", "billing_model": "time_and_materials", "role": roles.senior.pk,
        "rate": D("100.00"), "hours": D("10"), "start": date(2026, 1, 1), "end": date(2026, 12, 31),
    }])  # fmt: skip

    def listed(**query):
        response = api.get(OBLIGATIONS, query)
        assert response.status_code == 200, response.json()
        return [(row["description"], row["method"], row["excluded"]) for row in response.json()["results"]]

    assert listed(contract=contract.pk) == [
        ("Implementation", "percent_complete", False),
        ("Senior time", "as_delivered", True),
    ]
    assert listed(method="ratable") == [("Support", "ratable", False)]
    assert listed(status="ended") == []
    assert len(listed(status="active")) == 3
    for query in ({"method": "straight_line"}, {"status": "gone"}, {"contract": "999999"}):
        response = api.get(OBLIGATIONS, query)
        assert (response.status_code, list(response.json()["fields"])) == (400, list(query)), query


def test_the_obligation_list_does_not_query_per_obligation(api, finance, entity, make_contract):
    def queries():
        api.get(OBLIGATIONS)  # the user's roles are read once, then cached on the user
        with CaptureQueriesContext(connection) as captured:
            response = api.get(OBLIGATIONS)
        schedules = api.get(SCHEDULES)
        with CaptureQueriesContext(connection) as captured_schedules:
            schedules = api.get(SCHEDULES)
        assert response.status_code == schedules.status_code == 200
        return len(captured), len(captured_schedules), len(response.json()["results"])

    make_contract([support_line()])
    recognise(finance, entity, date(2026, 2, 28))
    few = queries()
    for n in range(3):
        make_contract([support_line(description=f"Support {n}"), support_line(description=f"Extra {n}")])
    recognise(finance, entity, date(2026, 3, 31))
    many = queries()
    assert (few[2], many[2]) == (1, 7)
    assert many[:2] == few[:2]


# Revenue schedules


def test_a_schedule_per_obligation(api, finance, entity, support, make_contract):
    other, _ = make_contract([support_line("3100.00", start=date(2026, 3, 1), end=date(2026, 3, 31))])
    body = api.get(f"{SCHEDULES}{support.pk}/").json()
    assert (body["id"], body["obligation"], body["contract"], body["method"]) == (
        support.pk,
        support.pk,
        support.contract_id,
        "ratable",
    )
    assert [
        {key: line[key] for key in ("period_start", "period_end", "amount", "status")}
        for line in body["lines"]
    ] == [
        {"period_start": "2026-01-16", "period_end": "2026-01-31", "amount": "1600.00", "status": "planned"},
        {"period_start": "2026-02-01", "period_end": "2026-02-28", "amount": "2800.00", "status": "planned"},
        {"period_start": "2026-03-01", "period_end": "2026-03-31", "amount": "3100.00", "status": "planned"},
        {"period_start": "2026-04-01", "period_end": "2026-04-15", "amount": "1500.00", "status": "planned"},
    ]
    assert {(line["run"], line["journal_entry"], line["recognized_at"]) for line in body["lines"]} == {
        (None, None, None)
    }
    run = recognise(finance, entity, date(2026, 2, 28))
    lines = api.get(f"{SCHEDULES}{support.pk}/").json()["lines"]
    assert [(line["amount"], line["status"], line["run"]) for line in lines] == [
        ("1600.00", "recognized", run.pk),
        ("2800.00", "recognized", run.pk),
        ("3100.00", "planned", None),
        ("1500.00", "planned", None),
    ]
    assert all(line["journal_entry"] for line in lines[:2])
    by_contract = api.get(SCHEDULES, {"contract": other.pk}).json()["results"]
    assert [(row["contract"], [line["amount"] for line in row["lines"]]) for row in by_contract] == [
        (other.pk, ["3100.00"])
    ]
    by_obligation = api.get(SCHEDULES, {"obligation": support.pk}).json()["results"]
    assert [row["id"] for row in by_obligation] == [support.pk]
    assert api.get(SCHEDULES, {"obligation": "x"}).status_code == 400
    assert api.post(SCHEDULES, {}).status_code == 405


# Revenue runs


def test_a_run_started_through_the_api(api, entity, support, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(RUNS, {"legal_entity": entity.pk, "period_end": "2026-02-28"})
    assert response.status_code == 201, response.json()
    created = response.json()
    assert (created["legal_entity"], created["period_end"], created["status"]) == (
        entity.pk,
        "2026-02-28",
        RunStatus.PENDING,
    )
    run = api.get(f"{RUNS}{created['id']}/").json()
    assert {key: run[key] for key in (
        "status", "progress", "recognized_amount", "reclassified_amount", "total_contracts", "done_contracts",
        "totals", "warnings", "error",
    )} == {
        "status": "completed",
        "progress": 100,
        "recognized_amount": "4400.00",
        # Nothing billed: the 4,400.00 recognised is a contract asset at the period end.
        "reclassified_amount": "4400.00",
        "total_contracts": 1,
        "done_contracts": 1,
        "totals": {"USD": "4400.00"},
        "warnings": [],
        "error": "",
    }  # fmt: skip
    assert run["started_at"] and run["finished_at"]
    listed = api.get(RUNS, {"legal_entity": entity.pk, "status": "completed"}).json()["results"]
    assert [row["id"] for row in listed] == [created["id"]]
    assert api.get(RUNS, {"status": "done"}).status_code == 400


def test_a_run_into_a_closed_period_is_refused(api, finance, entity, support):
    mark_closed(FiscalPeriod.objects.get(legal_entity=entity, start=date(2026, 1, 1)), finance)
    before = state()
    response = api.post(RUNS, {"legal_entity": entity.pk, "period_end": "2026-01-31"})
    assert (response.status_code, response.json()["code"], list(response.json()["fields"])) == (
        400,
        "period_closed",
        ["period_end"],
    )
    assert state() == before


def test_run_bad_input(api, entity, support):
    before = state()
    for body, fields in (
        ({"legal_entity": entity.pk}, ["period_end"]),
        ({"period_end": "2026-01-31"}, ["legal_entity"]),
        ({"legal_entity": 999999, "period_end": "2026-01-31"}, ["legal_entity"]),
        ({"legal_entity": entity.pk, "period_end": "31/01/2026"}, ["period_end"]),
    ):
        response = api.post(RUNS, body)
        assert (response.status_code, sorted(response.json()["fields"])) == (400, fields), body
        preview = api.post(f"{RUNS}preview/", body)
        assert (preview.status_code, sorted(preview.json()["fields"])) == (400, fields), body
    # No fiscal period covers 2030.
    missing = api.post(RUNS, {"legal_entity": entity.pk, "period_end": "2030-01-31"})
    assert (missing.status_code, missing.json()["code"]) == (400, "period_missing")
    assert state() == before


def test_resume_a_failed_run_and_not_a_completed_one(
    api, finance, entity, support, django_capture_on_commit_callbacks
):
    failed = RevenueRun.objects.create(
        legal_entity=entity,
        period_end=date(2026, 1, 31),
        status=RunStatus.FAILED,
        created_by=finance,
        error="Boom",
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"{RUNS}{failed.pk}/resume/")
    assert response.status_code == 200, response.json()
    resumed = api.get(f"{RUNS}{failed.pk}/").json()
    assert (resumed["status"], resumed["recognized_amount"], resumed["error"]) == ("completed", "1600.00", "")
    refused = api.post(f"{RUNS}{failed.pk}/resume/")
    assert (refused.status_code, refused.json()["code"]) == (409, "invalid_transition")


def test_preview_shows_what_a_run_would_recognise_and_writes_nothing(
    api, finance, entity, people, make_contract, support, django_capture_on_commit_callbacks
):
    contract, project = make_contract([implementation_line()])
    implementation = PerformanceObligation.objects.get(contract=contract)
    api.post(f"{OBLIGATIONS}{implementation.pk}/set-estimate/", {"total_cost": "400000", "reason": "Plan"})
    expense = approved_expense(people.sam, project, date(2026, 1, 20), "100000.00", category="subcontractor")
    expense.billable = False
    expense.save(update_fields=["billable"])
    before = state()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = api.post(f"{RUNS}preview/", {"legal_entity": entity.pk, "period_end": "2026-01-31"})
    assert response.status_code == 200, response.json()
    assert callbacks == []
    assert state() == before
    body = response.json()
    assert body["period_end"] == "2026-01-31"
    assert body["totals"] == {"USD": "126600.00"}  # 1,600.00 + 100,000 / 400,000 × 500,000.00
    assert [(row["number"], row["amount"], row["obligations"]) for row in body["contracts"]] == [
        (
            support.contract.number,
            "1600.00",
            [{"id": support.pk, "description": "Support", "method": "ratable", "amount": "1600.00"}],
        ),
        (
            contract.number,
            "125000.00",
            [{"id": implementation.pk, "description": "Implementation", "method": "percent_complete",
              "amount": "125000.00"}],
        ),
    ]  # fmt: skip
    assert body["warnings"] == []
    # What the preview said is what a run recognises.
    assert recognise(finance, entity, date(2026, 1, 31)).recognized_amount == D("126600.00")


# Reports


@pytest.fixture
def recognised(finance, entity, support):
    recognise(finance, entity, date(2026, 1, 31))
    recognise(finance, entity, date(2026, 2, 28))
    return support


def test_reports_over_the_api(api, entity, recognised):
    waterfall = api.get(f"{REPORTS}waterfall/", {"legal_entity": entity.pk, "as_of": "2026-02-28"})
    assert waterfall.status_code == 200, waterfall.json()
    [row] = waterfall.json()["rows"]
    cells = {cell["month"]: (cell["recognized"], cell["scheduled"]) for cell in row["months"]}
    assert (cells["2026-01-01"], cells["2026-02-01"], cells["2026-03-01"], cells["2026-04-01"]) == (
        ("1600.00", "0.00"),
        ("2800.00", "0.00"),
        ("0.00", "3100.00"),
        ("0.00", "1500.00"),
    )
    assert (row["name"], row["recognized"], row["scheduled"]) == ("Globex Corp", "4400.00", "4600.00")
    by_service = api.get(
        f"{REPORTS}waterfall/", {"legal_entity": entity.pk, "as_of": "2026-02-28", "group_by": "service"}
    ).json()
    assert [(row["service"], row["client"]) for row in by_service["rows"]] == [("revenue_fixed", None)]

    # Nothing billed: everything recognised is unbilled; January's reclassification reversed on Feb 1.
    rollforward = api.get(
        f"{REPORTS}deferred-rollforward/",
        {"legal_entity": entity.pk, "start": "2026-02-01", "end": "2026-02-28"},
    ).json()
    assert rollforward["rows"] == [
        {
            "currency": "USD",
            "opening": "0.00",
            "billed": "0.00",
            "recognized": "2800.00",
            "reclassified": "2800.00",
            "other": "0.00",
            "closing": "0.00",
            "identity_holds": True,
        }
    ]
    unbilled = api.get(f"{REPORTS}unbilled/", {"legal_entity": entity.pk, "as_of": "2026-03-10"}).json()
    assert [(row["unbilled"], row["since"], row["age_days"]) for row in unbilled["rows"]] == [
        ("4400.00", "2026-01-31", 38)
    ]
    rpo = api.get(f"{REPORTS}rpo/", {"legal_entity": entity.pk, "as_of": "2026-02-28"}).json()
    assert rpo["totals"] == [
        {"currency": "USD", "within_12_months": "4600.00", "after_12_months": "0.00", "total": "4600.00"}
    ]
    summary = api.get(
        f"{REPORTS}contract/", {"contract": recognised.contract_id, "as_of": "2026-02-28"}
    ).json()
    assert {
        key: summary[key] for key in ("price", "billed", "recognized", "backlog", "net_position", "position")
    } == {
        "price": "9000.00",
        "billed": "0.00",
        "recognized": "4400.00",
        "backlog": "4600.00",
        "net_position": "-4400.00",
        "position": "asset",
    }
    assert summary["obligations"][0]["remaining"] == "4600.00"


def test_reports_as_csv(api, entity, recognised):
    response = api.get(f"{REPORTS}rpo/", {"legal_entity": entity.pk, "as_of": "2026-02-28", "format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="remaining-performance-obligations-2026-02-28.csv"' in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["contract", "number", "client", "client_name", "currency", "within_12_months",
                       "after_12_months", "total"]  # fmt: skip
    assert rows[1][4:] == ["USD", "4600.00", "0.00", "4600.00"]
    assert rows[-1][1:] == ["Total", "", "", "USD", "4600.00", "0.00", "4600.00"]
    for path, query in (
        ("waterfall/", {"legal_entity": entity.pk, "as_of": "2026-02-28"}),
        ("deferred-rollforward/", {"legal_entity": entity.pk, "start": "2026-01-01", "end": "2026-02-28"}),
        ("unbilled/", {"legal_entity": entity.pk, "as_of": "2026-02-28"}),
        ("contract/", {"contract": recognised.contract_id}),
    ):
        response = api.get(f"{REPORTS}{path}", {**query, "format": "csv"})
        assert (response.status_code, response["Content-Type"].split(";")[0]) == (200, "text/csv"), path
    rollforward = api.get(
        f"{REPORTS}deferred-rollforward/",
        {"legal_entity": entity.pk, "start": "2026-01-01", "end": "2026-02-28", "format": "csv"},
    )
    assert list(csv.reader(io.StringIO(rollforward.content.decode()))) == [
        ["currency", "opening", "billed", "recognized", "reclassified", "other", "closing"],
        ["USD", "0.00", "0.00", "4400.00", "4400.00", "0.00", "0.00"],
    ]


def test_report_bad_input_is_400(api, entity, recognised):
    for path, query, fields in (
        ("waterfall/", {"legal_entity": entity.pk}, ["as_of"]),
        (
            "waterfall/",
            {"legal_entity": entity.pk, "as_of": "2026-02-28", "group_by": "project"},
            ["group_by"],
        ),
        ("waterfall/", {"legal_entity": 999999, "as_of": "2026-02-28"}, ["legal_entity"]),
        (
            "deferred-rollforward/",
            {"legal_entity": entity.pk, "start": "2026-03-01", "end": "2026-02-01"},
            ["end"],
        ),
        ("deferred-rollforward/", {"legal_entity": entity.pk, "start": "March"}, ["end", "start"]),
        ("unbilled/", {"as_of": "2026-02-28"}, ["legal_entity"]),
        ("rpo/", {"legal_entity": entity.pk, "as_of": "2026-02-30"}, ["as_of"]),
        ("contract/", {}, ["contract"]),
        ("contract/", {"contract": 999999}, ["contract"]),
    ):
        response = api.get(f"{REPORTS}{path}", query)
        body = response.json()
        assert (response.status_code, body["code"], sorted(body["fields"])) == (400, "invalid", fields), query
    # A format the report does not render is not found (DRF's content negotiation), in the house body.
    unknown = api.get(f"{REPORTS}contract/", {"contract": recognised.contract_id, "format": "xml"})
    assert (unknown.status_code, unknown.json()["code"]) == (404, "not_found")
    # An error stays JSON even when CSV was asked for.
    refused = api.get(f"{REPORTS}unbilled/", {"format": "csv"})
    assert (refused.status_code, refused["Content-Type"]) == (400, "application/json")


# Roles and scopes


def read_urls(entity, support):
    return [
        OBLIGATIONS,
        f"{OBLIGATIONS}{support.pk}/",
        SCHEDULES,
        f"{SCHEDULES}{support.pk}/",
        RUNS,
        f"{REPORTS}waterfall/?legal_entity={entity.pk}&as_of=2026-02-28",
        f"{REPORTS}deferred-rollforward/?legal_entity={entity.pk}&start=2026-01-01&end=2026-02-28",
        f"{REPORTS}unbilled/?legal_entity={entity.pk}&as_of=2026-02-28",
        f"{REPORTS}rpo/?legal_entity={entity.pk}&as_of=2026-02-28",
        f"{REPORTS}contract/?contract={support.contract_id}",
    ]


def write_calls(entity, support):
    return [
        (RUNS, {"legal_entity": entity.pk, "period_end": "2026-01-31"}),
        (f"{RUNS}preview/", {"legal_entity": entity.pk, "period_end": "2026-01-31"}),
        (f"{OBLIGATIONS}{support.pk}/set-standalone-price/", {"price": "100", "reason": "x"}),
        (f"{OBLIGATIONS}{support.pk}/set-estimate/", {"total_cost": "100", "reason": "x"}),
    ]


@pytest.mark.parametrize("role", [Role.FINANCE, Role.EXECUTIVE, Role.ADMIN, Role.INTEGRATOR])
def test_readers_of_revenue(client_for, entity, support, role):
    client = client_for(role)
    for path in read_urls(entity, support):
        assert client.get(path).status_code == 200, path


@pytest.mark.parametrize("role", [Role.CONSULTANT, Role.PROJECT_MANAGER, Role.RESOURCE_MANAGER])
def test_delivery_roles_are_refused_revenue(client_for, entity, support, role):
    client = client_for(role)
    for path in read_urls(entity, support):
        response = client.get(path)
        assert (response.status_code, response.json()["code"]) == (403, "permission_denied"), path
    before = state()
    for path, body in write_calls(entity, support):
        assert client.post(path, body).status_code == 403, path
    assert state() == before


@pytest.mark.parametrize("role", [Role.EXECUTIVE, Role.INTEGRATOR])
def test_readers_never_write(client_for, entity, support, role):
    client = client_for(role)
    before = state()
    for path, body in write_calls(entity, support):
        assert client.post(path, body).status_code == 403, path
    assert state() == before


def test_unauthenticated_is_401(api_client, entity, support):
    for path in read_urls(entity, support):
        response = api_client.get(path)
        assert (response.status_code, response.json()["code"]) == (401, "not_authenticated"), path
    assert api_client.post(RUNS, {"legal_entity": entity.pk, "period_end": "2026-01-31"}).status_code == 401


def test_api_key_scopes(token_client_for, entity, support):
    reader = token_client_for(Role.INTEGRATOR, scopes=["revrec:read"])
    for path in read_urls(entity, support):
        assert reader.get(path).status_code == 200, path
    other_area = token_client_for(Role.FINANCE, scopes=["billing:read", "billing:write", "ledger:write"])
    assert other_area.get(OBLIGATIONS).status_code == 403
    assert other_area.get(f"{REPORTS}rpo/?legal_entity={entity.pk}&as_of=2026-02-28").status_code == 403
    finance_reader = token_client_for(Role.FINANCE, scopes=["revrec:read"])
    refused = finance_reader.post(RUNS, {"legal_entity": entity.pk, "period_end": "2026-01-31"})
    assert refused.status_code == 403
    assert "revrec:write" in refused.json()["detail"]
    finance_writer = token_client_for(Role.FINANCE, scopes=["revrec:write"])
    created = finance_writer.post(RUNS, {"legal_entity": entity.pk, "period_end": "2026-01-31"})
    assert created.status_code == 201, created.json()
