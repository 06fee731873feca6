"""Demo firm, CRM part: ~25 clients (some with subsidiaries), contacts, ~60 opportunities over every stage
and the last twelve months, quotes, activities. Won deals go through the real handoff (`win_opportunity`),
so their contracts (and, once the projects app provides its services, projects) are real."""

from datetime import date, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model

from core.demo import DEMO_PASSWORD
from core.roles import Role
from core.services.roles import create_user
from crm.models import Account, Opportunity, StageChange
from crm.services.accounts import create_activity, create_contact, normalize_name
from crm.services.handoff import win_opportunity
from crm.services.pipeline import create_opportunity, lose_opportunity, move_opportunity
from crm.services.quotes import accept_quote, create_quote, submit_quote
from crm.services.renewals import run_renewal_triggers
from crm.services.terms import add_months
from ledger.models import LegalEntity
from projects.models import Role as DeliveryRole

ACCOUNT_MANAGERS = [("jordan", "Jordan", "Blake"), ("sofia", "Sofia", "Reyes")]
# Delivery roles and their standard hourly rate in USD (EUR and GBP deals scale it).
ROLES = [("Senior consultant", 185), ("Consultant", 145), ("Analyst", 110), ("Project manager", 165)]
CURRENCY_FACTOR = {"USD": Decimal("1"), "EUR": Decimal("0.92"), "GBP": Decimal("0.79")}
# The ledger demo's clients, completed with what sales knows about them.
LEDGER_CLIENTS = {
    "Northwind Health": ("Healthcare", "northwindhealth.example.com"),
    "Contoso Retail Group": ("Retail", "contoso.example.com"),
    "Globex Manufacturing": ("Manufacturing", "globex.example.com"),
    "Initech Software GmbH": ("Software", "initech.example.com"),
    "Umbrella Pharma Ltd": ("Life sciences", "umbrella.example.com"),
}
# name, entity currency, billing currency, industry, parent (by name)
NEW_CLIENTS = [
    ("Fabrikam Insurance", "USD", "USD", "Insurance", None),
    ("Fabrikam Insurance West", "USD", "USD", "Insurance", "Fabrikam Insurance"),
    ("Fabrikam Reinsurance", "USD", "USD", "Insurance", "Fabrikam Insurance"),
    ("Tailspin Logistics", "USD", "USD", "Logistics", None),
    ("Wide World Importers", "USD", "USD", "Wholesale", None),
    ("Litware Labs", "USD", "USD", "Software", None),
    ("Adventure Works Cycles", "USD", "USD", "Manufacturing", None),
    ("Adventure Works Retail", "USD", "USD", "Retail", "Adventure Works Cycles"),
    ("Proseware Capital", "USD", "USD", "Financial services", None),
    ("Blue Yonder Airlines", "USD", "USD", "Travel", None),
    ("Coho Winery", "USD", "USD", "Food and beverage", None),
    ("Woodgrove Bank", "USD", "USD", "Banking", None),
    ("Woodgrove Bank Canada", "USD", "USD", "Banking", "Woodgrove Bank"),
    ("Lucerne Publishing", "EUR", "EUR", "Media", None),
    ("Alpine Ski House AG", "EUR", "EUR", "Leisure", None),
    ("Margie's Travel BV", "EUR", "EUR", "Travel", None),
    ("Trey Research SA", "EUR", "EUR", "Research", None),
    ("Nordwind Energie GmbH", "EUR", "EUR", "Energy", None),
    ("Nordwind Netze GmbH", "EUR", "EUR", "Energy", "Nordwind Energie GmbH"),
    ("Graphic Design Institute", "EUR", "GBP", "Education", None),
]
DEAL_NAMES = [
    "ERP rollout",
    "Data platform",
    "Cloud migration",
    "Security review",
    "CRM implementation",
    "Analytics",
    "Process redesign",
    "Support renewal",
    "Integration hub",
    "Mobile app",
    "Finance transformation",
    "Pricing study",
    "Managed services",
    "Data governance",
    "AI pilot",
]
CONTACT_NAMES = ["Alex Morgan", "Sam Patel", "Jamie Chen", "Taylor Nguyen", "Robin Schmidt", "Casey Jones"]


def load(ctx) -> None:
    managers = _account_managers(ctx)
    roles = {name: DeliveryRole.objects.get_or_create(name=name)[0] for name, _ in ROLES}
    rates = dict(ROLES)
    clients = _clients(ctx, managers)
    if Opportunity.objects.filter(source="demo").exists():
        return
    deals = []
    for index in range(60):
        client = clients[index % len(clients)]
        deals.append(_deal(ctx, index, client, managers, roles, rates))
    run_renewal_triggers(today=ctx.today)
    ctx.stdout.write(
        f"  {len(clients)} clients, {len(deals)} opportunities, "
        f"{Opportunity.objects.filter(stage='won').count()} won through the handoff"
    )


