import importlib
import random
from dataclasses import dataclass, field
from datetime import date

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

# Loaded in this order; each app's `demo.load(ctx)` must be safe to run again (get-or-create by natural key).
DEMO_APPS = ["core", "ledger", "crm", "projects", "billing", "revrec", "analytics", "insights"]


@dataclass
class DemoContext:
    today: date
    rng: random.Random
    stdout: object
    logins: list = field(default_factory=list)
    data: dict = field(default_factory=dict)


class Command(BaseCommand):
    help = "Load the demo firm (users for every role, then each app's demo data). Safe to run twice."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=2026, help="Random seed, for reproducible data.")

    def handle(self, *args, seed, **options):
        ctx = DemoContext(today=timezone.localdate(), rng=random.Random(seed), stdout=self.stdout)
        for app in DEMO_APPS:
            if app not in settings.INSTALLED_APPS:
                continue
            try:
                module = importlib.import_module(f"{app}.demo")
            except ModuleNotFoundError as exc:
                if exc.name != f"{app}.demo":
                    raise
                continue
            self.stdout.write(f"Loading demo data: {app}")
            module.load(ctx)
        self.stdout.write(self.style.SUCCESS("Demo firm ready. Sign in with:"))
        width = max(len(u) for u, _, _ in ctx.logins)
        for username, roles, password in ctx.logins:
            self.stdout.write(f"  {username.ljust(width)}  {password}  ({roles})")
