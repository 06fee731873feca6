"""CRM API: clients, contacts, activities, the pipeline, quotes, contracts and the win → delivery handoff.

Account managers (project managers) and integrators write; finance, executives and resource managers read
(finance also approves quotes as the sales policy's approver); an API key also needs `crm:read` /
`crm:write`. Every write calls a CRM service, which also checks who owns the record.
"""

from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from core.api import base
from core.api.permissions import role_permission
from crm import selectors
from crm.access import ACTIVITY_WRITERS, READERS, WRITERS
from crm.api import filtersets
from crm.api import serializers as s
from crm.api import trace as trace_api
from crm.models import (
    Account,
    Activity,
    Contact,
    Contract,
    ContractLine,
    ContractVersion,
    Opportunity,
    PipelineStage,
    Quote,
    StageChange,
)
from crm.services.accounts import (
    complete_activity,
    create_account,
    create_activity,
    create_contact,
    update_account,
    update_contact,
)
from crm.services.contracts import amend_contract, close_contract
from crm.services.handoff import win_opportunity
from crm.services.pipeline import create_opportunity, lose_opportunity, move_opportunity, update_opportunity
from crm.services.quotes import accept_quote, approve_quote, create_quote, reject_quote, submit_quote

CRM_PERMISSIONS = [*base.APIView.permission_classes, role_permission(read=READERS, write=WRITERS)]
# Approving or rejecting a quote: the sales policy names the role; the service checks it.
APPROVER_PERMISSIONS = [*base.APIView.permission_classes, role_permission(read=READERS, write=READERS)]


class CrmViewSet(base.ServiceViewSet):
    scope_area = "crm"
    permission_classes = CRM_PERMISSIONS


class AccountViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, CrmViewSet):
    """Clients, with their parent (hierarchy), contracting legal entity and billing terms."""

    model = Account
    serializer_class = s.AccountSerializer
    filterset_class = filtersets.AccountFilterSet
    pagination_class = base.cursor_pagination("name", "id")

    def visible(self):
        return Account.objects.select_related("owner")

    @extend_schema(request=s.AccountCreateSerializer, responses={201: s.AccountSerializer})
    def create(self, request):
        """Create a client. 409 `possible_duplicate` names look-alikes; resend with `allow_duplicate`."""
        payload = s.AccountCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        account = create_account(actor=request.user, **payload.validated_data)
        return Response(self.get_serializer(self.reread(account)).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.AccountWriteSerializer, responses=s.AccountSerializer)
    def partial_update(self, request, pk=None):
        payload = s.AccountWriteSerializer(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        account = update_account(actor=request.user, account=self.get_object(), **payload.validated_data)
        return Response(self.get_serializer(self.reread(account)).data)


class ContactViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, CrmViewSet):
    """People at clients."""

    model = Contact
    serializer_class = s.ContactSerializer
    filterset_class = filtersets.ContactFilterSet
    pagination_class = base.cursor_pagination("name", "id")

    @extend_schema(request=s.ContactSerializer, responses={201: s.ContactSerializer})
    def create(self, request):
        payload = s.ContactSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        contact = create_contact(actor=request.user, **payload.validated_data)
        return Response(self.get_serializer(contact).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.ContactUpdateSerializer, responses=s.ContactSerializer)
    def partial_update(self, request, pk=None):
        payload = s.ContactUpdateSerializer(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        contact = update_contact(actor=request.user, contact=self.get_object(), **payload.validated_data)
        return Response(self.get_serializer(contact).data)


class ActivityViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, CrmViewSet):
    """Calls, meetings, e-mails and tasks; `?mine=true` lists your open ones."""

    model = Activity
    serializer_class = s.ActivitySerializer
    # Finance logs its collection calls and follow-ups on the clients too.
    permission_classes = [
        *base.APIView.permission_classes,
        role_permission(read=READERS, write=ACTIVITY_WRITERS),
    ]
    filterset_class = filtersets.ActivityFilterSet
    pagination_class = base.cursor_pagination("due", "id")

    def visible(self):
        return Activity.objects.select_related("owner")

    @extend_schema(request=s.ActivityCreateSerializer, responses={201: s.ActivitySerializer})
    def create(self, request):
        payload = s.ActivityCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        activity = create_activity(actor=request.user, **payload.validated_data)
        return Response(self.get_serializer(self.reread(activity)).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=s.ActivitySerializer)
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        """Mark the activity done."""
        activity = complete_activity(actor=request.user, activity=self.get_object())
        return Response(self.get_serializer(self.reread(activity)).data)


