from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Context, Decimal

ZERO = Decimal(0)
_HOURS = Context(prec=40)


@dataclass
class EntryLink:
    """A time entry a run consumes when it is not simply billed whole on a grouped line."""

    entry_id: int
    plan_id: int
    billed_hours: Decimal | None = None
    amount: Decimal | None = None
    drawn_hours: Decimal | None = None


@dataclass
class DraftLine:
    description: str
    source_type: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    plan_id: int | None
    project_id: int | None = None
    role_id: int | None = None
    category: str = ""
    period_start: date | None = None
    period_end: date | None = None
    tax_code: str = ""
    # Entries billed whole at the line's rate: how many, and (when the caller asked for them) their ids.
    entry_count: int = 0
    entry_ids: list[int] = field(default_factory=list)
    entry_links: list[EntryLink] = field(default_factory=list)
    expense_links: list[tuple[int, Decimal]] = field(default_factory=list)
    item_ids: list[int] = field(default_factory=list)
    released_hold_ids: list[int] = field(default_factory=list)
    first_date: date | None = None
    last_date: date | None = None

    @property
    def source_count(self) -> int:
        return (
            self.entry_count
            + len(self.entry_links)
            + len(self.expense_links)
            + len(self.item_ids)
            + len(self.released_hold_ids)
        )


@dataclass
class OverCapSpec:
    entry_id: int
    plan_id: int
    hours: Decimal
    amount: Decimal


@dataclass
class MovementSpec:
    plan_id: int
    kind: str
    date: date
    hours: Decimal
    amount: Decimal
    balance_hours: Decimal
    line: DraftLine | None = None
    note: str = ""


@dataclass
class ContractDraft:
    """What a run would bill for one contract: the draft invoice's lines and everything else it records."""

    contract: object
    lines: list[DraftLine] = field(default_factory=list)
    # Entries a retainer's balance absorbed whole: consumed, on no invoice line.
    unlined_links: list[EntryLink] = field(default_factory=list)
    over_cap: list[OverCapSpec] = field(default_factory=list)
    # Released over-cap rows that still do not fit the raised cap: back to held.
    reheld_ids: list[int] = field(default_factory=list)
    movements: list[MovementSpec] = field(default_factory=list)
    exceptions: list[tuple[str, str, dict]] = field(default_factory=list)
    # Retainer fee items billed by this draft, and the time rows each retainer plan draws from.
    fees: dict = field(default_factory=dict)
    retainer_rows: dict = field(default_factory=dict)

    @property
    def subtotal(self) -> Decimal:
        return sum((line.amount for line in self.lines), ZERO)

    @property
    def has_writes(self) -> bool:
        return bool(self.lines or self.unlined_links or self.over_cap or self.movements or self.reheld_ids)

    @property
    def time_entry_count(self) -> int:
        lined = sum(line.entry_count + len(line.entry_links) for line in self.lines)
        return lined + len(self.unlined_links)

    @property
    def expense_count(self) -> int:
        return sum(len(line.expense_links) for line in self.lines)

    @property
    def item_count(self) -> int:
        return sum(len(line.item_ids) for line in self.lines)

    def add_exception(self, kind: str, message: str, **data) -> None:
        self.exceptions.append((kind, message, data))


def hours_of(value) -> Decimal:
    """Hours to the hundredth, half-up (a SQL sum of hours comes back as a float on SQLite)."""
    if not isinstance(value, Decimal):
        value = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP, context=_HOURS)
