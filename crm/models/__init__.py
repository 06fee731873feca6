from crm.choices import BillingModel
from crm.models.accounts import Account, Activity, Contact
from crm.models.contracts import Contract, ContractLine, ContractSequence, ContractVersion, RenewalTrigger
from crm.models.pipeline import Opportunity, OpportunityLine, PipelineStage, StageChange
from crm.models.policy import SalesPolicy
from crm.models.quotes import Quote, QuoteLine

__all__ = [
    "Account",
    "Activity",
    "BillingModel",
    "Contact",
    "Contract",
    "ContractLine",
    "ContractSequence",
    "ContractVersion",
    "Opportunity",
    "OpportunityLine",
    "PipelineStage",
    "Quote",
    "QuoteLine",
    "RenewalTrigger",
    "SalesPolicy",
    "StageChange",
]
