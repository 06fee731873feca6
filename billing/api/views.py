"""Billing API: billing runs (start, poll, resume, preview), invoices (review, release, send, void, PDF),
credit notes and tax codes.

Finance writes; executives and integrators read; other roles are refused (admins pass every check). An API
key also needs the `billing:read` / `billing:write` scope. Every write calls a billing service.
"""

from django.db.models import Prefetch
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, renderers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from billing import selectors
from billing.api import filtersets
from billing.api import serializers as s
from billing.models import BillingRun, CreditNote, CreditNoteLine, Invoice, InvoiceLine, RunException, TaxCode
from billing.services import credit_notes as credit_services
from billing.services import invoices as invoice_services
from billing.services.runs import resume_billing_run, start_billing_run
from billing.services.tax import create_tax_code, update_tax_code
from core.api import base
from core.api.permissions import role_permission
from core.errors import ValidationFailed
from core.roles import Role

READERS = (Role.FINANCE, Role.EXECUTIVE, Role.INTEGRATOR)
BILLING_PERMISSIONS = [*base.APIView.permission_classes, role_permission(read=READERS, write=(Role.FINANCE,))]


class BillingViewSet(base.ServiceViewSet):
    scope_area = "billing"
    permission_classes = BILLING_PERMISSIONS

    def payload(self, serializer_class, **kwargs) -> dict:
        data = serializer_class(data=self.request.data, **kwargs)
        data.is_valid(raise_exception=True)
        return data.validated_data


class PdfRenderer(renderers.BaseRenderer):
    """Lets a client ask for `Accept: application/pdf`; an error body is still sent as JSON."""

    media_type = "application/pdf"
    format = "pdf"
    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, bytes):
            return data
        response = (renderer_context or {}).get("response")
        if response is not None:
            response["Content-Type"] = "application/json"
        return renderers.JSONRenderer().render(data)


# Billing runs


class BillingRunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, BillingViewSet):
    """Billing runs: start one for a legal entity up to a date, then poll its status, progress and counters;
    a failed run resumes where it stopped. `preview` shows what a run would bill, writing nothing."""

    model = BillingRun
    serializer_class = s.BillingRunSerializer
    filterset_class = filtersets.BillingRunFilterSet

    def visible(self):
        return BillingRun.objects.select_related("created_by")

    @extend_schema(request=s.BillingRunCreateSerializer, responses={201: s.BillingRunSerializer})
    def create(self, request):
        """Create a run and start it in the background (it bills each contract of the scope that has an
        active billing plan, up to `period_end`, into draft invoices)."""
        data = self.payload(s.BillingRunCreateSerializer)
        run = start_billing_run(
            actor=request.user,
            legal_entity=data["legal_entity"],
            period_end=data["period_end"],
            accounts=data["accounts"],
            contracts=data["contracts"],
        )
        return Response(self.get_serializer(self.reread(run)).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=s.BillingRunSerializer)
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        """Queue a failed or interrupted run again; it continues with the contracts it has not done."""
        run = resume_billing_run(actor=request.user, run=self.get_object())
        return Response(self.get_serializer(self.reread(run)).data)

    @extend_schema(request=s.BillingRunCreateSerializer, responses=s.BillingPreviewSerializer)
    @action(detail=False, methods=["post"], filterset_class=None, pagination_class=None)
    def preview(self, request):
        """What a run with this body would bill now, per contract, with totals before tax and the
        exceptions it would record. Nothing is written."""
        data = self.payload(s.BillingRunCreateSerializer)
        preview = selectors.preview_billing(
            legal_entity=data["legal_entity"],
            period_end=data["period_end"],
            accounts=data["accounts"],
            contracts=data["contracts"],
        )
        return Response(s.BillingPreviewSerializer(preview).data)


