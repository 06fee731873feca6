"""Ledger API: legal entities, exchange rates, accounts, periods, journal entries and AR.

Finance writes, executives and integrators read, other roles are refused (admins pass every check);
an API key also needs the `ledger:read` / `ledger:write` scope. Every write calls a ledger service.
"""

from django.db.models import OuterRef, Prefetch, Subquery
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from core.api import base
from core.api.permissions import role_permission
from core.errors import NotFound, ValidationFailed
from core.roles import Role
from ledger.api import filtersets
from ledger.api import serializers as s
from ledger.close_checklist import close_checklist
from ledger.models import (
    Allocation,
    ArItem,
    ExchangeRate,
    FiscalPeriod,
    GLAccount,
    JournalEntry,
    JournalLine,
    LegalEntity,
    Payment,
    PeriodCloseReport,
    WriteOffRequest,
)
from ledger.services.accounts import update_gl_account, update_legal_entity
from ledger.services.ar import (
    allocate_payment,
    approve_write_off,
    record_payment,
    reject_write_off,
    request_write_off,
    reverse_allocation,
)
from ledger.services.close import close_period, reopen_period
from ledger.services.entries import post_manual_entry, reverse_entry
from ledger.services.posting import LineSpec
from ledger.services.setup import create_legal_entity, set_exchange_rate

LEDGER_PERMISSIONS = [
    *base.APIView.permission_classes,
    role_permission(read=(Role.FINANCE, Role.EXECUTIVE, Role.INTEGRATOR), write=(Role.FINANCE,)),
]
# Legal entities are reference data that every signed-in user reads; only finance changes them.
REFERENCE_PERMISSIONS = [
    *base.APIView.permission_classes,
    role_permission(read=tuple(Role.values), write=(Role.FINANCE,)),
]


class LedgerViewSet(base.ServiceViewSet):
    scope_area = "ledger"
    permission_classes = LEDGER_PERMISSIONS


class LegalEntityViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, LedgerViewSet):
    """The firm's companies; each books its own ledger in its functional currency."""

    model = LegalEntity
    serializer_class = s.LegalEntitySerializer
    permission_classes = REFERENCE_PERMISSIONS
    pagination_class = base.cursor_pagination("name")

    @extend_schema(request=s.LegalEntityCreateSerializer, responses={201: s.LegalEntitySerializer})
    def create(self, request):
        """Create an entity with the services-firm chart of accounts and this and next year's periods."""
        payload = s.LegalEntityCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        entity = create_legal_entity(actor=request.user, **payload.validated_data)
        return Response(self.get_serializer(entity).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.LegalEntityUpdateSerializer, responses=s.LegalEntitySerializer)
    def partial_update(self, request, pk=None):
        """Change the name, address, tax id, invoice prefix or write-off approval threshold."""
        payload = s.LegalEntityUpdateSerializer(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        entity = update_legal_entity(
            actor=request.user, legal_entity=self.get_object(), **payload.validated_data
        )
        return Response(self.get_serializer(entity).data)


class ExchangeRateViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, LedgerViewSet):
    """Dated rates, 1 from_currency = rate to_currency; postings take the last rate on or before their day."""

    model = ExchangeRate
    serializer_class = s.ExchangeRateSerializer
    filterset_class = filtersets.ExchangeRateFilterSet
    pagination_class = base.cursor_pagination("-date", "-id")

    @extend_schema(request=s.ExchangeRateCreateSerializer, responses={201: s.ExchangeRateSerializer})
    def create(self, request):
        """Record the rate of a currency pair on a day, or correct that day's rate."""
        payload = s.ExchangeRateCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        rate = set_exchange_rate(
            actor=request.user,
            from_currency=data["from_currency"].upper(),
            to_currency=data["to_currency"].upper(),
            on=data["date"],
            rate=data["rate"],
        )
        return Response(self.get_serializer(rate).data, status=status.HTTP_201_CREATED)


class GLAccountViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, LedgerViewSet):
    """The chart of accounts of each legal entity. Finance may rename and (de)activate accounts."""

    model = GLAccount
    serializer_class = s.GLAccountSerializer
    filterset_class = filtersets.GLAccountFilterSet
    pagination_class = base.cursor_pagination("code", "id")

    @extend_schema(request=s.GLAccountUpdateSerializer, responses=s.GLAccountSerializer)
    def partial_update(self, request, pk=None):
        payload = s.GLAccountUpdateSerializer(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        account = update_gl_account(actor=request.user, account=self.get_object(), **payload.validated_data)
        return Response(self.get_serializer(account).data)


class FiscalPeriodViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, LedgerViewSet):
    """Monthly fiscal periods per legal entity; nothing posts into a closed one."""

    model = FiscalPeriod
    serializer_class = s.FiscalPeriodSerializer
    filterset_class = filtersets.FiscalPeriodFilterSet
    pagination_class = base.cursor_pagination("start", "id")

    def visible(self):
        latest = PeriodCloseReport.objects.filter(period=OuterRef("pk")).order_by("-closed_at", "-id")
        return FiscalPeriod.objects.annotate(latest_close_report=Subquery(latest.values("pk")[:1]))

    @extend_schema(responses=s.CloseChecklistSerializer)
    @action(detail=True, methods=["get"])
    def checklist(self, request, pk=None):
        """The month-end close checklist computed now: six items, each ok, blocking or warning, with its
        figures, offending rows and where to fix it. The close is refused while an item blocks."""
        return Response(close_checklist(self.get_object()).as_data())

    @extend_schema(
        request=s.ReasonSerializer,
        responses={
            200: s.FiscalPeriodSerializer,
            409: OpenApiResponse(
                description="`close_blocked`: `fields.checklist` maps each blocking item to its sentence; "
                "`invalid_transition`: already closed."
            ),
        },
    )
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        """Close the period once no checklist item blocks: postings dated in it are refused from now on,
        and a close report is stored."""
        payload = s.ReasonSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        period = close_period(
            actor=request.user, period=self.get_object(), reason=payload.validated_data["reason"]
        )
        return Response(self.get_serializer(self.reread(period)).data)

    @extend_schema(request=s.ReasonSerializer, responses=s.FiscalPeriodSerializer)
    @action(detail=True, methods=["post"])
    def reopen(self, request, pk=None):
        """Reopen a closed period for corrections; the reason is kept on the period and in the audit."""
        payload = s.ReasonSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        period = reopen_period(
            actor=request.user, period=self.get_object(), reason=payload.validated_data["reason"]
        )
        return Response(self.get_serializer(self.reread(period)).data)

    @extend_schema(responses=s.PeriodCloseReportSerializer)
    @action(detail=True, methods=["get"], url_path="close-report")
    def close_report(self, request, pk=None):
        """The report stored at the period's latest close: checklist, trial balance and P&L at that time."""
        report = (
            PeriodCloseReport.objects.filter(period=self.get_object()).order_by("-closed_at", "-id").first()
        )
        if report is None:
            raise NotFound("This period has not been closed yet, so it has no close report.")
        return Response(s.PeriodCloseReportSerializer(report).data)


class JournalEntryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, LedgerViewSet):
    """Posted journal entries with their lines. Manual adjustments are posted here; corrections reverse."""

    model = JournalEntry
    serializer_class = s.JournalEntrySerializer
    filterset_class = filtersets.JournalEntryFilterSet

    def visible(self):
        lines = JournalLine.objects.select_related("account").order_by("id")
        return JournalEntry.objects.select_related("legal_entity", "reversed_by").prefetch_related(
            Prefetch("lines", queryset=lines)
        )

    @extend_schema(request=s.ManualEntrySerializer, responses={201: s.JournalEntrySerializer})
    def create(self, request):
        """Post a manual entry; each currency's debits must equal its credits, into an open period."""
        payload = s.ManualEntrySerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        entity = data["legal_entity"]
        lines = [
            LineSpec(
                account=line["account"],
                currency=line.get("currency", entity.functional_currency).upper(),
                debit=line["debit"],
                credit=line["credit"],
                client_id=line["client"].pk if line.get("client") else None,
                project_id=line.get("project"),
                memo=line["memo"],
            )
            for line in data["lines"]
        ]
        entry = post_manual_entry(
            actor=request.user, legal_entity=entity, date=data["date"], memo=data["memo"], lines=lines
        )
        return Response(self.get_serializer(self.reread(entry)).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.ReverseEntrySerializer, responses=s.JournalEntrySerializer)
    @action(detail=True, methods=["post"])
    def reverse(self, request, pk=None):
        """Post the mirror entry (default today) and return this entry, now `reversed`."""
        payload = s.ReverseEntrySerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        entry = self.get_object()
        reverse_entry(
            actor=request.user,
            entry=entry,
            on=payload.validated_data.get("date"),
            memo=payload.validated_data.get("memo"),
        )
        return Response(self.get_serializer(self.reread(entry)).data)


class ArItemViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, LedgerViewSet):
    """The AR subledger's items: invoices and credit notes, payments, write-offs, with what is open."""

    model = ArItem
    serializer_class = s.ArItemSerializer
    filterset_class = filtersets.ArItemFilterSet

    def visible(self):
        return ArItem.objects.select_related("client", "legal_entity")


class PaymentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, LedgerViewSet):
    """Money received from clients and the invoices it was applied to."""

    model = Payment
    serializer_class = s.PaymentSerializer
    filterset_class = filtersets.PaymentFilterSet

    def visible(self):
        allocations = Allocation.objects.select_related("debit_item", "legal_entity").order_by("id")
        return Payment.objects.select_related("client", "ar_item").prefetch_related(
            Prefetch("ar_item__allocations_made", queryset=allocations)
        )

    @extend_schema(request=s.PaymentCreateSerializer, responses={201: s.PaymentSerializer})
    def create(self, request):
        """Record a payment (Dr bank, Cr AR) and apply it: as listed, or oldest due first when left out."""
        payload = s.PaymentCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        client = data["account"]
        payment = record_payment(
            actor=request.user,
            legal_entity=data["legal_entity"],
            client=client,
            date=data["date"],
            amount=data["amount"],
            currency=data.get("currency", client.currency).upper(),
            bank_account=data.get("bank_account"),
            reference=data["reference"],
            allocations=s.allocation_pairs(data),
        )
        return Response(self.get_serializer(self.reread(payment)).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.PaymentAllocateSerializer, responses=s.PaymentSerializer)
    @action(detail=True, methods=["post"])
    def allocate(self, request, pk=None):
        """Apply what is unallocated: to the listed invoices, or oldest due first when left out."""
        payload = s.PaymentAllocateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        payment = self.get_object()
        allocate_payment(
            actor=request.user,
            payment=payment,
            allocations=s.allocation_pairs(payload.validated_data),
            on=payload.validated_data.get("date"),
        )
        return Response(self.get_serializer(self.reread(payment)).data)

    @extend_schema(request=s.AllocationReverseSerializer, responses=s.PaymentSerializer)
    @action(detail=True, methods=["post"], url_path="reverse-allocation")
    def reverse_allocation(self, request, pk=None):
        """Take back one allocation of this payment: the invoice is open again, any realized FX reversed."""
        payload = s.AllocationReverseSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        payment = self.get_object()
        allocation = payload.validated_data["allocation"]
        if allocation.credit_item_id != payment.ar_item_id:
            raise ValidationFailed(
                "That allocation belongs to another payment or credit.",
                fields={"allocation": ["Not an allocation of this payment."]},
            )
        reverse_allocation(
            actor=request.user,
            allocation=allocation,
            reason=payload.validated_data["reason"],
            on=payload.validated_data.get("date"),
        )
        return Response(self.get_serializer(self.reread(payment)).data)


class WriteOffViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, LedgerViewSet):
    """Write-offs of invoices' residuals; above the entity's threshold a second finance user approves."""

    model = WriteOffRequest
    serializer_class = s.WriteOffSerializer
    filterset_class = filtersets.WriteOffFilterSet

    def visible(self):
        return WriteOffRequest.objects.select_related("ar_item", "requested_by", "decided_by")

    @extend_schema(request=s.WriteOffCreateSerializer, responses={201: s.WriteOffSerializer})
    def create(self, request):
        """Request a write-off; it is posted at once when within the threshold, else it waits (`pending`)."""
        payload = s.WriteOffCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        write_off = request_write_off(
            actor=request.user,
            ar_item=data["ar_item"],
            reason=data["reason"],
            on=data["date"],
            amount=data.get("amount"),
        )
        return Response(self.get_serializer(self.reread(write_off)).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=s.WriteOffSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        """Approve and post a pending write-off; the approver must not be the requester."""
        write_off = approve_write_off(actor=request.user, request=self.get_object())
        return Response(self.get_serializer(self.reread(write_off)).data)

    @extend_schema(request=s.ReasonSerializer, responses=s.WriteOffSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        """Refuse a pending write-off; the invoice stays open."""
        payload = s.ReasonSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        write_off = reject_write_off(
            actor=request.user, request=self.get_object(), reason=payload.validated_data["reason"]
        )
        return Response(self.get_serializer(self.reread(write_off)).data)