class StageViewSet(mixins.ListModelMixin, CrmViewSet):
    """The pipeline's stages in order, with their default probabilities."""

    model = PipelineStage
    serializer_class = s.StageSerializer
    pagination_class = base.cursor_pagination("position", "id")

    def visible(self):
        return PipelineStage.objects.filter(active=True)


class OpportunityViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, CrmViewSet):
    """Deals with the lines they sell. Win hands them to delivery and finance; lose needs a reason."""

    model = Opportunity
    serializer_class = s.OpportunitySerializer
    filterset_class = filtersets.OpportunityFilterSet
    pagination_class = base.cursor_pagination("expected_close", "id")

    def visible(self):
        return Opportunity.objects.select_related("owner").prefetch_related(
            "lines",
            "contracts",
            Prefetch("stage_changes", queryset=StageChange.objects.select_related("changed_by")),
        )

    @extend_schema(request=s.OpportunityCreateSerializer, responses={201: s.OpportunitySerializer})
    def create(self, request):
        payload = s.OpportunityCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = dict(payload.validated_data)
        data["lines"] = s.line_specs(data.get("lines", []))
        opportunity = create_opportunity(actor=request.user, **data)
        return Response(self.get_serializer(self.reread(opportunity)).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.OpportunityUpdateSerializer, responses=s.OpportunitySerializer)
    def partial_update(self, request, pk=None):
        """Change an open deal; `lines` replaces every line. A won or lost deal is final (409)."""
        payload = s.OpportunityUpdateSerializer(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        data = dict(payload.validated_data)
        if "lines" in data:
            data["lines"] = s.line_specs(data["lines"])
        opportunity = update_opportunity(actor=request.user, opportunity=self.get_object(), **data)
        return Response(self.get_serializer(self.reread(opportunity)).data)

    @extend_schema(request=s.MoveSerializer, responses=s.OpportunitySerializer)
    @action(detail=True, methods=["post"])
    def move(self, request, pk=None):
        """Move an open deal to another open stage (or to lost, with a reason); it takes the stage's
        probability unless one is given."""
        payload = s.MoveSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        opportunity = move_opportunity(
            actor=request.user, opportunity=self.get_object(), **payload.validated_data
        )
        return Response(self.get_serializer(self.reread(opportunity)).data)

    @extend_schema(request=s.WinSerializer, responses=s.OpportunitySerializer)
    @action(detail=True, methods=["post"])
    def win(self, request, pk=None):
        """The handoff: contract, project(s), budgets, rate card, milestones and resource requests in one
        transaction. 400 `handoff_invalid` lists every problem; winning a won deal changes nothing."""
        payload = s.WinSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        lines = s.line_specs(data["lines"]) if "lines" in data else None
        opportunity = self.get_object()
        win_opportunity(actor=request.user, opportunity=opportunity, quote=data.get("quote"), lines=lines)
        return Response(self.get_serializer(self.reread(opportunity)).data)

    @extend_schema(request=s.CrmReasonSerializer, responses=s.OpportunitySerializer)
    @action(detail=True, methods=["post"])
    def lose(self, request, pk=None):
        """Close an open deal as lost."""
        payload = s.CrmReasonSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        opportunity = lose_opportunity(
            actor=request.user, opportunity=self.get_object(), reason=payload.validated_data["reason"]
        )
        return Response(self.get_serializer(self.reread(opportunity)).data)

    @extend_schema(responses=s.ForecastSerializer, filters=False)
    @action(detail=False, methods=["get"], pagination_class=None, filterset_class=None)
    def forecast(self, request):
        """The weighted open pipeline by expected-close month and by owner, per currency."""
        return Response(s.ForecastSerializer(selectors.forecast()).data)

    @extend_schema(responses=trace_api.OpportunityTraceSerializer)
    @action(detail=True, methods=["get"], filterset_class=None)
    def trace(self, request, pk=None):
        """The quote-to-cash chain this deal produced so far (quotes, contract versions, projects, time and
        expenses by status, invoices, payments, revenue, journal entries) and what blocks it, in words."""
        return trace_api.trace_response(self.get_object())


class QuoteViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, CrmViewSet):
    """Quote versions: priced from the rate card, approved when margin or discount break the policy."""

    model = Quote
    serializer_class = s.QuoteSerializer
    filterset_class = filtersets.QuoteFilterSet
    pagination_class = base.cursor_pagination("-id")

    def visible(self):
        return Quote.objects.prefetch_related("lines")

    def get_permissions(self):
        if self.action in ("approve", "reject"):
            return [permission() for permission in APPROVER_PERMISSIONS]
        return super().get_permissions()

    @extend_schema(request=s.QuoteCreateSerializer, responses={201: s.QuoteSerializer})
    def create(self, request):
        """Quote the next version of an opportunity (older open versions expire)."""
        payload = s.QuoteCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = dict(payload.validated_data)
        if "lines" in data:
            data["lines"] = s.line_specs(data["lines"])
        quote = create_quote(actor=request.user, **data)
        return Response(self.get_serializer(self.reread(quote)).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=s.QuoteSerializer)
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        """Submit a draft; within the policy it is approved at once, else it waits for the approver."""
        quote = submit_quote(actor=request.user, quote=self.get_object())
        return Response(self.get_serializer(self.reread(quote)).data)

    @extend_schema(request=s.CrmOptionalReasonSerializer, responses=s.QuoteSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        """Approve a submitted quote (the sales policy's approver role; not the submitter)."""
        payload = s.CrmOptionalReasonSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        quote = approve_quote(
            actor=request.user, quote=self.get_object(), reason=payload.validated_data["reason"]
        )
        return Response(self.get_serializer(self.reread(quote)).data)

    @extend_schema(request=s.CrmReasonSerializer, responses=s.QuoteSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        """Refuse a submitted quote (approver), or record that the client declined an approved one."""
        payload = s.CrmReasonSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        quote = reject_quote(
            actor=request.user, quote=self.get_object(), reason=payload.validated_data["reason"]
        )
        return Response(self.get_serializer(self.reread(quote)).data)

    @extend_schema(request=None, responses=s.QuoteSerializer)
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        """The client accepted: only an approved, unexpired quote (else 409 `invalid_transition`)."""
        quote = accept_quote(actor=request.user, quote=self.get_object())
        return Response(self.get_serializer(self.reread(quote)).data)


class ContractViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, CrmViewSet):
    """Signed contracts with the lines of their current version; amendments make new versions."""

    model = Contract
    serializer_class = s.ContractSerializer
    filterset_class = filtersets.ContractFilterSet
    pagination_class = base.cursor_pagination("-id")

    def visible(self):
        lines = ContractLine.objects.select_related("contract_version", "contract")
        return Contract.objects.prefetch_related(Prefetch("all_lines", queryset=lines))

    @extend_schema(request=s.AmendSerializer, responses=s.ContractSerializer)
    @action(detail=True, methods=["post"])
    def amend(self, request, pk=None):
        """A change order: the next version with lines changed (`lines` with `id`), added (without `id`) or
        removed (`remove`). The previous version stays readable under `versions/`."""
        payload = s.AmendSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        lines = s.line_specs(data["lines"])
        for line in lines:
            if "service" in line and "description" not in line:
                line["description"] = line.pop("service")
        contract = amend_contract(
            actor=request.user,
            contract=self.get_object(),
            reason=data["reason"],
            lines=lines,
            remove=data["remove"],
            revenue_treatment=data["revenue_treatment"],
        )
        return Response(self.get_serializer(self.reread(contract)).data)

    @extend_schema(request=s.CrmReasonSerializer, responses=s.ContractSerializer)
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        """Close an active contract; it can no longer be amended."""
        payload = s.CrmReasonSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        contract = close_contract(
            actor=request.user, contract=self.get_object(), reason=payload.validated_data["reason"]
        )
        return Response(self.get_serializer(self.reread(contract)).data)

    @extend_schema(responses=s.ContractVersionSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None, filterset_class=None)
    def versions(self, request, pk=None):
        """Every version, oldest first: who changed what, when and why, with that version's lines."""
        contract = self.get_object()
        versions = ContractVersion.objects.filter(contract=contract).select_related("created_by", "contract")
        versions = versions.prefetch_related(
            Prefetch("lines", queryset=ContractLine.objects.select_related("contract"))
        )
        return Response(s.ContractVersionSerializer(versions, many=True).data)
