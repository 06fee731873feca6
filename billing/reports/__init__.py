"""Billing's read-only reports: unbilled WIP, the billing forecast, the invoice register and a contract's
billing status. Set-based: a fixed handful of aggregate queries each, however many rows they cover."""

from billing.reports.contracts import ContractBillingStatus, PlanBillingStatus, contract_billing_status
from billing.reports.forecast import Forecast, ForecastMonth, billing_forecast
from billing.reports.register import Register, RegisterRow, RegisterTotal, invoice_register
from billing.reports.wip import WipReport, WipRow, unbilled_wip

__all__ = [
    "ContractBillingStatus",
    "Forecast",
    "ForecastMonth",
    "PlanBillingStatus",
    "Register",
    "RegisterRow",
    "RegisterTotal",
    "WipReport",
    "WipRow",
    "billing_forecast",
    "contract_billing_status",
    "invoice_register",
    "unbilled_wip",
]
