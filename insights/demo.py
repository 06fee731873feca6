"""The demo firm's insights: one run of every detector over the data the other apps loaded (insights load
last), so the inbox opens with findings, each explained."""

from insights.services.runs import execute_insight_run, start_insight_run


def load(ctx) -> None:
    run = start_insight_run(actor=None, as_of=ctx.today)
    run = execute_insight_run(run_id=run.pk) or run
    run.refresh_from_db()
    ctx.stdout.write(f"  Insights: run {run.pk} {run.status}, {run.raised} raised, {run.updated} still open")
