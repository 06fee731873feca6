"""Issue 11, item 8: the authorization matrix. Every operation of the API schema × every role (consultant,
project manager of project A, resource manager, finance, executive, admin, an integrator's scoped key),
plus unauthenticated calls and a revoked key: 403/404 as DESIGN.md "Access" says and never data, refused
writes change nothing, read-only fields stay as they are, and the same rules hold on the pages.

The firm is built once for the module (`authz_firm`); each test runs in a savepoint inside it."""

from datetime import timedelta
from decimal import Decimal
from unittest import mock

import pytest
import weasyprint
from django.core.cache import cache
from django.db import transaction
from django.forms.models import model_to_dict
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from billing.models import Invoice
from core.models import AuditEvent, Event
from core.models.api_keys import ALL_SCOPES
from core.services.api_keys import create_api_key
from crm.models import Contact, Quote
from projects.models import (
    Assignment,
    Expense,
    Milestone,
    ProjectRateOverride,
    ResourceRequest,
    Task,
    TimeEntry,
    TimeOff,
)
from tests.reliability.authz_firm import INTEGRATOR_SCOPES, firm_fixture  # noqa: F401 - the module's firm
from tests.reliability.authz_matrix import (
    ACTION_BODY,
    EXCLUDED,
    INTEGRATOR,
    KNOWN_DEVIATIONS,
    PAGES,
    ROLES,
    ROWS,
    Row,
)

D = Decimal
pytestmark = pytest.mark.postgres
WRITE_ANSWERS = {200, 201, 202, 204, 400, 409, 422}


@pytest.fixture(scope="module", autouse=True)
def _pdfs_not_drawn():
    """Who may fetch an invoice or a dunning letter is the question here, not its layout (the billing and
    dunning tests draw them): skipping WeasyPrint saves seconds per allowed role."""
    with mock.patch.object(weasyprint.HTML, "write_pdf", return_value=b"%PDF-1.7\n%matrix\n"):
        yield


def client_as(firm, role: str) -> APIClient:
    """The role's user signed in; the integrator calls with its scoped key."""
    client = APIClient()
    if role == INTEGRATOR:
        client.credentials(HTTP_AUTHORIZATION=f"Token {firm.keys['integrator'].key}")
    else:
        client.force_authenticate(user=firm.users[role])
    return client


def url_of(row: Row, firm) -> str:
    target = getattr(firm, row.obj) if row.obj else None
    path = row.path
    if "{webhook_id}" in path:
        path = path.replace("{webhook_id}", str(firm.webhook.pk))
    if "{run_id}" in path:
        path = path.replace("{run_id}", str(target.pk))
    path = path.replace("{id}", str(target.pk) if target is not None else "")
    if row.query:
        names = ("entity", "gl_account", "account_a", "contract_a")
        path += "?" + row.query.format(**{name: getattr(firm, name).pk for name in names})
    return path


def expected(row: Row, role: str) -> int:
    if role == INTEGRATOR:
        level = "read" if row.method == "GET" else "write"
        if not {f"{row.area}:{level}", f"{row.area}:write"} & set(INTEGRATOR_SCOPES):
            return 403
    if role in row.hidden:
        return 404
    return 200 if role in row.ok else 403


def fingerprint(row: Row, firm) -> tuple:
    """What a refused write must leave as it was: the audit trail, the outbox and the object's row."""
    target = getattr(firm, row.obj) if row.obj else None
    current = type(target).objects.filter(pk=target.pk).first() if target is not None else None
    return (
        AuditEvent.objects.count(),
        Event.objects.count(),
        model_to_dict(current) if current is not None else None,
    )


def body_of(row: Row, firm) -> dict:
    if row.path.endswith("/fill/"):
        return {"person": firm.people.consultant_b.pk}
    return ACTION_BODY if row.method == "POST" and "{id}" in row.path else {}


def call(client, row: Row, url: str, body: dict):
    send = getattr(client, row.method.lower())
    return send(url) if row.method in ("GET", "DELETE") else send(url, body, format="json")


