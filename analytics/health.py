"""Project health for the project manager's dashboard: red / amber / green with the reasons in words, and
a project's burn-down (budget hours and fees remaining over time against the ideal line)."""

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Count, DecimalField, Min, Q, Sum
from django.db.models.functions import TruncWeek

from analytics.kpis import ZERO, percent, present
from analytics.models import DailyRollup
from core.money import format_money
from projects.choices import EntryStatus, MilestoneStatus
from projects.models import Milestone, Person, Project, TimeEntry
from projects.weeks import week_start

EXACT = DecimalField(max_digits=30, decimal_places=6)
# A milestone this many days past due without being completed turns a project red.
MILESTONE_RED_DAYS = 30


def project_health(*, start: date, end: date, manager: Person | None, today: date) -> list[dict]:
    """Each active project's health, red / amber / green, with the reasons in words:
    - budget burn (hours to date ÷ budget hours) ahead of the schedule (days elapsed ÷ duration) by more
      than 10 points is amber, 25 red;
    - margin to date under the project's target margin is amber, 10 points under red;
    - a milestone past its due date and neither completed nor accepted is amber, more than 30 days past
      it red;
    - unbilled WIP older than 60 days is amber, 90 red;
    - time submitted and not approved for more than 7 days is amber."""
    projects = Project.objects.filter(status="active").select_related("account", "manager").order_by("code")
    if manager is not None:
        projects = projects.filter(manager=manager)
    projects = list(projects)
    ids = [p.pk for p in projects]
    to_date = {
        row["project_id"]: row
        for row in DailyRollup.objects.filter(project_id__in=ids, date__lte=end)
        .values("project_id")
        .annotate(
            hours=Sum("hours", output_field=EXACT),
            billed=Sum("billed_value", output_field=EXACT),
            cost=Sum("time_cost", output_field=EXACT),
            expenses=Sum("expense_cost", output_field=EXACT),
            wip=Sum("wip_value", output_field=EXACT),
            oldest_wip=Min("date", filter=Q(wip_value__gt=0)),
        )
        .order_by()
    }
    waiting = {
        row["project_id"]: row
        for row in TimeEntry.objects.filter(project_id__in=ids, status=EntryStatus.SUBMITTED)
        .values("project_id")
        .annotate(n=Count("pk"), hours=Sum("hours"), oldest=Min("submitted_at"))
        .order_by()
    }
    overdue = defaultdict(list)
    for milestone in (
        Milestone.objects.filter(project_id__in=ids, status=MilestoneStatus.PLANNED, due__lt=today)
        .order_by("due", "pk")
        .only("project_id", "name", "due")
    ):
        overdue[milestone.project_id].append(milestone)
    result = []
    for project in projects:
        figures = to_date.get(project.pk, {})
        reasons: list[tuple[str, str]] = []
        hours = Decimal(figures.get("hours") or 0)
        duration = (project.end - project.start).days + 1
        elapsed = min(max((today - project.start).days + 1, 0), duration)
        schedule = percent(Decimal(elapsed), Decimal(duration)) or ZERO
        burn = percent(hours, project.budget_hours)
        if burn is not None:
            gap = burn - schedule
            text = (
                f"Budget {present(burn, 'percent')}% burnt at {present(schedule, 'percent')}% of the schedule"
            )
            if gap > 25:
                reasons.append(("red", text))
            elif gap > 10:
                reasons.append(("amber", text))
        billed = Decimal(figures.get("billed") or 0)
        cost = Decimal(figures.get("cost") or 0) + Decimal(figures.get("expenses") or 0)
        margin = percent(billed - cost, billed)
        if (
            margin is not None
            and project.target_margin_percent is not None
            and margin < project.target_margin_percent
        ):
            text = f"Margin {present(margin, 'percent')}% against a {project.target_margin_percent}% target"
            reasons.append(("red" if margin < project.target_margin_percent - 10 else "amber", text))
        late = overdue.get(project.pk)
        if late:
            first = late[0]
            days = (today - first.due).days
            count = f"{len(late)} milestones overdue, the oldest" if len(late) > 1 else "Milestone"
            text = f"{count} “{first.name}” due {first.due.isoformat()}, {days} days ago, not completed"
            reasons.append(("red" if days > MILESTONE_RED_DAYS else "amber", text))
        oldest = figures.get("oldest_wip")
        if oldest:
            age = (end - oldest).days
            unbilled = format_money(Decimal(figures["wip"]), project.currency)
            text = f"{unbilled} unbilled, the oldest {age} days old"
            if age > 90:
                reasons.append(("red", text))
            elif age > 60:
                reasons.append(("amber", text))
        pending = waiting.get(project.pk)
        if pending and pending["oldest"] and (today - pending["oldest"].date()).days > 7:
            reasons.append(
                (
                    "amber",
                    f"{pending['n']} time entries ({pending['hours']} h) waiting for approval over 7 days",
                )
            )
        status = "red" if any(r[0] == "red" for r in reasons) else "amber" if reasons else "green"
        result.append(
            {
                "project": project,
                "status": status,
                "reasons": [text for _, text in reasons],
                "hours": present(hours, "hours"),
                "budget_hours": project.budget_hours,
                "burn": present(burn, "percent"),
                "schedule": present(schedule, "percent"),
                "margin_percent": present(margin, "percent"),
                "wip": present(Decimal(figures.get("wip") or 0), "money", project.currency),
                "pending": pending["n"] if pending else 0,
                "overdue_milestones": len(late or ()),
            }
        )
    order = {"red": 0, "amber": 1, "green": 2}
    return sorted(result, key=lambda r: (order[r["status"]], r["project"].code))


