"""The AR subledger: receivables, payments, allocations with realized FX, and write-offs.

Billing posts its invoices and credit notes through `post_receivable`; cash arrives through
`record_payment`; `allocate` matches a credit item (payment, credit note, write-off) to a debit item
(invoice). Every item keeps its booking rate, so settling it at another rate posts the realized FX
difference on the allocation, and the AR control account always equals the subledger (see
`item_balances`).
"""

# The names live in the modules below; patch them there (where they are looked up), not on this package.
from ._common import ZERO
from .allocations import ALLOCATION_SOURCE, ItemBalance, allocate, item_balances, reverse_allocation
from .payments import PAYMENT_DOCUMENT, allocate_payment, record_payment
from .receivables import ReceivableSpec, post_receivable, post_receivables
from .write_offs import WRITE_OFF_DOCUMENT, approve_write_off, reject_write_off, request_write_off

__all__ = [
    "ALLOCATION_SOURCE",
    "PAYMENT_DOCUMENT",
    "WRITE_OFF_DOCUMENT",
    "ZERO",
    "ItemBalance",
    "allocate",
    "allocate_payment",
    "approve_write_off",
    "item_balances",
    "post_receivable",
    "post_receivables",
    "ReceivableSpec",
    "record_payment",
    "reject_write_off",
    "request_write_off",
    "reverse_allocation",
]
