"""Dunning notices: drafting and rendering them, billing their fee and interest, and e-mailing them.

A chunk's notices group each client's invoices per level and currency; the fee and interest are billed as
a fee receivable through `post_receivable`, and each notice is e-mailed after its chunk commits.
"""

import smtplib
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from decimal import Context as DecimalContext
from decimal import Decimal
from functools import partial

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.utils import timezone

from core import audit
from core.errors import InvalidTransition
from core.events import emit_many
from core.money import format_money, quantize
from core.roles import Role, require_role
from crm.models import Account
from ledger.choices import AccountRole, ArItemKind, DunningNoticeStatus
from ledger.models import DunningLevel, DunningNotice, DunningNoticeItem, DunningRun
from ledger.selectors import account_by_role
from ledger.services.ar.receivables import ReceivableSpec, post_receivables
from ledger.services.dunning._common import DUNNING_DOCUMENT, ZERO, _Policies
from ledger.services.dunning.templates import render_template
from ledger.services.posting import LineSpec

# Interest is open × percent ÷ 100 ÷ 365 × days, computed exactly and rounded once.
EXACT = DecimalContext(prec=60)
DAYS_PER_YEAR = 365


def _subject_line(text: str) -> str:
    """A rendered subject on one line: e-mail headers must not contain line breaks."""
    return " ".join(text.split())[:500]


def _interest(open_amount: Decimal, percent: Decimal | None, days: int, currency: str) -> Decimal:
    """Simple interest, open × percent ÷ 100 ÷ 365 × days, rounded half-up once to the currency."""
    if not percent or days <= 0:
        return quantize(ZERO, currency)
    exact = EXACT.divide(EXACT.multiply(EXACT.multiply(open_amount, percent), days), 100 * DAYS_PER_YEAR)
    return quantize(exact, currency)


@dataclass
class _Draft:
    """A notice being built in a chunk, before it is inserted."""

    notice: DunningNotice
    level: DunningLevel
    items: list[DunningNoticeItem]


def _draft_notices(run: DunningRun, policies: _Policies, rows: list[dict], clients: dict[int, Account]):
    groups: dict[tuple[int, int, str], list[dict]] = defaultdict(list)
    for row in rows:
        # SQLite may leave float noise on a settled amount; a row open for less than a minor unit is not.
        if quantize(row["open_as_of"], row["currency"]) > 0:
            groups[(row["client_id"], row["reached_level"], row["currency"])].append(row)
    drafts = []
    for (client_id, number, currency), group in groups.items():
        client = clients[client_id]
        policy = policies.by_id[group[0]["effective_policy"]]
        level = policies.levels[policy.pk][number]
        items = []
        for row in group:
            open_amount = quantize(row["open_as_of"], currency)
            days = (run.as_of - row["due_date"]).days
            percent = level.annual_interest_percent
            interest_days = max(days - row["charged_days"], 0) if percent is not None else 0
            items.append(
                DunningNoticeItem(
                    ar_item_id=row["pk"],
                    level=number,
                    days_overdue=days,
                    open_amount=open_amount,
                    interest_percent=percent,
                    interest_days=interest_days,
                    interest_amount=_interest(open_amount, percent, interest_days, currency),
                )
            )
        total_open = sum((item.open_amount for item in items), ZERO)
        interest = sum((item.interest_amount for item in items), ZERO)
        fee_note = ""
        if policy.fee_currency == currency:
            fee = quantize(level.fee_amount, currency)
        else:
            fee = quantize(ZERO, currency)
            if level.fee_amount > 0:
                fee_note = (
                    f"No fee: the policy bills its fees in {policy.fee_currency} and these invoices are in "
                    f"{currency}; fees are never converted."
                )
        notice = DunningNotice(
            run=run,
            legal_entity_id=run.legal_entity_id,
            client=client,
            policy=policy,
            policy_level=level,
            level=number,
            currency=currency,
            total_open=total_open,
            interest_amount=interest,
            fee_amount=fee,
            total_due=total_open + interest + fee,
            fee_note=fee_note,
            recipient=client.billing_email,
            escalated_to=client.owner if level.escalate_to_owner else None,
        )
        context = notice_context(notice, items, {row["pk"]: row for row in group}, policy)
        notice.subject = _subject_line(render_template(level.subject_template, context))
        notice.body = render_template(level.body_template, context)
        drafts.append(_Draft(notice=notice, level=level, items=items))
    return drafts


