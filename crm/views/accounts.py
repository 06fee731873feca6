"""Clients: the list, creating one (with the duplicate warning), the account 360 page, contacts, and
"my open activities"."""

from django.contrib import messages
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.errors import DomainError
from crm import selectors
from crm.forms import AccountForm, ActivityForm, ContactForm
from crm.models import Account, Activity
from crm.services.accounts import (
    PossibleDuplicate,
    complete_activity,
    create_account,
    create_activity,
    create_contact,
)

from .common import crm_reader, may_change, paginate, render_page, require_activity_writer, require_writer


@require_GET
@crm_reader
def account_list(request):
    q = request.GET.get("q", "").strip()
    accounts = Account.objects.select_related("parent", "owner", "legal_entity").annotate(
        open_deals=Count("opportunities", filter=~Q(opportunities__stage__in=["won", "lost"]))
    )
    if q:
        accounts = accounts.filter(Q(name__icontains=q) | Q(domain__icontains=q))
    return render_page(
        request,
        "crm/accounts/list.html",
        {"accounts": paginate(request, accounts.order_by("name")), "q": q},
        section="accounts",
    )


@require_http_methods(["GET", "POST"])
@crm_reader
def account_create(request):
    require_writer(request)
    form = AccountForm(request.POST or None, initial={"owner": request.user.pk})
    candidates = []
    if request.method == "POST" and form.is_valid():
        try:
            account = create_account(
                actor=request.user, allow_duplicate=form.cleaned_data["allow_duplicate"], **form.values()
            )
        except PossibleDuplicate as exc:
            candidates = exc.fields["candidates"]
            # The next submit confirms it is another client.
            form.data = form.data.copy()
            form.data["allow_duplicate"] = "on"
        except DomainError as exc:
            form.add_domain_error(exc)
        else:
            messages.success(request, f"Client {account.name} created.")
            return redirect("crm:account-detail", pk=account.pk)
    return render_page(
        request, "crm/accounts/form.html", {"form": form, "candidates": candidates}, section="accounts"
    )


@require_GET
@crm_reader
def account_detail(request, pk: int):
    account = get_object_or_404(Account.objects.select_related("parent", "owner", "legal_entity"), pk=pk)
    return _detail(request, account)


def _detail(request, account, *, contact_form=None, activity_form=None, status=200):
    context = selectors.account_360(account)
    context |= {
        "editable": may_change(request, account.owner_id),
        "contact_form": contact_form or ContactForm(),
        "activity_form": activity_form or ActivityForm(),
    }
    names = dict(selectors.stages().values_list("code", "name"))
    for deal in context["opportunities"]:
        deal.stage_name = names.get(deal.stage, deal.stage)
    return render_page(request, "crm/accounts/detail.html", context, section="accounts", status=status)


@require_POST
@crm_reader
def account_add_contact(request, pk: int):
    require_writer(request)
    account = get_object_or_404(Account, pk=pk)
    form = ContactForm(request.POST)
    if form.is_valid():
        try:
            create_contact(actor=request.user, account=account, **form.cleaned_data)
        except DomainError as exc:
            form.add_domain_error(exc)
        else:
            messages.success(request, "Contact added.")
            return redirect("crm:account-detail", pk=pk)
    return _detail(request, account, contact_form=form, status=400)


@require_POST
@crm_reader
def account_add_activity(request, pk: int):
    require_activity_writer(request)
    account = get_object_or_404(Account, pk=pk)
    form = ActivityForm(request.POST)
    if form.is_valid():
        try:
            create_activity(actor=request.user, account=account, **form.cleaned_data)
        except DomainError as exc:
            form.add_domain_error(exc)
        else:
            messages.success(request, "Activity added.")
            return redirect("crm:account-detail", pk=pk)
    return _detail(request, account, activity_form=form, status=400)


@require_GET
@crm_reader
def my_activities(request):
    activities = selectors.my_open_activities(request.user)
    return render_page(request, "crm/activities.html", {"activities": activities}, section="activities")


@require_POST
@crm_reader
def activity_complete(request, pk: int):
    """htmx: tick an activity off; answers with its row, now done."""
    activity = get_object_or_404(Activity.objects.select_related("account", "opportunity"), pk=pk)
    try:
        activity = complete_activity(actor=request.user, activity=activity)
    except DomainError as exc:
        messages.error(request, exc.detail)
        return redirect(request.POST.get("next") or "crm:activities")
    if request.headers.get("HX-Request"):
        return render_page(request, "crm/_activity_row.html", {"activity": activity}, section="activities")
    return redirect(request.POST.get("next") or "crm:activities")
