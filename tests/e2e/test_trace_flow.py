"""The quote-to-cash trace page and the flow-health dashboard in real Chromium: a paid deal's chain from the
opportunity page, an open deal's blocker and empty sections; flow health with Chart.js drawing each stage
that has data, the exception counts linked to their rows, and the empty state."""

import re

import pytest
from playwright.sync_api import expect

from analytics import flow
from core.roles import Role
from tests.billing.conftest import (  # noqa: F401 - the billing tests' small firm
    client_account,
    entity,
    finance,
    people,
    roles,
    vat20,
)
from tests.crm.test_trace import deal, flowed, pm  # noqa: F401 - the trace tests' deal and its flow
from tests.e2e.test_dashboards import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def drawn(page, chart_id: str) -> int:
    """How many data points Chart.js drew on the flow chart's canvas, over all its datasets."""
    return page.evaluate(
        """(id) => {
            const chart = Chart.getChart(document.querySelector(`canvas[data-flow-chart="${id}"]`));
            const points = (set) => set.data.filter((v) => v !== null).length;
            return chart ? chart.data.datasets.reduce((n, set) => n + points(set), 0) : -1;
        }""",
        chart_id,
    )


def test_trace_of_a_paid_deal_and_its_flow(page, pm, finance, entity, people, deal):  # noqa: F811
    chain = flowed(pm, finance, entity, people, deal)
    sign_in(page, pm)
    page.goto(f"/crm/opportunities/{deal.pk}/")
    page.get_by_test_id("trace-link").click()
    expect(page).to_have_url(re.compile(rf"/crm/opportunities/{deal.pk}/trace/$"))
    expect(page.get_by_role("heading", name=re.compile("Quote to cash"))).to_be_visible()
    expect(page.get_by_test_id("trace-stuck")).to_have_text("Flowing: nothing is stuck.")
    expect(page.locator('[data-step="payment"]')).to_have_attribute("data-status", "done")
    invoices = page.locator('[data-table="invoices"]')
    expect(invoices).to_contain_text(chain.invoice.number)
    expect(invoices).to_contain_text("$4,320.00")
    expect(page.locator('[data-table="time"] [data-status="billed"]')).to_contain_text("24.00")
    page.get_by_role("link", name="WIRE-77").click()
    expect(page).to_have_url(re.compile(rf"/ledger/payments/{chain.payment.pk}/$"))

    page.goto("/dashboards/flow/?as_of=2026-06-15")
    expect(page.get_by_role("heading", name="Flow health", level=1)).to_be_visible()
    # Won and released today, after the window; issued 1 April and paid on 20 April (19 days): only
    # release → payment has a month in the window.
    stage = page.locator('[data-stage="release_to_payment"]')
    expect(stage.locator('[data-month="2026-04"]')).to_contain_text("19.0")
    assert drawn(page, "flow_chart_2") == 12 + 1 + 1
    expect(page.locator('[data-stage="period_to_close"] [data-empty]')).to_be_visible()


def test_open_deal_trace_and_empty_flow_health(page, make_user, deal):  # noqa: F811
    user = make_user(Role.FINANCE)
    sign_in(page, user)
    page.goto(f"/crm/opportunities/{deal.pk}/trace/")
    expect(page.get_by_test_id("trace-state")).to_have_text("Open")
    expect(page.get_by_test_id("trace-stuck")).to_have_text("Not won yet: in stage Propose for 0 days.")
    expect(page.locator('[data-code="not_won"]')).to_be_visible()
    expect(page.get_by_text("Nothing invoiced yet.")).to_be_visible()

    page.get_by_role("link", name="Flow health").first.click()
    expect(page).to_have_url(re.compile(r"/dashboards/flow/$"))
    expect(page.locator("[data-stage] [data-empty]")).to_have_count(4)
    expect(page.locator("canvas[data-flow-chart]")).to_have_count(0)
    exceptions = page.get_by_test_id("flow-exceptions")
    expect(exceptions.locator("[data-count]")).to_have_text(["0"] * len(flow.EXCEPTIONS))
    exceptions.get_by_role("link", name="Runs failed or stuck").click()
    expect(page.locator("[data-empty]")).to_contain_text("Nothing here: no runs failed or stuck.")
