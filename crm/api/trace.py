"""`GET opportunities/{id}/trace/`: the quote-to-cash chain of one deal and its current blockers, rendered
from `crm.trace.opportunity_trace`. Money is a decimal string beside its currency."""

from rest_framework import serializers
from rest_framework.response import Response

from crm.trace import opportunity_trace
from ledger.api.serializers import AmountField


class OpportunityTraceStepSerializer(serializers.Serializer):
    key = serializers.CharField(
        help_text="quote, won, contract, project, time, invoice, payment, revenue, journal."
    )
    label = serializers.CharField()
    status = serializers.ChoiceField(choices=["done", "waiting", "blocked", "not_started"])
    reached_at = serializers.DateTimeField(allow_null=True, help_text="When the step was first reached.")
    summary = serializers.CharField()
    url = serializers.CharField(help_text="The page of the step's record (blank when there is none yet).")


class OpportunityTraceBlockerSerializer(serializers.Serializer):
    step = serializers.CharField()
    code = serializers.CharField(
        help_text="not_won, no_project, project_planned, no_time_approved, over_cap, billing_run_not_done, "
        "draft_not_released, invoice_overdue, revenue_run_not_done."
    )
    message = serializers.CharField()
    url = serializers.CharField()


class OpportunityTraceQuoteSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    version = serializers.IntegerField()
    status = serializers.CharField()
    total_amount = AmountField()
    currency = serializers.CharField()
    created_at = serializers.DateTimeField()
    submitted_at = serializers.DateTimeField(allow_null=True)
    approved_at = serializers.DateTimeField(allow_null=True)
    accepted_at = serializers.DateTimeField(allow_null=True)
    url = serializers.CharField()


class OpportunityTraceVersionSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    reason = serializers.CharField()
    total_amount = AmountField(currency=None)
    created_at = serializers.DateTimeField()


class OpportunityTraceContractSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    status = serializers.CharField()
    version = serializers.IntegerField()
    currency = serializers.CharField()
    total_amount = AmountField()
    start = serializers.DateField()
    end = serializers.DateField()
    created_at = serializers.DateTimeField()


class OpportunityTraceProjectSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()
    status = serializers.CharField()
    start = serializers.DateField()
    end = serializers.DateField()
    created_at = serializers.DateTimeField()
    active_since = serializers.DateTimeField(allow_null=True)
    url = serializers.CharField()


class OpportunityTraceEntryStatusSerializer(serializers.Serializer):
    status = serializers.CharField()
    count = serializers.IntegerField()
    amount = AmountField(
        help_text="Time: billable hours × bill rate; expenses: amount in the project currency."
    )
    currency = serializers.CharField()
    first_approved_at = serializers.DateTimeField(allow_null=True)


class OpportunityTraceTimeStatusSerializer(OpportunityTraceEntryStatusSerializer):
    hours = serializers.DecimalField(max_digits=14, decimal_places=2)


class OpportunityTraceOverCapSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Time entries whose over-cap part waits for a decision.")
    hours = serializers.DecimalField(max_digits=14, decimal_places=2)
    amount = AmountField()
    currency = serializers.CharField()
    since = serializers.DateTimeField(allow_null=True)


class OpportunityTraceInvoiceSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField(help_text="Blank while a draft.")
    status = serializers.CharField()
    currency = serializers.CharField()
    issue_date = serializers.DateField(allow_null=True)
    due_date = serializers.DateField(allow_null=True)
    subtotal_amount = AmountField()
    tax_amount = AmountField()
    total_amount = AmountField()
    balance_amount = AmountField()
    days_overdue = serializers.IntegerField()
    dunning_level = serializers.IntegerField(help_text="Highest dunning level reached (0: none).")
    dunning_status = serializers.CharField()
    released_at = serializers.DateTimeField(allow_null=True)
    url = serializers.CharField()


class OpportunityTraceAllocationSerializer(serializers.Serializer):
    invoice = serializers.CharField()
    amount = AmountField(currency=None)


class OpportunityTracePaymentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    date = serializers.DateField()
    amount = AmountField()
    currency = serializers.CharField()
    reference = serializers.CharField()
    applied_amount = AmountField(help_text="What the payment applied to this deal's invoices.")
    allocations = OpportunityTraceAllocationSerializer(many=True)
    url = serializers.CharField()


class OpportunityTraceRevenueRunSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    period_end = serializers.DateField()
    status = serializers.CharField()
    amount = AmountField(currency=None, help_text="What the run recognised for this deal.")
    url = serializers.CharField()


class OpportunityTraceMonthNotRunSerializer(serializers.Serializer):
    month = serializers.DateField()
    amount = AmountField(currency=None)


class OpportunityTraceRevenueSerializer(serializers.Serializer):
    currency = serializers.CharField()
    recognized_amount = AmountField()
    planned_amount = AmountField()
    runs = OpportunityTraceRevenueRunSerializer(many=True)
    months_not_run = OpportunityTraceMonthNotRunSerializer(
        many=True, help_text="Past months whose planned revenue no run took."
    )


class OpportunityTraceJournalSourceSerializer(serializers.Serializer):
    source_type = serializers.CharField()
    currency = serializers.CharField()
    count = serializers.IntegerField()
    debit_amount = AmountField()


class OpportunityTraceSerializer(serializers.Serializer):
    opportunity = serializers.IntegerField(source="opportunity.pk")
    stage = serializers.CharField(source="opportunity.stage")
    currency = serializers.CharField()
    state = serializers.ChoiceField(choices=["open", "lost", "stuck", "flowing", "complete"])
    stuck = serializers.CharField(help_text="Where the chain stands or is stuck, in words.")
    blockers = OpportunityTraceBlockerSerializer(many=True)
    steps = OpportunityTraceStepSerializer(many=True)
    quote = serializers.SerializerMethodField(help_text="The accepted quote's id, if any.")
    quotes = OpportunityTraceQuoteSerializer(many=True)
    contract = OpportunityTraceContractSerializer(allow_null=True)
    versions = OpportunityTraceVersionSerializer(many=True)
    projects = OpportunityTraceProjectSerializer(many=True)
    time = OpportunityTraceTimeStatusSerializer(many=True)
    expenses = OpportunityTraceEntryStatusSerializer(many=True)
    over_cap = OpportunityTraceOverCapSerializer()
    invoices = OpportunityTraceInvoiceSerializer(many=True)
    payments = OpportunityTracePaymentSerializer(many=True)
    revenue = OpportunityTraceRevenueSerializer()
    journal = OpportunityTraceJournalSourceSerializer(many=True)

    def get_quote(self, trace) -> int | None:
        return next((quote["id"] for quote in trace.quotes if quote["status"] == "accepted"), None)


def trace_response(opportunity) -> Response:
    trace = opportunity_trace(opportunity)
    return Response(OpportunityTraceSerializer(trace, context={"currency": trace.currency}).data)