def mismatch(row: Row, role: str, url: str, body: dict, firm, before: tuple | None) -> str | None:
    """Send the row's request as `role` in a savepoint rolled back after it; what went against the rules,
    or None. `before`: the row's fingerprint (a write's), which a refusal must leave as it was."""
    want = expected(row, role)
    if want == 200:
        before = None
    with transaction.atomic():
        response = call(client_as(firm, role), row, url, body)
        got = response.status_code
        changed = before is not None and fingerprint(row, firm) != before
        transaction.set_rollback(True)
    if want == 200:
        allowed = {200} if row.method == "GET" else WRITE_ANSWERS
        if got not in allowed:
            return f"{role}: {got} (allowed) {getattr(response, 'data', '')}"
        return None
    if got != want or response.json().get("code") not in ("permission_denied", "not_found"):
        return f"{role}: {got}, not {want} {getattr(response, 'data', '')}"
    if changed:
        return f"{role}: refused with {got} but the audit trail, outbox or object changed"
    return None


@pytest.mark.parametrize("row", ROWS, ids=str)
def test_every_operation_answers_each_role_as_the_access_rules_say(firm, db, row):
    url, body = url_of(row, firm), body_of(row, firm)
    before = fingerprint(row, firm) if row.method != "GET" else None
    wrong = []
    for role in ROLES:
        problem = mismatch(row, role, url, body, firm, before)
        known = KNOWN_DEVIATIONS.get((*row.key, role))
        if known and problem is None:
            wrong.append(f"{role}: answers as the rules say now; drop it from KNOWN_DEVIATIONS ({known})")
        elif problem and not known:
            wrong.append(problem[:400])
    assert wrong == [], f"{row}:\n" + "\n".join(wrong)


def test_without_credentials_or_with_a_revoked_key_every_operation_is_401(firm, db):
    revoked = APIClient()
    revoked.credentials(HTTP_AUTHORIZATION=f"Token {firm.keys['revoked'].key}")
    wrong = []
    for row in ROWS:
        cache.clear()  # failed authentications are throttled per address; each row starts afresh
        url, body = url_of(row, firm), body_of(row, firm)
        anonymous = call(APIClient(), row, url, body)
        if (anonymous.status_code, anonymous.json()["code"]) != (401, "not_authenticated"):
            wrong.append(f"{row} anonymous: {anonymous.status_code}")
        refused = call(revoked, row, url, body)
        if (refused.status_code, refused.json()["code"]) != (401, "authentication_failed"):
            wrong.append(f"{row} revoked key: {refused.status_code}")
    assert wrong == []


def test_every_schema_operation_has_a_matrix_row_or_a_reasoned_exclusion(db):
    schema = SchemaGenerator().get_schema(request=None, public=True)
    operations = {
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    }
    covered = {row.key for row in ROWS}
    assert len(covered) == len(ROWS), "a row is listed twice"
    assert sorted(operations - covered - set(EXCLUDED)) == [], "operations without a matrix row"
    assert sorted(covered - operations) == [], "rows for operations the schema no longer has"


