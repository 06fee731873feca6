"""The demo firm's rollups: built once the other apps' demo data is in (analytics loads last)."""

from analytics.services import rebuild_rollups


def load(ctx) -> None:
    result = rebuild_rollups(actor=None)
    ctx.stdout.write(f"  KPI rollups: {result.cells} day cells, {result.gl_cells} GL month cells")
