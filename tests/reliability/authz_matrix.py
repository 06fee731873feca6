"""The rows of the authorization matrix: every operation of the API, the object it acts on, and which
roles may do it (DESIGN.md "Access", decided per app in `crm.access`, `projects.access` and the API views).

ADMIN role in `ok` is let through (a read answers 200; a write is done, or refused for its input or state:
2xx, 400, 409, 422); a role in `hidden` passes the role check but may not see the object (404); every
other role is refused (403) and nothing changes. Admins do all, except what belongs to one user (API
keys). The integrator calls with an API key whose scopes (`INTEGRATOR_SCOPES`) also apply: an area its
key does not name is 403 whatever the role allows."""

from dataclasses import dataclass, field

CONSULTANT, PM, RM, FINANCE, EXECUTIVE, ADMIN, INTEGRATOR = ROLES = (
    "consultant",
    "pm",
    "rm",
    "finance",
    "executive",
    "admin",
    "integrator",
)
EVERYONE = frozenset(ROLES)


def only(*roles: str) -> frozenset:
    return frozenset({ADMIN, *roles})


CRM_READ, CRM_WRITE = only(PM, RM, FINANCE, EXECUTIVE, INTEGRATOR), only(PM, INTEGRATOR)
ACTIVITY_WRITE = only(PM, INTEGRATOR, FINANCE)
PROJECT_READ = only(PM, RM, FINANCE, EXECUTIVE, INTEGRATOR)
PROJECT_CREATE = only(PM, RM, FINANCE, INTEGRATOR)
TIME_WRITE = only(CONSULTANT, PM, RM, FINANCE, INTEGRATOR)
FINANCE_READ, FINANCE_WRITE = only(FINANCE, EXECUTIVE, INTEGRATOR), only(FINANCE)
RATE_CARD_WRITE = only(FINANCE, PM, INTEGRATOR)
COST_READ = only(FINANCE, EXECUTIVE, RM, INTEGRATOR)
HOLD_READ = only(FINANCE, PM, EXECUTIVE, INTEGRATOR)
CAPACITY_READ = only(PM, RM, FINANCE, EXECUTIVE, INTEGRATOR)
# Whose time and expenses a role sees: their own (the consultant's object below is their own), their
# projects' (the project manager manages project A), everyone's (finance, executives, integrators).
SEES_CONSULTANT_TIME = only(CONSULTANT, PM, FINANCE, EXECUTIVE, INTEGRATOR)
# The API areas a key's scopes name, by the first segment of the path.
AREA = {
    "users": "core", "api-keys": "core", "events": "core", "audit-events": "core", "webhooks": "core",
    "accounts": "crm", "contacts": "crm", "activities": "crm", "opportunities": "crm", "quotes": "crm",
    "contracts": "crm", "pipeline-stages": "crm",
    "projects": "projects", "tasks": "projects", "milestones": "projects", "roles": "projects",
    "rate-cards": "projects", "rate-overrides": "projects", "cost-rates": "projects", "people": "projects",
    "assignments": "projects", "resource-requests": "projects", "time-entries": "projects",
    "timesheets": "projects", "expenses": "projects", "capacity": "projects", "bench": "projects",
    "billing-runs": "billing", "invoices": "billing", "credit-notes": "billing", "tax-codes": "billing",
    "legal-entities": "ledger", "exchange-rates": "ledger", "gl-accounts": "ledger", "periods": "ledger",
    "journal-entries": "ledger", "ar-items": "ledger", "payments": "ledger", "write-offs": "ledger",
    "reports": "ledger", "dunning-policies": "ledger", "dunning-runs": "ledger",
    "dunning-notices": "ledger", "collection-holds": "ledger",
    "performance-obligations": "revrec", "revenue-schedules": "revrec", "revenue-runs": "revrec",
    "revenue-reports": "revrec",
    "practices": "projects", "holidays": "projects", "time-off": "projects",
    "kpis": "analytics", "insights": "analytics", "insight-runs": "analytics",
}  # fmt: skip


@dataclass(frozen=True)
class Row:
    method: str
    path: str
    ok: frozenset
    obj: str | None = None
    hidden: frozenset = field(default_factory=frozenset)
    query: str = ""

    @property
    def area(self) -> str:
        return AREA[self.path.split("/")[3]]

    @property
    def key(self) -> tuple[str, str]:
        return (self.method, self.path)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def read(path, ok, obj=None, hidden=(), query=""):
    return Row("GET", path, frozenset(ok), obj, frozenset(hidden), query)


