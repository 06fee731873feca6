"""Time off and holidays in the browser: one's own time off (list, record, cancel), everyone's for
resource managers, and the legal entities' public holidays (resource managers keep them)."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from core.errors import DomainError
from core.roles import has_role
from ledger.models import LegalEntity
from projects.access import STAFFERS, person_of, reads_all_projects
from projects.forms import HolidayForm, TimeOffForm
from projects.models import Holiday, Person
from projects.selectors import visible_time_off
from projects.services.capacity import cancel_time_off, create_holiday, delete_holiday, record_time_off

from .common import paginate, project_reader, render_page


@require_http_methods(["GET", "POST"])
@project_reader
def time_off(request):
    me = person_of(request.user)
    staffer = has_role(request.user, *STAFFERS)
    if me is None and not reads_all_projects(request.user):
        raise Http404("You have no person record.")
    people = Person.objects.filter(active=True).order_by("name") if staffer else None
    # Executives and finance read everyone's; only those who keep time or staff record any.
    form = None
    if me is not None or staffer:
        form = TimeOffForm(request.POST or None, people=people, initial={"person": me.pk if me else None})
    if request.method == "POST":
        if form is None:
            raise Http404("You have no person record.")
        if form.is_valid():
            data = form.cleaned_data
            person = data.pop("person", None) or me
            try:
                recorded = record_time_off(actor=request.user, person=person, **data)
            except DomainError as exc:
                form.add_service_error(exc)
            else:
                messages.success(
                    request,
                    f"Time off recorded for {person.name}: {recorded.start.isoformat()} to "
                    f"{recorded.end.isoformat()}.",
                )
                return redirect("projects:time-off")
    today = timezone.localdate()
    rows = visible_time_off(request.user).select_related("person").order_by("-start", "-id")
    scope = request.GET.get("scope", "mine" if me else "all")
    if scope == "mine" and me:
        rows = rows.filter(person=me)
    status = 400 if request.method == "POST" else 200
    holidays = (
        Holiday.objects.filter(legal_entity_id=me.legal_entity_id, date__gte=today).order_by("date")[:5]
        if me
        else []
    )
    return render_page(
        request,
        "projects/time_off.html",
        {
            "form": form,
            "rows": paginate(request, rows),
            "scope": scope,
            "staffer": staffer,
            "today": today,
            "holidays": holidays,
        },
        section="time-off",
        status=status,
    )


@require_POST
@project_reader
def time_off_cancel(request, pk: int):
    row = get_object_or_404(visible_time_off(request.user).select_related("person"), pk=pk)
    try:
        cancel_time_off(actor=request.user, time_off=row)
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"Time off of {row.person.name} from {row.start.isoformat()} cancelled.")
    return redirect("projects:time-off")


def _year(request) -> int:
    value = request.GET.get("year", "")
    return int(value) if value.isdigit() and 1900 < int(value) < 3000 else timezone.localdate().year


@require_http_methods(["GET", "POST"])
@project_reader
def holidays(request):
    year = _year(request)
    staffer = has_role(request.user, *STAFFERS)
    form = HolidayForm(request.POST or None) if staffer else None
    if request.method == "POST":
        if form is None:
            raise Http404("Only resource managers declare holidays.")
        if form.is_valid():
            try:
                holiday = create_holiday(actor=request.user, **form.cleaned_data)
            except DomainError as exc:
                form.add_service_error(exc)
            else:
                messages.success(request, f"{holiday.name} on {holiday.date.isoformat()} added.")
                return redirect(f"{request.path}?year={holiday.date.year}")
    entities = list(LegalEntity.objects.order_by("name"))
    by_entity = {entity.pk: [] for entity in entities}
    for holiday in Holiday.objects.filter(date__year=year).order_by("date"):
        by_entity[holiday.legal_entity_id].append(holiday)
    return render_page(
        request,
        "projects/holidays.html",
        {
            "form": form,
            "year": year,
            "entities": [(entity, by_entity[entity.pk]) for entity in entities],
            "staffer": staffer,
        },
        section="time-off",
        status=400 if request.method == "POST" else 200,
    )


@require_POST
@project_reader
def holiday_delete(request, pk: int):
    holiday = get_object_or_404(Holiday, pk=pk)
    try:
        delete_holiday(actor=request.user, holiday=holiday)
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"{holiday.name} on {holiday.date.isoformat()} removed.")
    return redirect(f"{reverse('projects:holidays')}?year={holiday.date.year}")
