"""Quotes (submit, approve, reject, accept) and contracts (versions, amendments, closing)."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_GET, require_POST

from core.errors import DomainError
from core.roles import has_role
from crm import selectors
from crm.forms import AmendForm, ReasonForm
from crm.models import Contract, ContractVersion, Quote, SalesPolicy
from crm.services.contracts import amend_contract, close_contract, current_lines
from crm.services.handoff import delivery_plan
from crm.services.quotes import accept_quote, approve_quote, reject_quote, submit_quote
from crm.trace import opportunity_trace

from .common import crm_reader, may_change, paginate, render_page, require_writer


def _quote(pk: int) -> Quote:
    return get_object_or_404(
        Quote.objects.select_related(
            "opportunity__account", "opportunity__owner", "approved_by", "submitted_by"
        ).prefetch_related("lines__role"),
        pk=pk,
    )


@require_GET
@crm_reader
def quote_detail(request, pk: int):
    quote = _quote(pk)
    policy = SalesPolicy.current()
    return render_page(
        request,
        "crm/quotes/detail.html",
        {
            "quote": quote,
            "policy": policy,
            "editable": may_change(request, quote.opportunity.owner_id),
            "can_approve": has_role(request.user, policy.approver_role),
            "reason_form": ReasonForm(),
        },
        section="opportunities",
    )


QUOTE_ACTIONS = {
    "submit": (submit_quote, "Quote submitted."),
    "approve": (approve_quote, "Quote approved."),
    "accept": (accept_quote, "Quote accepted by the client. Win the opportunity to contract it."),
}


@require_POST
@crm_reader
def quote_action(request, pk: int, action: str):
    quote = _quote(pk)
    try:
        if action == "reject":
            form = ReasonForm(request.POST)
            if not form.is_valid():
                messages.error(request, "Say why the quote is rejected.")
                return redirect("crm:quote-detail", pk=pk)
            reject_quote(actor=request.user, quote=quote, reason=form.cleaned_data["reason"])
            messages.success(request, "Quote rejected.")
        else:
            service, done = QUOTE_ACTIONS[action]
            if action != "approve":
                require_writer(request)
            service(actor=request.user, quote=quote)
            messages.success(request, done)
    except DomainError as exc:
        messages.error(request, exc.detail)
    return redirect("crm:quote-detail", pk=pk)


@require_GET
@crm_reader
def contract_list(request):
    contracts = Contract.objects.select_related("account", "legal_entity").order_by("-start", "-id")
    status = request.GET.get("status", "")
    if status:
        contracts = contracts.filter(status=status)
    return render_page(
        request,
        "crm/contracts/list.html",
        {"contracts": paginate(request, contracts), "status": status},
        section="contracts",
    )


def _contract(pk: int) -> Contract:
    return get_object_or_404(
        Contract.objects.select_related("account", "legal_entity", "opportunity__owner", "quote"), pk=pk
    )


def _contract_page(request, contract, *, amend_form=None, status=200):
    lines = list(current_lines(contract))
    owner_id = contract.opportunity.owner_id if contract.opportunity else contract.account.owner_id
    versions = (
        ContractVersion.objects.filter(contract=contract)
        .select_related("created_by")
        .prefetch_related("lines__role")
    )
    return render_page(
        request,
        "crm/contracts/detail.html",
        {
            "contract": contract,
            "lines": lines,
            "versions": versions.order_by("-number"),
            "plan": delivery_plan(contract, lines),
            "consumption": selectors.contract_consumption(contract),
            "trace": opportunity_trace(contract.opportunity) if contract.opportunity else None,
            "editable": may_change(request, owner_id) and contract.status == Contract.Status.ACTIVE,
            "amend_form": amend_form or AmendForm(lines=lines),
            "close_form": ReasonForm(),
        },
        section="contracts",
        status=status,
    )


@require_GET
@crm_reader
def contract_detail(request, pk: int):
    return _contract_page(request, _contract(pk))


@require_POST
@crm_reader
def contract_amend(request, pk: int):
    require_writer(request)
    contract = _contract(pk)
    form = AmendForm(request.POST, lines=list(current_lines(contract)))
    if form.is_valid():
        try:
            amend_contract(
                actor=request.user,
                contract=contract,
                reason=form.cleaned_data["reason"],
                lines=[form.change()],
            )
        except DomainError as exc:
            for name, problems in exc.fields.items():
                field = name.rsplit(".", 1)[-1]
                form.add_error(field if field in form.fields else None, list(problems))
            if not exc.fields:
                form.add_error(None, exc.detail)
        else:
            contract.refresh_from_db()
            messages.success(request, f"Contract {contract.number} amended: version {contract.version}.")
            return redirect("crm:contract-detail", pk=pk)
    return _contract_page(request, contract, amend_form=form, status=400)


@require_POST
@crm_reader
def contract_close(request, pk: int):
    require_writer(request)
    contract = _contract(pk)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say why the contract is closed.")
        return redirect("crm:contract-detail", pk=pk)
    try:
        close_contract(actor=request.user, contract=contract, reason=form.cleaned_data["reason"])
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"Contract {contract.number} closed.")
    return redirect("crm:contract-detail", pk=pk)