def burn_down(project: Project, *, today: date) -> dict:
    """Week by week from the project's start to its end: budget hours and fees remaining (budget − approved
    hours, budget − fees earned, to the end of each week, up to today) against the ideal line, which
    falls evenly from the whole budget at the start to nothing at the end. Fees earned are the billed
    value of approved work plus its unbilled WIP, in the project's currency. A budget that is not set has
    no series."""
    mondays = []
    monday = week_start(project.start)
    while monday <= project.end:
        mondays.append(monday)
        monday += timedelta(days=7)
    weekly = {
        row["week"]: row
        for row in DailyRollup.objects.filter(project=project, date__lte=min(today, project.end))
        .annotate(week=TruncWeek("date"))
        .values("week")
        .annotate(
            hours=Sum("hours", output_field=EXACT),
            fees=Sum("billed_value", output_field=EXACT) + Sum("wip_value", output_field=EXACT),
        )
        .order_by()
    }
    duration = Decimal((project.end - project.start).days + 1)
    series = {"labels": [], "hours": [], "hours_ideal": [], "fees": [], "fees_ideal": []}
    spent_hours, spent_fees = ZERO, ZERO
    for monday in mondays:
        last = min(monday + timedelta(days=6), project.end)
        row = weekly.get(monday, {})
        spent_hours += Decimal(row.get("hours") or 0)
        spent_fees += Decimal(row.get("fees") or 0)
        elapsed = Decimal((last - project.start).days + 1)
        remaining_share = max(ZERO, 1 - elapsed / duration)
        series["labels"].append(last.isoformat())
        past = monday <= today
        for name, budget, spent, unit in (
            ("hours", project.budget_hours, spent_hours, "hours"),
            ("fees", project.budget_amount, spent_fees, "money"),
        ):
            if budget is None:
                continue
            series[f"{name}_ideal"].append(str(present(budget * remaining_share, unit, project.currency)))
            series[name].append(str(present(budget - spent, unit, project.currency)) if past else None)
    series["has_hours"] = project.budget_hours is not None
    series["has_fees"] = project.budget_amount is not None
    return series