@extend_schema(
    parameters=[OpenApiParameter("run_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="Run id.")]
)
class RunExceptionViewSet(mixins.ListModelMixin, BillingViewSet):
    """What a run could not bill (or billed with a warning), for finance to act on."""

    model = RunException
    serializer_class = s.RunExceptionSerializer
    pagination_class = base.cursor_pagination("id")

    def visible(self):
        run = get_object_or_404(BillingRun.objects.all(), pk=self.kwargs["run_id"])
        return RunException.objects.filter(run=run)


# Invoices


class InvoiceViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, BillingViewSet
):
    """Invoices: drafted by billing runs, reviewed (lines edited or removed with a reason), released
    (numbered, posted to the ledger and AR), sent, paid, or voided by a full credit note."""

    model = Invoice
    serializer_class = s.InvoiceSerializer
    filterset_class = filtersets.InvoiceFilterSet

    def visible(self):
        lines = InvoiceLine.objects.order_by("position", "id")
        return selectors.invoices().prefetch_related(Prefetch("lines", queryset=lines))

    def render(self, invoices, *, many: bool = False):
        """The invoices' bodies, with every line's sources read in one go for all of them."""
        rows = invoices if many else [invoices]
        lines = [line for invoice in rows for line in invoice.lines.all()]
        context = {**self.get_serializer_context(), "source_ids": selectors.source_ids(lines)}
        return s.InvoiceSerializer(invoices, many=many, context=context).data

    def respond(self, invoice) -> Response:
        return Response(self.render(self.reread(invoice)))

    def list(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(self.render(list(page), many=True))

    def retrieve(self, request, pk=None):
        return Response(self.render(self.get_object()))

    def _line(self, invoice: Invoice, line_id: int) -> InvoiceLine:
        line = next((line for line in invoice.lines.all() if line.pk == line_id), None)
        if line is None:
            raise ValidationFailed(
                f"Invoice {invoice} has no line {line_id}.", fields={"line": ["Not a line of this invoice."]}
            )
        return line

    @extend_schema(
        parameters=[OpenApiParameter("reason", str, description="Why; kept in the audit trail.")],
        responses={204: None, 409: OpenApiResponse(description="The invoice is not a draft.")},
    )
    def destroy(self, request, pk=None):
        """Delete a draft: everything it billed returns to unbilled for the next run."""
        invoice_services.delete_draft_invoice(
            actor=request.user, invoice=self.get_object(), reason=request.query_params.get("reason", "")
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=s.InvoiceReleaseSerializer, responses=s.InvoiceSerializer)
    @action(detail=True, methods=["post"])
    def release(self, request, pk=None):
        """Number, date and post the draft: Dr AR / Cr deferred revenue per line / Cr tax per code. An
        invoice totalling zero or less is refused (`non_positive_total`)."""
        data = self.payload(s.InvoiceReleaseSerializer)
        invoice = invoice_services.release_invoice(
            actor=request.user, invoice=self.get_object(), issue_date=data.get("issue_date")
        )
        return self.respond(invoice)

    @extend_schema(request=s.InvoiceSendSerializer, responses=s.InvoiceSerializer)
    @action(detail=True, methods=["post"])
    def send(self, request, pk=None):
        """E-mail the PDF to the client's billing contact (or `to`); a sent invoice may be sent again."""
        data = self.payload(s.InvoiceSendSerializer)
        invoice = invoice_services.send_invoice(
            actor=request.user, invoice=self.get_object(), to=data.get("to")
        )
        return self.respond(invoice)

    @extend_schema(request=s.InvoiceVoidSerializer, responses=s.InvoiceSerializer)
    @action(detail=True, methods=["post"])
    def void(self, request, pk=None):
        """Cancel a released or sent invoice with nothing paid on it: a full credit note is issued and its
        work returns to unbilled."""
        data = self.payload(s.InvoiceVoidSerializer)
        invoice = invoice_services.void_invoice(
            actor=request.user, invoice=self.get_object(), reason=data["reason"]
        )
        return self.respond(invoice)

    @extend_schema(request=s.EditLineSerializer, responses=s.InvoiceSerializer)
    @action(detail=True, methods=["post"], url_path="edit-line")
    def edit_line(self, request, pk=None):
        """Change a draft line's quantity or unit price, with a reason: a write-up or write-down."""
        data = self.payload(s.EditLineSerializer)
        invoice = self.get_object()
        invoice_services.edit_invoice_line(
            actor=request.user,
            line=self._line(invoice, data["line"]),
            reason=data["reason"],
            quantity=data.get("quantity"),
            unit_price=data.get("unit_price"),
        )
        return self.respond(invoice)

    @extend_schema(
        request=s.RemoveLineSerializer,
        responses={200: s.InvoiceSerializer, 204: OpenApiResponse(description="That was the last line.")},
    )
    @action(detail=True, methods=["post"], url_path="remove-line")
    def remove_line(self, request, pk=None):
        """Take a line off a draft; the work it billed returns to unbilled. Removing the last line deletes
        the draft (204)."""
        data = self.payload(s.RemoveLineSerializer)
        invoice = self.get_object()
        invoice_services.remove_invoice_line(
            actor=request.user, line=self._line(invoice, data["line"]), reason=data["reason"]
        )
        return self._after_removal(invoice)

    @extend_schema(
        request=s.RemoveEntriesSerializer,
        responses={200: s.InvoiceSerializer, 204: OpenApiResponse(description="Nothing was left on it.")},
    )
    @action(detail=True, methods=["post"], url_path="remove-entries")
    def remove_entries(self, request, pk=None):
        """Take time entries off a draft: they return to unbilled and their lines shrink. A draft left
        without lines is deleted (204)."""
        data = self.payload(s.RemoveEntriesSerializer)
        invoice = self.get_object()
        invoice_services.remove_time_entries(
            actor=request.user, invoice=invoice, entry_ids=data["time_entries"], reason=data["reason"]
        )
        return self._after_removal(invoice)

    def _after_removal(self, invoice) -> Response:
        left = self.visible().filter(pk=invoice.pk).first()
        if left is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(self.render(left))

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "time_detail", bool, description="true: add the time entries behind each time line."
            )
        ],
        responses={(200, "application/pdf"): OpenApiTypes.BINARY},
    )
    @action(detail=True, methods=["get"], renderer_classes=[renderers.JSONRenderer, PdfRenderer])
    def pdf(self, request, pk=None):
        """The invoice as a PDF (a draft's is marked as such)."""
        from billing.pdf import render_invoice_pdf

        invoice = self.get_object()
        detail = request.query_params.get("time_detail", "").lower() in ("1", "true", "yes")
        response = HttpResponse(
            render_invoice_pdf(invoice, time_detail=detail), content_type="application/pdf"
        )
        name = invoice.number or f"draft-{invoice.pk}"
        response["Content-Disposition"] = f'inline; filename="{name}.pdf"'
        return response


