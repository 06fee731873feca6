"""Dunning: policies of ordered reminder levels, and the run that notices each overdue invoice once per level.

A run evaluates a legal entity's AR as of a day. One query finds the overdue open invoices, the highest
level each has reached under its client's policy (else the entity's default) and whether that level was
noticed before. Clients are processed in chunks, each chunk its own transaction. Per client, level and
currency one notice groups the invoices; its fee and interest are billed as a fee receivable through
`post_receivable` (Dr AR / Cr interest and late-fee income), and the notice is e-mailed after commit.
`DunningNoticeItem` is unique per (invoice, level): a repeated or concurrent run collides on that key,
its chunk rolls back and is re-read, so no invoice is ever noticed or charged twice at one level.
"""

# The names live in the modules below; patch them there (where they are looked up), not on this package.
# Execution settings such as CHUNK_CLIENTS are read in `runs`, so set them on that module.
from ._common import DUNNING_DOCUMENT, ZERO
from .notices import DAYS_PER_YEAR, EXACT, notice_context, resend_dunning_notice, send_dunning_notice
from .policies import (
    LEVEL_FIELDS,
    DunningCurrencyMismatch,
    DunningPolicyInUse,
    InvalidDunningPolicy,
    LevelSpec,
    assign_dunning_policy,
    create_dunning_policy,
    delete_dunning_policy,
    update_dunning_policy,
)
from .runs import (
    CHUNK_ATTEMPTS,
    CHUNK_CLIENTS,
    RUN_STALE_AFTER,
    DunningRunActive,
    execute_dunning_run,
    start_dunning_run,
    start_nightly_dunning_runs,
)
from .templates import BLOCKED_TAGS, render_template

__all__ = [
    "BLOCKED_TAGS",
    "CHUNK_ATTEMPTS",
    "CHUNK_CLIENTS",
    "DAYS_PER_YEAR",
    "DUNNING_DOCUMENT",
    "DunningCurrencyMismatch",
    "DunningPolicyInUse",
    "DunningRunActive",
    "EXACT",
    "InvalidDunningPolicy",
    "LEVEL_FIELDS",
    "LevelSpec",
    "RUN_STALE_AFTER",
    "ZERO",
    "assign_dunning_policy",
    "create_dunning_policy",
    "delete_dunning_policy",
    "execute_dunning_run",
    "notice_context",
    "render_template",
    "resend_dunning_notice",
    "send_dunning_notice",
    "start_dunning_run",
    "start_nightly_dunning_runs",
    "update_dunning_policy",
]
