"""The dashboards: executive, finance, project health, a consultant's own, the KPI explorer and the rows
behind a figure. Every page reads the rollups through `analytics.dashboards` / `analytics.selectors`;
tables download as CSV (`?format=csv`) with the same query."""

from datetime import date, timedelta

from django import forms
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from analytics import dashboards, forecast, health
from analytics.kpis import GROUP_BY, KPIS
from analytics.selectors import REPORT_COLUMNS, kpi_report, report_table, scope_for
from core.roles import Role, has_role
from core.views import role_required
from ledger.views.common import csv_response, wants_csv
from projects.models import Person, Project

FIRM = (Role.EXECUTIVE, Role.FINANCE)
COLORS = ["#0d6efd", "#dc3545", "#198754", "#fd7e14", "#6f42c1"]
# One colour per forecast part, the same in every currency's chart.
FORECAST_COLORS = {
    "wip": "#0d6efd", "instalment": "#20c997", "milestone": "#6f42c1", "subscription": "#fd7e14",
    "retainer_fee": "#dc3545",
}  # fmt: skip
GROUP_LABELS = {
    "practice": "Practice",
    "client": "Client",
    "project": "Project",
    "person": "Person",
    "legal_entity": "Legal entity",
    "month": "Month",
}
# Finance and executives run the firm's flow; project and resource managers read where work waits.
FLOW_READERS = (*FIRM, Role.PROJECT_MANAGER, Role.RESOURCE_MANAGER)
SECTIONS = [
    ("analytics:executive", "Executive", "executive", FIRM),
    ("analytics:finance", "Finance", "finance", FIRM),
    ("analytics:projects", "Project health", "projects", (*FIRM, Role.PROJECT_MANAGER)),
    ("analytics:flow", "Flow health", "flow", FLOW_READERS),
    ("analytics:explore", "KPI explorer", "explore", FIRM),
    ("analytics:me", "My time", "me", ()),
]


class PeriodForm(forms.Form):
    """The period picker: a range (default: this month to date) and, on multi-currency firms, the currency."""

    start = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    currency = forms.ChoiceField(label="Currency", required=False, choices=())

    def __init__(self, data, currencies=(), **kwargs):
        super().__init__(data, **kwargs)
        if currencies:
            self.fields["currency"].choices = [(c, c) for c in currencies]
        else:
            # Pages that show every currency side by side have nothing to choose.
            del self.fields["currency"]
        for field in self.fields.values():
            field.widget.attrs.setdefault(
                "class",
                "form-select form-select-sm"
                if isinstance(field, forms.ChoiceField)
                else "form-control form-control-sm",
            )

    def clean(self):
        data = super().clean()
        today = timezone.localdate()
        end = data.get("end") or today
        start = data.get("start") or end.replace(day=1)
        if end < start:
            self.add_error("end", "The period ends before it starts.")
        elif (end - start).days > 731:
            self.add_error("start", "Pick at most two years.")
        data["start"], data["end"] = start, end
        return data


def _period(request, currencies=()):
    form = PeriodForm(request.GET or None, currencies=currencies)
    today = timezone.localdate()
    start, end = today.replace(day=1), today
    if form.is_bound and form.is_valid():
        start, end = form.cleaned_data["start"], form.cleaned_data["end"]
    elif not form.is_bound:
        form = PeriodForm(
            {"start": start, "end": end, "currency": currencies[0] if currencies else ""},
            currencies=currencies,
        )
        form.is_valid()
    currency = (form.cleaned_data.get("currency") if form.is_valid() else None) or (
        currencies[0] if currencies else None
    )
    presets = _presets(today)
    return form, start, end, currency, presets


def _presets(today: date) -> list[tuple[str, date, date]]:
    month = today.replace(day=1)
    last_month_end = month - timedelta(days=1)
    quarter = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    return [
        ("This month", month, today),
        ("Last month", last_month_end.replace(day=1), last_month_end),
        ("This quarter", quarter, today),
        ("Year to date", date(today.year, 1, 1), today),
        ("Last 12 months", (month - timedelta(days=335)).replace(day=1), today),
    ]


def sections_for(user) -> list[tuple[str, str, str]]:
    """The tab bar's dashboards `user` may open: url name, label, key."""
    return [(url, label, key) for url, label, key, roles in SECTIONS if not roles or has_role(user, *roles)]


