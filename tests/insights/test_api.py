"""Insights API: who sees which insight, filters, dismiss (400 without a reason, 409 when not open, 403 for
an owner who is not a reviewer, 404 for one not visible), and insight runs (201, 403, 400)."""

from datetime import date

import pytest

from core.models import AuditEvent
from core.roles import Role
from insights.models import Insight, InsightRun
from tests.insights.inbox import make_insight

pytestmark = pytest.mark.django_db


@pytest.fixture
def insights(make_user):
    chloe = make_user(Role.CONSULTANT, username="chloe")
    return {
        "timesheet": make_insight("a", owner=chloe, audience=(Role.PROJECT_MANAGER, Role.RESOURCE_MANAGER)),
        "invoice": make_insight(
            "b",
            kind="invoice_anomaly",
            rule="rate_mismatch",
            severity="critical",
            subject_type="billing.invoice",
            subject_id=7,
            audience=(Role.FINANCE,),
        ),
        "margin": make_insight(
            "c",
            kind="margin_risk",
            rule="burn_ahead",
            subject_type="projects.project",
            subject_id=3,
            audience=(Role.PROJECT_MANAGER, Role.EXECUTIVE, Role.FINANCE),
        ),
        "chloe": chloe,
    }


def ids(response) -> set[int]:
    return {row["id"] for row in response.json()["results"]}


@pytest.mark.parametrize(
    "role, visible",
    [
        (Role.FINANCE, {"invoice", "margin"}),
        (Role.EXECUTIVE, {"margin"}),
        (Role.PROJECT_MANAGER, {"timesheet", "margin"}),
        (Role.RESOURCE_MANAGER, {"timesheet"}),
        (Role.CONSULTANT, set()),
        (Role.ADMIN, {"timesheet", "invoice", "margin"}),
    ],
)
def test_each_role_sees_its_audience(client_for, insights, role, visible):
    response = client_for(role).get("/api/v1/insights/")

    assert response.status_code == 200
    assert ids(response) == {insights[name].pk for name in visible}


def test_a_consultant_sees_what_they_own_and_nothing_else(api_client, insights):
    api_client.force_authenticate(insights["chloe"])

    assert ids(api_client.get("/api/v1/insights/")) == {insights["timesheet"].pk}
    assert api_client.get(f"/api/v1/insights/{insights['margin'].pk}/").status_code == 404
    # Owning it is not reviewing it.
    response = api_client.post(
        f"/api/v1/insights/{insights['timesheet'].pk}/dismiss/", {"reason": "I did work."}
    )
    assert response.status_code == 403
    assert Insight.objects.get(pk=insights["timesheet"].pk).status == "open"


def test_unauthenticated_and_integrators_are_refused(api_client, client_for, insights):
    assert api_client.get("/api/v1/insights/").status_code == 401
    assert client_for(Role.INTEGRATOR).get("/api/v1/insights/").status_code == 403


def test_filters_and_detail(client_for, insights):
    admin = client_for(Role.ADMIN)

    assert ids(admin.get("/api/v1/insights/?kind=margin_risk")) == {insights["margin"].pk}
    assert ids(admin.get("/api/v1/insights/?severity=critical")) == {insights["invoice"].pk}
    assert ids(admin.get("/api/v1/insights/?subject_type=billing.invoice&subject_id=7")) == {
        insights["invoice"].pk
    }
    assert ids(admin.get("/api/v1/insights/?status=dismissed")) == set()
    assert admin.get("/api/v1/insights/?kind=nonsense").status_code == 400
    detail = admin.get(f"/api/v1/insights/{insights['invoice'].pk}/").json()
    assert detail["rule"] == "rate_mismatch"
    assert detail["audience"] == ["finance"]
    assert detail["figures"] == {"hours": "14.00", "median_hours": "7.50", "z_score": "8.77"}
    assert detail["factors"] == [{"factor": "Hours that day", "value": "14.00 h", "effect": "raises"}]
    assert detail["status"] == "open"


