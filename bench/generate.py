"""The benchmark firm at scale n: n approved billable time entries over the twelve months of `YEAR`.

At the default n = 1,000,000: 400 people, 2,000 clients, 10,000 contracts (one project each) mixing every
billing model, 100,000 approved billable expenses. A smaller n scales everything in proportion, with
floors so that even the smoke scale has every kind of contract. The big tables (time entries, expenses)
are written with COPY; the small ones with `bulk_create` plus the code that derives rows from them in
production: each contract line's `schedule` from crm's `billing_schedule`, the billing plans and their
items from billing's `sync_billing_plans`, tax codes from `create_tax_code`. The same n and seed build
the same firm.

`python -m bench.generate --n 50000` (re)creates the benchmark database and builds the firm in it.
"""

import argparse
import os
import random
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from bench.firm import YEAR, bench_entity

FULL_N = 1_000_000
PEOPLE, CLIENTS, CONTRACTS = 400, 2_000, 10_000
EXPENSES_PER_ENTRY = Decimal("0.1")
FINANCE_USERNAME = "bench-finance"
PERIOD_END = date(YEAR, 12, 31)
# A third of the contracts raise their rates by 5% from July: their time bills at two rates per role.
RAISE_FROM = date(YEAR, 7, 1)
COPY_ROWS = 100_000

# Delivery roles: standard bill rate, and the weight of the role among the firm's people.
ROLES = (
    ("Partner", Decimal("400"), 3),
    ("Principal", Decimal("300"), 7),
    ("Senior consultant", Decimal("220"), 20),
    ("Consultant", Decimal("170"), 25),
    ("Analyst", Decimal("120"), 20),
    ("Developer", Decimal("150"), 15),
    ("Designer", Decimal("140"), 5),
    ("Project manager", Decimal("190"), 5),
)
LEAD_ROLE, PARTNER_ROLE = "Senior consultant", "Partner"
PRICE_LEVELS = (Decimal("0.9"), Decimal("1.0"), Decimal("1.1"), Decimal("1.2"))

# The contract mix, repeating every 20 contracts: mostly time and materials (three with a second line for
# partners' time, three with a not-to-exceed cap of which one is tight enough to be reached), fixed fee
# in instalments or on milestones, milestones, a subscription, a retainer, and time and materials with a
# managed-service subscription beside it.
MIX = (
    "tm", "tm_partner", "tm", "tm", "tm_partner", "tm", "tm", "tm_partner", "tm", "tm", "tm",
    "tm_cap", "tm_cap", "tm_cap_tight", "fixed_fee", "fixed_fee_milestones", "milestone",
    "subscription", "retainer", "tm_subscription",
)  # fmt: skip
TAKES_TIME = {"tm", "tm_partner", "tm_cap", "tm_cap_tight", "retainer", "tm_subscription"}
# Milestones of the milestone and fixed-fee-on-milestones lines: name, due (month, day), share of the fee.
MILESTONES = (
    ("Discovery", (3, 13), Decimal("0.2")),
    ("Design", (6, 12), Decimal("0.3")),
    ("Build", (9, 15), Decimal("0.3")),
    ("Launch", (12, 10), Decimal("0.2")),
)
# Quarter-hours, 0.75 h on average: about seven billable hours a working day at n = 1,000,000.
HOURS = ("0.25", "0.50", "0.75", "1.00", "1.25")
MEAN_HOURS = Decimal("0.75")
# Each person books time on a window of this many delivery projects (about three people per project).
PORTFOLIO = 60
OTHER_PORTFOLIO = 4


@dataclass
class Firm:
    """What the generator built and how long each part took."""

    n: int
    people: int = 0
    clients: int = 0
    contracts: int = 0
    contracts_by_kind: dict = field(default_factory=dict)
    contract_lines: int = 0
    plans: int = 0
    plan_items: int = 0
    accepted_milestones: int = 0
    approved_billable_entries: int = 0
    other_entries: int = 0
    expenses: int = 0
    seconds: dict = field(default_factory=dict)


