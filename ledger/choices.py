from django.db import models


class AccountType(models.TextChoices):
    ASSET = "asset", "Asset"
    LIABILITY = "liability", "Liability"
    EQUITY = "equity", "Equity"
    REVENUE = "revenue", "Revenue"
    EXPENSE = "expense", "Expense"


class NormalBalance(models.TextChoices):
    DEBIT = "debit", "Debit"
    CREDIT = "credit", "Credit"


class AccountRole(models.TextChoices):
    """What a seeded account is for, so services post by role and users may rename or renumber freely."""

    CASH = "cash", "Cash / bank"
    AR = "ar", "Accounts receivable"
    UNBILLED_REVENUE = "unbilled_revenue", "Unbilled revenue (contract asset)"
    DEFERRED_REVENUE = "deferred_revenue", "Deferred revenue (contract liability)"
    TAX_PAYABLE = "tax_payable", "Tax payable"
    EMPLOYEE_REIMBURSEMENTS = "employee_reimbursements", "Employee reimbursements payable"
    REVENUE_TM = "revenue_tm", "Revenue: time and materials"
    REVENUE_FIXED = "revenue_fixed", "Revenue: fixed fee and milestones"
    REVENUE_SUBSCRIPTION = "revenue_subscription", "Revenue: subscriptions and retainers"
    REVENUE_EXPENSE = "revenue_expense", "Revenue: expense rebill"
    COST_OF_SERVICES = "cost_of_services", "Cost of services"
    FX_REALIZED = "fx_realized", "Realized FX gain/loss"
    FX_UNREALIZED = "fx_unrealized", "Unrealized FX gain/loss"
    FX_ROUNDING = "fx_rounding", "FX rounding"
    BAD_DEBT = "bad_debt", "Bad debt / write-off"
    FEE_INCOME = "fee_income", "Interest and late-fee income"
    RETAINED_EARNINGS = "retained_earnings", "Retained earnings"


class PeriodStatus(models.TextChoices):
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"


class DunningRunStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"


class DunningRunTrigger(models.TextChoices):
    MANUAL = "manual", "On demand"
    NIGHTLY = "nightly", "Nightly schedule"


class DunningNoticeStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class ArItemKind(models.TextChoices):
    INVOICE = "invoice", "Invoice"
    CREDIT_NOTE = "credit_note", "Credit note"
    PAYMENT = "payment", "Payment"
    WRITE_OFF = "write_off", "Write-off"


NORMAL_BALANCE_OF_TYPE = {
    AccountType.ASSET: NormalBalance.DEBIT,
    AccountType.EXPENSE: NormalBalance.DEBIT,
    AccountType.LIABILITY: NormalBalance.CREDIT,
    AccountType.EQUITY: NormalBalance.CREDIT,
    AccountType.REVENUE: NormalBalance.CREDIT,
}


class HoldKind(models.TextChoices):
    DISPUTE = "dispute", "Dispute"
    PROMISE = "promise", "Promise to pay"


class HoldStatus(models.TextChoices):
    OPEN = "open", "Open"
    RESOLVED = "resolved", "Resolved"
    # A promise whose date passed without the promised payment; dunning resumes.
    BROKEN = "broken", "Broken"
