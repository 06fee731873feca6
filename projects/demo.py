"""Demo firm, delivery part: ~40 people in six roles with skills and cost rates, rate cards, staffing of the
projects the CRM handoff created plus a few of our own (an internal one per legal entity), and six months of
time and expenses: most weeks approved, last week partly submitted, this week in draft, a few rejected.

The history is checked and priced by the same code as any entry (`prepare_time_entries`) and written with
`bulk_create`; the rest goes through the services. Everything is keyed by natural keys, so a second run
adds nothing.
"""

from collections import defaultdict
from datetime import date, timedelta
from decimal import ROUND_FLOOR, Decimal

from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from core import audit
from core.roles import Role as UserRole
from core.services.roles import create_user
from crm.models import Account
from ledger.models import LegalEntity
from projects.choices import EntryStatus, ProjectStatus, ResourceRequestStatus
from projects.demo_capacity import assign_practices, declare_holidays, record_leave
from projects.models import (
    Assignment,
    Person,
    Practice,
    Project,
    RateCard,
    ResourceRequest,
    Role,
    Task,
    TimeEntry,
)
from projects.services.expenses import approve_expense, create_expense, reject_expense, submit_expense
from projects.services.people import (
    create_assignment,
    create_person,
    create_resource_request,
    fill_resource_request,
)
from projects.services.projects import (
    accept_milestone,
    complete_milestone,
    create_milestone,
    create_project,
    set_project_status,
    update_project,
)
from projects.services.rates import create_rate_card, set_cost_rate, set_project_rate
from projects.services.time import TimeInput, _lock_timesheets, prepare_time_entries, refresh_timesheets
from projects.weeks import week_start, working_days

D = Decimal
QUARTER = D("0.25")
HISTORY_DAYS = 182
MARKER_CODE = "INT-US"

# Role, standard USD rate before and after the yearly rise, cost rate (USD).
ROLES = [
    ("Project manager", 160, 170, 95),
    ("Senior consultant", 175, 185, 90),
    ("Consultant", 140, 145, 70),
    ("Analyst", 105, 110, 50),
    ("Architect", 200, 215, 110),
    ("Developer", 125, 135, 65),
]
CURRENCY_FACTOR = {"USD": D("1"), "EUR": D("0.92"), "GBP": D("0.79")}
SKILLS = [
    "Python",
    "Django",
    "SQL",
    "Data engineering",
    "Power BI",
    "SAP FI",
    "Salesforce",
    "AWS",
    "Azure",
    "Kubernetes",
    "React",
    "Security",
    "Change management",
    "UX research",
]

