"""A real Celery worker for the fault tests, started as `python -m tests.reliability.worker`.

Three knobs differ from production, all so a test can watch recovery in seconds: runs work in small chunks
(so a kill lands between and inside chunks), Redis re-delivers an unacknowledged task after a few seconds
instead of `CELERY_VISIBILITY_TIMEOUT` (six hours, so that no long task is ever delivered twice), and a
dunning run's heartbeat goes stale after a second instead of fifteen minutes.
"""

import os
import sys
from datetime import timedelta

import django


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    import billing.services.runs
    import ledger.services.dunning.runs
    import revrec.services.runs
    from config.celery import app

    chunk = int(os.environ.get("RELIABILITY_CHUNK", "2"))
    billing.services.runs.CHUNK_CONTRACTS = chunk
    revrec.services.runs.CHUNK_CONTRACTS = chunk
    ledger.services.dunning.runs.CHUNK_CLIENTS = chunk
    # A running dunning run whose heartbeat is this old may be claimed again (15 minutes in production).
    stale = float(os.environ.get("RELIABILITY_DUNNING_STALE_SECONDS", "1"))
    ledger.services.dunning.runs.RUN_STALE_AFTER = timedelta(seconds=stale)
    visibility = float(os.environ.get("RELIABILITY_VISIBILITY_TIMEOUT", "3"))
    app.conf.broker_transport_options = {"visibility_timeout": visibility}
    app.worker_main(
        [
            "worker",
            "--pool=prefork",
            "--concurrency=1",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            f"--loglevel={os.environ.get('RELIABILITY_WORKER_LOGLEVEL', 'WARNING')}",
            *sys.argv[1:],
        ]
    )


if __name__ == "__main__":
    main()
