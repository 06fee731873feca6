"""Analytics' Celery tasks: thin wrappers over the rollup services."""

from celery import shared_task

from analytics.services import refresh_rollups


@shared_task(acks_late=True)
def refresh_kpi_rollups() -> dict:
    """Re-read what changed since the last refresh (every few minutes; safe to run twice or concurrently)."""
    result = refresh_rollups(actor=None)
    return {
        "entries": result.entries,
        "expenses": result.expenses,
        "cells": result.cells,
        "gl": result.gl_cells,
    }