def notice_context(notice: DunningNotice, items: list[DunningNoticeItem], rows: dict, policy) -> dict:
    """The plain values a notice's templates see; amounts are formatted in the notice's currency."""
    currency = notice.currency
    amount = partial(format_money, currency=currency)
    entity = policy.legal_entity
    return {
        "client": {"name": notice.client.name},
        "legal_entity": {"name": entity.name, "address": entity.address},
        "level": notice.level,
        "as_of": notice.run.as_of,
        "currency": currency,
        "items": [
            {
                "number": rows[item.ar_item_id]["number"],
                "due_date": rows[item.ar_item_id]["due_date"],
                "days_overdue": item.days_overdue,
                "open_amount": amount(item.open_amount),
                "interest": amount(item.interest_amount),
            }
            for item in items
        ],
        "total_open": amount(notice.total_open),
        "interest": amount(notice.interest_amount),
        "fee": amount(notice.fee_amount),
        "charges": amount(notice.fee_amount + notice.interest_amount),
        "total_due": amount(notice.total_due),
        "payment_instructions": policy.payment_instructions,
    }


def _charges_spec(run: DunningRun, notice: DunningNotice, fee_income) -> ReceivableSpec:
    """The notice's fee and interest as an AR invoice item: Dr AR / Cr interest and late-fee income."""
    entity = run.legal_entity
    charges = notice.fee_amount + notice.interest_amount
    label = f"{entity.invoice_prefix}DUN-{notice.pk:06d}"
    memo = f"Dunning level {notice.level} charges to {notice.client}: fee and interest on overdue invoices"
    return ReceivableSpec(
        legal_entity=entity,
        client=notice.client,
        kind=ArItemKind.INVOICE,
        document_type=DUNNING_DOCUMENT,
        document_id=str(notice.pk),
        number=label,
        date=run.as_of,
        due_date=run.as_of + timedelta(days=notice.client.payment_terms_days),
        currency=notice.currency,
        amount=charges,
        lines=[
            LineSpec(
                account=fee_income,
                currency=notice.currency,
                credit=charges,
                client_id=notice.client_id,
                memo=label,
            )
        ],
        memo=memo[:500],
        posting_key=f"dunning-notice:{notice.pk}",
    )


def _notice_chunk(run: DunningRun, policies: _Policies, rows: list[dict]) -> tuple[int, int]:
    """Create the notices of one chunk of clients; the caller holds the chunk's transaction.

    Set-wise: the notices and their items in two inserts, every charge in one posting, the audit rows
    and events in one insert per kind, and the e-mails handed to one task after the commit.
    """
    if not rows:
        return 0, 0
    clients = Account.objects.select_related("owner").in_bulk({row["client_id"] for row in rows})
    drafts = _draft_notices(run, policies, rows, clients)
    DunningNotice.objects.bulk_create([draft.notice for draft in drafts])
    items = []
    for draft in drafts:
        for item in draft.items:
            item.notice = draft.notice
            items.append(item)
    # The guarantee: a twin that noticed one of these invoices at this level first makes this insert fail.
    # Inserted in key order, so two twins wait for each other in one direction only and never deadlock.
    items.sort(key=lambda item: (item.ar_item_id, item.level))
    DunningNoticeItem.objects.bulk_create(items, ignore_conflicts=False)
    actor = run.created_by
    charged = [draft.notice for draft in drafts if draft.notice.fee_amount + draft.notice.interest_amount > 0]
    if charged:
        fee_income = account_by_role(run.legal_entity, AccountRole.FEE_INCOME)
        specs = [_charges_spec(run, notice, fee_income) for notice in charged]
        for notice, fee_item in zip(charged, post_receivables(actor=actor, documents=specs), strict=True):
            notice.fee_item = fee_item
        DunningNotice.objects.bulk_update(charged, ["fee_item"])
    _announce(run, drafts, actor)
    return len(drafts), len(items)


def _announce(run: DunningRun, drafts: list[_Draft], actor) -> None:
    """Audit rows and events of a chunk's notices, the escalations' CRM tasks, and their e-mails."""
    created = []
    for draft in drafts:
        notice = draft.notice
        created.append(
            (
                notice,
                {
                    "notice": notice.pk,
                    "run": run.pk,
                    "legal_entity": run.legal_entity_id,
                    "client": notice.client_id,
                    "level": notice.level,
                    "currency": notice.currency,
                    "total_open": notice.total_open,
                    "interest_amount": notice.interest_amount,
                    "fee_amount": notice.fee_amount,
                    "total_due": notice.total_due,
                    "ar_items": [item.ar_item_id for item in draft.items],
                    "fee_item": notice.fee_item_id,
                },
            )
        )
    audit.record_many(actor=actor, action="dunning_notice.created", rows=created)
    emit_many("dunning.notice_created", created, actor=actor)
    escalated = [
        (
            notice,
            {
                "notice": notice.pk,
                "client": notice.client_id,
                "owner": notice.escalated_to_id,
                "level": notice.level,
            },
        )
        for notice, _ in created
        if notice.escalated_to_id
    ]
    if escalated:
        emit_many("dunning.escalated", escalated, actor=actor)
    for draft in drafts:
        if draft.level.escalate_to_owner:
            _escalation_activity(run, draft.notice)
    notice_ids = [notice.pk for notice, _ in created]
    if notice_ids:
        from ledger.tasks import send_dunning_notices

        # robust: the notices are committed; a broker outage leaves them pending, to be resent by finance.
        transaction.on_commit(lambda: send_dunning_notices.delay(notice_ids), robust=True)


