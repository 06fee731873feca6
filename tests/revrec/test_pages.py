"""Revenue browser pages: access per role (finance acts, executives read, consultants are refused), empty
states, and the flows finance runs through them — preview (which writes nothing) and start a run, follow its
progress, resume a failed one, set an obligation's standalone price and estimate with a reason — and the
reports, whose numbers come from the same revenue runs that posted to the ledger."""

from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.urls import reverse

from core.models import AuditEvent
from core.roles import Role
from ledger.models import FiscalPeriod, JournalEntry, JournalLine
from revrec.choices import LineStatus, RunStatus
from revrec.models import Allocation, PerformanceObligation, RevenueRun, RevenueScheduleLine
from revrec.services.obligations import set_estimate
from revrec.services.runs import execute_revenue_run, start_revenue_run
from tests.billing.conftest import approved_expense
from tests.ledger.close_books import mark_closed

pytestmark = pytest.mark.django_db

D = Decimal
HTMX = {"HTTP_HX_REQUEST": "true"}
REPORTS = ["report-waterfall", "report-deferred", "report-unbilled", "report-rpo", "report-contracts"]


@pytest.fixture
def login(client, make_user):
    """Sign `client` in as a new user holding `roles` and return the user."""

    def sign_in(*roles, **kwargs):
        user = make_user(*roles, **kwargs)
        client.force_login(user)
        return user

    return sign_in


def recognise(finance, entity, period_end):
    run = start_revenue_run(actor=finance, legal_entity=entity, period_end=period_end)
    return execute_revenue_run(run_id=run.pk)


def totals(run) -> dict:
    return {currency: D(amount) for currency, amount in run.totals.items()}


def cost(people, project, day, amount):
    """A subcontractor's approved, non-billable expense: cost that measures progress, nothing to bill."""
    expense = approved_expense(people.sam, project, day, amount, category="subcontractor")
    expense.billable = False
    expense.save(update_fields=["billable"])


@pytest.fixture
def books(finance, entity, people, make_contract):
    """One contract: support recognised ratably (9,000.00 over 2026-01-16..04-15) and an implementation
    measured cost to cost (50,000.00, estimated cost 40,000.00). January is recognised: 1,600.00 of support
    and, at 4,000.00 of subcontracted cost, 5,000.00 of the implementation."""
    contract, project = make_contract(
        [
            {
                "description": "Support",
                "billing_model": "fixed_fee",
                "amount": D("9000.00"),
                "revenue_method": "ratable",
                "start": date(2026, 1, 16),
                "end": date(2026, 4, 15),
            },
            {
                "description": "Implementation",
                "billing_model": "fixed_fee",
                "amount": D("50000.00"),
                "revenue_method": "percent_complete",
                "start": date(2026, 1, 1),
                "end": date(2026, 6, 30),
            },
        ],
        code="IMP",
    )
    support = PerformanceObligation.objects.get(contract=contract, description="Support")
    implementation = PerformanceObligation.objects.get(contract=contract, description="Implementation")
    set_estimate(actor=finance, obligation=implementation, total_cost=D("40000"), reason="Plan at signing")
    cost(people, project, date(2026, 1, 20), "4000.00")
    january = recognise(finance, entity, date(2026, 1, 31))
    cost(people, project, date(2026, 2, 10), "2000.00")  # 6,000.00 to date: 15%
    return SimpleNamespace(
        entity=entity,
        contract=contract,
        project=project,
        support=support,
        implementation=implementation,
        january=january,
    )


def page_urls(books) -> list[str]:
    run, obligation = books.january, books.implementation
    return [
        reverse("revrec:runs"),
        reverse("revrec:run-detail", args=[run.pk]),
        reverse("revrec:run-progress", args=[run.pk]),
        reverse("revrec:obligations"),
        reverse("revrec:obligation-detail", args=[obligation.pk]),
        *(reverse(f"revrec:{name}") for name in REPORTS),
        reverse("revrec:report-contract", args=[books.contract.pk]),
    ]


def test_the_january_run_of_the_fixture(books):
    assert books.january.status == RunStatus.COMPLETED
    assert totals(books.january) == {"USD": D("6600.00")}