# Objects across the lines DESIGN.md draws: the other consultant's time, project B (managed by another
# project manager), another account manager's client and deals, another integrator's webhook. Each
# request is refused as the API conventions say (404 for what the caller may not see, 403 for what they
# see but may not change) and changes nothing.
CROSSING = [
    ("consultant", "GET", "time-entries/{id}/", "entry_b", None, 404),
    ("consultant", "PATCH", "time-entries/{id}/", "entry_b", {"hours": "1.00"}, 404),
    ("consultant", "DELETE", "time-entries/{id}/", "entry_b", None, 404),
    ("consultant", "GET", "expenses/{id}/", "expense_b", None, 404),
    ("consultant", "PATCH", "expenses/{id}/", "expense_b", {"amount": "1.00"}, 404),
    ("consultant", "POST", "expenses/{id}/submit/", "expense_b", {}, 404),
    ("consultant", "GET", "timesheets/{id}/", "timesheet_b", None, 404),
    ("consultant", "POST", "timesheets/{id}/submit/", "timesheet_b", {}, 404),
    ("consultant", "GET", "projects/{id}/", "project_b", None, 404),
    ("consultant", "GET", "people/{id}/", "person_b", None, 404),
    ("consultant", "GET", "assignments/{id}/", "assignment_b", None, 404),
    ("consultant", "POST", "time-entries/{id}/approve/", "submitted", {}, 403),
    ("consultant", "PATCH", "time-entries/{id}/", "entry", {"project": "@project_b", "task": "@task_b"}, 400),
    ("consultant", "PATCH", "expenses/{id}/", "expense", {"project": "@project_b"}, 400),
    ("consultant", "POST", "expenses/{id}/approve/", "submitted_expense", {}, 403),
    ("consultant", "POST", "timesheets/{id}/approve/", "timesheet", {}, 403),
    ("pm", "GET", "time-entries/{id}/", "entry_b", None, 404),
    ("pm", "POST", "time-entries/{id}/approve/", "submitted_b", {}, 404),
    ("pm", "POST", "time-entries/{id}/reject/", "submitted_b", {"reason": "No"}, 404),
    ("pm", "GET", "expenses/{id}/", "expense_b", None, 404),
    ("pm", "POST", "expenses/{id}/approve/", "submitted_expense_b", {}, 404),
    ("pm", "GET", "timesheets/{id}/", "timesheet_b", None, 404),
    ("pm", "POST", "timesheets/{id}/approve/", "timesheet_b", {}, 404),
    ("pm", "PATCH", "projects/{id}/", "project_b", {"name": "Taken over"}, 403),
    ("pm", "POST", "projects/{id}/hold/", "project_b", {}, 403),
    ("pm", "PATCH", "tasks/{id}/", "task_b", {"name": "Taken over"}, 403),
    ("pm", "PATCH", "milestones/{id}/", "milestone_b", {"name": "Taken over"}, 403),
    ("pm", "POST", "milestones/{id}/complete/", "milestone_b", {}, 403),
    ("pm", "PATCH", "assignments/{id}/", "assignment_b", {"hours": "10.00"}, 403),
    ("pm", "DELETE", "assignments/{id}/", "assignment_b", None, 403),
    ("pm", "PATCH", "accounts/{id}/", "account_b", {"name": "Taken over"}, 403),
    ("pm", "PATCH", "opportunities/{id}/", "open_deal_b", {"owner": "@pm"}, 403),
    ("pm", "POST", "opportunities/{id}/lose/", "open_deal_b", {"reason": "Taken over"}, 403),
    ("pm", "POST", "contracts/{id}/close/", "contract_b", {"reason": "Taken over"}, 403),
    ("pm_b", "POST", "collection-holds/{id}/resolve/", "hold", {"resolution": "Mine now"}, 403),
    ("pm_b", "POST", "quotes/{id}/accept/", "quote", {}, 403),
    ("integrator", "GET", "webhooks/{id}/", "webhook_b", None, 404),
    ("integrator", "PATCH", "webhooks/{id}/", "webhook_b", {"active": False}, 404),
    ("integrator", "DELETE", "webhooks/{id}/", "webhook_b", None, 404),
    ("integrator", "POST", "webhooks/{id}/rotate-secret/", "webhook_b", {}, 404),
    ("integrator_b", "GET", "webhooks/{webhook_id}/deliveries/", "webhook", None, 404),
    ("integrator_b", "POST", "webhooks/{webhook_id}/deliveries/{id}/replay/", "delivery", {}, 404),
    ("admin", "GET", "api-keys/{id}/", "consultant_key", None, 404),
]


