"""Why the ledger refuses a posting; each error has the API code integrators switch on."""

from core.errors import DomainError


class PeriodClosed(DomainError):
    code = "period_closed"


class PeriodMissing(DomainError):
    code = "period_missing"


class UnbalancedEntry(DomainError):
    code = "unbalanced_entry"


class InactiveAccount(DomainError):
    code = "inactive_account"


class MissingExchangeRate(DomainError):
    code = "missing_exchange_rate"


class InvalidPosting(DomainError):
    code = "invalid_posting"
