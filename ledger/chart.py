"""The chart of accounts seeded for every new legal entity: a professional-services firm's accounts."""

from ledger.choices import AccountRole as R
from ledger.choices import AccountType as T

# (code, name, type, role or None)
SERVICES_FIRM_CHART = [
    ("1000", "Operating bank account", T.ASSET, R.CASH),
    ("1010", "Payments in transit", T.ASSET, None),
    ("1100", "Accounts receivable", T.ASSET, R.AR),
    ("1150", "Unbilled revenue (contract asset)", T.ASSET, R.UNBILLED_REVENUE),
    ("1200", "Prepaid expenses", T.ASSET, None),
    ("1500", "Equipment", T.ASSET, None),
    ("2000", "Accounts payable", T.LIABILITY, None),
    ("2050", "Employee reimbursements payable", T.LIABILITY, R.EMPLOYEE_REIMBURSEMENTS),
    ("2100", "Deferred revenue (contract liability)", T.LIABILITY, R.DEFERRED_REVENUE),
    ("2200", "Sales tax / VAT payable", T.LIABILITY, R.TAX_PAYABLE),
    ("2300", "Accrued payroll", T.LIABILITY, None),
    ("3000", "Share capital", T.EQUITY, None),
    ("3100", "Retained earnings", T.EQUITY, R.RETAINED_EARNINGS),
    ("4000", "Revenue: time and materials", T.REVENUE, R.REVENUE_TM),
    ("4100", "Revenue: fixed fee and milestones", T.REVENUE, R.REVENUE_FIXED),
    ("4200", "Revenue: subscriptions and retainers", T.REVENUE, R.REVENUE_SUBSCRIPTION),
    ("4300", "Revenue: expense rebill", T.REVENUE, R.REVENUE_EXPENSE),
    ("4900", "Interest and late-fee income", T.REVENUE, R.FEE_INCOME),
    ("5000", "Cost of services: staff", T.EXPENSE, R.COST_OF_SERVICES),
    ("5100", "Cost of services: subcontractors", T.EXPENSE, None),
    ("5200", "Reimbursable project expenses", T.EXPENSE, None),
    ("6000", "Salaries and benefits (overhead)", T.EXPENSE, None),
    ("6100", "Rent and office", T.EXPENSE, None),
    ("6200", "Software and subscriptions", T.EXPENSE, None),
    ("7000", "Realized FX gain/loss", T.EXPENSE, R.FX_REALIZED),
    ("7010", "Unrealized FX gain/loss", T.EXPENSE, R.FX_UNREALIZED),
    ("7020", "FX rounding", T.EXPENSE, R.FX_ROUNDING),
    ("7100", "Bad debt expense", T.EXPENSE, R.BAD_DEBT),
]