def write(method, path, ok, obj=None, hidden=()):
    return Row(method, path, frozenset(ok), obj, frozenset(hidden))


def resource(path, *, read_ok, write_ok=None, obj, hidden=(), detail_writes=(), actions=(), reads=()):
    """The usual rows of a resource: list, create (when `write_ok`), detail, the detail's writes and
    actions (each `(method or "POST", name or "", ok)`), and extra detail reads."""
    detail = f"{path}{{id}}/"
    rows = [read(path, read_ok)]
    if write_ok is not None:
        rows.append(write("POST", path, write_ok))
    rows.append(read(detail, read_ok, obj, hidden))
    for method, ok in detail_writes:
        rows.append(write(method, detail, ok, obj, hidden))
    for name, ok, *target in actions:
        rows.append(write("POST", f"{detail}{name}/", ok, target[0] if target else obj, hidden))
    for name, ok in reads:
        rows.append(read(f"{detail}{name}/", ok, obj, hidden))
    return rows


V = "/api/v1/"
ENTITY_AS_OF = "legal_entity={entity}&as_of=2026-06-30"
ENTITY_RANGE = "legal_entity={entity}&start=2026-01-01&end=2026-06-30"
CLIENT_RANGE = "account={account_a}&start=2026-01-01&end=2026-06-30"
ACCOUNT_RANGE = "account={gl_account}&start=2026-01-01&end=2026-06-30"