def test_every_page_renders_for_finance_with_actions(client, login, books):
    login(Role.FINANCE)
    for url in [*page_urls(books), reverse("revrec:run-create")]:
        assert client.get(url).status_code == 200, url
    runs = client.get(reverse("revrec:runs")).content.decode()
    assert reverse("revrec:run-create") in runs
    assert "$6,600.00" in runs
    detail = client.get(reverse("revrec:obligation-detail", args=[books.implementation.pk])).content.decode()
    assert reverse("revrec:obligation-ssp", args=[books.implementation.pk]) in detail
    assert reverse("revrec:obligation-estimate", args=[books.implementation.pk]) in detail
    assert "$5,000.00" in detail  # recognised in January
    # Ratable obligations have no estimate at completion to set.
    support = client.get(reverse("revrec:obligation-detail", args=[books.support.pk])).content.decode()
    assert reverse("revrec:obligation-estimate", args=[books.support.pk]) not in support
    assert "$1,600.00" in support and "$2,800.00" in support  # January recognised, February planned


def test_finance_and_executives_find_revenue_in_the_navigation(client, login):
    login(Role.EXECUTIVE)
    assert reverse("revrec:runs") in client.get(reverse("core:overview")).content.decode()
    login(Role.CONSULTANT)
    assert reverse("revrec:runs") not in client.get(reverse("core:overview")).content.decode()


def test_consultants_are_refused_everywhere(client, login, books):
    login(Role.CONSULTANT)
    for url in [*page_urls(books), reverse("revrec:run-create")]:
        assert client.get(url).status_code == 403, url
    before = (RevenueRun.objects.count(), Allocation.objects.count())
    for url, data in writes(books):
        assert client.post(url, data).status_code == 403, url
    assert (RevenueRun.objects.count(), Allocation.objects.count()) == before


def writes(books) -> list[tuple[str, dict]]:
    obligation = books.implementation
    return [
        (reverse("revrec:run-create"), {"legal_entity": books.entity.pk, "period_end": "2026-02-28"}),
        (reverse("revrec:run-resume", args=[books.january.pk]), {}),
        (
            reverse("revrec:obligation-ssp", args=[obligation.pk]),
            {"ssp-standalone_price": "1", "ssp-reason": "Because"},
        ),
        (
            reverse("revrec:obligation-estimate", args=[obligation.pk]),
            {"estimate-total_cost": "1", "estimate-reason": "Because"},
        ),
    ]


def test_executives_read_every_page_without_actions_and_may_not_post(client, login, books):
    login(Role.EXECUTIVE)
    for url in page_urls(books):
        response = client.get(url)
        assert response.status_code == 200, url
        page = response.content.decode()
        assert reverse("revrec:run-create") not in page, url
        assert "ssp-standalone_price" not in page and "estimate-total_cost" not in page, url
    failed = start_revenue_run(
        actor=books.january.created_by, legal_entity=books.entity, period_end=date(2026, 2, 28)
    )
    RevenueRun.objects.filter(pk=failed.pk).update(status=RunStatus.FAILED, error="WorkerLost: killed")
    page = client.get(reverse("revrec:run-detail", args=[failed.pk])).content.decode()
    assert "WorkerLost: killed" in page and reverse("revrec:run-resume", args=[failed.pk]) not in page
    RevenueRun.objects.filter(pk=failed.pk).delete()
    assert client.get(reverse("revrec:run-create")).status_code == 403
    preview = f"{reverse('revrec:run-preview')}?legal_entity={books.entity.pk}&period_end=2026-02-28"
    assert client.get(preview).status_code == 403
    before = (RevenueRun.objects.count(), Allocation.objects.count(), AuditEvent.objects.count())
    for url, data in writes(books):
        assert client.post(url, data).status_code == 403, url
    assert (RevenueRun.objects.count(), Allocation.objects.count(), AuditEvent.objects.count()) == before


def test_empty_states(client, login):
    login(Role.FINANCE)
    assert "No revenue runs yet" in client.get(reverse("revrec:runs")).content.decode()
    assert "No performance obligations yet" in client.get(reverse("revrec:obligations")).content.decode()
    for name in REPORTS:
        assert "No legal entities yet" in client.get(reverse(f"revrec:{name}")).content.decode(), name
    assert "No legal entities yet" in client.get(reverse("revrec:run-create")).content.decode()