def _render(request, template: str, context: dict, *, section: str):
    freshness = dashboards.freshness()
    return render(
        request,
        template,
        {"section": section, "analytics_sections": sections_for(request.user), "freshness": freshness,
         **context},
    )  # fmt: skip


def _spec(labels, unit, currency, datasets) -> dict:
    """A chart for analytics-charts.js: datasets are (label, values as strings, colour, type, axis)."""
    return {
        "labels": labels,
        "unit": unit,
        "currency": currency,
        "datasets": [
            {"label": label, "data": data, "color": color, "type": kind, "axis": axis}
            for label, data, color, kind, axis in datasets
        ],
    }


@require_GET
@role_required(*FIRM)
def executive(request):
    form, start, end, currency, presets = _period(request, dashboards.currencies(timezone.localdate()))
    context = {"form": form, "start": start, "end": end, "currency": currency, "presets": presets}
    if currency and form.is_valid():
        # Utilization is one figure per practice whatever the currency of its projects: one bar each.
        practice = {
            row["key"]: row
            for row in kpi_report(start=start, end=end, group_by="practice", balances=False)["rows"]
            if row["available_hours"]
        }
        practice = sorted(practice.values(), key=lambda row: row["name"])
        monthly = dashboards.monthly(end, currency)
        aging = [row for row in dashboards.aging(end) if row["currency"] == currency]
        today = timezone.localdate()
        revenue_ahead = forecast.revenue_forecast(today=today, currency=currency)
        hours_ahead = forecast.capacity_forecast(today=today)
        ahead_labels = [month.strftime("%b %Y") for month in revenue_ahead["months"]]
        ahead = {name: [str(v) for v in revenue_ahead[name]] for name in ("scheduled", "pipeline", "total")}
        for name in ("demand", "available"):
            ahead[name] = [str(month[name]) for month in hours_ahead["total"]["months"]]
        buckets = ("current", "1_30", "31_60", "61_90", "over_90")
        context |= {
            "cards": dashboards.kpi_cards(start, end, currency),
            "clients": dashboards.top_clients(start, end, currency),
            "aging": aging,
            "capacity": hours_ahead,
            "charts": {
                "chart_revenue": _spec(monthly["labels"], "money", currency, [
                    ("Revenue (GL)", monthly["revenue"], "#0d6efd", None, None),
                    ("Margin", monthly["margin"], "#20c997", None, None),
                    ("Margin %", monthly["margin_percent"], "#6f42c1", "line", "y2"),
                ]),
                "chart_bookings": _spec(monthly["labels"], "money", currency, [
                    ("Bookings", monthly["bookings"], "#fd7e14", None, None),
                    ("Revenue (GL)", monthly["revenue"], "#0d6efd", None, None),
                ]),
                "chart_practice": _spec([row["name"] for row in practice], "percent", None, [
                    ("Utilization", [str(r["utilization"] or 0) for r in practice], "#0d6efd", None, None),
                    ("Billable", [str(r["billable_utilization"] or 0) for r in practice], "#9ec5fe", None,
                     None),
                ]),
                "chart_forecast_revenue": _spec(ahead_labels, "money", currency, [
                    ("Scheduled (backlog)", ahead["scheduled"], "#0d6efd", None, None),
                    ("Weighted pipeline", ahead["pipeline"], "#fd7e14", None, None),
                    ("Total", ahead["total"], "#212529", "line", None),
                ]),
                "chart_forecast_capacity": _spec(ahead_labels, "hours", None, [
                    ("Hours demanded", ahead["demand"], "#dc3545", None, None),
                    ("Hours available", ahead["available"], "#198754", "line", None),
                ]),
                "chart_aging": _spec(["Current", "1–30", "31–60", "61–90", "Over 90"], "money", currency, [
                    (row["entity"].name, [str(row["buckets"][b]) for b in buckets], "#dc3545", None, None)
                    for row in aging
                ]),
            },
        }  # fmt: skip
    return _render(request, "analytics/executive.html", context, section="executive")