def test_dismiss_needs_a_reason_then_is_audited_and_only_once(client_for, insights):
    finance = client_for(Role.FINANCE)
    url = f"/api/v1/insights/{insights['invoice'].pk}/dismiss/"

    missing = finance.post(url, {}, format="json")
    blank = finance.post(url, {"reason": "   "}, format="json")

    assert missing.status_code == 400
    assert missing.json()["fields"]["reason"]
    assert blank.status_code == 400
    assert Insight.objects.get(pk=insights["invoice"].pk).status == "open"

    done = finance.post(url, {"reason": "Agreed discount with the client."}, format="json")
    assert done.status_code == 200
    body = done.json()
    assert (body["status"], body["dismissed_reason"], body["dismissed_by"]) == (
        "dismissed",
        "Agreed discount with the client.",
        finance.user.username,
    )
    audit = AuditEvent.objects.get(action="insight.dismissed", object_id=str(insights["invoice"].pk))
    assert audit.reason == "Agreed discount with the client."
    assert audit.actor == finance.user

    again = finance.post(url, {"reason": "Twice."}, format="json")
    assert again.status_code == 409
    assert again.json()["code"] == "invalid_transition"

    reopened = finance.post(f"/api/v1/insights/{insights['invoice'].pk}/reopen/")
    assert (reopened.status_code, reopened.json()["status"], reopened.json()["dismissed_reason"]) == (
        200,
        "open",
        "",
    )


def test_dismiss_of_an_insight_not_visible_is_404(client_for, insights):
    response = client_for(Role.RESOURCE_MANAGER).post(
        f"/api/v1/insights/{insights['invoice'].pk}/dismiss/", {"reason": "Not mine."}, format="json"
    )
    assert response.status_code == 404


def test_starting_and_reading_runs(client_for, django_capture_on_commit_callbacks):
    finance = client_for(Role.FINANCE)

    with django_capture_on_commit_callbacks() as callbacks:
        response = finance.post(
            "/api/v1/insight-runs/", {"as_of": "2026-03-27", "kinds": ["margin_risk"]}, format="json"
        )

    assert response.status_code == 201
    body = response.json()
    assert (body["status"], body["as_of"], body["kinds"], body["progress"]) == (
        "pending",
        "2026-03-27",
        ["margin_risk"],
        0,
    )
    assert len(callbacks) == 1
    callbacks[0]()
    run = finance.get(f"/api/v1/insight-runs/{body['id']}/").json()
    assert (run["status"], run["progress"], run["raised"], run["error"]) == ("completed", 100, 0, "")
    assert [row["id"] for row in finance.get("/api/v1/insight-runs/").json()["results"]] == [body["id"]]

    assert client_for(Role.CONSULTANT).post("/api/v1/insight-runs/", {}, format="json").status_code == 403
    assert (
        client_for(Role.RESOURCE_MANAGER).post("/api/v1/insight-runs/", {}, format="json").status_code == 403
    )
    bad = finance.post("/api/v1/insight-runs/", {"kinds": ["nonsense"]}, format="json")
    assert bad.status_code == 400
    assert "kinds" in bad.json()["fields"]
    assert finance.post("/api/v1/insight-runs/", {"as_of": "2999-01-01"}, format="json").status_code == 400
    assert InsightRun.objects.count() == 1


def test_a_second_start_while_one_is_pending_is_409(client_for):
    pm = client_for(Role.PROJECT_MANAGER)
    assert (
        pm.post("/api/v1/insight-runs/", {"as_of": str(date(2026, 3, 27))}, format="json").status_code == 201
    )

    refused = pm.post("/api/v1/insight-runs/", {}, format="json")

    assert refused.status_code == 409
    assert refused.json()["code"] == "insight_run_active"


def test_the_schema_describes_insights(client_for):
    schema = client_for(Role.ADMIN).get("/api/schema/?format=json").json()
    paths = schema["paths"]
    expected = {
        "/api/v1/insights/", "/api/v1/insights/{id}/", "/api/v1/insights/{id}/dismiss/",
        "/api/v1/insights/{id}/reopen/", "/api/v1/insight-runs/", "/api/v1/insight-runs/{id}/",
    }  # fmt: skip
    assert expected <= set(paths)
    assert "409" in paths["/api/v1/insights/{id}/dismiss/"]["post"]["responses"]


def test_list_and_inbox_queries_do_not_grow_with_the_insights(client_for, client, make_user):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    api = client_for(Role.FINANCE)
    client.force_login(make_user(Role.FINANCE))
    dismisser = make_user(Role.FINANCE)

    def counts() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as listed:
            assert api.get("/api/v1/insights/?status=dismissed").status_code == 200
        with CaptureQueriesContext(connection) as paged:
            assert client.get("/insights/?status=dismissed").status_code == 200
        return len(listed), len(paged)

    def add(count: int, start: int) -> None:
        for n in range(start, start + count):
            make_insight(str(n), audience=(Role.FINANCE,), owner=dismisser)
        Insight.objects.update(status="dismissed", dismissed_by=dismisser, dismissed_reason="Known.")

    add(2, 0)
    counts()  # warms what a first request caches (the user's roles)
    few = counts()
    add(10, 2)

    assert counts() == few
