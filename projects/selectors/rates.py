"""Rate resolution: which bill rate and cost rate an hour of a person on a project gets on a day.

Bill rate, most specific source first:
1. the person's own rate on the project (`ProjectRateOverride`),
2. a rate card of the project's contract,
3. a rate card of the project's client (an account card without a contract),
4. a standard rate card (neither account nor contract),
each in the project's currency, for the entry's role, valid on the day. Within one source the most
recently created card holding a valid rate wins. The role is the person's assignment role on the project
that day, else their primary role. The cost rate is the person's cost rate valid that day, converted to
the project's currency at that day's exchange rate.

`RateBook` loads what a batch of entries needs in a handful of queries and resolves in memory, so one
entry and five hundred are priced by the same code.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Q

from ledger.selectors import exchange_rate
from projects.choices import RateSource
from projects.models import Assignment, CostRate, Person, Project, ProjectRateOverride, RateCardRate

RATE_PLACES = Decimal("0.0001")
ZERO = Decimal(0)


def _valid(row, day: date) -> bool:
    return row["valid_from"] <= day and (row["valid_to"] is None or day <= row["valid_to"])


@dataclass(frozen=True)
class Pricing:
    """The rates an entry snapshots: bill and cost rate per hour in the project's currency."""

    role_id: int
    bill_rate: Decimal
    rate_source: str
    cost_rate: Decimal


class RateBook:
    """The overrides, card rates, cost rates and assignments of some people on some projects, in memory."""

    def __init__(self, projects: Iterable[Project], person_ids: Iterable[int]):
        self.projects = {project.pk: project for project in projects}
        person_ids = set(person_ids)
        project_ids = set(self.projects)
        self.primary_role = dict(Person.objects.filter(pk__in=person_ids).values_list("pk", "role_id"))
        self.assignments: dict[tuple[int, int], list[dict]] = defaultdict(list)
        for row in Assignment.objects.filter(person_id__in=person_ids, project_id__in=project_ids).values(
            "person_id", "project_id", "role_id", "start", "end", "id"
        ):
            self.assignments[(row["person_id"], row["project_id"])].append(row)
        self.overrides: dict[tuple[int, int], list[dict]] = defaultdict(list)
        for row in ProjectRateOverride.objects.filter(
            person_id__in=person_ids, project_id__in=project_ids
        ).values("person_id", "project_id", "rate", "valid_from", "valid_to"):
            self.overrides[(row["project_id"], row["person_id"])].append(row)
        self.card_rates: dict[tuple, list[dict]] = defaultdict(list)
        contract_ids = {p.contract_id for p in self.projects.values() if p.contract_id}
        account_ids = {p.account_id for p in self.projects.values()}
        currencies = {p.currency for p in self.projects.values()}
        if self.projects:
            scope = (
                Q(rate_card__contract_id__in=contract_ids)
                | Q(rate_card__account_id__in=account_ids, rate_card__contract__isnull=True)
                | Q(rate_card__account__isnull=True, rate_card__contract__isnull=True)
            )
            rows = (
                RateCardRate.objects.filter(scope, rate_card__active=True, rate_card__currency__in=currencies)
                .order_by("-rate_card_id", "valid_from")
                .values(
                    "rate_card_id",
                    "rate_card__contract_id",
                    "rate_card__account_id",
                    "rate_card__currency",
                    "role_id",
                    "rate",
                    "valid_from",
                    "valid_to",
                )
            )
            for row in rows:
                if row["rate_card__contract_id"]:
                    key = ("contract", row["rate_card__contract_id"])
                elif row["rate_card__account_id"]:
                    key = ("client", row["rate_card__account_id"])
                else:
                    key = ("standard", None)
                self.card_rates[(*key, row["rate_card__currency"], row["role_id"])].append(row)
        self.cost_rates: dict[int, list[dict]] = defaultdict(list)
        for row in CostRate.objects.filter(person_id__in=person_ids).values(
            "person_id", "rate", "currency", "valid_from", "valid_to"
        ):
            self.cost_rates[row["person_id"]].append(row)
        self._fx: dict[tuple[str, str, date], Decimal] = {}

    def assignment_on(self, person_id: int, project_id: int, day: date) -> dict | None:
        for row in self.assignments.get((person_id, project_id), ()):
            if row["start"] <= day <= row["end"]:
                return row
        return None

    def role_for(self, person_id: int, project_id: int, day: date) -> int:
        assignment = self.assignment_on(person_id, project_id, day)
        return assignment["role_id"] if assignment else self.primary_role[person_id]

    def bill_rate(self, person_id: int, project: Project, role_id: int, day: date) -> tuple[Decimal, str]:
        for row in self.overrides.get((project.pk, person_id), ()):
            if _valid(row, day):
                return row["rate"], RateSource.PROJECT_OVERRIDE
        sources = [
            (("contract", project.contract_id), RateSource.CONTRACT_CARD),
            (("client", project.account_id), RateSource.CLIENT_CARD),
            (("standard", None), RateSource.STANDARD_CARD),
        ]
        for key, source in sources:
            if key[0] == "contract" and not project.contract_id:
                continue
            for row in self.card_rates.get((*key, project.currency, role_id), ()):
                if _valid(row, day):
                    return row["rate"], source
        return ZERO, RateSource.NONE

    def cost_rate(self, person_id: int, project: Project, day: date) -> Decimal:
        for row in self.cost_rates.get(person_id, ()):
            if _valid(row, day):
                if row["currency"] == project.currency:
                    return row["rate"]
                key = (row["currency"], project.currency, day)
                if key not in self._fx:
                    self._fx[key] = exchange_rate(row["currency"], project.currency, day)
                return (row["rate"] * self._fx[key]).quantize(RATE_PLACES, rounding=ROUND_HALF_UP)
        return ZERO

    def price(self, person_id: int, project: Project, day: date) -> Pricing:
        role_id = self.role_for(person_id, project.pk, day)
        rate, source = self.bill_rate(person_id, project, role_id, day)
        return Pricing(
            role_id=role_id,
            bill_rate=rate,
            rate_source=source,
            cost_rate=self.cost_rate(person_id, project, day),
        )


def resolve_rates(*, person: Person, project: Project, on: date) -> Pricing:
    """The rates an hour of `person` on `project` on day `on` gets if saved now."""
    return RateBook([project], [person.pk]).price(person.pk, project, on)