def test_reports_say_when_there_is_nothing_to_show(client, login, entity):
    login(Role.FINANCE)
    expected = {
        "report-waterfall": "Nothing recognised or scheduled",
        "report-deferred": "No deferred revenue between",
        "report-unbilled": "No unbilled revenue on",
        "report-rpo": "Nothing left to recognise on",
        "report-contracts": "No contract of this legal entity has performance obligations yet",
    }
    for name, text in expected.items():
        assert text in client.get(reverse(f"revrec:{name}")).content.decode(), name
    filtered = client.get(reverse("revrec:obligations"), {"method": "milestone"}).content.decode()
    assert "No performance obligations yet" in filtered


def test_preview_shows_what_a_run_would_recognise_and_writes_nothing(client, login, books):
    login(Role.FINANCE)
    counts = [RevenueRun, RevenueScheduleLine, JournalEntry, JournalLine, AuditEvent, Allocation]
    before = [model.objects.count() for model in counts]
    planned = list(RevenueScheduleLine.objects.filter(status=LineStatus.PLANNED).values_list("pk", "status"))
    response = client.get(
        reverse("revrec:run-preview"),
        {"legal_entity": books.entity.pk, "period_end": "2026-02-28"},
        **HTMX,
    )
    assert response.status_code == 200
    page = response.content.decode()
    # February: 2,800.00 of support, and 15% of 50,000.00 less the 5,000.00 of January.
    assert "$2,800.00" in page and "$2,500.00" in page
    assert "$5,300.00" in page
    assert "nothing is written" in page
    assert [model.objects.count() for model in counts] == before
    assert list(
        RevenueScheduleLine.objects.filter(pk__in=[pk for pk, _ in planned]).values_list("pk", "status")
    ) == (planned)


def test_preview_flags_a_loss_making_estimate(client, login, finance, books):
    set_estimate(
        actor=finance, obligation=books.implementation, total_cost=D("60000"), reason="Overrun expected"
    )
    login(Role.FINANCE)
    page = client.get(
        reverse("revrec:run-preview"), {"legal_entity": books.entity.pk, "period_end": "2026-02-28"}, **HTMX
    ).content.decode()
    assert "estimated cost 60000.00 exceeds the price; a loss is expected" in page
    detail = client.get(reverse("revrec:obligation-detail", args=[books.implementation.pk])).content.decode()
    assert "Loss-making estimate" in detail


def test_preview_without_a_date_says_so(client, login, books):
    login(Role.FINANCE)
    page = client.get(
        reverse("revrec:run-preview"), {"legal_entity": books.entity.pk, "period_end": ""}, **HTMX
    ).content.decode()
    assert "alert-danger" in page and "Recognise up to" in page


def test_starting_a_run_from_the_page_completes_it(client, login, books, django_capture_on_commit_callbacks):
    login(Role.FINANCE)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("revrec:run-create"), {"legal_entity": books.entity.pk, "period_end": "2026-02-28"}
        )
    run = RevenueRun.objects.exclude(pk=books.january.pk).get()
    assert response.status_code == 302
    assert response.url == reverse("revrec:run-detail", args=[run.pk])
    assert (run.status, totals(run)) == (RunStatus.COMPLETED, {"USD": D("5300.00")})
    posted = JournalLine.objects.filter(entry__source_type="revrec.run", entry__source_id=str(run.pk))
    assert sum(line.debit for line in posted) == D("5300.00")
    page = client.get(response.url).content.decode()
    assert "Completed" in page and "$5,300.00" in page
    assert 'hx-trigger="every 2s"' not in page  # finished: nothing to poll