ROWS: list[Row] = [
    read(f"{V}users/me/", EVERYONE),
    read(f"{V}api-keys/", EVERYONE),
    write("POST", f"{V}api-keys/", EVERYONE),
    # An API key is its owner's alone, even to admins.
    read(f"{V}api-keys/{{id}}/", {CONSULTANT}, "consultant_key", EVERYONE - {CONSULTANT}),
    write("DELETE", f"{V}api-keys/{{id}}/", {CONSULTANT}, "consultant_key", EVERYONE - {CONSULTANT}),
    read(f"{V}events/", only(FINANCE, EXECUTIVE, INTEGRATOR)),
    read(f"{V}events/{{id}}/", only(FINANCE, EXECUTIVE, INTEGRATOR), "event"),
    read(f"{V}audit-events/", only(FINANCE, EXECUTIVE)),
    read(f"{V}audit-events/{{id}}/", only(FINANCE, EXECUTIVE), "audit_event"),
    *resource(
        f"{V}webhooks/", read_ok=only(INTEGRATOR), write_ok=only(INTEGRATOR), obj="webhook",
        detail_writes=[("PUT", only(INTEGRATOR)), ("PATCH", only(INTEGRATOR)), ("DELETE", only(INTEGRATOR))],
        actions=[("ping", only(INTEGRATOR)), ("rotate-secret", only(INTEGRATOR))],
    ),
    read(f"{V}webhooks/{{webhook_id}}/deliveries/", only(INTEGRATOR), "webhook"),
    read(f"{V}webhooks/{{webhook_id}}/deliveries/{{id}}/", only(INTEGRATOR), "delivery"),
    write("POST", f"{V}webhooks/{{webhook_id}}/deliveries/{{id}}/replay/", only(INTEGRATOR), "delivery"),
    # CRM: account managers (project managers; project A's owns account A and the open deal) and
    # integrators write, the other office roles read, consultants have no CRM access.
    *resource(f"{V}accounts/", read_ok=CRM_READ, write_ok=CRM_WRITE, obj="account_a",
              detail_writes=[("PATCH", CRM_WRITE)]),
    *resource(f"{V}contacts/", read_ok=CRM_READ, write_ok=CRM_WRITE, obj="contact",
              detail_writes=[("PATCH", CRM_WRITE)]),
    # Finance logs activities too (collections calls) and completes its own; the firm's activity is the
    # account manager's.
    *resource(f"{V}activities/", read_ok=CRM_READ, write_ok=ACTIVITY_WRITE, obj="activity",
              actions=[("complete", CRM_WRITE)]),
    read(f"{V}pipeline-stages/", CRM_READ),
    read(f"{V}opportunities/forecast/", CRM_READ),
    *resource(
        f"{V}opportunities/", read_ok=CRM_READ, write_ok=CRM_WRITE, obj="open_deal",
        detail_writes=[("PATCH", CRM_WRITE)],
        actions=[("win", CRM_WRITE), ("lose", CRM_WRITE), ("move", CRM_WRITE)],
        reads=[("trace", CRM_READ)],
    ),
    # The quote (project manager A's, a deep discount) waits for approval; the sales policy names finance as
    # the approver, and the submitter may not approve their own.
    *resource(
        f"{V}quotes/", read_ok=CRM_READ, write_ok=CRM_WRITE, obj="quote",
        actions=[
            ("submit", CRM_WRITE), ("accept", CRM_WRITE),
            ("approve", only(FINANCE)), ("reject", only(FINANCE)),
        ],
    ),
    *resource(
        f"{V}contracts/", read_ok=CRM_READ, obj="contract_a",
        actions=[("amend", CRM_WRITE), ("close", CRM_WRITE)], reads=[("versions", CRM_READ)],
    ),
    # Projects: everyone reads the projects they may see (the consultant is staffed on project A); the
    # manager of A runs it.
    *resource(
        f"{V}projects/", read_ok=EVERYONE, write_ok=PROJECT_CREATE, obj="project_a",
        detail_writes=[("PATCH", only(PM))],
        actions=[("activate", only(PM)), ("hold", only(PM)), ("close", only(PM))],
        reads=[("budget", EVERYONE)],
    ),
    *resource(f"{V}tasks/", read_ok=EVERYONE, write_ok=only(PM), obj="task",
              detail_writes=[("PATCH", only(PM))]),
    *resource(
        f"{V}milestones/", read_ok=EVERYONE, write_ok=PROJECT_CREATE, obj="milestone",
        detail_writes=[("PATCH", only(PM))], actions=[("complete", only(PM)), ("accept", only(FINANCE, PM))],
    ),
    *resource(f"{V}roles/", read_ok=EVERYONE, write_ok=only(FINANCE, RM), obj="senior"),
    *resource(f"{V}rate-cards/", read_ok=PROJECT_READ, write_ok=RATE_CARD_WRITE, obj="rate_card",
              detail_writes=[("PATCH", RATE_CARD_WRITE)]),
    *resource(f"{V}cost-rates/", read_ok=COST_READ, write_ok=only(FINANCE), obj="cost_rate"),
    *resource(f"{V}rate-overrides/", read_ok=PROJECT_READ, write_ok=only(PM, FINANCE), obj="rate_override"),
    # People: the consultant reads their own record; resource managers staff.
    *resource(f"{V}people/", read_ok=EVERYONE, write_ok=only(RM), obj="person",
              detail_writes=[("PATCH", only(RM))]),
    *resource(
        f"{V}assignments/", read_ok=EVERYONE, write_ok=only(RM, PM), obj="assignment",
        detail_writes=[("PATCH", only(RM, PM)), ("DELETE", only(RM, PM))],
    ),
    *resource(
        f"{V}resource-requests/", read_ok=PROJECT_READ, write_ok=PROJECT_CREATE, obj="resource_request",
        actions=[("fill", only(RM)), ("cancel", only(PM, RM))], reads=[("suggestions", PROJECT_READ)],
    ),
    *resource(f"{V}practices/", read_ok=EVERYONE, write_ok=only(RM), obj="practice",
              detail_writes=[("PATCH", only(RM))]),
    *resource(f"{V}holidays/", read_ok=EVERYONE, write_ok=only(RM), obj="holiday",
              detail_writes=[("DELETE", only(RM))]),
    # Time off: the consultant's own; the roles that plan with it read everyone's.
    *resource(f"{V}time-off/", read_ok=EVERYONE, write_ok=only(CONSULTANT, PM, RM), obj="time_off",
              detail_writes=[("PATCH", only(CONSULTANT, RM)), ("DELETE", only(CONSULTANT, RM))]),
    read(f"{V}capacity/", CAPACITY_READ),
    read(f"{V}bench/", CAPACITY_READ),
    # Time and expenses: the consultant's own draft on project A. Resource managers may not see it.
    *resource(
        f"{V}time-entries/", read_ok=EVERYONE, write_ok=TIME_WRITE, obj="entry", hidden={RM},
        detail_writes=[("PATCH", only(CONSULTANT, INTEGRATOR)), ("DELETE", only(CONSULTANT, INTEGRATOR))],
        actions=[
            ("approve", only(PM), "submitted"), ("reject", only(PM), "submitted"),
            ("rerate", only(PM, FINANCE)),
        ],
    ),
    write("POST", f"{V}time-entries/bulk/", TIME_WRITE),
    write("POST", f"{V}time-entries/bulk-approve/", TIME_WRITE),
    write("POST", f"{V}time-entries/bulk-reject/", TIME_WRITE),
    read(f"{V}timesheets/", EVERYONE),
    read(f"{V}timesheets/{{id}}/", SEES_CONSULTANT_TIME, "timesheet", {RM}),
    write("POST", f"{V}timesheets/{{id}}/submit/", only(CONSULTANT, INTEGRATOR), "timesheet", {RM}),
    write("POST", f"{V}timesheets/{{id}}/approve/", only(PM), "timesheet", {RM}),
    write("POST", f"{V}timesheets/{{id}}/reject/", only(PM), "timesheet", {RM}),
    *resource(
        f"{V}expenses/", read_ok=EVERYONE, write_ok=TIME_WRITE, obj="expense", hidden={RM},
        detail_writes=[("PATCH", only(CONSULTANT, INTEGRATOR)), ("DELETE", only(CONSULTANT, INTEGRATOR))],
        actions=[
            ("submit", only(CONSULTANT, INTEGRATOR)),
            ("approve", only(PM), "submitted_expense"),
            ("reject", only(PM), "submitted_expense"),
        ],
    ),
    # Billing, the ledger and revenue: finance writes, executives and integrators read.
    *resource(f"{V}billing-runs/", read_ok=FINANCE_READ, write_ok=FINANCE_WRITE, obj="billing_run",
              actions=[("resume", FINANCE_WRITE)]),
    write("POST", f"{V}billing-runs/preview/", FINANCE_WRITE),
    read(f"{V}billing-runs/{{run_id}}/exceptions/", FINANCE_READ, "billing_run"),
    read(f"{V}invoices/", FINANCE_READ),
    read(f"{V}invoices/{{id}}/", FINANCE_READ, "invoice"),
    read(f"{V}invoices/{{id}}/pdf/", FINANCE_READ, "invoice"),
    write("DELETE", f"{V}invoices/{{id}}/", FINANCE_WRITE, "draft_invoice"),
    *(write("POST", f"{V}invoices/{{id}}/{name}/", FINANCE_WRITE, "draft_invoice")
      for name in ("edit-line", "remove-line", "remove-entries", "release")),
    write("POST", f"{V}invoices/{{id}}/send/", FINANCE_WRITE, "invoice"),
    write("POST", f"{V}invoices/{{id}}/void/", FINANCE_WRITE, "invoice"),
    *resource(f"{V}credit-notes/", read_ok=FINANCE_READ, write_ok=FINANCE_WRITE, obj="credit_note",
              detail_writes=[("DELETE", FINANCE_WRITE)], actions=[("release", FINANCE_WRITE)]),
    *resource(f"{V}tax-codes/", read_ok=FINANCE_READ, write_ok=FINANCE_WRITE, obj="tax_code",
              detail_writes=[("PATCH", FINANCE_WRITE)]),
    # Legal entities are reference data every role reads.
    *resource(f"{V}legal-entities/", read_ok=EVERYONE, write_ok=FINANCE_WRITE, obj="entity",
              detail_writes=[("PATCH", FINANCE_WRITE)]),
    *resource(f"{V}exchange-rates/", read_ok=FINANCE_READ, write_ok=FINANCE_WRITE, obj="exchange_rate"),
    *resource(f"{V}gl-accounts/", read_ok=FINANCE_READ, obj="gl_account",
              detail_writes=[("PATCH", FINANCE_WRITE)]),
    *resource(
        f"{V}periods/", read_ok=FINANCE_READ, obj="period",
        actions=[("close", FINANCE_WRITE), ("reopen", FINANCE_WRITE)],
        reads=[("checklist", FINANCE_READ)],
    ),
    read(f"{V}periods/{{id}}/close-report/", FINANCE_READ, "closed_period"),
    *resource(f"{V}journal-entries/", read_ok=FINANCE_READ, write_ok=FINANCE_WRITE, obj="journal_entry",
              actions=[("reverse", FINANCE_WRITE)]),
    *resource(f"{V}ar-items/", read_ok=FINANCE_READ, obj="ar_item"),
    *resource(
        f"{V}payments/", read_ok=FINANCE_READ, write_ok=FINANCE_WRITE, obj="payment",
        actions=[("allocate", FINANCE_WRITE), ("reverse-allocation", FINANCE_WRITE)],
    ),
    *resource(
        f"{V}write-offs/", read_ok=FINANCE_READ, write_ok=FINANCE_WRITE, obj="write_off",
        actions=[("approve", FINANCE_WRITE), ("reject", FINANCE_WRITE)],
    ),
    read(f"{V}reports/trial-balance/", FINANCE_READ, query=ENTITY_AS_OF),
    read(f"{V}reports/ar-aging/", FINANCE_READ, query=ENTITY_AS_OF),
    read(f"{V}reports/balance-sheet/", FINANCE_READ, query=ENTITY_AS_OF),
    read(f"{V}reports/profit-and-loss/", FINANCE_READ, query=ENTITY_RANGE),
    read(f"{V}reports/general-ledger/", FINANCE_READ, query=ACCOUNT_RANGE),
    read(f"{V}reports/dso/", FINANCE_READ, query=ENTITY_AS_OF),
    read(f"{V}reports/customer-statement/", FINANCE_READ, query=CLIENT_RANGE),
    *resource(
        f"{V}dunning-policies/", read_ok=FINANCE_READ, write_ok=FINANCE_WRITE, obj="policy",
        detail_writes=[("PUT", FINANCE_WRITE), ("PATCH", FINANCE_WRITE), ("DELETE", FINANCE_WRITE)],
    ),
    write("POST", f"{V}dunning-policies/assign/", FINANCE_WRITE),
    *resource(f"{V}dunning-runs/", read_ok=FINANCE_READ, write_ok=FINANCE_WRITE, obj="dunning_run"),
    *resource(f"{V}dunning-notices/", read_ok=FINANCE_READ, obj="notice",
              actions=[("resend", FINANCE_WRITE)], reads=[("pdf", FINANCE_READ)]),
    # Collections: finance and the client's account manager (project manager A owns account A).
    *resource(f"{V}collection-holds/", read_ok=HOLD_READ, write_ok=only(FINANCE, PM), obj="hold",
              actions=[("resolve", only(FINANCE, PM))]),
    *resource(
        f"{V}performance-obligations/", read_ok=FINANCE_READ, obj="obligation",
        actions=[("set-estimate", FINANCE_WRITE), ("set-standalone-price", FINANCE_WRITE)],
    ),
    *resource(f"{V}revenue-schedules/", read_ok=FINANCE_READ, obj="schedule"),
    *resource(f"{V}revenue-runs/", read_ok=FINANCE_READ, write_ok=FINANCE_WRITE, obj="revenue_run",
              actions=[("resume", FINANCE_WRITE)]),
    write("POST", f"{V}revenue-runs/preview/", FINANCE_WRITE),
    read(f"{V}revenue-reports/waterfall/", FINANCE_READ, query=ENTITY_AS_OF),
    read(f"{V}revenue-reports/deferred-rollforward/", FINANCE_READ, query=ENTITY_RANGE),
    read(f"{V}revenue-reports/unbilled/", FINANCE_READ, query=ENTITY_AS_OF),
    read(f"{V}revenue-reports/rpo/", FINANCE_READ, query=ENTITY_AS_OF),
    read(f"{V}revenue-reports/contract/", FINANCE_READ, query="contract={contract_a}"),
    # KPIs: the firm's for finance, executives and admins, one's own row for anyone with a person record.
    read(f"{V}kpis/", EVERYONE, query="from=2026-01-01&to=2026-06-30"),
    # Insights: an inbox per audience (the firm's insight is addressed to finance and executives); finance
    # and project managers start runs.
    read(f"{V}insights/", only(CONSULTANT, PM, RM, FINANCE, EXECUTIVE)),
    read(f"{V}insights/{{id}}/", only(FINANCE, EXECUTIVE), "insight", {CONSULTANT, PM, RM}),
    write("POST", f"{V}insights/{{id}}/dismiss/", only(FINANCE), "insight", {PM, RM}),
    write("POST", f"{V}insights/{{id}}/reopen/", only(FINANCE), "insight", {PM, RM}),
    read(f"{V}insight-runs/", only(FINANCE, EXECUTIVE, PM, RM)),
    read(f"{V}insight-runs/{{id}}/", only(FINANCE, EXECUTIVE, PM, RM), "insight_run"),
    write("POST", f"{V}insight-runs/", only(FINANCE, PM)),
]  # fmt: skip

