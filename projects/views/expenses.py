"""Expenses in the browser: the list of one's own (and for managers, their projects'), recording one with
its receipt, its page (conversion shown, change, submit, delete), and the receipt download."""

from django.contrib import messages
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from core.errors import DomainError
from core.roles import Role, has_role
from projects.access import person_of, reads_all_time
from projects.choices import EDITABLE_STATUSES
from projects.forms import ExpenseForm, bookable_projects
from projects.selectors import visible_expenses
from projects.services.expenses import create_expense, delete_expense, submit_expense, update_expense

from .common import paginate, project_reader, render_page, time_keeper


@require_GET
@project_reader
def expense_list(request):
    me = person_of(request.user)
    expenses = visible_expenses(request.user).select_related("person", "project").order_by("-date", "-id")
    scope = request.GET.get("scope", "mine" if me else "all")
    if scope == "mine" and me:
        expenses = expenses.filter(person=me)
    return render_page(
        request,
        "projects/expenses/list.html",
        {
            "expenses": paginate(request, expenses),
            "scope": scope,
            "sees_others": reads_all_time(request.user) or has_role(request.user, Role.PROJECT_MANAGER),
        },
        section="expenses",
    )


@require_http_methods(["GET", "POST"])
@time_keeper
def expense_create(request):
    me = person_of(request.user)
    if me is None:
        raise Http404("You have no person record.")
    form = ExpenseForm(
        request.POST or None,
        request.FILES or None,
        person=me,
        initial={
            "date": timezone.localdate(),
            "billable": True,
            "currency": me.legal_entity.functional_currency,
            "project": bookable_projects(me).values_list("pk", flat=True).first(),
        },
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            expense = create_expense(actor=request.user, person=me, **data)
        except DomainError as exc:
            form.add_service_error(exc)
        else:
            if "submit" in request.POST:
                try:
                    submit_expense(actor=request.user, expense=expense)
                except DomainError as exc:
                    messages.error(request, exc.detail)
                else:
                    messages.success(request, "Expense recorded and sent for approval.")
                    return redirect("projects:expense-detail", pk=expense.pk)
            messages.success(request, "Expense saved as a draft; submit it when it is complete.")
            return redirect("projects:expense-detail", pk=expense.pk)
    if me is not None and request.method == "GET" and not form.fields["project"].queryset.exists():
        messages.info(request, "You have no project to book expenses on yet.")
    return render_page(request, "projects/expenses/form.html", {"form": form}, section="expenses")


@require_http_methods(["GET", "POST"])
@project_reader
def expense_detail(request, pk: int):
    expense = get_object_or_404(
        visible_expenses(request.user).select_related("person", "project", "approved_by", "rejected_by"),
        pk=pk,
    )
    mine = expense.person.user_id == request.user.pk
    editable = mine and expense.status in EDITABLE_STATUSES
    form = None
    if editable:
        initial = {
            "project": expense.project_id,
            "date": expense.date,
            "category": expense.category,
            "amount": expense.amount.normalize(),
            "currency": expense.currency,
            "billable": expense.billable,
            "markup_percent": expense.markup_percent,
            "notes": expense.notes,
        }
        form = ExpenseForm(
            request.POST if request.POST.get("action") == "save" else None,
            request.FILES or None,
            person=expense.person,
            initial=initial,
        )
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "save" and form is not None and form.is_valid():
                data = {k: v for k, v in form.cleaned_data.items() if k != "receipt" or v}
                if data.get("markup_percent") is None:
                    data.pop("markup_percent", None)
                update_expense(actor=request.user, expense=expense, **data)
                messages.success(request, "Expense saved.")
                return redirect("projects:expense-detail", pk=expense.pk)
            if action == "submit":
                submit_expense(actor=request.user, expense=expense)
                messages.success(request, "Expense sent to the project's manager for approval.")
                return redirect("projects:expense-detail", pk=expense.pk)
            if action == "delete":
                delete_expense(actor=request.user, expense=expense)
                messages.success(request, "Expense deleted.")
                return redirect("projects:expenses")
        except DomainError as exc:
            if form is not None and action == "save":
                form.add_service_error(exc)
            else:
                messages.error(request, exc.detail)
    return render_page(
        request,
        "projects/expenses/detail.html",
        {"expense": expense, "form": form, "editable": editable, "mine": mine},
        section="expenses",
    )


@require_GET
@project_reader
def expense_receipt(request, pk: int):
    """The receipt, to whoever may see the expense; served with the content type found when uploaded."""
    expense = get_object_or_404(visible_expenses(request.user), pk=pk)
    if not expense.receipt:
        raise Http404("This expense has no receipt.")
    extension = expense.receipt.name.rsplit(".", 1)[-1]
    response = FileResponse(
        expense.receipt.open("rb"),
        content_type=expense.receipt_content_type,
        filename=f"receipt-{expense.pk}.{extension}",
    )
    response["Content-Disposition"] = response["Content-Disposition"].replace("attachment", "inline")
    return response
