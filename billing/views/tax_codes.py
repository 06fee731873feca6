"""Tax codes per legal entity: the list, creating a code, (de)activating one. A code's rate never changes
(issued invoices show it); a new rate is a new code."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from billing.forms import TaxCodeForm
from billing.models import TaxCode
from billing.services.tax import create_tax_code, update_tax_code
from core.errors import DomainError
from ledger.forms import EntityPickerForm
from ledger.models import LegalEntity

from .common import billing_reader, render_page, require_writer


def tax_codes_url(entity_id: int) -> str:
    return f"{reverse('billing:tax-codes')}?legal_entity={entity_id}"


@require_http_methods(["GET", "POST"])
@billing_reader
def tax_code_list(request):
    if request.method == "POST":
        require_writer(request)
        entity = get_object_or_404(LegalEntity, pk=request.POST.get("legal_entity") or 0)
        picker = EntityPickerForm({"legal_entity": entity.pk})
        form = TaxCodeForm(request.POST, entity=entity)
        if form.is_valid():
            data = form.cleaned_data
            try:
                code = create_tax_code(
                    actor=request.user,
                    legal_entity=entity,
                    code=data["code"],
                    name=data["name"],
                    kind=data["kind"],
                    rate_percent=data["rate_percent"],
                    account=data["account"],
                )
            except DomainError as exc:
                form.add_service_error(exc)
            else:
                messages.success(request, f"Tax code {code} created for {entity.name}.")
                return redirect(tax_codes_url(entity.pk))
    else:
        picker = EntityPickerForm.for_request(request)
        entity = picker.entity()
        form = TaxCodeForm(entity=entity, initial={"legal_entity": entity.pk}) if entity else None
    codes = TaxCode.objects.filter(legal_entity=entity).select_related("account") if entity else []
    return render_page(
        request,
        "billing/tax_codes/list.html",
        {"picker": picker, "entity": entity, "codes": codes, "form": form},
        section="tax-codes",
    )


@require_POST
@billing_reader
def tax_code_toggle(request, pk: int):
    """Deactivate a code (new invoices can no longer use it) or activate it again."""
    require_writer(request)
    code = get_object_or_404(TaxCode.objects.select_related("legal_entity"), pk=pk)
    active = request.POST.get("active") == "1"
    try:
        update_tax_code(actor=request.user, tax_code=code, active=active)
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"Tax code {code.code} is {'active' if active else 'inactive'}.")
    return redirect(tax_codes_url(code.legal_entity_id))
