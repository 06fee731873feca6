"""Dunning pages: runs (start, progress, notices, skipped clients) and policies, with who may see what."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from core.models import AuditEvent
from core.roles import Role
from crm.models import Account
from ledger.models import DunningRun
from ledger.services.collections import open_dispute
from ledger.services.dunning import assign_dunning_policy
from tests.ledger.test_dunning import level, make_policy, post_invoice, run_as_of

D = Decimal
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _deferred_checks(db):
    yield
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


@pytest.fixture
def finance(make_user):
    return make_user(Role.FINANCE, username="fin", first_name="Fran", last_name="Finance")


@pytest.fixture
def initech(usd_entity):
    return Account.objects.create(
        name="Initech",
        legal_entity=usd_entity,
        currency="USD",
        payment_terms_days=30,
        billing_email="ap@initech.example",
    )


@pytest.fixture
def finished_run(usd_entity, initech, finance, django_capture_on_commit_callbacks):
    """The worked example of issue 8 (fee 25.00, 8% on 2,500.00 for 45 days) plus a disputed invoice."""
    make_policy(finance, usd_entity, [level(1, 30, fee="25.00", percent="8"), level(2, 60, fee="40.00")])
    post_invoice(usd_entity, initech, 1, "2500.00", on=date(2026, 1, 2), due=date(2026, 2, 1))
    disputed = post_invoice(usd_entity, initech, 2, "300.00", on=date(2026, 1, 2), due=date(2026, 2, 1))
    open_dispute(actor=finance, ar_item=disputed, reason="Milestone not accepted")
    return run_as_of(django_capture_on_commit_callbacks, finance, usd_entity, date(2026, 3, 18))


def test_runs_list_shows_counters_newest_first(client, usd_entity, finance, finished_run):
    older = DunningRun.objects.create(legal_entity=usd_entity, as_of=date(2026, 3, 1), status="completed")
    client.force_login(finance)

    page = client.get("/ledger/dunning/runs/", {"legal_entity": usd_entity.pk})

    assert page.status_code == 200
    runs = list(page.context["runs"])
    # Newest first: the run created last (as of an earlier day) leads.
    assert [run.pk for run in runs] == [older.pk, finished_run.pk]
    html = page.content.decode()
    assert "Run dunning now" in html
    assert f"/ledger/dunning/runs/{finished_run.pk}/" in html
    assert (finished_run.clients_evaluated, finished_run.notices_created) == (1, 1)
    assert (finished_run.items_noticed, finished_run.items_on_hold) == (1, 1)
    row = html[html.index(f"Run {finished_run.pk}</a>") :]
    row = row[: row.index("</tr>")]
    assert row.count('<td class="text-end">1</td>') == 4


def test_run_detail_lists_notices_with_amounts_and_skipped_reasons(client, finance, finished_run):
    client.force_login(finance)

    page = client.get(f"/ledger/dunning/runs/{finished_run.pk}/")

    assert page.status_code == 200
    html = page.content.decode()
    notice = finished_run.notices.get()
    # 2,500.00 × 8 ÷ 100 ÷ 365 × 45 = 24.66 interest; with the 25.00 fee, 2,549.66 due.
    assert (notice.interest_amount, notice.fee_amount, notice.total_due) == (
        D("24.66"),
        D("25.00"),
        D("2549.66"),
    )
    assert all(amount in html for amount in ("$2,500.00", "$24.66", "$25.00", "$2,549.66"))
    assert f"/ledger/dunning-notices/{notice.pk}/pdf/" in html
    assert 'data-testid="run-skipped"' in html
    assert "Initech</a> (US-2026-000002): Disputed (invoice US-2026-000002): Milestone not accepted" in html
    # A finished run does not poll.
    assert "hx-trigger" not in html


def test_progress_partial_polls_while_active_and_reloads_when_done(client, usd_entity, finance, finished_run):
    active = DunningRun.objects.create(
        legal_entity=usd_entity, as_of=timezone.localdate(), status="running", progress=40
    )
    client.force_login(finance)

    polling = client.get(
        f"/ledger/dunning/runs/{active.pk}/progress/", {"polling": 1}, HTTP_HX_REQUEST="true"
    )
    assert polling.status_code == 200
    assert 'hx-trigger="every 2s"' in polling.content.decode()
    assert 'aria-valuenow="40"' in polling.content.decode()
    assert "HX-Refresh" not in polling

    done = client.get(
        f"/ledger/dunning/runs/{finished_run.pk}/progress/", {"polling": 1}, HTTP_HX_REQUEST="true"
    )
    assert "hx-trigger" not in done.content.decode()
    assert done["HX-Refresh"] == "true"

    compact = client.get(
        f"/ledger/dunning/runs/{finished_run.pk}/progress/", {"compact": 1}, HTTP_HX_REQUEST="true"
    )
    assert 'aria-valuenow="100"' in compact.content.decode()
    assert "hx-trigger" not in compact.content.decode()
    assert "HX-Refresh" not in compact

    listing = client.get("/ledger/dunning/runs/", {"legal_entity": usd_entity.pk}).content.decode()
    assert f"/ledger/dunning/runs/{active.pk}/progress/?compact=1" in listing


def test_starting_a_run_from_the_page_runs_it(
    client, usd_entity, initech, finance, django_capture_on_commit_callbacks
):
    make_policy(finance, usd_entity, [level(1, 14)])
    post_invoice(usd_entity, initech, 1, "800.00", on=date(2026, 1, 2), due=date(2026, 2, 1))
    client.force_login(finance)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/ledger/dunning/runs/", {"legal_entity": usd_entity.pk, "as_of": "2026-03-01"}, follow=True
        )

    run = DunningRun.objects.get()
    assert response.redirect_chain[-1][0] == f"/ledger/dunning/runs/{run.pk}/"
    run.refresh_from_db()
    assert (run.status, run.as_of, run.created_by, run.notices_created) == (
        "completed",
        date(2026, 3, 1),
        finance,
        1,
    )
    assert f"Dunning run {run.pk} as of 2026-03-01 started." in response.content.decode()


def test_refusals_are_shown_and_start_nothing(client, usd_entity, finance):
    running = DunningRun.objects.create(legal_entity=usd_entity, as_of=timezone.localdate(), status="running")
    client.force_login(finance)

    busy = client.post(
        "/ledger/dunning/runs/", {"legal_entity": usd_entity.pk, "as_of": timezone.localdate()}
    )
    assert busy.status_code == 400
    assert f"Run {running.pk} is running." in busy.content.decode()

    tomorrow = timezone.localdate() + timedelta(days=1)
    future = client.post("/ledger/dunning/runs/", {"legal_entity": usd_entity.pk, "as_of": tomorrow})
    assert future.status_code == 400
    assert "Must not be after today." in future.content.decode()

    blank = client.post("/ledger/dunning/runs/", {"legal_entity": usd_entity.pk, "as_of": ""})
    assert blank.status_code == 400
    assert DunningRun.objects.count() == 1


def test_executives_read_without_the_start_form_and_consultants_are_refused(
    client, usd_entity, make_user, finished_run
):
    client.force_login(make_user(Role.EXECUTIVE))
    runs = client.get("/ledger/dunning/runs/")
    assert runs.status_code == 200
    assert "Run dunning now" not in runs.content.decode()
    assert client.get(f"/ledger/dunning/runs/{finished_run.pk}/").status_code == 200
    assert client.get("/ledger/dunning/policies/").status_code == 200
    posted = client.post("/ledger/dunning/runs/", {"legal_entity": usd_entity.pk, "as_of": "2026-03-19"})
    assert posted.status_code == 403
    assert DunningRun.objects.count() == 1

    client.force_login(make_user(Role.CONSULTANT))
    for url in (
        "/ledger/dunning/runs/",
        f"/ledger/dunning/runs/{finished_run.pk}/",
        f"/ledger/dunning/runs/{finished_run.pk}/progress/",
        "/ledger/dunning/policies/",
    ):
        assert client.get(url).status_code == 403, url


def test_empty_states(client, usd_entity, finance):
    client.force_login(finance)
    runs = client.get("/ledger/dunning/runs/").content.decode()
    assert "No dunning runs for" in runs
    policies = client.get("/ledger/dunning/policies/").content.decode()
    assert "has no dunning policy yet" in policies


def test_policies_list_and_detail(client, usd_entity, initech, finance):
    standard = make_policy(finance, usd_entity, [level(1, 30, fee="25.00", percent="8"), level(2, 60)])
    strict = make_policy(
        finance,
        usd_entity,
        [level(1, 7, fee="10.00", escalate_to_owner=True)],
        name="Strict",
        is_default=False,
    )
    assign_dunning_policy(actor=finance, client=initech, policy=strict)
    client.force_login(finance)

    listing = client.get("/ledger/dunning/policies/", {"legal_entity": usd_entity.pk})
    assert [policy.name for policy in listing.context["policies"]] == ["Standard", "Strict"]
    assert [policy.client_count for policy in listing.context["policies"]] == [0, 1]
    html = listing.content.decode()
    assert "Default" in html
    assert "1: 30 days, fee $25.00, 8% a year</div><div>2: 60 days</div>" in html
    assert "1: 7 days, fee $10.00, escalates" in html

    detail = client.get(f"/ledger/dunning/policies/{strict.pk}/").content.decode()
    assert detail.count('data-testid="level-row"') == 1
    assert 'data-testid="policy-client"' in detail and "Initech" in detail

    default = client.get(f"/ledger/dunning/policies/{standard.pk}/").content.decode()
    assert default.count('data-testid="level-row"') == 2
    assert "as the default it applies to every client" in default


def test_the_ledger_navigation_links_the_dunning_pages(client, usd_entity, finance):
    client.force_login(finance)
    html = client.get("/ledger/collections/").content.decode()
    assert 'href="/ledger/dunning/runs/"' in html
    assert 'href="/ledger/dunning/policies/"' in html


def _policy_post(name="Standard", levels=(), **extra):
    data = {
        "name": name,
        "payment_instructions": "Pay to IBAN US00 1234.",
        "active": "on",
        "is_default": "on",
        "levels-TOTAL_FORMS": str(len(levels)),
        "levels-INITIAL_FORMS": "0",
        "levels-MIN_NUM_FORMS": "0",
        "levels-MAX_NUM_FORMS": "20",
        **extra,
    }
    for index, row in enumerate(levels):
        for field, value in row.items():
            data[f"levels-{index}-{field}"] = value
    return data


def _row(days, fee="", percent="", subject="Reminder {{ level }}", body="Please pay {{ total_due }}."):
    return {
        "days_overdue": days,
        "fee_amount": fee,
        "annual_interest_percent": percent,
        "subject_template": subject,
        "body_template": body,
    }


def test_finance_edits_a_policy_levels_from_the_page(client, usd_entity, finance):
    policy = make_policy(finance, usd_entity, [level(1, 30, fee="25.00", percent="8")])
    client.force_login(finance)
    form = client.get(f"/ledger/dunning/policies/{policy.pk}/edit/")
    assert form.status_code == 200
    # The existing level and one blank row to add another.
    html = form.content.decode()
    assert html.count('data-testid="level-form"') == 2
    assert 'name="levels-0-fee_amount" value="25.00"' in html
    assert 'name="levels-0-annual_interest_percent" value="8"' in html

    blank = {"days_overdue": "", "subject_template": "", "body_template": ""}
    response = client.post(
        f"/ledger/dunning/policies/{policy.pk}/edit/",
        _policy_post(levels=[_row("14", fee="10.00"), _row("45", percent="8.5"), blank]),
    )

    assert response.status_code == 302
    levels = list(
        policy.levels.order_by("level").values_list(
            "level", "days_overdue", "fee_amount", "annual_interest_percent"
        )
    )
    assert levels == [(1, 14, D("10.00"), None), (2, 45, D("0"), D("8.5"))]
    assert AuditEvent.objects.filter(action="dunning_policy.changed", object_id=str(policy.pk)).exists()


def test_policy_edit_errors_are_shown_per_level_and_change_nothing(client, usd_entity, finance, make_user):
    policy = make_policy(finance, usd_entity, [level(1, 30, fee="25.00")])
    client.force_login(finance)

    out_of_order = client.post(
        f"/ledger/dunning/policies/{policy.pk}/edit/", _policy_post(levels=[_row("30"), _row("20")])
    )
    assert out_of_order.status_code == 400
    formset = out_of_order.context["formset"]
    assert not formset[0].errors
    assert formset[1].errors
    assert "The dunning policy is invalid: level 2" in out_of_order.content.decode()

    missing = client.post(
        f"/ledger/dunning/policies/{policy.pk}/edit/", _policy_post(levels=[_row("30", subject="")])
    )
    assert missing.status_code == 400
    assert missing.context["formset"][0].errors["subject_template"] == ["This field is required."]
    assert list(policy.levels.values_list("days_overdue", "fee_amount")) == [(30, D("25.00"))]

    client.force_login(make_user(Role.EXECUTIVE))
    assert client.get(f"/ledger/dunning/policies/{policy.pk}/edit/").status_code == 403
    assert "Edit policy" not in client.get(f"/ledger/dunning/policies/{policy.pk}/").content.decode()