@pytest.mark.parametrize(("who", "method", "path", "obj", "body", "status"), CROSSING, ids=lambda v: str(v))
def test_objects_of_another_user_or_project_are_refused_and_unchanged(
    firm, db, who, method, path, obj, body, status
):
    target = getattr(firm, obj)
    url = "/api/v1/" + path.replace("{webhook_id}", str(firm.webhook.pk)).replace("{id}", str(target.pk))
    client = APIClient()
    if who.startswith("integrator"):
        issued = create_api_key(
            actor=firm.users[who], user=firm.users[who], name="x", scopes=list(ALL_SCOPES)
        )
        client.credentials(HTTP_AUTHORIZATION=f"Token {issued.key}")
    else:
        client.force_authenticate(user=firm.users[who])
    before = model_to_dict(type(target).objects.get(pk=target.pk))
    audited = AuditEvent.objects.count()
    send = getattr(client, method.lower())
    if body is None:
        response = send(url)
    else:
        response = send(url, {key: _value(firm, value) for key, value in body.items()}, format="json")
    assert response.status_code == status, response.json()
    assert set(response.json()) == {"code", "detail", "fields"}
    assert model_to_dict(type(target).objects.get(pk=target.pk)) == before
    assert AuditEvent.objects.count() == audited


# Read-only fields sent by a role that may change the object: ignored or refused (400), never stored.
# (field, value sent) pairs; the rest of the body is a change the role may make.
READ_ONLY = [
    ("consultant", "time-entries/{id}/", "entry", {"notes": "Edited"},
     {"status": "approved", "bill_rate": "999.00", "cost_rate": "1.00", "person": "@person_b",
      "invoice_line": 1, "approved_by": "@pm"}),
    ("consultant", "expenses/{id}/", "expense", {"notes": "Edited"},
     {"status": "approved", "converted_amount": "1.00", "exchange_rate": "9.0", "person": "@person_b"}),
    ("pm", "projects/{id}/", "project_a", {"name": "Alpha renamed"},
     {"status": "closed", "code": "HACKED", "account": "@account_b", "contract": "@contract_b",
      "currency": "EUR"}),
    ("pm", "milestones/{id}/", "milestone", {"name": "Renamed"},
     {"status": "accepted", "project": "@project_b"}),
    ("pm", "opportunities/{id}/", "open_deal", {"name": "Renamed"},
     {"stage": "won", "status": "won", "account": "@account_b", "created_at": "2020-01-01T00:00:00Z"}),
    ("pm", "accounts/{id}/", "account_a", {"billing_email": "ap2@alpha.example"},
     {"legal_entity": 999999, "created_at": "2020-01-01T00:00:00Z"}),
    ("finance", "gl-accounts/{id}/", "gl_account", {"name": "Bank renamed"},
     {"type": "revenue", "code": "9999", "role": "revenue",
      "legal_entity": 999999}),
    ("finance", "legal-entities/{id}/", "entity", {"name": "Matrix Renamed"}, {"functional_currency": "EUR"}),
    ("integrator", "webhooks/{id}/", "webhook", {"active": False},
     {"secret": "chosen-by-caller", "owner": "@pm"}),
]  # fmt: skip


def _value(firm, value):
    if isinstance(value, str) and value.startswith("@"):
        name = value[1:]
        return firm.users[name].pk if name in firm.users else getattr(firm, name).pk
    return value


@pytest.mark.parametrize(("who", "path", "obj", "change", "read_only"), READ_ONLY, ids=lambda v: str(v))
def test_read_only_fields_are_ignored_or_refused(firm, db, who, path, obj, change, read_only):
    target = getattr(firm, obj)
    fields = {name for name in read_only if hasattr(target, name) or hasattr(target, f"{name}_id")}
    before = model_to_dict(type(target).objects.get(pk=target.pk), fields=fields)
    body = change | {name: _value(firm, value) for name, value in read_only.items()}
    response = client_as(firm, who).patch(
        f"/api/v1/{path.replace('{id}', str(target.pk))}", body, format="json"
    )
    assert response.status_code in (200, 400), response.json()
    assert model_to_dict(type(target).objects.get(pk=target.pk), fields=fields) == before