def _account_managers(ctx) -> list:
    User = get_user_model()
    managers = [User.objects.get(username="pm")]
    for username, first, last in ACCOUNT_MANAGERS:
        user = User.objects.filter(username=username).first() or create_user(
            actor=None,
            username=username,
            password=DEMO_PASSWORD,
            roles=[Role.PROJECT_MANAGER],
            email=f"{username}@demo.ledgerline.invalid",
            first_name=first,
            last_name=last,
            validate=False,
        )
        managers.append(user)
        ctx.logins.append((username, Role.PROJECT_MANAGER.label, DEMO_PASSWORD))
    return managers


def _clients(ctx, managers) -> list[Account]:
    entities = {entity.functional_currency: entity for entity in LegalEntity.objects.all()}
    clients = []
    for index, (name, (industry, domain)) in enumerate(LEDGER_CLIENTS.items()):
        account = Account.objects.filter(name=name).first()
        if account is None:
            continue
        if not account.tax_code:
            Account.objects.filter(pk=account.pk).update(
                tax_code="STANDARD",
                industry=industry,
                domain=domain,
                owner=managers[index % len(managers)],
                normalized_name=normalize_name(name),
            )
        clients.append(Account.objects.get(pk=account.pk))
    by_name = {}
    for index, (name, entity_currency, currency, industry, parent) in enumerate(NEW_CLIENTS):
        entity = entities.get(entity_currency)
        if entity is None:
            continue
        slug = normalize_name(name).replace(" ", "")
        account, created = Account.objects.get_or_create(
            name=name,
            defaults={
                "legal_entity": entity,
                "currency": currency,
                "payment_terms_days": (30, 45, 60)[index % 3],
                "tax_code": "STANDARD" if entity_currency == "USD" else "VAT-STD",
                "industry": industry,
                "domain": f"{slug}.example.com",
                "billing_email": f"ap@{slug}.example.com",
                "owner": managers[index % len(managers)],
                "normalized_name": normalize_name(name),
                "parent": by_name.get(parent),
            },
        )
        by_name[name] = account
        if created:
            for number in range(2):
                contact_name = CONTACT_NAMES[(index + number) % len(CONTACT_NAMES)]
                create_contact(
                    actor=None,
                    account=account,
                    name=contact_name,
                    role=("CFO", "Project sponsor")[number],
                    email=f"{contact_name.split()[0].lower()}@{slug}.example.com",
                )
        clients.append(account)
    return clients


def _lines(ctx, kind: int, start: date, currency: str, roles, rates) -> list[dict]:
    factor = CURRENCY_FACTOR.get(currency, Decimal("1"))

    def rate(name):
        return (Decimal(rates[name]) * factor).quantize(Decimal("1"))

    end = add_months(start, ctx.rng.choice((3, 4, 6))) - timedelta(days=1)
    hours = Decimal(ctx.rng.randrange(8, 40) * 10)
    tm = [
        {
            "service": "Delivery: senior consultant",
            "phase": "Delivery",
            "billing_model": "time_and_materials",
            "role": roles["Senior consultant"].pk,
            "hours": hours,
            "rate": rate("Senior consultant"),
            "start": start,
            "end": end,
        },
        {
            "service": "Delivery: analyst",
            "phase": "Delivery",
            "billing_model": "time_and_materials",
            "role": roles["Analyst"].pk,
            "hours": hours * 2,
            "rate": rate("Analyst"),
            "start": start,
            "end": end,
        },
    ]
    fee = Decimal(ctx.rng.randrange(20, 80) * 1000) * factor
    if kind == 0:
        return tm
    if kind == 1:
        discovery_end = start + timedelta(days=27)
        later = [line | {"start": discovery_end + timedelta(days=1)} for line in tm]
        return [
            {
                "service": "Discovery",
                "phase": "Discovery",
                "billing_model": "fixed_fee",
                "amount": fee.quantize(Decimal("1")),
                "instalments": 2,
                "start": start,
                "end": discovery_end,
            },
            *later,
        ]
    if kind == 2:
        return [
            {
                "service": "Managed support",
                "phase": "Support",
                "billing_model": "retainer",
                "role": roles["Consultant"].pk,
                "billing_period": "monthly",
                "period_amount": (Decimal(6000) * factor).quantize(Decimal("1")),
                "period_hours": Decimal(40),
                "overage_rate": rate("Consultant"),
                "unused_hours": "forfeit",
                "start": start,
                "end": add_months(start, 12) - timedelta(days=1),
            }
        ]
    if kind == 3:
        first, second = (
            (fee * Decimal("0.4")).quantize(Decimal("1")),
            (fee * Decimal("0.6")).quantize(Decimal("1")),
        )
        return [
            {
                "service": "Implementation milestones",
                "phase": "Implementation",
                "billing_model": "milestone",
                "start": start,
                "end": end,
                "milestones": [
                    {"name": "Design signed off", "due": start + timedelta(days=30), "amount": first},
                    {"name": "Go-live", "due": end, "amount": second},
                ],
            },
            tm[0] | {"hours": hours / 2},
        ]
    return [
        {
            "service": "Analytics platform subscription",
            "phase": "Platform",
            "billing_model": "subscription",
            "billing_period": "monthly",
            "period_amount": (Decimal(2500) * factor).quantize(Decimal("1")),
            "cycle_day": 1,
            "start": start,
            "end": add_months(start, 12) - timedelta(days=1),
        }
    ]