# One person a line: username | name | primary role | their legal entity's currency | location | the role of
# the user created for them (c: consultant, pm: project manager; -: an existing demo user is linked) | skills.
PEOPLE_TABLE = """
pm | Priya Mendes | Project manager | USD | San Francisco | - | Change management 4, SAP FI 3
jordan | Jordan Blake | Project manager | USD | Chicago | - | Salesforce 3, Change management 3
sofia | Sofia Reyes | Project manager | EUR | Berlin | - | Change management 4, Power BI 2
rm | Rafael Moreau | Senior consultant | USD | San Francisco | - | Change management 3, SQL 3
consultant | Chloe Novak | Consultant | USD | Chicago | - | Python 4, Django 4, SQL 3
marcus.webb | Marcus Webb | Project manager | USD | New York | pm | Change management 3, AWS 2
daniel.okafor | Daniel Okafor | Architect | USD | New York | c | AWS 5, Kubernetes 4, Python 4
hannah.cole | Hannah Cole | Senior consultant | USD | Chicago | c | SAP FI 5, SQL 3
liam.ortiz | Liam Ortiz | Senior consultant | USD | Austin | c | Salesforce 5, Change management 3
emma.strand | Emma Strand | Consultant | USD | Austin | c | Power BI 4, SQL 4
noah.kim | Noah Kim | Consultant | USD | Seattle | c | Python 3, Data engineering 4, AWS 3
ava.russo | Ava Russo | Consultant | USD | Boston | c | Salesforce 3, UX research 3
ethan.brooks | Ethan Brooks | Analyst | USD | Chicago | c | SQL 3, Power BI 3
mia.lopez | Mia Lopez | Analyst | USD | Denver | c | SQL 2, Python 2
lucas.meyer | Lucas Meyer | Analyst | USD | Seattle | c | Data engineering 2, SQL 3
zoe.tran | Zoe Tran | Analyst | USD | Boston | c | UX research 3, Power BI 2
oliver.grant | Oliver Grant | Developer | USD | Austin | c | Django 4, React 4, Python 4
isla.park | Isla Park | Developer | USD | Seattle | c | React 5, UX research 2
james.wu | James Wu | Developer | USD | Denver | c | Python 3, Kubernetes 3, AWS 3
grace.hill | Grace Hill | Developer | USD | New York | c | Salesforce 4, SQL 2
henry.ford | Henry Ford | Architect | USD | Chicago | c | Azure 5, Security 4, Kubernetes 3
amelia.shaw | Amelia Shaw | Senior consultant | USD | San Francisco | c | Data engineering 5, AWS 4
jack.reid | Jack Reid | Consultant | USD | New York | c | SAP FI 3, SQL 2
lily.evans | Lily Evans | Analyst | USD | Austin | c | Power BI 3, Change management 2
sam.taylor | Sam Taylor | Developer | USD | Remote | c | Python 2, React 3
nora.bishop | Nora Bishop | Consultant | USD | Remote | c | Security 3, Azure 3
leo.martin | Leo Martin | Analyst | USD | Remote | c | SQL 2
ruby.chen | Ruby Chen | Senior consultant | USD | Seattle | c | Security 5, Azure 4
felix.wagner | Felix Wagner | Senior consultant | EUR | Berlin | c | SAP FI 5, Change management 4
anna.berg | Anna Berg | Consultant | EUR | Munich | c | Power BI 4, SQL 4
jonas.keller | Jonas Keller | Developer | EUR | Berlin | c | Python 4, Django 3, Kubernetes 3
clara.fischer | Clara Fischer | Analyst | EUR | Hamburg | c | SQL 3, Data engineering 2
mateo.rossi | Mateo Rossi | Architect | EUR | Milan | c | Azure 4, Security 3, AWS 3
ines.duarte | Ines Duarte | Consultant | EUR | Lisbon | c | Salesforce 4, UX research 3
paul.lefevre | Paul Lefevre | Senior consultant | EUR | Paris | c | Data engineering 4, Python 3
elena.novak | Elena Novak | Analyst | EUR | Vienna | c | Power BI 3
tom.jansen | Tom Jansen | Developer | EUR | Amsterdam | c | React 4, Python 3
sara.lind | Sara Lind | Consultant | EUR | Stockholm | c | Change management 4, SAP FI 2
max.huber | Max Huber | Project manager | EUR | Vienna | pm | Change management 3, SAP FI 3
olga.petrov | Olga Petrov | Developer | EUR | Berlin | c | Kubernetes 4, AWS 3
"""


USER_ROLES = {"-": None, "c": [UserRole.CONSULTANT], "pm": [UserRole.PROJECT_MANAGER]}


def _people_rows() -> list[tuple]:
    rows = []
    for line in PEOPLE_TABLE.strip().splitlines():
        username, name, role, currency, location, user_role, skills = (p.strip() for p in line.split("|"))
        levels = {skill.rsplit(" ", 1)[0]: int(skill.rsplit(" ", 1)[1]) for skill in skills.split(", ")}
        rows.append((username, name, role, currency, location, levels, USER_ROLES[user_role]))
    return rows


PEOPLE = _people_rows()

STANDARD_TASKS = [
    {"name": "Discovery", "children": [{"name": "Workshops"}, {"name": "Current-state analysis"}]},
    {"name": "Design", "children": [{"name": "Solution design"}, {"name": "Data model"}]},
    {"name": "Build", "children": [{"name": "Configuration"}, {"name": "Integration"}, {"name": "Testing"}]},
    {"name": "Project management"},
    {"name": "Travel", "billable": False},
]
# Our own projects: code, client, name, currency (None: the client's), start/end in days from today,
# manager username, weekly hours per role on it.
OWN_PROJECTS = [
    (
        "NWH-PLAT",
        "Northwind Health",
        "Clinical data platform",
        "USD",
        -205,
        95,
        "pm",
        {"Architect": 16, "Senior consultant": 24, "Developer": 32, "Analyst": 20},
    ),
    (
        "CON-ERP",
        "Contoso Retail Group",
        "Store systems ERP rollout",
        "USD",
        -190,
        60,
        "marcus.webb",
        {"Senior consultant": 32, "Consultant": 40, "Analyst": 24},
    ),
    (
        "GLX-MES",
        "Globex Manufacturing",
        "Shop-floor analytics",
        "EUR",
        -150,
        120,
        "pm",
        {"Consultant": 32, "Developer": 24, "Analyst": 16},
    ),
    (
        "INI-CRM",
        "Initech Software GmbH",
        "CRM consolidation",
        "EUR",
        -170,
        80,
        "sofia",
        {"Senior consultant": 24, "Consultant": 32, "Developer": 24},
    ),
    (
        "UMB-VAL",
        "Umbrella Pharma Ltd",
        "Validation programme (fixed fee)",
        "GBP",
        -120,
        150,
        "max.huber",
        {"Architect": 12, "Analyst": 24},
    ),
]
REJECTION_REASONS = [
    "Monday was the client's holiday; please check these hours.",
    "Workshop moved to Thursday; please book it there.",
    "This belongs on the internal project, not the client.",
    "Client capped testing at 6 hours a day; please split.",
    "Wrong task: use Integration, not Configuration.",
]
EXPENSES = [
    ("travel", 180, 640),
    ("lodging", 140, 420),
    ("meals", 18, 95),
    ("software", 29, 480),
    ("subcontractor", 900, 4200),
    ("other", 15, 120),
]
MINIMAL_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj "
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 100]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)