@require_GET
@role_required(*FIRM)
def finance(request):
    form, start, end, currency, presets = _period(request)
    wip = dashboards.wip_by_age(end)
    if wants_csv(request):
        return csv_response(
            f"unbilled-wip-by-age-{end.isoformat()}.csv",
            ["client", "currency", "0_30", "31_60", "61_90", "over_90", "total"],
            ([r["client"], r["currency"], *r["buckets"].values(), r["total"]] for r in wip),
        )
    today = timezone.localdate()
    billing_ahead = dashboards.billing_forecast(today)
    rollforward = dashboards.revenue_rollforward(start, end)
    context = {
        "form": form,
        "start": start,
        "end": end,
        "presets": presets,
        "wip": wip,
        "aging": dashboards.aging(end),
        "billing_forecast": billing_ahead,
        "rollforward": rollforward,
        "close_status": dashboards.close_status(today),
    }
    labels = [month.strftime("%b %Y") for month in billing_ahead["months"]]
    for index, block in enumerate(billing_ahead["currencies"]):
        block["chart_id"] = f"chart_billing_forecast_{index}"
        block["chart"] = _spec(labels, "money", block["currency"], [
            (part["label"], [str(v) for v in part["values"]], FORECAST_COLORS[part["key"]], None, None)
            for part in block["parts"]
        ])  # fmt: skip
    for index, block in enumerate(rollforward):
        months = block["months"]
        block["chart_id"] = f"chart_rollforward_{index}"
        block["chart"] = _spec([row["label"] for row in months], "money", block["currency"], [
            (block["increase_label"], [str(row["increase"]) for row in months], "#0d6efd", None, None),
            (block["release_label"], [str(-row["release"]) for row in months], "#dc3545", None, None),
            ("Closing balance", [str(row["closing"]) for row in months], "#212529", "line", None),
        ])  # fmt: skip
    dso = dashboards.dso_trend(end)
    deferred = dashboards.deferred_by_month(end)
    context["dso_chart"] = _spec(
        dso[0]["labels"] if dso else [],
        "days",
        None,
        [(row["entity"], row["values"], COLORS[i % len(COLORS)], "line", None) for i, row in enumerate(dso)],
    )
    context["deferred_chart"] = _spec(
        deferred["labels"],
        "money",
        deferred["series"][0]["currency"] if len(deferred["series"]) == 1 else None,
        [
            (f"{row['entity']} ({row['currency']})", row["values"], COLORS[i % len(COLORS)], None, None)
            for i, row in enumerate(deferred["series"])
        ],
    )
    return _render(request, "analytics/finance.html", context, section="finance")


@require_GET
@role_required(*FIRM, Role.PROJECT_MANAGER)
def projects(request):
    form, start, end, currency, presets = _period(request)
    manager = None
    if not has_role(request.user, *FIRM):
        manager = Person.objects.filter(user=request.user).first()
    rows = (
        []
        if manager is None and not has_role(request.user, *FIRM)
        else health.project_health(start=start, end=end, manager=manager, today=timezone.localdate())
    )
    if wants_csv(request):
        return csv_response(
            f"project-health-{end.isoformat()}.csv",
            ["project", "client", "status", "reasons", "hours", "budget_hours", "burn_percent",
             "schedule_percent", "margin_percent", "wip", "pending_approval"],
            (
                [r["project"].code, r["project"].account.name, r["status"], "; ".join(r["reasons"]),
                 r["hours"], r["budget_hours"], r["burn"], r["schedule"], r["margin_percent"], r["wip"],
                 r["pending"]]
                for r in rows
            ),
        )  # fmt: skip
    context = {
        "form": form,
        "start": start,
        "end": end,
        "presets": presets,
        "rows": rows,
        "mine": manager is not None,
    }
    return _render(request, "analytics/projects.html", context, section="projects")


@require_GET
@role_required(*FIRM, Role.PROJECT_MANAGER)
def project_detail(request, pk: int):
    """One project's health and burn-down; a project manager sees the projects they manage only."""
    projects = Project.objects.select_related("account", "manager")
    if not has_role(request.user, *FIRM):
        projects = projects.filter(manager__user=request.user)
    project = get_object_or_404(projects, pk=pk)
    today = timezone.localdate()
    manager = project.manager if not has_role(request.user, *FIRM) else None
    row = next(
        (
            r
            for r in health.project_health(start=project.start, end=today, manager=manager, today=today)
            if r["project"].pk == project.pk
        ),
        None,
    )
    burn = health.burn_down(project, today=today)
    charts = {}
    if burn["has_hours"]:
        charts["chart_burn_hours"] = _spec(
            burn["labels"],
            "hours",
            None,
            [
                ("Budget hours remaining", burn["hours"], "#0d6efd", "line", None),
                ("Ideal", burn["hours_ideal"], "#adb5bd", "line", None),
            ],
        )
    if burn["has_fees"]:
        charts["chart_burn_fees"] = _spec(burn["labels"], "money", project.currency, [
            ("Budget fees remaining", burn["fees"], "#20c997", "line", None),
            ("Ideal", burn["fees_ideal"], "#adb5bd", "line", None),
        ])  # fmt: skip
    context = {"project": project, "row": row, "charts": charts, "today": today}
    return _render(request, "analytics/project.html", context, section="projects")


