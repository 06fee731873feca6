"""Line terms shared by opportunity, quote and contract lines: normalising input and billing schedules."""

import calendar
from datetime import date, timedelta
from decimal import Decimal

from core.money import quantize, split_evenly
from crm.choices import MONTHS_PER_PERIOD, PERIODIC_MODELS, BillingModel

ZERO = Decimal(0)
# The fields of crm.models.terms.LineTerms, as services take them in line specs.
TERM_FIELDS = (
    "phase",
    "billing_model",
    "role",
    "hours",
    "rate",
    "amount",
    "start",
    "end",
    "cap_amount",
    "revenue_method",
    "instalments",
    "milestones",
    "billing_period",
    "period_amount",
    "period_hours",
    "overage_rate",
    "unused_hours",
    "cycle_day",
)
DECIMAL_FIELDS = ("hours", "rate", "amount", "cap_amount", "period_amount", "period_hours", "overage_rate")


def add_months(day: date, months: int) -> date:
    """The same day `months` later, clipped to the month's last day."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def periods(start: date, end: date, billing_period: str) -> list[tuple[date, date]]:
    """The billing periods from `start` to `end`: (first day, last day), the last one clipped to `end`."""
    step = MONTHS_PER_PERIOD.get(billing_period)
    if not step or end < start:
        return []
    result, index = [], 0
    while True:
        first = add_months(start, index * step)
        if first > end:
            return result
        result.append((first, min(add_months(start, (index + 1) * step) - timedelta(days=1), end)))
        index += 1


def _decimal(value) -> Decimal | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _day(value) -> date | None:
    if value is None or value == "" or isinstance(value, date):
        return value or None
    return date.fromisoformat(str(value))


def normalise_milestones(raw, currency: str) -> list[dict]:
    """[{"name", "due", "amount"}] with ISO dates and amounts as decimal strings, in due order."""
    result = []
    for item in raw or []:
        amount = _decimal(item.get("amount"))
        due = _day(item.get("due"))
        result.append(
            {
                "name": str(item.get("name") or "").strip(),
                "due": due.isoformat() if due else None,
                "amount": str(quantize(amount, currency)) if amount is not None else None,
            }
        )
    return sorted(result, key=lambda m: (m["due"] or "", m["name"]))


def normalise_line(spec: dict, currency: str) -> dict:
    """A line spec with typed values and derived amounts filled in (the estimate, the term's total).

    Time and materials: amount = hours × rate. Milestone: amount = Σ milestones. Retainer and subscription:
    amount = period amount × number of periods. An amount given explicitly is kept (validation compares).
    """
    line = {name: spec.get(name) for name in (*TERM_FIELDS, "service", "description") if name in spec}
    for name in DECIMAL_FIELDS:
        if name in line:
            line[name] = _decimal(line[name])
    for name in ("hours", "rate"):
        line[name] = line.get(name) or ZERO
    line["start"], line["end"] = _day(line.get("start")), _day(line.get("end"))
    line["milestones"] = normalise_milestones(line.get("milestones"), currency)
    line["instalments"] = int(line.get("instalments") or 1)
    for name in ("phase", "revenue_method", "billing_period", "unused_hours"):
        line[name] = line.get(name) or ""
    model = line.get("billing_model")
    if line.get("amount") is None:
        if model == BillingModel.TIME_AND_MATERIALS:
            line["amount"] = quantize(line["hours"] * line["rate"], currency)
        elif model == BillingModel.MILESTONE:
            line["amount"] = sum((Decimal(m["amount"]) for m in line["milestones"] if m["amount"]), ZERO)
        elif model in PERIODIC_MODELS and line.get("period_amount") and line["start"] and line["end"]:
            count = len(periods(line["start"], line["end"], line["billing_period"]))
            line["amount"] = quantize(line["period_amount"] * count, currency)
        else:
            line["amount"] = ZERO
    line["amount"] = quantize(line["amount"], currency)
    return line


def line_problems(line: dict, currency: str, prefix: str) -> dict[str, list[str]]:
    """Everything wrong with one line's terms, as {"lines.N.field": [message]} (empty when sound)."""
    problems: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        problems.setdefault(f"{prefix}.{field}", []).append(message)

    model = line.get("billing_model")
    if model not in BillingModel.values:
        add("billing_model", f"Choose one of: {', '.join(BillingModel.values)}.")
        return problems
    label = line.get("service") or line.get("description") or "The line"
    start, end = line.get("start"), line.get("end")
    if not start:
        add("start", f"{label}: the start date is missing.")
    if not end:
        add("end", f"{label}: the end date is missing.")
    if start and end and end < start:
        add("end", f"{label}: ends {end} before it starts {start}.")
    amount = line.get("amount") or ZERO
    for name in DECIMAL_FIELDS:
        value = line.get(name)
        if value is not None and value < 0:
            add(name, f"{label}: {name.replace('_', ' ')} must not be negative.")
    if model == BillingModel.TIME_AND_MATERIALS:
        if not line.get("role"):
            add("role", f"{label}: time and materials needs the role whose time is billed.")
        if not line.get("rate"):
            add("rate", f"{label}: time and materials needs a rate for the role.")
        if not line.get("hours"):
            add("hours", f"{label}: time and materials needs the estimated hours.")
        cap = line.get("cap_amount")
        if cap is not None and cap <= 0:
            add("cap_amount", f"{label}: a not-to-exceed cap must be more than zero.")
    elif amount <= 0:
        add("amount", f"{label}: a {BillingModel(model).label.lower()} line needs an amount.")
    milestones = line.get("milestones") or []
    if model == BillingModel.MILESTONE and not milestones:
        add("milestones", f"{label}: a milestone line needs its milestones (name, due date, amount).")
    if milestones:
        for index, milestone in enumerate(milestones):
            if not milestone["name"]:
                add(f"milestones.{index}.name", f"{label}: milestone {index + 1} has no name.")
            if not milestone["amount"] or Decimal(milestone["amount"]) <= 0:
                add(f"milestones.{index}.amount", f"{label}: milestone {index + 1} needs an amount.")
            if not milestone["due"]:
                add(f"milestones.{index}.due", f"{label}: milestone {index + 1} needs a due date.")
            elif start and end and not start <= date.fromisoformat(milestone["due"]) <= end:
                add(
                    f"milestones.{index}.due",
                    f"{label}: milestone “{milestone['name']}” is due {milestone['due']}, outside the line's "
                    f"dates {start} to {end}.",
                )
        total = sum((Decimal(m["amount"]) for m in milestones if m["amount"]), ZERO)
        if model in (BillingModel.MILESTONE, BillingModel.FIXED_FEE) and total != amount:
            add(
                "milestones",
                f"{label}: the milestones add up to {total} {currency}, not the line's {amount} {currency}.",
            )
    if model == BillingModel.FIXED_FEE and not 1 <= line.get("instalments", 1) <= 120:
        add("instalments", f"{label}: a fixed fee is paid in 1 to 120 instalments.")
    if model in PERIODIC_MODELS:
        if not line.get("billing_period"):
            add("billing_period", f"{label}: say how often it is billed (monthly, quarterly, annual).")
        if not line.get("period_amount"):
            add("period_amount", f"{label}: the fee per period is missing.")
        elif start and end and line.get("billing_period"):
            count = len(periods(start, end, line["billing_period"]))
            expected = quantize(line["period_amount"] * count, currency)
            if expected != amount:
                add(
                    "amount",
                    f"{label}: {count} periods × {line['period_amount']} is {expected} {currency}, "
                    f"not {amount} {currency}.",
                )
        cycle_day = line.get("cycle_day")
        if cycle_day is not None and not 1 <= cycle_day <= 28:
            add("cycle_day", f"{label}: the billing day is 1 to 28.")
    return problems


def billing_schedule(line, currency: str) -> dict:
    """What billing builds the line's plan from (see crm.models.ContractLine), as JSON-ready values."""
    model = line.billing_model
    milestones = list(line.milestones or [])
    if model == BillingModel.TIME_AND_MATERIALS:
        return {
            "frequency": "monthly",
            "role_id": line.role_id,
            "rate": str(quantize(line.rate, currency)),
            "hours": str(line.hours),
            "cap_amount": str(quantize(line.cap_amount, currency)) if line.cap_amount is not None else None,
        }
    if model == BillingModel.MILESTONE or (model == BillingModel.FIXED_FEE and milestones):
        return {"milestones": milestones}
    if model == BillingModel.FIXED_FEE:
        count = max(line.instalments, 1)
        amounts = split_evenly(quantize(line.amount, currency), count, currency)
        # Instalment k of n falls due k/n of the way through the line (whole days, rounded down); the
        # last one on its end date.
        span = (line.end - line.start).days
        dates = [line.start + timedelta(days=span * (k + 1) // count) for k in range(count)]
        return {
            "instalments": [
                {"date": day.isoformat(), "amount": str(amount)}
                for day, amount in zip(dates, amounts, strict=True)
            ]
        }
    amount = quantize(line.period_amount or ZERO, currency)
    return {
        "period": line.billing_period,
        "period_amount": str(amount),
        "period_hours": str(line.period_hours) if line.period_hours is not None else None,
        "overage_rate": str(quantize(line.overage_rate, currency)) if line.overage_rate is not None else None,
        "unused_hours": line.unused_hours or None,
        "cycle_day": line.cycle_day,
        "periods": [
            {"start": first.isoformat(), "end": last.isoformat(), "amount": str(amount)}
            for first, last in periods(line.start, line.end, line.billing_period)
        ],
    }


def terms_of(line) -> dict:
    """A line model's terms as a spec dict (to copy a line onto a quote, a contract or a new version)."""
    spec = {name: getattr(line, name) for name in TERM_FIELDS if name != "role"}
    spec["role"] = line.role_id
    spec["milestones"] = list(line.milestones or [])
    return spec


def line_values(line: dict) -> dict:
    """The model field values of a normalised line spec (`role` given as an id)."""
    values = {name: line.get(name) for name in TERM_FIELDS if name != "role"}
    role = line.get("role")
    values["role_id"] = getattr(role, "pk", role)
    for name in ("hours", "rate"):
        values[name] = values[name] or ZERO
    values["instalments"] = values["instalments"] or 1
    return values
