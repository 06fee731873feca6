from django.core.management.base import BaseCommand

from analytics.services import rebuild_rollups, refresh_rollups


class Command(BaseCommand):
    help = (
        "Rebuild the KPI rollups from scratch (time, expenses, GL revenue); with --incremental, only bring "
        "them up to date since the last refresh."
    )

    def add_arguments(self, parser):
        parser.add_argument("--incremental", action="store_true", help="Refresh instead of rebuilding.")

    def handle(self, *args, incremental, **options):
        result = refresh_rollups(actor=None) if incremental else rebuild_rollups(actor=None)
        self.stdout.write(
            self.style.SUCCESS(
                f"{'Refreshed' if incremental else 'Rebuilt'}: {result.entries} time entries, "
                f"{result.expenses} expenses, {result.cells} day cells, {result.gl_cells} GL month cells."
            )
        )
