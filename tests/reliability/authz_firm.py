"""The authorization matrix's firm: one user per role, two project managers with a won deal and a project
each, two consultants with time and expenses on different projects, and at least one object of every kind
the API serves (released and draft invoices, a payment, a credit note, a dunning notice, a revenue run, a
webhook delivery, …), so every detail URL of the matrix has something to show or refuse.

Built once per test module inside a transaction that is rolled back at the end (`firm_fixture`)."""

from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.db import transaction
from django.utils import timezone

from billing.models import CreditNote, Invoice, TaxCode
from billing.services.credit_notes import create_credit_note
from billing.services.invoices import INVOICE_DOCUMENT, release_invoices
from billing.services.runs import execute_billing_run, start_billing_run
from billing.services.tax import create_tax_code
from core.models import AuditEvent, Event, WebhookSubscription
from core.models.api_keys import ALL_SCOPES
from core.roles import Role as UserRole
from core.services.api_keys import create_api_key, revoke_api_key
from core.services.webhooks import create_webhook_subscription, fan_out_event
from crm.choices import QuoteStatus
from crm.models import Account, Opportunity
from crm.services.accounts import create_activity, create_contact
from crm.services.handoff import win_opportunity
from crm.services.pipeline import create_opportunity
from crm.services.quotes import create_quote, submit_quote
from insights.models import Insight, InsightKind, InsightRun, InsightRunStatus
from ledger.choices import AccountRole
from ledger.models import ArItem, DunningNotice, FiscalPeriod, GLAccount
from ledger.selectors import account_by_role
from ledger.services.ar.payments import record_payment
from ledger.services.ar.write_offs import request_write_off
from ledger.services.close import close_period
from ledger.services.collections import open_dispute
from ledger.services.dunning.policies import LevelSpec, create_dunning_policy
from ledger.services.dunning.runs import execute_dunning_run, start_dunning_run
from ledger.services.entries import post_manual_entry
from ledger.services.posting import LineSpec
from ledger.services.setup import create_legal_entity, set_exchange_rate
from projects.models import Assignment, ProjectRateOverride, RateCard, ResourceRequest, Role
from projects.services.capacity import create_holiday, create_practice, record_time_off
from projects.services.expenses import create_expense, submit_expense
from projects.services.people import create_assignment, create_person
from projects.services.rates import set_cost_rate, set_project_rate
from projects.services.time import record_time, submit_timesheet
from revrec.models import PerformanceObligation
from revrec.services.runs import execute_revenue_run, start_revenue_run
from tests.billing.conftest import approved_time
from tests.factories import UserFactory

D = Decimal
TODAY = date(2026, 6, 30)
# The integrator's key: full access to the CRM, projects and core, read-only billing and ledger, nothing of
# revenue recognition or analytics, so the matrix sees scopes and roles together.
INTEGRATOR_SCOPES = [
    "core:read", "core:write", "crm:read", "crm:write", "projects:read", "projects:write",
    "billing:read", "ledger:read",
]  # fmt: skip
ROLE_OF = {
    "consultant": UserRole.CONSULTANT,
    "pm": UserRole.PROJECT_MANAGER,
    "rm": UserRole.RESOURCE_MANAGER,
    "finance": UserRole.FINANCE,
    "executive": UserRole.EXECUTIVE,
    "admin": UserRole.ADMIN,
    "integrator": UserRole.INTEGRATOR,
}


def _won_project(*, owner, account, code: str, role: Role):
    opportunity = create_opportunity(
        actor=owner,
        account=account,
        name=f"{code} rollout",
        expected_close=date(2026, 1, 2),
        stage="negotiate",
        lines=[
            {
                "service": f"{code} delivery",
                "billing_model": "time_and_materials",
                "role": role.pk,
                "hours": D("400"),
                "rate": D("150.00"),
                "start": date(2026, 1, 5),
                "end": date(2026, 12, 31),
            },
            {
                "service": f"{code} milestones",
                "billing_model": "milestone",
                "start": date(2026, 1, 5),
                "end": date(2026, 12, 31),
                "milestones": [{"name": f"{code} sign-off", "due": "2026-09-30", "amount": "5000.00"}],
            },
        ],
    )
    contract = win_opportunity(actor=owner, opportunity=opportunity)
    return contract, contract.projects.get()