def test_posted_documents_offer_no_way_to_rewrite_their_amounts(firm, db):
    """Invoices, credit notes, journal entries, payments and AR items have no PUT/PATCH; a released
    invoice's lines are refused (409) and its totals stay."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    for resource in ("invoices", "credit-notes", "journal-entries", "payments", "ar-items"):
        assert {"put", "patch"}.isdisjoint(schema["paths"][f"/api/v1/{resource}/{{id}}/"]), resource
    finance = client_as(firm, "finance")
    invoice = firm.invoice
    assert (
        finance.patch(f"/api/v1/invoices/{invoice.pk}/", {"total_amount": "1.00"}, format="json").status_code
        == 405
    )
    line = invoice.lines.first()
    edit = finance.post(
        f"/api/v1/invoices/{invoice.pk}/edit-line/", {"line": line.pk, "unit_price": "1.00"}, format="json"
    )
    assert edit.status_code in (400, 409), edit.json()
    invoice.refresh_from_db()
    line.refresh_from_db()
    # 4 h × 150.00 = 600.00 plus 20% tax.
    assert (invoice.subtotal_amount, invoice.tax_amount, invoice.total_amount) == (
        D("600.00"),
        D("120.00"),
        D("720.00"),
    )
    assert line.amount == D("600.00")


def key_client(firm, name: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {firm.keys[name].key}")
    return client


def test_a_read_only_key_reads_its_areas_and_writes_nothing(firm, db):
    reader = key_client(firm, "integrator_read")  # projects:read, billing:read
    assert reader.get("/api/v1/projects/").status_code == 200
    assert reader.get(f"/api/v1/invoices/{firm.invoice.pk}/").status_code == 200
    entries = TimeEntry.objects.count()
    post = reader.post(
        "/api/v1/time-entries/",
        {"person": firm.people.consultant.pk, "project": firm.project_a.pk, "task": firm.task.pk,
         "date": "2026-06-03", "hours": "2.00"},
        format="json",
    )  # fmt: skip
    assert post.status_code == 403
    assert post.json()["detail"] == "This API key lacks the 'projects:write' scope."
    assert TimeEntry.objects.count() == entries
    refused = reader.post(f"/api/v1/invoices/{firm.draft_invoice.pk}/release/", {}, format="json")
    assert refused.status_code == 403
    assert Invoice.objects.get(pk=firm.draft_invoice.pk).status == "draft"
    for path in ("/api/v1/payments/", "/api/v1/accounts/", "/api/v1/revenue-runs/", "/api/v1/events/"):
        answer = reader.get(path)
        assert answer.status_code == 403, path
        assert "scope" in answer.json()["detail"]


def test_a_key_never_exceeds_its_users_roles(firm, db):
    """The consultant's key holds every scope; the consultant's role still decides."""
    consultant = key_client(firm, "consultant")
    assert consultant.get("/api/v1/invoices/").status_code == 403
    assert consultant.post("/api/v1/billing-runs/", {}, format="json").status_code == 403
    mine = consultant.get("/api/v1/time-entries/")
    assert {row["id"] for row in mine.json()["results"]} == {
        firm.entry.pk,
        firm.submitted.pk,
        firm.approved.pk,
    }


def test_expired_keys_and_inactive_users_keys_are_401(firm, db):
    expired = create_api_key(
        actor=firm.users["integrator"], user=firm.users["integrator"], name="old", scopes=list(ALL_SCOPES),
        expires_at=timezone.now() + timedelta(days=1),
    )  # fmt: skip
    type(expired.api_key).objects.filter(pk=expired.api_key.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {expired.key}")
    assert client.get("/api/v1/projects/").status_code == 401
    integrator_key = key_client(firm, "integrator")
    type(firm.users["integrator"]).objects.filter(pk=firm.users["integrator"].pk).update(is_active=False)
    assert integrator_key.get("/api/v1/projects/").status_code == 401
    wrong = APIClient()
    wrong.credentials(HTTP_AUTHORIZATION="Token not-a-key")
    assert wrong.get("/api/v1/projects/").json()["code"] == "authentication_failed"


# Which of the firm's named objects each role finds in a list: a consultant their own, a project manager
# their projects' (project A's), a resource manager no one's time, the readers of everything all.
SIDE_A, SIDE_B = "a", "b"
LISTED = {
    "time-entries": {
        SIDE_A: ("entry", "submitted", "approved"), SIDE_B: ("entry_b", "submitted_b", "approved_b"),
    },
    "expenses": {SIDE_A: ("expense", "submitted_expense"), SIDE_B: ("expense_b", "submitted_expense_b")},
    "timesheets": {SIDE_A: ("timesheet",), SIDE_B: ("timesheet_b",)},
    "projects": {SIDE_A: ("project_a",), SIDE_B: ("project_b",)},
    "people": {SIDE_A: ("person",), SIDE_B: ("person_b",)},
    "assignments": {SIDE_A: ("assignment",), SIDE_B: ("assignment_b",)},
}  # fmt: skip
SEES = {
    "consultant": {"time-entries": {SIDE_A}, "expenses": {SIDE_A}, "timesheets": {SIDE_A},
                   "projects": {SIDE_A}, "people": {SIDE_A}, "assignments": {SIDE_A}},
    "consultant_b": {"time-entries": {SIDE_B}, "expenses": {SIDE_B}, "timesheets": {SIDE_B},
                     "projects": {SIDE_B}, "people": {SIDE_B}, "assignments": {SIDE_B}},
    "pm": {"time-entries": {SIDE_A}, "expenses": {SIDE_A}, "timesheets": {SIDE_A}},
    "pm_b": {"time-entries": {SIDE_B}, "expenses": {SIDE_B}, "timesheets": {SIDE_B}},
    "rm": {"time-entries": set(), "expenses": set(), "timesheets": set()},
}  # fmt: skip


@pytest.mark.parametrize("who", [*ROLES, "consultant_b", "pm_b"])
def test_lists_show_each_role_only_what_it_may_see(firm, db, who):
    client = client_as(firm, who)
    for resource, sides in LISTED.items():
        seen = {row["id"] for row in client.get(f"/api/v1/{resource}/?page_size=200").json()["results"]}
        visible = SEES.get(who, {}).get(resource, {SIDE_A, SIDE_B})
        want = {getattr(firm, name).pk for side in visible for name in sides[side]}
        named = {getattr(firm, name).pk for names in sides.values() for name in names}
        assert seen & named == want, (who, resource)


def page_client(firm, who: str) -> Client:
    client = Client()
    client.force_login(firm.users[who])
    return client


@pytest.mark.parametrize("page", PAGES, ids=str)
def test_pages_answer_each_role_as_the_access_rules_say(firm, db, page):
    url = reverse(page.name, args=[getattr(firm, page.obj).pk] if page.obj else [])
    anonymous = Client().get(url)
    wrong = []
    if anonymous.status_code != 302 or not anonymous["Location"].startswith(reverse("login")):
        wrong.append(f"anonymous: {anonymous.status_code}, not a redirect to the login page")
    for role in ROLES:
        want = 404 if role in page.hidden else 200 if role in page.ok else page.refused
        got = page_client(firm, role).get(url)
        if got.status_code != want:
            wrong.append(f"{role}: {got.status_code}, not {want}")
        elif want == 302 and got["Location"].startswith(reverse("login")):
            wrong.append(f"{role}: sent to the login page though signed in")
    assert wrong == [], f"{page} ({url}):\n" + "\n".join(wrong)


# Page actions a role may not take on that object: refused (403/404, or back to the page with the
# service's error), and nothing changes.
PAGE_ACTIONS = [
    ("pm", "projects:status", ("project_b",), {"action": "hold"}),
    ("pm", "projects:milestone-action", ("milestone_b", "complete"), {}),
    ("consultant", "billing:draft-release", ("draft_invoice",), {}),
    ("executive", "billing:draft-release", ("draft_invoice",), {}),
    ("executive", "billing:invoice-void", ("invoice",), {"reason": "Matrix"}),
    ("executive", "ledger:period-close", ("period",), {"reason": "Matrix"}),
    ("executive", "ledger:entry-reverse", ("journal_entry",), {"reason": "Matrix", "date": "2026-06-30"}),
    ("executive", "ledger:dunning-policy-edit", ("policy",), {"name": "Taken over"}),
    ("rm", "crm:opportunity-win", ("open_deal",), {}),
    ("pm_b", "crm:opportunity-lose", ("open_deal",), {"reason": "Taken over"}),
    ("integrator_b", "core:webhook-delete", ("webhook",), {}),
    ("pm", "core:api-key-revoke", ("consultant_key",), {}),
]


@pytest.mark.parametrize(("who", "name", "args", "data"), PAGE_ACTIONS, ids=lambda v: str(v))
def test_page_actions_refused_to_a_role_change_nothing(firm, db, who, name, args, data):
    target = getattr(firm, args[0])
    url = reverse(name, args=[target.pk, *args[1:]])
    before = (model_to_dict(type(target).objects.get(pk=target.pk)), AuditEvent.objects.count())
    response = page_client(firm, who).post(url, data)
    assert response.status_code in (302, 403, 404)
    if response.status_code == 302:
        assert not response["Location"].startswith(reverse("login"))
    assert (model_to_dict(type(target).objects.get(pk=target.pk)), AuditEvent.objects.count()) == before


@pytest.mark.parametrize(
    ("who", "shown"),
    [("consultant", {"person"}), ("pm", set()), ("rm", {"person", "person_b"}),
     ("finance", {"person", "person_b"}), ("executive", {"person", "person_b"})],
)  # fmt: skip
def test_people_show_cost_rates_only_to_those_who_read_cost_rates(firm, db, who, shown):
    """`cost-rates/` refuses project managers and consultants; a person's current `cost_rate` on `people/`
    follows the same rule (everyone sees their own). Carl costs 60.00, Dora 55.00."""
    people = {row["id"]: row for row in client_as(firm, who).get("/api/v1/people/").json()["results"]}
    rates = {"person": "60", "person_b": "55"}
    for name, rate in rates.items():
        row = people.get(getattr(firm, name).pk)
        if row is not None:
            want = (rate, "USD") if name in shown else (None, None)
            assert (row["cost_rate"], row["cost_currency"]) == want, (who, name)


# Creating on the other side of those lines: time for another person or on a project one is not staffed
# on, staffing and planning on another manager's project, quoting another account manager's deal.
CREATING = [
    ("consultant", "time-entries/", TimeEntry,
     {"person": "@person_b", "project": "@project_a", "task": "@task", "date": "2026-06-03",
      "hours": "2.00"}, 403),
    ("consultant", "time-entries/", TimeEntry,
     {"project": "@project_b", "task": "@task_b", "date": "2026-06-03", "hours": "2.00"}, 400),
    ("consultant", "expenses/", Expense,
     {"person": "@person_b", "project": "@project_a", "date": "2026-06-03", "category": "travel",
      "amount": "10.00", "currency": "USD"}, 403),
    ("consultant", "time-off/", TimeOff,
     {"person": "@person_b", "start": "2026-09-07", "end": "2026-09-08"}, 403),
    ("pm", "tasks/", Task, {"project": "@project_b", "name": "Ours now"}, 403),
    ("pm", "milestones/", Milestone,
     {"project": "@project_b", "name": "Ours now", "amount": "100.00", "due": "2026-10-01"}, 403),
    ("pm", "assignments/", Assignment,
     {"project": "@project_b", "person": "@person", "start": "2026-07-01", "end": "2026-07-31",
      "hours": "10.00"}, 403),
    ("pm", "rate-overrides/", ProjectRateOverride,
     {"project": "@project_b", "person": "@person_b", "rate": "1.00", "valid_from": "2026-07-01"}, 403),
    ("pm", "resource-requests/", ResourceRequest,
     {"project": "@project_b", "role": "@senior", "hours": "10.00", "start": "2026-07-01",
      "end": "2026-07-31"}, 403),
    ("pm", "quotes/", Quote, {"opportunity": "@open_deal_b"}, 403),
    ("pm", "contacts/", Contact,
     {"account": "@account_b", "name": "Mole", "email": "mole@beta.example"}, 403),
    ("pm", "time-entries/bulk-approve/", TimeEntry, {"entries": ["@submitted_b"]}, 400),
]  # fmt: skip


@pytest.mark.parametrize(("who", "path", "model", "body", "status"), CREATING, ids=lambda v: str(v))
def test_creating_across_the_lines_is_refused(firm, db, who, path, model, body, status):
    submitted_b = TimeEntry.objects.filter(pk=firm.submitted_b.pk)
    before = (model.objects.count(), AuditEvent.objects.count(), submitted_b.get().status)
    payload = {
        key: [_value(firm, item) for item in value] if isinstance(value, list) else _value(firm, value)
        for key, value in body.items()
    }
    response = client_as(firm, who).post(f"/api/v1/{path}", payload, format="json")
    assert response.status_code == status, response.json()
    assert (model.objects.count(), AuditEvent.objects.count(), submitted_b.get().status) == before


@pytest.mark.parametrize(
    ("who", "name", "obj"),
    [("integrator_b", "core:webhook-detail", "webhook"), ("integrator_b", "core:webhook-secret", "webhook"),
     ("consultant_b", "projects:detail", "project_a"), ("consultant_b", "projects:expense-detail", "expense"),
     ("pm", "core:api-key-revoke", "consultant_key")],
)  # fmt: skip
def test_pages_of_another_users_objects_are_404_without_their_data(firm, db, who, name, obj):
    target = getattr(firm, obj)
    url = reverse(name, args=[target.pk])
    response = page_client(firm, who).get(f"{url}?show=1", HTTP_HX_REQUEST="true")
    assert response.status_code == 404
    assert firm.webhook.secret.encode() not in response.content


@pytest.mark.parametrize(("who", "firm_wide"), [("consultant", False), ("pm", False), ("finance", True)])
def test_kpis_give_people_their_own_row_and_no_firm_balances(firm, db, who, firm_wide):
    report = client_as(firm, who).get("/api/v1/kpis/?from=2026-01-01&to=2026-06-30&group_by=person").json()
    keys = {row["key"] for row in report["rows"]}
    own = {str(getattr(firm.people, who).pk)} if who != "finance" else set()
    if firm_wide:
        assert {str(firm.people.consultant.pk), str(firm.people.consultant_b.pk)} <= keys
        # 720.00 invoiced on 31 March, 100.00 paid and 10.00 written off: 610.00 overdue on 30 June.
        assert [total["overdue_ar"] for total in report["totals"]] == ["610.00"]
    else:
        assert (keys, report["totals"]) == (own, [])


def test_a_delivery_is_reached_only_through_its_own_webhook(firm, db):
    """Another integrator's delivery id under one's own webhook is still not found."""
    issued = create_api_key(
        actor=firm.users["integrator_b"], user=firm.users["integrator_b"], name="b", scopes=list(ALL_SCOPES)
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {issued.key}")
    base = f"/api/v1/webhooks/{firm.webhook_b.pk}/deliveries/{firm.delivery.pk}/"
    attempts = firm.delivery.attempts
    assert client.get(base).status_code == 404
    assert client.post(f"{base}replay/", {}, format="json").status_code == 404
    firm.delivery.refresh_from_db()
    assert firm.delivery.attempts == attempts