def _quarters(hours: Decimal) -> Decimal:
    """Hours rounded down to a quarter of an hour."""
    return (hours / QUARTER).to_integral_value(rounding=ROUND_FLOOR) * QUARTER


def load(ctx) -> None:
    if Project.objects.filter(code=MARKER_CODE).exists():
        ctx.stdout.write("  delivery data already loaded")
        if not Practice.objects.exists():
            with transaction.atomic():
                _capacity_top_up(ctx)
        return
    with transaction.atomic():
        _Demo(ctx).run()


def _capacity_top_up(ctx) -> None:
    """Practices, holidays and planned time off for a demo loaded before they existed."""
    people = {person.name: person for person in Person.objects.all()}
    declare_holidays(ctx.today - timedelta(days=HISTORY_DAYS), ctx.today + timedelta(days=366))
    assign_practices({people[row[1]].pk: row[5] for row in PEOPLE if row[1] in people})
    record_leave([people[row[1]] for row in PEOPLE if row[1] in people], {}, ctx.today, ctx.rng)


class _Demo:
    def __init__(self, ctx):
        self.ctx = ctx
        self.rng = ctx.rng
        self.today = ctx.today
        self.history_start = self.today - timedelta(days=HISTORY_DAYS)
        self.users = {u.username: u for u in get_user_model().objects.all()}
        self.admin = self.users.get("admin")
        self.rm_user = self.users.get("rm")
        self.finance = self.users.get("finance")
        self.flagged: set[int] = set()

    def run(self):
        self.entities = {e.functional_currency: e for e in LegalEntity.objects.all()}
        if "USD" not in self.entities or "EUR" not in self.entities:
            self.ctx.stdout.write("  skipped: the ledger demo's legal entities are missing")
            return
        self.roles = {name: Role.objects.get_or_create(name=name)[0] for name, *_ in ROLES}
        self._rate_cards()
        self.people = self._people()
        # Holidays first: nobody books time on one.
        self.holidays = declare_holidays(self.history_start, self.today + timedelta(days=366))
        self.off_weeks: dict[int, date] = {}
        self.projects = self._projects()
        self._manage_handoff_projects()
        self._staff()
        assign_practices({self.people[row[0]].pk: row[5] for row in PEOPLE if row[0] in self.people})
        count = self._time()
        record_leave(list(self.people.values()), self.off_weeks, self.today, self.rng)
        self._expenses()
        self._requests_and_milestones()
        self._close_finished()
        self.ctx.stdout.write(
            f"  {len(self.people)} people, "
            f"{Project.objects.filter(status=ProjectStatus.ACTIVE).count()} active "
            f"projects, {Assignment.objects.count()} assignments, {count} time entries"
        )

    # Master data

    def _rate_cards(self):
        rise = self.today - timedelta(days=120)
        start = self.today - timedelta(days=730)
        for currency, factor in CURRENCY_FACTOR.items():
            name = f"Standard {currency}"
            if RateCard.objects.filter(name=name).exists():
                continue
            rates = []
            for role, old, new, _cost in ROLES:
                rates.append(
                    {
                        "role": self.roles[role],
                        "rate": (old * factor).quantize(D("1")),
                        "valid_from": start,
                        "valid_to": rise - timedelta(days=1),
                    }
                )
                rates.append(
                    {"role": self.roles[role], "rate": (new * factor).quantize(D("1")), "valid_from": rise}
                )
            create_rate_card(actor=None, name=name, currency=currency, rates=rates)
        northwind = Account.objects.filter(name="Northwind Health").first()
        if northwind and not RateCard.objects.filter(account=northwind, contract__isnull=True).exists():
            create_rate_card(
                actor=None,
                name="Northwind Health negotiated rates",
                currency="USD",
                account=northwind,
                rates=[
                    {"role": self.roles[role], "rate": D(new) * D("0.9"), "valid_from": start}
                    for role, _old, new, _cost in ROLES
                ],
            )

    def _user(self, username, name, roles):
        user = self.users.get(username)
        if user is None and roles is not None:
            first, _, last = name.partition(" ")
            user = create_user(
                actor=None,
                username=username,
                password=None,
                roles=list(roles),
                email=f"{username}@demo.ledgerline.invalid",
                first_name=first,
                last_name=last,
                validate=False,
            )
            self.users[username] = user
        return user

    def _people(self) -> dict[str, Person]:
        people = {}
        by_role_cost = {name: cost for name, _o, _n, cost in ROLES}
        managers = {}
        for username, name, role, currency, location, skills, roles in PEOPLE:
            user = self._user(username, name, roles)
            person = Person.objects.filter(name=name).first()
            if person is None:
                person = create_person(
                    actor=None,
                    name=name,
                    role=self.roles[role],
                    legal_entity=self.entities[currency],
                    user=user if user is not None and not Person.objects.filter(user=user).exists() else None,
                    email=f"{username}@demo.ledgerline.invalid",
                    capacity_hours_per_week=D(32) if username in ("lily.evans", "sam.taylor") else D(40),
                    location=location,
                    skills=list(skills.items()),
                )
                cost = D(by_role_cost[role]) * CURRENCY_FACTOR[currency] * D(self.rng.randint(92, 108)) / 100
                set_cost_rate(
                    actor=None,
                    person=person,
                    rate=cost.quantize(D("1")),
                    currency=currency,
                    valid_from=self.today - timedelta(days=730),
                )
            people[username] = person
            if role == "Project manager":
                managers.setdefault(currency, []).append(person)
        for username, person in people.items():
            if person.manager_id is None and username not in ("pm", "sofia"):
                line = people["sofia"] if person.legal_entity.functional_currency == "EUR" else people["pm"]
                if line.pk != person.pk:
                    Person.objects.filter(pk=person.pk).update(manager=line)
        return people

    # Projects

    def _projects(self) -> list[Project]:
        created = []
        for currency, code in (("USD", "INT-US"), ("EUR", "INT-EU")):
            entity = self.entities[currency]
            client = Account.objects.filter(legal_entity=entity).order_by("name").first()
            if client is None:
                continue
            created.append(
                create_project(
                    actor=None,
                    account=client,
                    legal_entity=entity,
                    code=code,
                    name=f"Internal time ({entity.name})",
                    currency=currency,
                    start=self.today - timedelta(days=400),
                    end=self.today + timedelta(days=365),
                    manager=self.people["rm" if currency == "USD" else "sofia"],
                    allow_any_person=True,
                    tasks=[
                        {"name": "Training", "billable": False},
                        {"name": "Pre-sales", "billable": False},
                        {"name": "Internal meetings", "billable": False},
                    ],
                    description="Non-billable time: training, pre-sales, internal meetings.",
                )
            )
        self.internal = {p.currency: p for p in created}
        self.plans: dict[int, dict] = {}
        for code, client_name, name, currency, start, end, manager, plan in OWN_PROJECTS:
            client = Account.objects.filter(name=client_name).first()
            if client is None or Project.objects.filter(code=code).exists():
                continue
            entity = client.legal_entity
            weeks = D(working_days(self.today + timedelta(days=start), self.today + timedelta(days=end))) / 5
            hours = sum(plan.values()) * weeks
            rate = D(150) * CURRENCY_FACTOR.get(currency, D(1))
            project = create_project(
                actor=None,
                account=client,
                legal_entity=entity,
                code=code,
                name=name,
                currency=currency,
                start=self.today + timedelta(days=start),
                end=self.today + timedelta(days=end),
                manager=self.people[manager],
                budget_hours=hours.quantize(D("1")),
                budget_amount=(hours * rate * D(self.rng.randint(85, 115)) / 100).quantize(D("1")),
                target_margin_percent=D(35),
                tasks=STANDARD_TASKS,
            )
            self.plans[project.pk] = plan
            created.append(project)
        return created

    def _manage_handoff_projects(self):
        """Projects the CRM handoff made before our people existed: the deal's owner manages them."""
        for project in Project.objects.filter(manager__isnull=True, contract__isnull=False).select_related(
            "contract__opportunity__owner"
        ):
            owner = project.contract.opportunity.owner if project.contract.opportunity else None
            person = Person.objects.filter(user=owner).first() if owner else None
            if person is not None:
                update_project(actor=None, project=project, manager=person)
            if project.budget_hours is None:
                continue

    # Staffing

    def _candidates(self, role: str, currency: str) -> list[Person]:
        entity = self.entities["EUR" if currency in ("EUR", "GBP") else "USD"]
        return [
            p
            for p in self.people.values()
            if p.role.name == role and p.legal_entity_id == entity.pk and p.user and not self._is_manager(p)
        ]

    def _is_manager(self, person: Person) -> bool:
        return person.role.name == "Project manager"

    def _staff(self):
        load: dict[int, D] = defaultdict(D)
        horizon = self.today + timedelta(days=84)
        # Our projects: the plan's weekly hours per role, over the project's life.
        for project in self.projects:
            plan = self.plans.get(project.pk)
            if not plan:
                continue
            weeks = D(working_days(project.start, project.end)) / 5
            for role, weekly in plan.items():
                pool = sorted(self._candidates(role, project.currency), key=lambda p: (load[p.pk], p.name))
                if project.code == "CON-ERP" and role == "Consultant" and "consultant" in self.people:
                    pool.insert(0, self.people["consultant"])
                if not pool:
                    continue
                person = pool[0]
                load[person.pk] += weekly
                create_assignment(
                    actor=None,
                    person=person,
                    project=project,
                    role=self.roles[role],
                    start=project.start,
                    end=project.end,
                    hours=(weekly * weeks).quantize(D("1")),
                )
            if project.manager_id:
                create_assignment(
                    actor=None,
                    person=project.manager,
                    project=project,
                    role=self.roles["Project manager"],
                    start=project.start,
                    end=project.end,
                    hours=(8 * weeks).quantize(D("1")),
                )
        override = Project.objects.filter(code="NWH-PLAT").first()
        architect = self.people.get("daniel.okafor")
        if override and architect and Assignment.objects.filter(project=override, person=architect).exists():
            set_project_rate(
                actor=None, project=override, person=architect, rate=D("195"), valid_from=override.start
            )
        # The handoff's projects: fill the requests that have started, leave the later ones open.
        requests = (
            ResourceRequest.objects.filter(
                status=ResourceRequestStatus.OPEN,
                start__lte=self.today + timedelta(days=7),
                end__gte=self.history_start,
            )
            .select_related("project", "role")
            .order_by("start", "id")
        )
        for request in requests:
            if request.project.status != ProjectStatus.ACTIVE or request.start > horizon:
                continue
            pool = sorted(
                self._candidates(request.role.name, request.project.currency),
                key=lambda p: (load[p.pk], p.name),
            )
            if not pool:
                continue
            person = pool[0]
            weeks = max(D(working_days(request.start, request.end)) / 5, D(1))
            load[person.pk] += request.hours / weeks
            fill_resource_request(actor=self.rm_user, request=request, person=person)
        self._top_up(load)

    def _top_up(self, load):
        """Staff everyone but a few (the bench) to a realistic 75–90% on the running client projects."""
        bench = {"henry.ford", "isla.park", "lucas.meyer", "tom.jansen"}
        window_end = self.today + timedelta(days=120)
        running = {
            currency: [
                p
                for p in Project.objects.filter(
                    status=ProjectStatus.ACTIVE,
                    allow_any_person=False,
                    legal_entity=entity,
                    end__gte=self.today + timedelta(days=28),
                    start__lte=self.today,
                ).order_by("code")
            ]
            for currency, entity in self.entities.items()
        }
        turn = 0
        for username, person in sorted(self.people.items()):
            if username in bench or self._is_manager(person) or not person.user_id:
                continue
            projects = running.get(person.legal_entity.functional_currency) or []
            target = person.capacity_hours_per_week * D(self.rng.randint(75, 90)) / 100
            tries = 0
            while load[person.pk] < target - 4 and projects and tries < 3:
                project = projects[turn % len(projects)]
                turn += 1
                tries += 1
                if Assignment.objects.filter(person=person, project=project).exists():
                    continue
                weekly = min(target - load[person.pk], D(self.rng.choice((16, 24, 32))))
                start = max(project.start, self.history_start)
                end = min(project.end, window_end)
                weeks = max(D(working_days(start, end)) / 5, D(1))
                create_assignment(
                    actor=None,
                    person=person,
                    project=project,
                    start=start,
                    end=end,
                    hours=(weekly * weeks).quantize(D("1")),
                )
                load[person.pk] += weekly
        for project in Project.objects.filter(
            status=ProjectStatus.ACTIVE, manager__isnull=False, allow_any_person=False
        ).select_related("manager"):
            if (
                project.end < self.history_start
                or Assignment.objects.filter(person=project.manager, project=project).exists()
            ):
                continue
            start, end = max(project.start, self.history_start), project.end
            weeks = max(D(working_days(start, end)) / 5, D(1))
            create_assignment(
                actor=None,
                person=project.manager,
                project=project,
                role=self.roles["Project manager"],
                start=start,
                end=end,
                hours=(6 * weeks).quantize(D("1")),
            )

    # Time

    def _leaf_tasks(self, project: Project) -> list[Task]:
        tasks = list(project.tasks.filter(active=True))
        parents = {t.parent_id for t in tasks}
        return [t for t in tasks if t.pk not in parents]

    def _time(self) -> int:
        assignments = defaultdict(list)
        for a in Assignment.objects.select_related("project", "person").filter(end__gte=self.history_start):
            if a.project.status == ProjectStatus.ACTIVE:
                assignments[a.person_id].append(a)
        leaves = {}
        rows: dict[tuple, TimeInput] = {}
        this_monday = week_start(self.today)
        for person in self.people.values():
            internal = self.internal.get(person.legal_entity.functional_currency)
            day_capacity = person.capacity_hours_per_week / 5
            weekly_task: dict[tuple[int, date], Task] = {}
            off_week = week_start(self.history_start + timedelta(days=self.rng.randint(20, 150)))
            self.off_weeks[person.pk] = off_week
            holidays = self.holidays.get(person.legal_entity_id, set())
            day = self.history_start
            while day <= self.today:
                monday = week_start(day)
                if day.weekday() >= 5 or monday == off_week or day in holidays or self.rng.random() < 0.03:
                    day += timedelta(days=1)
                    continue
                active = [
                    a
                    for a in assignments[person.pk]
                    if a.start <= day <= a.end and a.project.start <= day <= a.project.end
                ]
                shares = []
                for a in active:
                    weeks = max(D(working_days(a.start, a.end)) / 5, D(1))
                    shares.append((a, a.hours / weeks / 5))
                booked = sum((s for _, s in shares), D(0))
                scale = min(D(1), day_capacity / booked) if booked else D(1)
                used = D(0)
                for a, share in shares:
                    hours = _quarters(share * scale)
                    if hours <= 0:
                        continue
                    if a.project.pk not in leaves:
                        leaves[a.project.pk] = self._leaf_tasks(a.project)
                    key = (a.project.pk, monday)
                    if key not in weekly_task:
                        weekly_task[key] = self._task_for(leaves[a.project.pk], a.role_id)
                    task = weekly_task[key]
                    self._add(rows, person, a.project, task, day, hours)
                    used += hours
                rest = _quarters(day_capacity - used)
                if internal is not None and rest >= 1 and self.rng.random() < 0.85:
                    if internal.pk not in leaves:
                        leaves[internal.pk] = self._leaf_tasks(internal)
                    self._add(rows, person, internal, self.rng.choice(leaves[internal.pk]), day, rest)
                day += timedelta(days=1)
        self._anomalies(rows, this_monday - timedelta(days=7))
        if not rows:
            return 0
        inputs = list(rows.values())
        sheets = _lock_timesheets({(row.person.pk, week_start(row.date)) for row in inputs})
        entries = prepare_time_entries(actor=None, rows=inputs, timesheets=sheets, today=self.today)
        TimeEntry.objects.bulk_create(entries, batch_size=1000)
        self._statuses(this_monday)
        refresh_timesheets({s.pk for s in sheets.values()})
        for project_id in {e.project_id for e in entries}:
            audit.record(
                actor=None,
                action="time_entry.imported",
                obj=Project.objects.get(pk=project_id),
                changes={"entries": sum(1 for e in entries if e.project_id == project_id), "source": "demo"},
            )
        return len(entries)

    def _task_for(self, leaves: list[Task], role_id: int) -> Task:
        """Project managers book project management; the others the delivery tasks of the week."""
        managing = role_id == self.roles["Project manager"].pk
        named = [t for t in leaves if t.name == "Project management"]
        if managing and named:
            return named[0]
        delivery = [t for t in leaves if t.billable and t.name != "Project management"]
        return self.rng.choice(delivery or leaves)

    def _add(self, rows, person, project, task, day, hours):
        key = (person.pk, task.pk, day, task.billable)
        if key in rows:
            rows[key].hours = min(rows[key].hours + hours, D(12))
        else:
            rows[key] = TimeInput(person=person, project=project, task=task, date=day, hours=hours)

    def _anomalies(self, rows, last_monday):
        """Last week: a long day and a Saturday for the managers' inboxes to flag."""
        picks = [
            r
            for r in rows.values()
            if r.date >= last_monday
            and r.date.weekday() == 1
            and r.project.manager_id
            and r.project.manager_id != r.person.pk
            and r.task.billable
            and r.project.manager.user
            and r.project.manager.user.username == "pm"
        ]
        if picks:
            long_day = picks[0]
            self.flagged.add(long_day.person.pk)
            day_total = sum(
                (
                    r.hours
                    for r in rows.values()
                    if r.person.pk == long_day.person.pk and r.date == long_day.date
                ),
                D(0),
            )
            long_day.hours += D(13) - day_total
            long_day.notes = "Go-live cut-over"
            saturday = long_day.date + timedelta(days=4)
            if saturday <= self.today:
                rows[(long_day.person.pk, long_day.task.pk, saturday, True)] = TimeInput(
                    person=long_day.person,
                    project=long_day.project,
                    task=long_day.task,
                    date=saturday,
                    hours=D(3),
                    notes="Weekend data load",
                )

    def _approver(self, entry_person_user_id, project) -> object:
        manager_user = project.manager.user if project.manager_id and project.manager.user_id else None
        if manager_user is None or manager_user.pk == entry_person_user_id:
            return self.admin
        return manager_user

    def _statuses(self, this_monday):
        last_monday = this_monday - timedelta(days=7)
        now = timezone.now()
        entries = list(TimeEntry.objects.select_related("project__manager__user", "person", "task"))
        draft_people = set()
        submitted_people = set()
        for person in self.people.values():
            roll = self.rng.random()
            if person.pk in self.flagged or (person.user_id and person.user.username == "consultant"):
                submitted_people.add(person.pk)
            elif roll < 0.15:
                draft_people.add(person.pk)
            elif roll < 0.75:
                submitted_people.add(person.pk)
        approved: dict[int, list[int]] = defaultdict(list)
        submitted, rejected = [], {}
        old = [e for e in entries if week_start(e.date) < last_monday - timedelta(days=7) and e.task.billable]
        chloe_last = [
            e
            for e in entries
            if e.person.user_id
            and e.person.user.username == "consultant"
            and week_start(e.date) == last_monday
            and e.task.billable
        ]
        for index, entry in enumerate(chloe_last[:1] + self.rng.sample(old, min(3, len(old)))):
            rejected[entry.pk] = REJECTION_REASONS[index % len(REJECTION_REASONS)]
        for entry in entries:
            monday = week_start(entry.date)
            if entry.pk in rejected or monday >= this_monday:
                continue
            if monday == last_monday and entry.person_id in draft_people:
                continue
            if monday == last_monday and entry.person_id in submitted_people:
                submitted.append(entry.pk)
                continue
            approver = self._approver(entry.person.user_id, entry.project)
            approved[approver.pk if approver else 0].append(entry.pk)
        submitted_at = now - timedelta(days=max(self.today.weekday(), 1))
        TimeEntry.objects.filter(pk__in=submitted).update(
            status=EntryStatus.SUBMITTED, submitted_at=submitted_at
        )
        for approver_id, ids in approved.items():
            for chunk in range(0, len(ids), 900):
                TimeEntry.objects.filter(pk__in=ids[chunk : chunk + 900]).update(
                    status=EntryStatus.APPROVED,
                    submitted_at=submitted_at,
                    approved_at=now,
                    approved_by_id=approver_id or None,
                )
        for pk, reason in rejected.items():
            entry = next(e for e in entries if e.pk == pk)
            TimeEntry.objects.filter(pk=pk).update(
                status=EntryStatus.REJECTED,
                submitted_at=submitted_at,
                rejected_at=now,
                rejection_reason=reason,
                rejected_by=self._approver(entry.person.user_id, entry.project),
            )

    # Expenses, requests, milestones

    def _expenses(self):
        assignments = list(
            Assignment.objects.filter(end__gte=self.history_start, project__status=ProjectStatus.ACTIVE)
            .exclude(project__allow_any_person=True)
            .select_related("person__user", "project__manager__user")
            .order_by("id")
        )
        if not assignments:
            return
        chloe = [a for a in assignments if a.person.user and a.person.user.username == "consultant"]
        for index in range(36):
            a = chloe[0] if chloe and index < 4 else self.rng.choice(assignments)
            first = max(a.start, a.project.start, self.history_start)
            last = min(a.end, a.project.end, self.today - timedelta(days=1))
            if last < first:
                continue
            day = first + timedelta(days=self.rng.randint(0, (last - first).days))
            if day.weekday() >= 5:
                day -= timedelta(days=day.weekday() - 4)
                if day < first:
                    continue
            category, low, high = self.rng.choice(EXPENSES)
            currency = (
                a.project.currency
                if self.rng.random() < 0.8
                else ("EUR" if a.project.currency == "USD" else "USD")
            )
            receipt = ContentFile(MINIMAL_PDF, name=f"receipt-{index + 1}.pdf") if index % 2 == 0 else None
            expense = create_expense(
                actor=None,
                person=a.person,
                project=a.project,
                date=day,
                category=category,
                amount=D(self.rng.randint(low * 100, high * 100)) / 100,
                currency=currency,
                billable=category != "meals" or self.rng.random() < 0.5,
                notes={
                    "travel": "Flight to client site",
                    "lodging": "Hotel, 2 nights",
                    "meals": "Team dinner",
                    "software": "Test data tool licence",
                    "subcontractor": "Specialist review",
                    "other": "Printing",
                }[category],
                receipt=receipt,
                today=self.today,
            )
            age = (self.today - day).days
            if age > 10 or index % 5 == 0:
                submit_expense(actor=None, expense=expense)
                approver = self._approver(a.person.user_id, a.project)
                if age > 14 and index % 9 != 4:
                    approve_expense(actor=approver, expense=expense)
                elif index % 9 == 4:
                    reject_expense(
                        actor=approver, expense=expense, reason="Please attach the itemised receipt."
                    )

        self._expenses_to_decide(assignments)

    def _expenses_to_decide(self, assignments):
        """A couple of recent expenses waiting in Priya's inbox."""
        mine = [
            a
            for a in assignments
            if a.project.manager_id
            and a.project.manager.user
            and a.project.manager.user.username == "pm"
            and a.person_id != a.project.manager_id
            and a.start <= self.today - timedelta(days=3) <= a.end
        ]
        for a, (category, amount, note) in zip(
            mine,
            [("travel", "412.80", "Train to the client's site"), ("lodging", "289.00", "Hotel, 2 nights")],
            strict=False,
        ):
            day = self.today - timedelta(days=3)
            while day.weekday() >= 5:
                day -= timedelta(days=1)
            expense = create_expense(
                actor=None,
                person=a.person,
                project=a.project,
                date=day,
                category=category,
                amount=D(amount),
                currency=a.project.currency,
                notes=note,
                today=self.today,
                receipt=ContentFile(MINIMAL_PDF, name=f"{category}.pdf"),
            )
            submit_expense(actor=None, expense=expense)

    def _requests_and_milestones(self):
        platform = Project.objects.filter(code="NWH-PLAT").first()
        if platform is not None:
            start = self.today + timedelta(days=21)
            create_resource_request(
                actor=None,
                project=platform,
                role=self.roles["Architect"],
                hours=D(240),
                start=start,
                end=min(start + timedelta(days=55), platform.end),
                skills=[("AWS", 4), ("Kubernetes", 3)],
                notes="Second architect for the cloud cut-over.",
            )
            create_resource_request(
                actor=None,
                project=platform,
                role=self.roles["Analyst"],
                hours=D(160),
                start=start,
                end=min(start + timedelta(days=40), platform.end),
                skills=[("SQL", 3), ("Power BI", 2)],
            )
        validation = Project.objects.filter(code="UMB-VAL").first()
        if validation is not None:
            steps = [
                ("Validation plan signed off", -60, "accepted"),
                ("Test protocols executed", -10, "completed"),
                ("Final validation report", 70, "planned"),
            ]
            for name, offset, state in steps:
                milestone = create_milestone(
                    actor=None,
                    project=validation,
                    name=name,
                    amount=D(40000),
                    due=self.today + timedelta(days=offset),
                )
                if state in ("completed", "accepted"):
                    complete_milestone(actor=None, milestone=milestone)
                if state == "accepted":
                    accept_milestone(actor=self.finance, milestone=milestone)

    def _close_finished(self):
        for project in Project.objects.filter(
            status=ProjectStatus.ACTIVE, end__lt=self.today - timedelta(days=30)
        ):
            set_project_status(actor=None, project=project, status=ProjectStatus.CLOSED)