def test_a_refused_run_is_an_alert_on_the_form_not_an_error_page(client, login, finance, books):
    period = FiscalPeriod.objects.get(legal_entity=books.entity, start=date(2026, 1, 1))
    mark_closed(period, finance)
    login(Role.FINANCE)
    response = client.post(
        reverse("revrec:run-create"), {"legal_entity": books.entity.pk, "period_end": "2026-01-31"}
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "alert-danger" in page and "is closed" in page
    assert RevenueRun.objects.count() == 1


def test_progress_polls_while_the_run_is_active_and_reloads_once_it_stops(client, login, finance, books):
    login(Role.FINANCE)
    pending = start_revenue_run(actor=finance, legal_entity=books.entity, period_end=date(2026, 2, 28))
    detail = client.get(reverse("revrec:run-detail", args=[pending.pk])).content.decode()
    assert 'hx-trigger="every 2s"' in detail and "Pending" in detail
    progress = reverse("revrec:run-progress", args=[pending.pk])
    assert "HX-Refresh" not in client.get(progress, {"polling": "1"}, **HTMX).headers
    execute_revenue_run(run_id=pending.pk)
    response = client.get(progress, {"polling": "1"}, **HTMX)
    assert response.headers["HX-Refresh"] == "true"
    assert 'data-status="completed"' in response.content.decode()


def test_a_failed_run_shows_its_error_and_resumes(
    client, login, finance, books, django_capture_on_commit_callbacks
):
    run = start_revenue_run(actor=finance, legal_entity=books.entity, period_end=date(2026, 2, 28))
    # As a killed worker leaves it: arranged directly, no service fails a run on purpose.
    RevenueRun.objects.filter(pk=run.pk).update(status=RunStatus.FAILED, error="WorkerLost: killed")
    login(Role.FINANCE)
    page = client.get(reverse("revrec:run-detail", args=[run.pk])).content.decode()
    assert "WorkerLost: killed" in page and reverse("revrec:run-resume", args=[run.pk]) in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("revrec:run-resume", args=[run.pk]))
    assert response.status_code == 302
    run.refresh_from_db()
    assert (run.status, totals(run), run.attempts) == (RunStatus.COMPLETED, {"USD": D("5300.00")}, 1)
    # A completed run is not resumed: the refusal is a message, not an error page.
    response = client.post(reverse("revrec:run-resume", args=[run.pk]), follow=True)
    assert "is completed; start a new run" in response.content.decode()


def test_obligations_filter_by_contract_and_method(client, login, books, make_contract):
    other, _ = make_contract(
        [
            {
                "description": "Design",
                "billing_model": "milestone",
                "milestones": [{"name": "Design signed off", "due": "2026-02-15", "amount": "12000.00"}],
                "start": date(2026, 1, 1),
                "end": date(2026, 6, 30),
            }
        ],
        code="OTH",
    )
    login(Role.FINANCE)
    url = reverse("revrec:obligations")
    everything = client.get(url).content.decode()
    assert "Support" in everything and "Implementation" in everything and "Design" in everything
    assert reverse("revrec:report-contract", args=[books.contract.pk]) in everything
    mine = client.get(url, {"contract": books.contract.pk}).content.decode()
    assert "Support" in mine and "Implementation" in mine and "Design" not in mine
    ratable = client.get(url, {"method": "ratable"}).content.decode()
    assert "Support" in ratable and "Implementation" not in ratable
    assert "No obligation matches" in client.get(url, {"method": "as_delivered"}).content.decode()


def test_the_standalone_price_needs_a_reason(client, login, books):
    login(Role.FINANCE)
    obligation = books.implementation
    response = client.post(
        reverse("revrec:obligation-ssp", args=[obligation.pk]),
        {"ssp-standalone_price": "40000", "ssp-reason": ""},
    )
    assert response.status_code == 400
    assert "Say why (it is kept in the audit trail)." in response.content.decode()
    obligation.refresh_from_db()
    assert (obligation.standalone_price, obligation.allocated_amount) == (D("50000"), D("50000"))
    assert Allocation.objects.filter(contract=books.contract).count() == 1


