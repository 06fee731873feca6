"""Journal entries people make by hand (adjustments) and reversals."""

import uuid
from datetime import date

from django.db import transaction
from django.utils import timezone

from core import audit
from core.errors import InvalidTransition
from core.roles import Role, require_role
from ledger.choices import AccountRole
from ledger.errors import InvalidPosting
from ledger.models import JournalEntry, LegalEntity
from ledger.services.posting import EntrySpec, LineSpec, post_entries, reversal_spec

MANUAL_SOURCE = "ledger.manual"
# Entries of these sources may be reversed directly; the others belong to a document (invoice,
# payment, revenue run) whose own action undoes them, keeping the subledgers in step with the GL.
DIRECTLY_REVERSIBLE = {MANUAL_SOURCE}


@transaction.atomic
def post_manual_entry(
    *,
    actor,
    legal_entity: LegalEntity,
    date: date,
    memo: str,
    lines: list[LineSpec],
    posting_key: str | None = None,
) -> JournalEntry:
    """Post an adjustment by hand. Finance only; lines must each debit or credit a positive amount."""
    require_role(actor, Role.FINANCE)
    for index, line in enumerate(lines):
        if line.account.role == AccountRole.AR:
            # The AR control account moves only with its subledger (invoices, payments, write-offs).
            raise InvalidPosting(
                f"Line {index + 1}: {line.account} is the receivables control account; record invoices, "
                "payments and write-offs instead of journal entries to it.",
                fields={"lines": [f"Line {index + 1}"]},
            )
        if line.functional_debit is not None or line.functional_credit is not None:
            raise InvalidPosting(
                f"Line {index + 1}: functional amounts are computed from the dated rate.",
                fields={"lines": [f"Line {index + 1}"]},
            )
    key = posting_key or f"manual:{uuid.uuid4()}"
    spec = EntrySpec(
        legal_entity=legal_entity,
        date=date,
        memo=memo,
        lines=lines,
        source_type=MANUAL_SOURCE,
        source_id=key,
        posting_key=key,
    )
    entry = post_entries(actor=actor, entries=[spec])[0]
    audit.record(
        actor=actor, action="journal_entry.posted", obj=entry, changes={"memo": memo, "lines": len(lines)}
    )
    return entry


@transaction.atomic
def reverse_entry(
    *, actor, entry: JournalEntry, on: date | None = None, memo: str | None = None
) -> JournalEntry:
    """Post the mirror of `entry` (default today, into an open period) and link the two."""
    require_role(actor, Role.FINANCE)
    entry = JournalEntry.objects.select_related("legal_entity").get(pk=entry.pk)
    if JournalEntry.objects.filter(reversal_of=entry).exists():
        raise InvalidTransition(f"{entry.display_number} is already reversed.")
    if entry.reversal_of_id is not None:
        raise InvalidTransition(f"{entry.display_number} is itself a reversal; post a new entry instead.")
    if entry.source_type not in DIRECTLY_REVERSIBLE:
        raise InvalidTransition(
            f"{entry.display_number} was posted by {entry.source_type} #{entry.source_id}; "
            "undo it there so the "
            "document and the ledger stay in step.",
            code="source_document_entry",
        )
    on = on or timezone.localdate()
    if on < entry.date:
        raise InvalidPosting(
            "A reversal cannot be dated before the entry it reverses.", fields={"date": ["Too early."]}
        )
    reversal = post_entries(actor=actor, entries=[reversal_spec(entry, on=on, memo=memo)])[0]
    audit.record(actor=actor, action="journal_entry.reversed", obj=entry, changes={"reversal": reversal.pk})
    return reversal