def build_firm() -> SimpleNamespace:
    users = {name: UserFactory(roles=[role], username=f"authz-{name}") for name, role in ROLE_OF.items()}
    users["consultant_b"] = UserFactory(roles=[UserRole.CONSULTANT], username="authz-consultant-b")
    users["pm_b"] = UserFactory(roles=[UserRole.PROJECT_MANAGER], username="authz-pm-b")
    users["integrator_b"] = UserFactory(roles=[UserRole.INTEGRATOR], username="authz-integrator-b")
    users["finance_b"] = UserFactory(roles=[UserRole.FINANCE], username="authz-finance-b")
    finance = users["finance"]

    entity = create_legal_entity(
        actor=None, name="Matrix Consulting Inc.", functional_currency="USD", invoice_prefix="MX-",
        today=date(2026, 1, 15),
    )  # fmt: skip
    create_tax_code(
        actor=finance, legal_entity=entity, code="VAT20", name="VAT 20%", rate_percent=D("20"),
        account=account_by_role(entity, AccountRole.TAX_PAYABLE),
    )  # fmt: skip
    senior = Role.objects.create(name="Senior")

    def person(key, name):
        return create_person(actor=None, name=name, role=senior, legal_entity=entity, user=users[key])

    people = SimpleNamespace(
        consultant=person("consultant", "Carl Consultant"),
        consultant_b=person("consultant_b", "Dora Consultant"),
        pm=person("pm", "Priya Manager"),
        pm_b=person("pm_b", "Paul Manager"),
        rm=person("rm", "Rafael Staffer"),
    )

    def account(name, owner):
        return Account.objects.create(
            name=name, normalized_name=name.lower(), legal_entity=entity, currency="USD", tax_code="VAT20",
            billing_email=f"ap@{name.split()[0].lower()}.example", payment_terms_days=30, owner=owner,
        )  # fmt: skip

    account_a = account("Alpha Corp", users["pm"])
    account_b = account("Beta Corp", users["pm_b"])
    contract_a, project_a = _won_project(owner=users["pm"], account=account_a, code="ALPHA", role=senior)
    contract_b, project_b = _won_project(owner=users["pm_b"], account=account_b, code="BETA", role=senior)
    open_deal = create_opportunity(
        actor=users["pm"], account=account_a, name="Alpha phase two", expected_close=date(2026, 9, 30),
        lines=[{"service": "Phase two", "billing_model": "fixed_fee", "amount": D("9000.00"),
                "start": date(2026, 10, 1), "end": date(2026, 12, 31)}],
    )  # fmt: skip
    open_deal_b = create_opportunity(
        actor=users["pm_b"], account=account_b, name="Beta phase two", expected_close=date(2026, 9, 30)
    )
    quote = submit_quote(
        actor=users["pm"],
        quote=create_quote(actor=users["pm"], opportunity=open_deal, discount_percent=D("40")),
    )
    assert quote.status == QuoteStatus.SUBMITTED
    contact = create_contact(
        actor=users["pm"], account=account_a, name="Ada Buyer", email="ada@alpha.example"
    )
    activity = create_activity(
        actor=users["pm"], account=account_a, kind="call", subject="Kick-off", due=date(2026, 7, 1)
    )

    for someone, project in ((people.consultant, project_a), (people.consultant_b, project_b)):
        create_assignment(
            actor=None, person=someone, project=project, start=date(2026, 1, 5), end=date(2026, 12, 31),
            hours=D("400"),
        )  # fmt: skip
    set_cost_rate(actor=None, person=people.consultant, rate=D("60.00"), valid_from=date(2026, 1, 1))
    set_project_rate(
        actor=None, project=project_a, person=people.consultant, rate=D("140.00"), valid_from=date(2026, 1, 1)
    )

    def time(someone, project, day, hours):
        return record_time(
            actor=None, person=someone, project=project, task=project.tasks.first(), date=day,
            hours=D(hours), billable=True, today=TODAY,
        )  # fmt: skip

    entry = time(people.consultant, project_a, date(2026, 6, 1), "6.00")
    entry_b = time(people.consultant_b, project_b, date(2026, 6, 1), "5.00")
    submitted = time(people.consultant, project_a, date(2026, 6, 8), "7.00")
    submitted_b = time(people.consultant_b, project_b, date(2026, 6, 8), "3.00")
    submit_timesheet(actor=None, timesheet=submitted.timesheet)
    submit_timesheet(actor=None, timesheet=submitted_b.timesheet)

    def expense(someone, project, day, amount):
        return create_expense(
            actor=None, person=someone, project=project, date=day, category="travel", amount=D(amount),
            currency="USD", today=TODAY,
        )  # fmt: skip

    expense_a = expense(people.consultant, project_a, date(2026, 6, 2), "120.00")
    expense_b = expense(people.consultant_b, project_b, date(2026, 6, 2), "80.00")
    submitted_expense_b = submit_expense(
        actor=None, expense=expense(people.consultant_b, project_b, date(2026, 6, 3), "45.00")
    )
    submitted_expense = submit_expense(
        actor=None, expense=expense(people.consultant, project_a, date(2026, 6, 3), "55.00")
    )

    approved = approved_time(people.consultant, project_a, date(2026, 3, 2), "4.00", "150.00")
    approved_b = approved_time(people.consultant_b, project_b, date(2026, 3, 2), "2.00", "150.00")
    run = start_billing_run(actor=finance, legal_entity=entity, period_end=date(2026, 3, 31))
    execute_billing_run(run_id=run.pk)
    released = Invoice.objects.get(contract=contract_a)
    draft_invoice = Invoice.objects.get(contract=contract_b)
    release_invoices(actor=finance, invoices=[released], issue_date=date(2026, 3, 31))
    released.refresh_from_db()
    ar_item = ArItem.objects.get(document_type=INVOICE_DOCUMENT, document_id=released.pk)
    # 4 h × 150.00 = 600.00 + 20% tax = 720.00; 100.00 paid, 10.00 written off.
    payment = record_payment(
        actor=finance, legal_entity=entity, client=account_a, date=date(2026, 4, 10), amount=D("100.00"),
        currency="USD", reference="WIRE-1", allocations=[(ar_item, D("100.00"))],
    )  # fmt: skip
    # Requested by another finance user, so that finance may approve it (four eyes).
    write_off = request_write_off(
        actor=users["finance_b"], ar_item=ar_item, reason="Rounding", on=date(2026, 4, 12), amount=D("10.00")
    )
    credit_note = create_credit_note(
        actor=finance, invoice=released, reason="Goodwill",
        lines=[{"invoice_line": released.lines.first().pk, "amount": D("50.00")}],
    )  # fmt: skip

    policy = create_dunning_policy(
        actor=finance, legal_entity=entity, name="Standard", is_default=True,
        levels=[LevelSpec(level=1, days_overdue=1, subject_template="Reminder {{ invoice.number }}",
                          body_template="Please pay {{ invoice.number }}.")],
    )  # fmt: skip
    dunning_run = start_dunning_run(actor=finance, legal_entity=entity, as_of=date(2026, 6, 30))
    execute_dunning_run(run_id=dunning_run.pk)
    hold = open_dispute(actor=finance, ar_item=ar_item, reason="Hours disputed")
    revenue_run = start_revenue_run(actor=finance, legal_entity=entity, period_end=date(2026, 3, 31))
    execute_revenue_run(run_id=revenue_run.pk)
    cash = account_by_role(entity, AccountRole.CASH)
    expense_account = GLAccount.objects.filter(legal_entity=entity, type="expense").order_by("code").first()
    journal_entry = post_manual_entry(
        actor=finance, legal_entity=entity, date=date(2026, 5, 31), memo="Bank fee",
        lines=[LineSpec(account=expense_account, currency="USD", debit=D("15.00")),
               LineSpec(account=cash, currency="USD", credit=D("15.00"))],
    )  # fmt: skip
    exchange_rate = set_exchange_rate(
        actor=finance, from_currency="EUR", to_currency="USD", on=date(2026, 6, 1), rate=D("1.10")
    )

    webhook = create_webhook_subscription(
        actor=users["integrator"],
        owner=users["integrator"],
        url="https://hooks.example/in",
        event_types=["*"],
    )
    webhook_b = create_webhook_subscription(
        actor=users["integrator_b"], owner=users["integrator_b"], url="https://hooks.example/b",
        event_types=["*"],
    )  # fmt: skip
    event = Event.objects.order_by("id").first()
    fan_out_event(event_id=event.pk)
    delivery = webhook.deliveries.get(event=event)

    keys = {}
    for name in ("consultant", "pm", "integrator"):
        scopes = INTEGRATOR_SCOPES if name == "integrator" else list(ALL_SCOPES)
        keys[name] = create_api_key(actor=users[name], user=users[name], name=f"{name} key", scopes=scopes)
    keys["integrator_read"] = create_api_key(
        actor=users["integrator"], user=users["integrator"], name="read only",
        scopes=["projects:read", "billing:read"],
    )  # fmt: skip
    keys["revoked"] = create_api_key(
        actor=users["integrator"], user=users["integrator"], name="revoked", scopes=list(ALL_SCOPES)
    )
    revoke_api_key(actor=users["integrator"], api_key=keys["revoked"].api_key)

    closed_period = FiscalPeriod.objects.filter(legal_entity=entity).order_by("start").first()
    close_period(actor=finance, period=closed_period, reason="January is done")
    practice = create_practice(actor=users["rm"], name="Advisory")
    holiday = create_holiday(
        actor=users["rm"], legal_entity=entity, date=date(2026, 12, 25), name="Christmas"
    )
    time_off = record_time_off(
        actor=users["consultant"], person=people.consultant, start=date(2026, 8, 3), end=date(2026, 8, 7)
    )
    insight_run = InsightRun.objects.create(as_of=TODAY, status=InsightRunStatus.COMPLETED)
    insight = Insight.objects.create(
        kind=InsightKind.INVOICE_ANOMALY, rule="matrix", fingerprint="authz-matrix", run=insight_run,
        subject_type="billing.invoice", subject_id=released.pk, subject_label=str(released),
        title="An invoice to look at", explanation="For the authorization matrix.",
        audience=["finance", "executive"], first_raised_at=timezone.now(), last_seen_at=timezone.now(),
    )  # fmt: skip
    cost_rate = set_cost_rate(
        actor=None, person=people.consultant_b, rate=D("55.00"), valid_from=date(2026, 1, 1)
    )
    return SimpleNamespace(
        closed_period=closed_period, practice=practice, holiday=holiday, time_off=time_off,
        insight=insight, insight_run=insight_run,
        consultant_key=keys["consultant"].api_key, audit_event=AuditEvent.objects.order_by("id").first(),
        task=project_a.tasks.first(), milestone=project_a.milestones.first(),
        approved=approved, approved_b=approved_b,
        task_b=project_b.tasks.first(), milestone_b=project_b.milestones.first(),
        timesheet_b=submitted_b.timesheet, person_b=people.consultant_b,
        assignment_b=Assignment.objects.get(person=people.consultant_b),
        rate_card=RateCard.objects.filter(contract=contract_a).first() or RateCard.objects.first(),
        cost_rate=cost_rate, rate_override=ProjectRateOverride.objects.get(project=project_a),
        person=people.consultant, assignment=Assignment.objects.get(person=people.consultant),
        resource_request=ResourceRequest.objects.filter(project=project_a).first(),
        timesheet=submitted.timesheet, tax_code=TaxCode.objects.get(code="VAT20"),
        gl_account=cash, notice=DunningNotice.objects.first(),
        obligation=PerformanceObligation.objects.filter(contract=contract_a).first(),
        schedule=PerformanceObligation.objects.filter(contract=contract_a).first(),
        users=users, people=people, keys=keys, entity=entity, senior=senior,
        account_a=account_a, account_b=account_b, contract_a=contract_a, contract_b=contract_b,
        project_a=project_a, project_b=project_b, open_deal=open_deal, open_deal_b=open_deal_b,
        won_deal=Opportunity.objects.get(contracts=contract_a), quote=quote, contact=contact,
        activity=activity, entry=entry, entry_b=entry_b, submitted=submitted, submitted_b=submitted_b,
        expense=expense_a, expense_b=expense_b, submitted_expense=submitted_expense,
        submitted_expense_b=submitted_expense_b, billing_run=run, invoice=released,
        draft_invoice=draft_invoice, ar_item=ar_item, payment=payment, write_off=write_off,
        credit_note=credit_note, policy=policy, dunning_run=dunning_run, hold=hold,
        revenue_run=revenue_run, journal_entry=journal_entry, exchange_rate=exchange_rate,
        period=FiscalPeriod.objects.filter(legal_entity=entity, start=date(2026, 2, 1)).get(),
        webhook=webhook, webhook_b=webhook_b, delivery=delivery, event=event,
        credit_notes=CreditNote.objects.all(), webhooks=WebhookSubscription.objects.all(),
    )  # fmt: skip


@pytest.fixture(scope="module", name="firm")
def firm_fixture(django_db_setup, django_db_blocker):
    """The firm, built once for the module in a transaction rolled back after its last test; each test
    runs in a savepoint inside it (pytest-django's `db`), so what one test changes the next never sees."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            built = build_firm()
        except BaseException:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
            raise
    yield built
    with django_db_blocker.unblock():
        transaction.set_rollback(True)
        outer.__exit__(None, None, None)
