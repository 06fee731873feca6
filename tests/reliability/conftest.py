"""Fixtures for the reliability suite: the billing tests' small firm, and real Celery workers that a test
may kill with SIGKILL (each in its own process group, so the pool's children die with it)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from tests.billing.conftest import (  # noqa: F401 - the billing tests' small firm serves these tests too
    client_account,
    entity,
    finance,
    make_contract,
    people,
    roles,
    vat20,
)

ROOT = Path(__file__).resolve().parents[2]


def test_database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


test_database_url.__test__ = False


class Worker:
    """`python -m tests.reliability.worker`: a prefork worker with one pool child."""

    def __init__(self, env: dict):
        self.env = env
        self.process = None
        self.log = ROOT / f".reliability-worker-{os.getpid()}.log"

    def start(self) -> "Worker":
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.reliability.worker"],
            cwd=ROOT,
            env=self.env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def children(self) -> list[int]:
        """The pool's child processes (the ones that execute tasks)."""
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [int(pid) for pid in path.read_text().split()]
        except FileNotFoundError:
            return []

    def wait_for_child(self, timeout: float = 60) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            children = self.children()
            if children:
                return children[0]
            time.sleep(0.05)
        raise AssertionError(f"worker started no pool child in {timeout}s:\n{self.output()}")

    def kill_child(self) -> None:
        """SIGKILL the pool child mid-task: the worker sees the loss and re-queues the task at once."""
        os.kill(self.wait_for_child(), signal.SIGKILL)

    def kill_all(self) -> None:
        """SIGKILL the whole worker (main process and pool), as a machine losing power would."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise AssertionError(f"worker exited with {self.process.returncode}:\n{self.output()}")

    def output(self) -> str:
        try:
            return self.log.read_text()[-4000:]
        except FileNotFoundError:
            return ""

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)


@pytest.fixture
def celery_workers(transactional_db):
    """Start (and restart) real workers against Redis and this test database; all are stopped at the end."""
    from config.celery import app

    env = {**os.environ, "DATABASE_URL": test_database_url(), "LEDGERLINE_ENV": "local"}
    app.control.purge()
    started = []

    def start(**extra) -> Worker:
        worker = Worker({**env, **{key: str(value) for key, value in extra.items()}}).start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()
    for worker in started:
        worker.log.unlink(missing_ok=True)
