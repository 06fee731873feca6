from billing.models.credits import CreditedEntry, CreditNote, CreditNoteLine
from billing.models.invoices import (
    DocumentSequence,
    ExpenseBilling,
    Invoice,
    InvoiceLine,
    LineAdjustment,
    OverCapEntry,
    TimeEntryBilling,
)
from billing.models.plans import BillingPlan, PlanItem
from billing.models.retainers import RetainerMovement
from billing.models.runs import BillingRun, RunContract, RunException
from billing.models.tax import TaxCode

__all__ = [
    "BillingPlan",
    "BillingRun",
    "CreditedEntry",
    "CreditNote",
    "CreditNoteLine",
    "DocumentSequence",
    "ExpenseBilling",
    "Invoice",
    "InvoiceLine",
    "LineAdjustment",
    "OverCapEntry",
    "PlanItem",
    "RetainerMovement",
    "RunContract",
    "RunException",
    "TaxCode",
    "TimeEntryBilling",
]