# Of every 12 deals: 4 won, 2 lost, the rest open across qualify, propose and negotiate.
OUTCOMES = [
    "won",
    "qualify",
    "propose",
    "lost",
    "negotiate",
    "won",
    "propose",
    "qualify",
    "won",
    "negotiate",
    "lost",
    "won",
]


def _deal(ctx, index: int, client: Account, managers, roles, rates) -> Opportunity:
    outcome = OUTCOMES[index % len(OUTCOMES)]
    owner = client.owner or managers[index % len(managers)]
    closed = outcome in ("won", "lost")
    # Closed deals closed over the last twelve months; open ones expect to close in the next four.
    if closed:
        close = ctx.today - timedelta(days=ctx.rng.randrange(5, 360))
    else:
        close = ctx.today + timedelta(days=ctx.rng.randrange(-10, 120))
    created = close - timedelta(days=ctx.rng.randrange(30, 120))
    start = close + timedelta(days=ctx.rng.randrange(5, 25))
    lines = _lines(ctx, index % 5, start, client.currency, roles, rates)
    name = f"{client.name.split()[0]} {DEAL_NAMES[index % len(DEAL_NAMES)]}"
    deal = create_opportunity(
        actor=owner,
        account=client,
        name=name,
        expected_close=close,
        owner=owner,
        source="demo",
        lines=lines,
    )
    path = {
        "won": ["propose", "negotiate"],
        "lost": ["propose"],
        "propose": ["propose"],
        "negotiate": ["propose", "negotiate"],
        "qualify": [],
    }[outcome]
    for stage in path:
        move_opportunity(actor=owner, opportunity=deal, stage=stage)
    if outcome in ("won", "negotiate") and index % 3 == 0:
        quote = create_quote(actor=owner, opportunity=deal, discount_percent=Decimal("5"), today=created)
        quote = submit_quote(actor=owner, quote=quote, today=created)
        if outcome == "won" and quote.status == "approved":
            accept_quote(actor=owner, quote=quote, today=created)
    if outcome == "won":
        win_opportunity(actor=owner, opportunity=deal)
    elif outcome == "lost":
        lose_opportunity(
            actor=owner,
            opportunity=deal,
            reason=ctx.rng.choice(
                [
                    "Chose a competitor on price",
                    "Budget frozen",
                    "Project cancelled",
                    "Went with in-house team",
                ]
            ),
        )
    _backdate(deal, created, close)
    due = ctx.today + timedelta(days=ctx.rng.randrange(-5, 14))
    create_activity(
        actor=owner,
        account=client,
        opportunity=deal,
        owner=owner,
        kind=ctx.rng.choice(["call", "meeting", "email", "task"]),
        subject=("Kick-off with the client" if outcome == "won" else f"Follow up on {deal.name}"),
        due=due,
    )
    return deal


def _backdate(deal: Opportunity, created: date, close: date) -> None:
    """Spread the stage history over the deal's real cycle (the services stamp everything now)."""
    from django.utils import timezone

    changes = list(StageChange.objects.filter(opportunity=deal).order_by("id"))
    span = max((close - created).days, len(changes))
    last = None
    for number, change in enumerate(changes):
        day = created + timedelta(days=span * number // max(len(changes) - 1, 1))
        moment = timezone.make_aware(timezone.datetime.combine(min(day, close), timezone.datetime.min.time()))
        last = moment + timedelta(hours=9 + number)
        StageChange.objects.filter(pk=change.pk).update(changed_at=last)
    backdated = {
        "created_at": timezone.make_aware(timezone.datetime.combine(created, timezone.datetime.min.time()))
    }
    if last is not None:
        # The deal entered its current stage (and a closed one closed) with its last change, not today.
        backdated["stage_changed_at"] = last
        Opportunity.objects.filter(pk=deal.pk, closed_at__isnull=False).update(closed_at=last)
    Opportunity.objects.filter(pk=deal.pk).update(**backdated)
