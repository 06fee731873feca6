import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command
from django.db import OperationalError

from core.models import User

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT.parent / "shared" / "api-paths.txt"


def _manage(*args, **env):
    clean = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG", "LEDGERLINE_ENV"}}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_refuses_to_start_without_secret_key():
    result = _manage("check", LEDGERLINE_ENV="production")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_check_deploy_is_clean_with_production_values(tmp_path):
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        LEDGERLINE_ENV="production",
        SECRET_KEY="x" * 20 + "-production-secret-key-with-enough-entropy-0123456789",
        ALLOWED_HOSTS="ledgerline.example.com",
        DATABASE_URL=f"sqlite:///{tmp_path / 'deploy.sqlite3'}",
    )
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.django_db
def test_schema_validates_without_warnings(tmp_path):
    out = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    schema = yaml.safe_load(out.read_text())
    post = schema["paths"]["/api/v1/api-keys/"]["post"]
    assert any(p["name"] == "Idempotency-Key" for p in post["parameters"])
    assert (
        post["responses"]["422"]["content"]["application/json"]["schema"]["$ref"]
        == "#/components/schemas/Error"
    )


@pytest.mark.django_db
def test_contract_paths_of_started_areas_exist(tmp_path):
    if not CONTRACT.exists():
        pytest.skip(f"the API contract {CONTRACT} is not beside the repository")
    out = tmp_path / "schema.yml"
    call_command("spectacular", "--file", str(out))
    have = list(yaml.safe_load(out.read_text())["paths"])

    def present(path):
        pattern = "^" + re.sub(r"\\\{[^}]*\\\}", r"\\{[^}]+\\}", re.escape(path)) + "$"
        return any(re.match(pattern, h) for h in have)

    wanted = [
        line.split()
        for line in CONTRACT.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    started = {area for area, path in wanted if present(path)}
    assert "core" in started
    missing = [path for area, path in wanted if area in started and not present(path)]
    assert missing == []


@pytest.mark.django_db
def test_healthz_ok(client, settings):
    response = client.get("/healthz")
    assert response.status_code == 200
    broker = "ok" if settings.REDIS_URL else "eager"
    assert response.json() == {"status": "ok", "database": "ok", "broker": broker}


@pytest.mark.django_db
def test_healthz_503_when_database_unreachable(client, monkeypatch):
    class Unreachable:
        def cursor(self):
            raise OperationalError("connection refused")

    monkeypatch.setattr("core.health.connection", Unreachable())
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "error: OperationalError"


@pytest.mark.django_db
def test_load_demo_twice_creates_each_user_once(capsys):
    call_command("load_demo")
    call_command("load_demo")
    assert User.objects.filter(username__in=["admin", "finance", "consultant", "integrator"]).count() == 4
    assert sorted(User.objects.get(username="finance").roles) == ["finance"]
    assert "ledgerline-demo" in capsys.readouterr().out


def test_celery_reliability_settings():
    from django.conf import settings

    from config.celery import app

    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.broker_transport_options["visibility_timeout"] > settings.WEBHOOK_BACKOFF_MAX_SECONDS
    assert app.conf.beat_scheduler == "django_celery_beat.schedulers:DatabaseScheduler"
