"""The insights inbox page: who sees which cards, tabs and filters, the empty state, dismissing in place
(htmx) with and without a reason, and starting a run."""

import pytest

from core.roles import Role
from insights.models import Insight, InsightRun
from tests.insights.inbox import make_insight

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def login(client, make_user):
    def sign_in(*roles, **kwargs):
        user = make_user(*roles, **kwargs)
        client.force_login(user)
        return user

    return sign_in


def test_a_project_manager_sees_the_cards_of_their_audience(client, login):
    login(Role.PROJECT_MANAGER)
    make_insight("a", figures={"hours": "14.00", "days": {"2026-03-21": "3.00"}})
    make_insight(
        "b", kind="invoice_anomaly", rule="deviation", audience=(Role.FINANCE,), title="Off the history"
    )

    response = client.get("/insights/")

    page = response.content.decode()
    assert response.status_code == 200
    assert "Chloe Novak: 14.00 h on Thu 26 Mar 2026 (a)" in page
    assert "Chloe Novak logged 14.00 h on Thu 26 Mar 2026; her median day is 7.50 h." in page
    assert "2026-03-21: 3.00" in page  # a nested figure, in words
    assert "Hours that day" in page
    assert "Off the history" not in page
    assert 'href="/insights/"' in page  # the navigation entry
    assert "Run now" in page


def test_a_consultant_sees_only_their_own_and_cannot_dismiss_or_run(client, login):
    chloe = login(Role.CONSULTANT)
    mine = make_insight("mine", owner=chloe)
    make_insight("theirs")

    page = client.get("/insights/").content.decode()

    assert "(mine)" in page and "(theirs)" not in page
    assert f'action="/insights/{mine.pk}/dismiss/"' not in page
    assert "Run now" not in page
    assert 'data-testid="insight-run"' not in page
    assert client.post("/insights/runs/").status_code == 403


def test_roles_without_an_inbox_are_refused(client, login):
    assert client.get("/insights/").status_code == 302  # to sign in
    login(Role.INTEGRATOR)
    assert client.get("/insights/").status_code == 403


def test_empty_state_tabs_and_filters(client, login):
    login(Role.FINANCE)

    assert "Nothing needs a look." in client.get("/insights/").content.decode()

    make_insight("open", audience=(Role.FINANCE,), severity="critical")
    make_insight("quiet", audience=(Role.FINANCE,), kind="margin_risk", rule="burn_ahead", severity="info")
    gone = make_insight("gone", audience=(Role.FINANCE,))
    Insight.objects.filter(pk=gone.pk).update(status="cleared", cleared_at=gone.last_seen_at)

    by_kind = client.get("/insights/?kind=margin_risk").content.decode()
    assert "(quiet)" in by_kind and "(open)" not in by_kind
    by_severity = client.get("/insights/?severity=critical").content.decode()
    assert "(open)" in by_severity and "(quiet)" not in by_severity
    cleared = client.get("/insights/?status=cleared").content.decode()
    assert "the last run no longer found it" in cleared
    assert "No dismissed insights." in client.get("/insights/?status=dismissed").content.decode()
    assert (
        "Nothing needs a look with these filters." in client.get("/insights/?kind=staffing").content.decode()
    )


def test_dismiss_in_place_needs_a_reason(client, login):
    login(Role.PROJECT_MANAGER)
    insight = make_insight("a")

    refused = client.post(f"/insights/{insight.pk}/dismiss/", {"reason": " "}, **HTMX)

    assert refused.status_code == 200
    assert "Say why you dismiss it." in refused.content.decode()
    insight.refresh_from_db()
    assert insight.status == "open"

    done = client.post(f"/insights/{insight.pk}/dismiss/", {"reason": "Catch-up after leave."}, **HTMX)

    assert "Catch-up after leave." in done.content.decode()
    assert "Reopen" in done.content.decode()
    insight.refresh_from_db()
    assert (insight.status, insight.dismissed_reason) == ("dismissed", "Catch-up after leave.")
    assert "(a)" in client.get("/insights/?status=dismissed").content.decode()

    # Without htmx: back to the inbox with a message.
    reopened = client.post(f"/insights/{insight.pk}/reopen/")
    assert reopened.status_code == 302
    insight.refresh_from_db()
    assert insight.status == "open"


def test_a_finance_user_cannot_touch_a_project_managers_insight(client, login):
    login(Role.FINANCE)
    insight = make_insight("a")

    assert client.post(f"/insights/{insight.pk}/dismiss/", {"reason": "No."}, **HTMX).status_code == 404


def test_run_now_and_its_progress(client, login, django_capture_on_commit_callbacks):
    login(Role.FINANCE)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/insights/runs/")

    assert response.status_code == 302
    run = InsightRun.objects.get()
    assert run.status == "completed"
    progress = client.get(f"/insights/runs/{run.pk}/progress/?polling=1", **HTMX)
    assert progress.status_code == 200
    assert progress["HX-Refresh"] == "true"
    assert f"Run {run.pk} as of" in client.get("/insights/").content.decode()