def _escalation_activity(run: DunningRun, notice: DunningNotice) -> None:
    """A CRM task for the account owner to call the client: the level asks for a person, not a letter.

    Created as the system (CRM writes are the account managers'), owned by the client's owner, or left
    unassigned in the CRM when the client has none.
    """
    from crm.services.accounts import create_activity

    create_activity(
        actor=None,
        account=notice.client,
        kind="task",
        subject=f"Collect {format_money(notice.total_due, notice.currency)}: level {notice.level} reminder",
        due=run.as_of,
        owner=notice.escalated_to,
        notes=(
            f"Dunning notice {notice.pk} (level {notice.level}) went to {notice.client} on "
            f"{run.as_of.isoformat()}: {format_money(notice.total_open, notice.currency)} overdue, "
            f"{format_money(notice.total_due, notice.currency)} due with fee and interest. "
            "Call the client and log the outcome in the collections workbench."
        ),
    )


@transaction.atomic
def send_dunning_notice(*, notice_id: int) -> DunningNotice | None:
    """E-mail a pending notice to the client's billing address (the owner in copy when escalated).

    A client without a billing e-mail, or a mail server refusing the message, marks the notice failed
    with the reason instead of raising; finance fixes the cause and resends it. Safe to call twice.
    """
    notice = (
        DunningNotice.objects.select_for_update(of=("self",))
        .select_related("client", "escalated_to")
        .filter(pk=notice_id)
        .first()
    )
    if notice is None or notice.status != DunningNoticeStatus.PENDING:
        return notice
    recipient = notice.client.billing_email
    notice.recipient = recipient
    if not recipient:
        _mark(notice, DunningNoticeStatus.FAILED, f"{notice.client} has no billing e-mail address.")
        return notice
    copy = [notice.escalated_to.email] if notice.escalated_to_id and notice.escalated_to.email else []
    message = EmailMessage(
        subject=notice.subject,
        body=notice.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[recipient],
        cc=copy,
    )
    from ledger.services.dunning.letters import render_notice_pdf

    message.attach(notice_filename(notice), render_notice_pdf(notice), "application/pdf")
    try:
        message.send()
    except (smtplib.SMTPException, OSError) as exc:
        _mark(notice, DunningNoticeStatus.FAILED, f"The mail server refused the message: {exc}")
        return notice
    _mark(notice, DunningNoticeStatus.SENT, "")
    return notice


def notice_filename(notice: DunningNotice) -> str:
    return f"reminder-{notice.pk}-level-{notice.level}.pdf"


def _mark(notice: DunningNotice, status: str, reason: str) -> None:
    previous = notice.status
    notice.status = status
    notice.failure_reason = reason[:500]
    notice.sent_at = timezone.now() if status == DunningNoticeStatus.SENT else None
    notice.save(update_fields=["status", "failure_reason", "sent_at", "recipient"])
    audit.record(
        actor=None,
        action=f"dunning_notice.{status}",
        obj=notice,
        changes={"status": [previous, status], "recipient": notice.recipient},
        reason=reason,
    )


@transaction.atomic
def resend_dunning_notice(*, actor, notice: DunningNotice) -> DunningNotice:
    """Send a failed notice again (after the client's e-mail was fixed); it goes out on commit."""
    require_role(actor, Role.FINANCE)
    notice = DunningNotice.objects.select_for_update().get(pk=notice.pk)
    if notice.status != DunningNoticeStatus.FAILED:
        raise InvalidTransition(
            f"The notice is {notice.get_status_display().lower()}; only a failed one is resent."
        )
    notice.status = DunningNoticeStatus.PENDING
    notice.failure_reason = ""
    notice.save(update_fields=["status", "failure_reason"])
    audit.record(
        actor=actor,
        action="dunning_notice.resent",
        obj=notice,
        changes={"status": [DunningNoticeStatus.FAILED, DunningNoticeStatus.PENDING]},
    )
    transaction.on_commit(partial(send_dunning_notice, notice_id=notice.pk), robust=True)
    return notice