def test_a_new_standalone_price_reallocates_the_contract(client, login, books):
    login(Role.FINANCE)
    response = client.post(
        reverse("revrec:obligation-ssp", args=[books.implementation.pk]),
        {"ssp-standalone_price": "27000", "ssp-reason": "Observable price from the 2025 price list"},
    )
    assert response.status_code == 302
    books.implementation.refresh_from_db()
    books.support.refresh_from_db()
    # 59,000.00 by 27,000 : 9,000 → 44,250.00 / 14,750.00 (the last obligation takes the remainder).
    assert books.support.allocated_amount == D("14750.00")
    assert books.implementation.allocated_amount == D("44250.00")
    page = client.get(response.url).content.decode()
    assert "Standalone price saved" in page and "Observable price from the 2025 price list" in page


def test_a_refused_standalone_price_is_shown_on_the_form(client, login, books):
    login(Role.FINANCE)
    response = client.post(
        reverse("revrec:obligation-ssp", args=[books.implementation.pk]),
        {"ssp-standalone_price": "-5", "ssp-reason": "Typo"},
    )
    assert response.status_code == 400
    assert "Ensure this value is greater than or equal to 0." in response.content.decode()


def test_the_estimate_at_completion(client, login, books):
    login(Role.FINANCE)
    url = reverse("revrec:obligation-estimate", args=[books.implementation.pk])
    refused = client.post(url, {"estimate-total_cost": "44000", "estimate-reason": ""})
    assert refused.status_code == 400 and "Say why" in refused.content.decode()
    zero = client.post(url, {"estimate-total_cost": "0", "estimate-reason": "Done already"})
    assert zero.status_code == 400
    assert "An estimate at completion is more than zero." in zero.content.decode()
    unchanged = client.post(url, {"estimate-total_cost": "40000", "estimate-reason": "Same"})
    assert "The estimate is unchanged" in unchanged.content.decode()
    books.implementation.refresh_from_db()
    assert books.implementation.estimated_total_cost == D("40000")
    saved = client.post(url, {"estimate-total_cost": "44000", "estimate-reason": "Scope grew"})
    assert saved.status_code == 302
    books.implementation.refresh_from_db()
    assert books.implementation.estimated_total_cost == D("44000")
    event = AuditEvent.objects.filter(action="obligation.estimate_changed").latest("id")
    assert (event.reason, list(event.changes)) == ("Scope grew", ["estimated_total_cost"])


def test_ratable_obligations_take_no_estimate(client, login, books):
    login(Role.FINANCE)
    response = client.post(
        reverse("revrec:obligation-estimate", args=[books.support.pk]),
        {"estimate-total_cost": "100", "estimate-reason": "No"},
        follow=True,
    )
    assert "Only percent-complete obligations have an estimate" in response.content.decode()
    books.support.refresh_from_db()
    assert books.support.estimated_total_cost is None


def test_reports_show_the_runs_numbers(client, login, books):
    login(Role.FINANCE)
    waterfall = client.get(reverse("revrec:report-waterfall"), {"as_of": "2026-01-31"}).content.decode()
    assert 'id="waterfall-data"' in waterfall and "chart.umd.min.js" in waterfall
    assert "$6,600.00" in waterfall  # recognised in January
    csv = client.get(reverse("revrec:report-waterfall"), {"as_of": "2026-01-31", "format": "csv"})
    assert csv["Content-Type"].startswith("text/csv")
    assert "Globex Corp,USD,recognized" in csv.content.decode()

    rollforward = client.get(
        reverse("revrec:report-deferred"), {"start": "2026-01-01", "end": "2026-01-31"}
    ).content.decode()
    assert "$6,600.00" in rollforward and "Agrees" in rollforward

    unbilled = client.get(reverse("revrec:report-unbilled"), {"as_of": "2026-01-31"}).content.decode()
    assert "$6,600.00" in unbilled  # nothing billed yet: all of it is a contract asset

    rpo = client.get(reverse("revrec:report-rpo"), {"as_of": "2026-01-31"}).content.decode()
    assert "$52,400.00" in rpo  # 59,000.00 − 6,600.00

    summary = client.get(
        reverse("revrec:report-contract", args=[books.contract.pk]), {"as_of": "2026-01-31"}
    ).content.decode()
    assert "$59,000.00" in summary and "$6,600.00" in summary and "Contract asset" in summary
    csv = client.get(reverse("revrec:report-contract", args=[books.contract.pk]), {"format": "csv"})
    assert "Implementation,percent_complete,active,USD" in csv.content.decode()
