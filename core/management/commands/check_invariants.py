import json

from django.core.management.base import BaseCommand, CommandError

from core.invariants import check_invariants, fingerprint


class Command(BaseCommand):
    help = (
        "Check the books' invariants (entries balance, trial balance zero, account balances = their lines, "
        "AR subledger = AR control, gapless numbers, bill-once links); exits non-zero if any fails."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--json",
            action="store_true",
            dest="as_json",
            help="Print the results and the books' fingerprint as JSON.",
        )

    def handle(self, *args, as_json: bool = False, **options):
        results = check_invariants()
        failed = [result for result in results if not result.ok]
        if as_json:
            self.stdout.write(
                json.dumps(
                    {
                        "ok": not failed,
                        "checks": {result.name: result.violations for result in results},
                        "fingerprint": fingerprint(),
                    },
                    indent=2,
                    sort_keys=True,
                )
            )
        else:
            for result in results:
                mark = "ok  " if result.ok else "FAIL"
                suffix = "" if result.ok else f" ({result.violations} violations)"
                self.stdout.write(f"{mark} {result.name}: {result.description}{suffix}")
        if failed:
            raise CommandError(f"{len(failed)} invariant(s) failed: {', '.join(r.name for r in failed)}")
        if not as_json:
            self.stdout.write(self.style.SUCCESS(f"All {len(results)} invariants hold."))