def scale_of(n: int) -> dict:
    """People, clients, contracts and expenses for n entries: the full firm's in proportion, with floors."""
    share = Decimal(n) / FULL_N
    return {
        "people": max(6, round(PEOPLE * share)),
        "clients": max(4, round(CLIENTS * share)),
        "contracts": max(len(MIX), round(CONTRACTS * share)),
        "expenses": int(n * EXPENSES_PER_ENTRY),
    }


def working_days(year: int) -> list[date]:
    day, days = date(year, 1, 1), []
    while day.year == year:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def cents(value) -> Decimal:
    return Decimal(value).quantize(Decimal("0.01"))


def build_firm(*, n: int, seed: int = 1) -> dict:
    """Build the firm in the (empty, migrated) database this process is connected to."""
    started = time.perf_counter()
    firm = _Builder(n, seed).build()
    firm.seconds["total"] = round(time.perf_counter() - started, 3)
    return asdict(firm)


class _Builder:
    def __init__(self, n: int, seed: int):
        from django.db import connection

        self.connection = connection
        self.n = n
        self.rng = random.Random(seed)
        self.scale = scale_of(n)
        self.firm = Firm(n=n)
        self.days = working_days(YEAR)
        self.kinds = [MIX[index % len(MIX)] for index in range(self.scale["contracts"])]

    def build(self) -> Firm:
        with self.connection.cursor() as cursor:
            # Generated data: a crash loses the bench database anyway, so commits need not wait for disk.
            cursor.execute("SET synchronous_commit TO off")
        steps = (
            ("master data", self.master_data),
            ("staffing", self.staffing),
            ("contracts and lines", self.contracts),
            ("billing plans (sync_billing_plans)", self.plans),
            ("projects, milestones, timesheets", self.projects),
            ("time entries (COPY)", self.time_entries),
            ("expenses (COPY)", self.expenses),
            ("vacuum analyze", self.analyze),
        )
        for name, step in steps:
            started = time.perf_counter()
            step()
            self.firm.seconds[name] = round(time.perf_counter() - started, 3)
        return self.firm

    # People, clients, rates.

    def master_data(self) -> None:
        from django.contrib.auth import get_user_model
        from django.contrib.auth.models import Group

        from billing.choices import TaxKind
        from billing.services.tax import create_tax_code
        from core.roles import Role as UserRole
        from crm.models import Account
        from ledger.choices import AccountRole
        from ledger.selectors import account_by_role
        from projects.models import Person, Role

        self.entity = bench_entity()
        self.finance = get_user_model().objects.create(
            username=FINANCE_USERNAME, email="finance@bench.example"
        )
        self.finance.groups.add(Group.objects.get_or_create(name=UserRole.FINANCE)[0])
        tax_payable = account_by_role(self.entity, AccountRole.TAX_PAYABLE)
        for code, name, kind, rate in (
            ("STD10", "Sales tax 10%", TaxKind.STANDARD, "10"),
            ("ZERO", "Zero-rated export", TaxKind.ZERO_RATED, "0"),
            ("EXEMPT", "Exempt services", TaxKind.EXEMPT, "0"),
        ):
            create_tax_code(
                actor=self.finance,
                legal_entity=self.entity,
                code=code,
                name=name,
                kind=kind,
                rate_percent=Decimal(rate),
                account=tax_payable if kind == TaxKind.STANDARD else None,
            )
        roles = Role.objects.bulk_create(Role(name=name) for name, _, _ in ROLES)
        self.role_ids = {role.name: role.pk for role in roles}
        self.base_rate = {self.role_ids[name]: rate for name, rate, _ in ROLES}
        weights = [weight for _, _, weight in ROLES]
        people = Person.objects.bulk_create(
            Person(
                name=f"Consultant {index:04d}",
                role_id=self.role_ids[self.rng.choices(ROLES, weights)[0][0]],
                legal_entity=self.entity,
                capacity_hours_per_week=Decimal(40),
            )
            for index in range(self.scale["people"])
        )
        self.people = [(person.pk, person.role_id) for person in people]
        # Of every ten clients: seven taxed at 10%, one zero-rated, one exempt, and the fourth billed in
        # euros (an export: zero-rated; the fourth, so that the smoke scale has one too).
        codes = ("STD10", "STD10", "STD10", "ZERO", "STD10", "STD10", "STD10", "ZERO", "EXEMPT", "STD10")
        self.clients = Account.objects.bulk_create(
            Account(
                name=f"Client {index:05d}",
                normalized_name=f"client {index:05d}",
                legal_entity=self.entity,
                currency="EUR" if index % 10 == 3 else "USD",
                payment_terms_days=(30, 45, 60)[index % 3],
                billing_email=f"ap{index}@client.example",
                tax_code=codes[index % 10],
            )
            for index in range(self.scale["clients"])
        )
        self.firm.people, self.firm.clients = len(self.people), len(self.clients)

    def rate(self, contract: int, role_id: int, raised: bool) -> Decimal:
        level = PRICE_LEVELS[(contract // 7) % len(PRICE_LEVELS)]
        rate = self.base_rate[role_id] * level
        if raised and contract % 3 == 0:
            rate *= Decimal("1.05")
        return cents(rate)

    # Who works where, and how many billable entries each person-day holds.

    def staffing(self) -> None:
        """Each person books billable time on a window of delivery projects (every delivery project is
        in someone's window) and non-billable time on a few fixed-fee, milestone or subscription ones."""
        people = len(self.people)
        delivery = [index for index, kind in enumerate(self.kinds) if kind in TAKES_TIME]
        other = [index for index, kind in enumerate(self.kinds) if kind not in TAKES_TIME]
        self.rng.shuffle(delivery)
        self.rng.shuffle(other)
        size = min(PORTFOLIO, len(delivery))
        self.portfolio = [
            [delivery[(p * len(delivery) // people + j) % len(delivery)] for j in range(size)]
            for p in range(people)
        ]
        size = min(OTHER_PORTFOLIO, len(other))
        self.other_portfolio = [
            [other[(p * len(other) // people + j) % len(other)] for j in range(size)] for p in range(people)
        ]
        person_days = people * len(self.days)
        if -(-self.n // person_days) >= len(self.portfolio[0]):
            raise ValueError(f"n = {self.n:,} entries do not fit {people} people's working days")
        self.per_person = [0] * people
        for index in range(person_days):
            self.per_person[index % people] += self.entries_of(index, person_days)
        # Expected hours and value per delivery contract, to size caps, estimates and retainers.
        self.expected_hours = [Decimal(0)] * len(self.kinds)
        self.expected_value = [Decimal(0)] * len(self.kinds)
        for p, window in enumerate(self.portfolio):
            hours = Decimal(self.per_person[p]) / len(window) * MEAN_HOURS
            role_id = self.people[p][1]
            for contract in window:
                self.expected_hours[contract] += hours
                self.expected_value[contract] += hours * self.rate(contract, role_id, False)

    def entries_of(self, index: int, person_days: int) -> int:
        """Billable entries of the index-th person-day: n spread evenly, summing to n exactly."""
        return (index + 1) * self.n // person_days - index * self.n // person_days

    # Contracts, their lines, billing plans.

    def line_specs(self, index: int, currency: str) -> list[dict]:
        kind = self.kinds[index]
        start, end = date(YEAR, 1, 1), date(YEAR, 12, 31)
        lead, partner = self.role_ids[LEAD_ROLE], self.role_ids[PARTNER_ROLE]
        hours = max(Decimal(1), self.expected_hours[index].quantize(Decimal(1)))
        value = self.expected_value[index]
        fee = Decimal(40_000 + 10_000 * (index % 16))
        variant = (index // len(MIX)) % 3
        time_line = {
            "description": "Consulting time",
            "billing_model": "time_and_materials",
            "role": lead,
            "rate": self.rate(index, lead, False),
            "hours": hours,
            "start": start,
            "end": end,
        }
        milestones = [
            {"name": name, "due": date(YEAR, month, day), "amount": cents(fee * share)}
            for name, (month, day), share in MILESTONES
        ]
        if kind == "tm":
            return [time_line]
        if kind == "tm_partner":
            return [
                time_line,
                time_line
                | {
                    "description": "Partner time",
                    "role": partner,
                    "rate": self.rate(index, partner, False),
                    "hours": max(Decimal(1), (hours / 20).quantize(Decimal(1))),
                },
            ]
        if kind == "tm_cap":
            return [time_line | {"cap_amount": cents(value * 3)}]
        if kind == "tm_cap_tight":
            return [time_line | {"cap_amount": cents(value * Decimal("0.6"))}]
        if kind == "tm_subscription":
            managed = {
                "description": "Managed service",
                "billing_model": "subscription",
                "billing_period": "monthly",
                "period_amount": Decimal(2_500),
                "cycle_day": 1,
                "start": start,
                "end": end,
            }
            return [time_line, managed]
        if kind == "fixed_fee":
            return [
                {
                    "description": "Fixed-fee delivery",
                    "billing_model": "fixed_fee",
                    "amount": fee,
                    "instalments": (4, 12, 6)[variant],
                    "start": start,
                    "end": end,
                }
            ]
        if kind == "fixed_fee_milestones":
            return [
                {
                    "description": "Fixed-fee delivery on milestones",
                    "billing_model": "fixed_fee",
                    "amount": sum(m["amount"] for m in milestones),
                    "milestones": milestones,
                    "start": start,
                    "end": end,
                }
            ]
        if kind == "milestone":
            return [
                {
                    "description": "Implementation milestones",
                    "billing_model": "milestone",
                    "milestones": milestones,
                    "start": start,
                    "end": end,
                }
            ]
        if kind == "subscription":
            period, first = (("monthly", start), ("quarterly", date(YEAR, 2, 10)), ("annual", start))[variant]
            return [
                {
                    "description": "Platform subscription",
                    "billing_model": "subscription",
                    "billing_period": period,
                    "period_amount": Decimal((1_500, 4_200, 16_000)[variant]),
                    "cycle_day": 1,
                    "start": first,
                    "end": end,
                }
            ]
        # A retainer: hours a month at the lead rate; one in three leaves hours unused (forfeited,
        # carried over, refunded at the end), the others run over into overage.
        factor, unused = (
            (Decimal("0.8"), "forfeit"),
            (Decimal("1.0"), "carry_over"),
            (Decimal("1.4"), "refund"),
        )[variant]
        period_hours = max(Decimal(1), (hours / 12 * factor).quantize(Decimal(1)))
        rate = self.rate(index, lead, False)
        return [
            {
                "description": "Advisory retainer",
                "billing_model": "retainer",
                "billing_period": "monthly",
                "period_hours": period_hours,
                "period_amount": cents(period_hours * rate),
                "overage_rate": cents(rate * Decimal("1.25")) if variant != 1 else None,
                "unused_hours": unused,
                "start": start,
                "end": end,
            }
        ]

    def contracts(self) -> None:
        from crm.choices import ContractStatus
        from crm.models import Contract, ContractLine, ContractSequence, ContractVersion
        from crm.services.terms import billing_schedule, line_problems, line_values, normalise_line

        contracts, specs = [], []
        for index, kind in enumerate(self.kinds):
            client = self.clients[index % len(self.clients)]
            lines = [
                normalise_line(spec, client.currency) for spec in self.line_specs(index, client.currency)
            ]
            for position, line in enumerate(lines):
                problems = line_problems(line, client.currency, f"lines.{position}")
                if problems:
                    raise ValueError(f"The generator made an invalid {kind} line: {problems}")
            specs.append(lines)
            contracts.append(
                Contract(
                    account=client,
                    legal_entity=self.entity,
                    number=f"{self.entity.invoice_prefix}C-{index + 1:05d}",
                    status=ContractStatus.ACTIVE,
                    currency=client.currency,
                    start=min(line["start"] for line in lines),
                    end=max(line["end"] for line in lines),
                    total_amount=sum(line["amount"] for line in lines),
                    payment_terms_days=client.payment_terms_days,
                    tax_code=client.tax_code,
                )
            )
            self.firm.contracts_by_kind[kind] = self.firm.contracts_by_kind.get(kind, 0) + 1
        self.contract_rows = Contract.objects.bulk_create(contracts, batch_size=2_000)
        ContractSequence.objects.create(legal_entity=self.entity, next_number=len(contracts) + 1)
        versions = ContractVersion.objects.bulk_create(
            (
                ContractVersion(
                    contract=contract,
                    number=1,
                    reason="Signed",
                    start=contract.start,
                    end=contract.end,
                    total_amount=contract.total_amount,
                )
                for contract in self.contract_rows
            ),
            batch_size=2_000,
        )
        rows = []
        for contract, version, lines in zip(self.contract_rows, versions, specs, strict=True):
            for line in lines:
                row = ContractLine(
                    contract=contract,
                    contract_version=version,
                    description=line["description"],
                    **line_values(line),
                )
                row.schedule = billing_schedule(row, contract.currency)
                rows.append(row)
        ContractLine.objects.bulk_create(rows, batch_size=2_000)
        self.firm.contracts, self.firm.contract_lines = len(self.contract_rows), len(rows)

    def plans(self) -> None:
        """Billing plans and items per contract through billing's own service, as the handoff makes them."""
        from billing.models import BillingPlan, PlanItem
        from billing.services.plans import sync_billing_plans

        for contract in self.contract_rows:
            sync_billing_plans(contract=contract)
        self.firm.plans = BillingPlan.objects.count()
        self.firm.plan_items = PlanItem.objects.count()

    # Projects, milestones, timesheets.

    def projects(self) -> None:
        from django.utils import timezone

        from projects.choices import MilestoneStatus, ProjectStatus, TimesheetStatus
        from projects.models import Milestone, Project, Task, Timesheet
        from projects.weeks import week_start

        projects = Project.objects.bulk_create(
            (
                Project(
                    code=f"BP-{index + 1:05d}",
                    name=f"Delivery of {contract.number}",
                    account_id=contract.account_id,
                    contract=contract,
                    legal_entity=self.entity,
                    currency=contract.currency,
                    status=ProjectStatus.ACTIVE,
                    start=contract.start,
                    end=contract.end,
                )
                for index, contract in enumerate(self.contract_rows)
            ),
            batch_size=2_000,
        )
        tasks = Task.objects.bulk_create(
            (
                Task(project=project, name="Delivery", billable=kind in TAKES_TIME)
                for project, kind in zip(projects, self.kinds, strict=True)
            ),
            batch_size=2_000,
        )
        self.project_cells = [
            (project.pk, task.pk, project.currency) for project, task in zip(projects, tasks, strict=True)
        ]
        # Milestones: the first two accepted everywhere, the third on two contracts in three, the
        # last on every other; what is not accepted is completed (waiting for the client) or planned.
        milestones = []
        for index, (project, kind) in enumerate(zip(projects, self.kinds, strict=True)):
            if kind not in ("milestone", "fixed_fee_milestones"):
                continue
            fee = Decimal(40_000 + 10_000 * (index % 16))
            for position, (name, (month, day), share) in enumerate(MILESTONES):
                due = date(YEAR, month, day)
                accepted = (
                    position < 2 or (position == 2 and index % 3 != 0) or (position == 3 and index % 2 == 0)
                )
                at = timezone.make_aware(
                    timezone.datetime.combine(due + timedelta(days=3), timezone.datetime.min.time())
                )
                milestones.append(
                    Milestone(
                        project=project,
                        name=name,
                        amount=cents(fee * share),
                        due=due,
                        status=MilestoneStatus.ACCEPTED if accepted else MilestoneStatus.COMPLETED,
                        completed_at=at,
                        accepted_at=at if accepted else None,
                    )
                )
        Milestone.objects.bulk_create(milestones, batch_size=2_000)
        self.firm.accepted_milestones = sum(1 for m in milestones if m.status == MilestoneStatus.ACCEPTED)
        weeks = sorted({week_start(day) for day in self.days})
        last_weeks = set(weeks[-2:])
        sheets = Timesheet.objects.bulk_create(
            (
                Timesheet(
                    person_id=person_id,
                    week_start=monday,
                    status=TimesheetStatus.PARTIALLY_APPROVED
                    if monday in last_weeks
                    else TimesheetStatus.APPROVED,
                )
                for person_id, _ in self.people
                for monday in weeks
            ),
            batch_size=5_000,
        )
        self.sheet_of = {(sheet.person_id, sheet.week_start): sheet.pk for sheet in sheets}

    # Time entries and expenses, COPYed.

    def copy(self, table: str, columns: str, rows) -> int:
        """COPY text rows into `table`, COPY_ROWS at a time; returns the number of rows."""
        self.connection.ensure_connection()
        raw = self.connection.connection
        count, batch = 0, []

        def flush():
            with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                copy.write("".join(batch))
            if not raw.autocommit:
                raw.commit()
            batch.clear()

        for row in rows:
            batch.append(row)
            count += 1
            if len(batch) >= COPY_ROWS:
                flush()
        if batch:
            flush()
        return count

    def time_entries(self) -> None:
        columns = (
            "person_id, project_id, task_id, timesheet_id, role_id, date, hours, billable, notes, status, "
            "currency, bill_rate, cost_rate, rate_source, rated_at, submitted_at, approved_at, rejected_at, "
            "rejection_reason, created_at, updated_at, approved_by_id, created_by_id, rejected_by_id"
        )
        counts = {"approved_billable": 0, "other": 0}
        self.copy("projects_timeentry", columns, self.entry_rows(counts))
        self.firm.approved_billable_entries = counts["approved_billable"]
        self.firm.other_entries = counts["other"]

    def entry_rows(self, counts: dict):
        """Day by day (the order people log time in), each person's entries of the day: the billable
        ones on distinct delivery projects, sometimes a non-billable one on another project, and in the
        last week an extra billable entry still waiting for approval (a run must not bill it)."""
        from projects.weeks import week_start

        people = len(self.people)
        person_days = people * len(self.days)
        rates = {}
        for contract, kind in enumerate(self.kinds):
            if kind in TAKES_TIME:
                for role_id in self.base_rate:
                    rates[contract, role_id] = (
                        str(self.rate(contract, role_id, False)),
                        str(self.rate(contract, role_id, True)),
                    )
        costs = {role_id: str(cents(rate * Decimal("0.45"))) for role_id, rate in self.base_rate.items()}
        last_week = self.days[-5:]
        rng = self.rng
        for day_index, day in enumerate(self.days):
            iso = day.isoformat()
            stamp = f"{iso} 17:30:00+00"
            approved = f"{(day + timedelta(days=7 - day.weekday())).isoformat()} 09:00:00+00"
            monday = week_start(day)
            raised = 1 if day >= RAISE_FROM else 0
            for p, (person_id, role_id) in enumerate(self.people):
                k = self.entries_of(day_index * people + p, person_days)
                window = self.portfolio[p]
                waiting = 1 if day in last_week and p % 2 == 0 and k < len(window) else 0
                picks = rng.sample(window, k + waiting)
                head = f"{person_id}\t"
                sheet = self.sheet_of[person_id, monday]
                for position, contract in enumerate(picks):
                    project_id, task_id, currency = self.project_cells[contract]
                    status, approved_at = ("approved", approved) if position < k else ("submitted", "\\N")
                    yield (
                        f"{head}{project_id}\t{task_id}\t{sheet}\t{role_id}\t{iso}\t{rng.choice(HOURS)}\tt\t\t"
                        f"{status}\t{currency}\t{rates[contract, role_id][raised]}\t{costs[role_id]}\t"
                        f"contract_card\t{stamp}\t{stamp}\t{approved_at}\t\\N\t\t{stamp}\t{stamp}\t\\N\t\\N\t\\N\n"
                    )
                counts["approved_billable"] += k
                counts["other"] += waiting
                if self.other_portfolio[p] and (day_index + p) % 2 == 0:
                    project_id, task_id, currency = self.project_cells[rng.choice(self.other_portfolio[p])]
                    counts["other"] += 1
                    yield (
                        f"{head}{project_id}\t{task_id}\t{sheet}\t{role_id}\t{iso}\t{rng.choice(HOURS)}\tf\t\t"
                        f"approved\t{currency}\t0\t{costs[role_id]}\tnone\t{stamp}\t{stamp}\t{approved}\t\\N\t\t"
                        f"{stamp}\t{stamp}\t\\N\t\\N\t\\N\n"
                    )

    def expenses(self) -> None:
        from projects.choices import DEFAULT_MARKUP_PERCENT, ExpenseCategory

        columns = (
            "person_id, project_id, date, category, amount, currency, billable, markup_percent, notes, "
            "receipt, receipt_name, receipt_content_type, receipt_size, project_currency, exchange_rate, "
            "converted_amount, status, submitted_at, approved_at, rejected_at, rejection_reason, created_at, "
            "updated_at, approved_by_id, created_by_id, rejected_by_id"
        )
        categories = list(ExpenseCategory)
        billable = self.scale["expenses"]
        rng = self.rng

        def rows():
            # Approved billable expenses, and one in twenty more that is not billable.
            for index in range(billable + billable // 20):
                project_id, _, currency = self.project_cells[rng.randrange(len(self.project_cells))]
                person_id = self.people[rng.randrange(len(self.people))][0]
                day = rng.choice(self.days).isoformat()
                category = categories[index % len(categories)]
                amount = Decimal(rng.randint(2_000, 80_000)) / 100
                stamp = f"{day} 19:00:00+00"
                yield (
                    f"{person_id}\t{project_id}\t{day}\t{category.value}\t{amount}\t{currency}\t"
                    f"{'t' if index < billable else 'f'}\t{DEFAULT_MARKUP_PERCENT[category]}\t\t\t\t\t\\N\t"
                    f"{currency}\t1\t{amount}\tapproved\t{stamp}\t{stamp}\t\\N\t\t{stamp}\t{stamp}\t\\N\t\\N\t\\N\n"
                )

        self.copy("projects_expense", columns, rows())
        self.firm.expenses = billable

    def analyze(self) -> None:
        with self.connection.cursor() as cursor:
            # Twelve months of autovacuum would have done this on a live database.
            for table in ("projects_timeentry", "projects_expense"):
                cursor.execute(f"VACUUM ANALYZE {table}")
            cursor.execute("ANALYZE")


def main(argv=None) -> int:
    from bench.harness import recreate_database, run_isolated

    parser = argparse.ArgumentParser(prog="python -m bench.generate", description=__doc__)
    parser.add_argument(
        "--n", type=int, default=FULL_N, help="approved billable time entries (default 1,000,000)"
    )
    parser.add_argument(
        "--database", default=None, help="the database to (re)create (default ledgerline_bench)"
    )
    args = parser.parse_args(argv)
    source = os.environ.get("DATABASE_URL", "")
    if not source:
        print("Set DATABASE_URL=postgres://user@host:5432/db", file=sys.stderr)
        return 2
    url = recreate_database(source, name=args.database) if args.database else recreate_database(source)
    firm = run_isolated(build_firm, database_url=url, n=args.n)
    for name, value in firm.items():
        print(f"{name}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
