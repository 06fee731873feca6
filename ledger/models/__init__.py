from .ar import Allocation, ArItem, Payment, WriteOffRequest
from .close import PeriodCloseReport
from .collections import CollectionHold
from .dunning import DunningLevel, DunningNotice, DunningNoticeItem, DunningPolicy, DunningRun
from .journal import AccountBalance, EntrySequence, JournalEntry, JournalLine
from .master import Currency, ExchangeRate, FiscalPeriod, GLAccount, LegalEntity

__all__ = [
    "AccountBalance",
    "Allocation",
    "ArItem",
    "CollectionHold",
    "Currency",
    "DunningLevel",
    "DunningNotice",
    "DunningNoticeItem",
    "DunningPolicy",
    "DunningRun",
    "EntrySequence",
    "ExchangeRate",
    "FiscalPeriod",
    "GLAccount",
    "JournalEntry",
    "JournalLine",
    "LegalEntity",
    "Payment",
    "PeriodCloseReport",
    "WriteOffRequest",
]