# Schema operations the matrix does not cover, with why. Empty: every operation has a row.
EXCLUDED: dict[tuple[str, str], str] = {}

# Where the code answers otherwise than the rules above, reported to the owning app and expected to fail
# (strict: once fixed, the row passes and its entry here must go).
KNOWN_DEVIATIONS: dict[tuple[str, str, str], str] = {}

# The body each write sends: enough to get past input validation to the permission checks behind it.
ACTION_BODY = {"reason": "Authorization matrix"}


@dataclass(frozen=True)
class Page:
    """A page by URL name (and the firm object its URL names): `ok` roles get 200, `hidden` 404, the others
    are refused with `refused` (403; a form page may send them back to its list instead, 302)."""

    name: str
    ok: frozenset
    obj: str | None = None
    hidden: frozenset = frozenset()
    refused: int = 403

    def __str__(self) -> str:
        return f"{self.name}({self.obj or ''})"


def page(name, ok, obj=None, hidden=(), refused=403):
    return Page(name, frozenset(ok), obj, frozenset(hidden), refused)


# Pages are for people: the integrator's role works through the API and opens only its own corner.
BOOKS_READ = only(FINANCE, EXECUTIVE)
PAGES: list[Page] = [
    page("core:overview", EVERYONE),
    page("core:api-keys", EVERYONE),
    page("core:webhooks", only(INTEGRATOR)),
    page("core:webhook-detail", only(INTEGRATOR), "webhook"),
    page("core:events", only(FINANCE, EXECUTIVE, INTEGRATOR)),
    page("core:audit-log", BOOKS_READ),
    page("ledger:workspace", BOOKS_READ),
    page("ledger:period-checklist", BOOKS_READ, "period"),
    page("ledger:journal", BOOKS_READ),
    page("ledger:entry-detail", BOOKS_READ, "journal_entry"),
    page("ledger:entry-create", only(FINANCE)),
    page("ledger:trial-balance", BOOKS_READ),
    page("ledger:payments", BOOKS_READ),
    page("ledger:payment-detail", BOOKS_READ, "payment"),
    page("ledger:payment-create", only(FINANCE)),
    page("ledger:collections", BOOKS_READ),
    page("ledger:collections-client", BOOKS_READ, "account_a"),
    page("ledger:dunning-policy-edit", only(FINANCE), "policy"),
    page("crm:board", CRM_READ),
    page("crm:opportunity-detail", CRM_READ, "open_deal"),
    page("crm:opportunity-create", CRM_WRITE),
    page("crm:contract-detail", CRM_READ, "contract_a"),
    page("crm:account-detail", CRM_READ, "account_a"),
    page("crm:account-create", CRM_WRITE),
    page("projects:list", EVERYONE),
    page("projects:detail", EVERYONE, "project_a"),
    page("projects:detail", EVERYONE, "project_b", {CONSULTANT}),
    page("projects:create", PROJECT_CREATE, refused=302),
    page("projects:week", only(CONSULTANT, PM, RM)),
    page("projects:approvals", only(PM)),
    page("projects:expense-detail", SEES_CONSULTANT_TIME, "expense", {RM}),
    page("projects:expense-detail", only(FINANCE, EXECUTIVE, INTEGRATOR), "expense_b", {CONSULTANT, PM, RM}),
    page("projects:capacity", only(PM, RM, FINANCE, EXECUTIVE)),
    page("billing:runs", BOOKS_READ),
    page("billing:run-create", only(FINANCE)),
    page("billing:draft-detail", BOOKS_READ, "draft_invoice"),
    page("billing:invoice-detail", BOOKS_READ, "invoice"),
    page("billing:invoice-pdf", BOOKS_READ, "invoice"),
    page("revrec:runs", BOOKS_READ),
    page("revrec:run-create", only(FINANCE)),
    page("analytics:executive", BOOKS_READ),
    page("analytics:project", only(PM, FINANCE, EXECUTIVE), "project_a"),
    page("analytics:project", BOOKS_READ, "project_b", {PM}),
    page("analytics:me", EVERYONE),
    page("insights:inbox", only(CONSULTANT, PM, RM, FINANCE, EXECUTIVE)),
]