class ExploreForm(PeriodForm):
    group_by = forms.ChoiceField(
        label="Group by", choices=[(g, GROUP_LABELS[g]) for g in GROUP_BY], required=False
    )


@require_GET
@role_required(*FIRM)
def explore(request):
    form = ExploreForm(request.GET or None)
    today = timezone.localdate()
    start, end, group_by = today.replace(day=1), today, "client"
    if form.is_bound and form.is_valid():
        start, end = form.cleaned_data["start"], form.cleaned_data["end"]
        group_by = form.cleaned_data.get("group_by") or group_by
    elif not form.is_bound:
        form = ExploreForm({"start": start, "end": end, "group_by": group_by})
        form.is_valid()
    report = kpi_report(start=start, end=end, group_by=group_by) if form.is_valid() else None
    if report and wants_csv(request):
        header, rows = report_table(report)
        return csv_response(f"kpis-{group_by}-{start.isoformat()}-{end.isoformat()}.csv", header, rows)
    drill = {"person": "person", "project": "project", "client": "client"}.get(group_by)
    context = {
        "form": form,
        "start": start,
        "end": end,
        "presets": _presets(today),
        "report": report,
        "group_label": GROUP_LABELS[group_by],
        "drill": drill,
        "kpis": KPIS,
        "columns": REPORT_COLUMNS,
    }
    return _render(request, "analytics/explore.html", context, section="explore")


@require_GET
@role_required(*FIRM)
def rows(request):
    form, start, end, currency, presets = _period(request)
    filters = {name: request.GET.get(name) for name in ("person", "project", "client")}
    filters = {name: int(value) for name, value in filters.items() if value and value.isdigit()}
    facts = dashboards.work_rows(start=start, end=end, **filters)
    names = {
        "people": dict(Person.objects.values_list("pk", "name")),
        "projects": {
            p.pk: p
            for p in Project.objects.filter(pk__in=facts.values("project_id")).select_related("account")
        },
    }
    header = ["entry", "date", "person", "project", "client", "currency", "hours", "billable",
              "standard_value", "cost", "billed_value", "wip_value", "invoice",
              "days_to_invoice"]  # fmt: skip

    def line(fact):
        project = names["projects"].get(fact.project_id)
        code, client = (project.code, project.account.name) if project else ("", "")
        person = names["people"].get(fact.person_id)
        return [
            fact.time_entry_id, fact.date, person, code, client, fact.currency, fact.hours, fact.billable,
            fact.standard_value, fact.cost, fact.billed_value, fact.wip_value, fact.invoice_id,
            fact.days_to_invoice,
        ]  # fmt: skip

    if wants_csv(request):
        return csv_response(
            f"kpi-rows-{start.isoformat()}-{end.isoformat()}.csv", header, (line(f) for f in facts.iterator())
        )
    page = Paginator(facts, 100).get_page(request.GET.get("page"))
    context = {"form": form, "start": start, "end": end, "presets": presets, "page": page,
               "lines": [line(f) for f in page], "filters": filters}  # fmt: skip
    return _render(request, "analytics/rows.html", context, section="explore")


@require_GET
@role_required(*Role.values)
def me(request):
    person = scope_for(request.user)
    if person is None:
        person = Person.objects.filter(user=request.user).first()
    data = dashboards.consultant(person, timezone.localdate()) if person else None
    chart = None
    if data:
        chart = _spec(
            [row["week"].strftime("%d %b") for row in data["trend"]],
            "percent",
            None,
            [
                ("Utilization", [str(r["utilization"] or 0) for r in data["trend"]], "#0d6efd", "line", None),
                (
                    "Billable",
                    [str(r["billable_utilization"] or 0) for r in data["trend"]],
                    "#20c997",
                    "line",
                    None,
                ),
            ],
        )
    context = {"person": person, "data": data, "chart": chart}
    return _render(request, "analytics/me.html", context, section="me")