# Credit notes


class CreditNoteViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, BillingViewSet):
    """Credit notes against released invoices: specific lines or time entries, whose work returns to
    unbilled (`rebill`) or is written off when the note is released."""

    model = CreditNote
    serializer_class = s.CreditNoteSerializer
    filterset_class = filtersets.CreditNoteFilterSet

    def visible(self):
        lines = CreditNoteLine.objects.order_by("id").prefetch_related("entries")
        return selectors.credit_notes().prefetch_related(Prefetch("lines", queryset=lines))

    @extend_schema(request=s.CreditNoteCreateSerializer, responses={201: s.CreditNoteSerializer})
    def create(self, request):
        """A draft credit note on a released invoice: lines (in full, an amount or a quantity) and/or
        time entries; it never credits more than a line has left."""
        data = self.payload(s.CreditNoteCreateSerializer)
        note = credit_services.create_credit_note(
            actor=request.user,
            invoice=data["invoice"],
            reason=data["reason"],
            lines=data["lines"],
            time_entries=data["time_entries"],
            rebill=data["rebill"],
        )
        return Response(self.get_serializer(self.reread(note)).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={204: None})
    def destroy(self, request, pk=None):
        """Discard a draft credit note (nothing was posted); a released one is refused with 409."""
        credit_services.delete_draft_credit_note(
            actor=request.user, credit_note=self.get_object(), reason=request.query_params.get("reason", "")
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=s.CreditNoteReleaseSerializer, responses=s.CreditNoteSerializer)
    @action(detail=True, methods=["post"])
    def release(self, request, pk=None):
        """Number and post the credit, apply it to the invoice, and return (or write off) its work."""
        data = self.payload(s.CreditNoteReleaseSerializer)
        note = credit_services.release_credit_note(
            actor=request.user, credit_note=self.get_object(), issue_date=data.get("issue_date")
        )
        return Response(self.get_serializer(self.reread(note)).data)


# Tax codes


class TaxCodeViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, BillingViewSet):
    """Sales taxes a legal entity charges. A code's rate never changes: make a new code instead."""

    model = TaxCode
    serializer_class = s.TaxCodeSerializer
    filterset_class = filtersets.TaxCodeFilterSet
    pagination_class = base.cursor_pagination("code", "id")

    @extend_schema(request=s.TaxCodeCreateSerializer, responses={201: s.TaxCodeSerializer})
    def create(self, request):
        """Create a code; a standard one needs a rate above 0 and the liability account it posts to."""
        data = self.payload(s.TaxCodeCreateSerializer)
        tax_code = create_tax_code(actor=request.user, **data)
        return Response(self.get_serializer(tax_code).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.TaxCodeUpdateSerializer, responses=s.TaxCodeSerializer)
    def partial_update(self, request, pk=None):
        """Rename or (de)activate a code; its rate, kind and account are fixed (400)."""
        data = self.payload(s.TaxCodeUpdateSerializer, partial=True)
        tax_code = update_tax_code(actor=request.user, tax_code=self.get_object(), **data)
        return Response(self.get_serializer(tax_code).data)
