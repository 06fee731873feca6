"""Web security: production settings pass `check --deploy`; every browser URL refuses a POST without a CSRF
token and every rendered form carries one; security headers (CSP with nonces, HSTS, frame denial, referrer
policy); argon2 first; login throttling; API rate limits answer 429; no secret reaches the logs."""

import logging
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.http import HttpResponse
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver

import config.settings as configured
from core.api.throttling import ClientThrottle
from core.roles import Role

ROOT = Path(__file__).resolve().parents[2]
SCRIPT_TAG = re.compile(r"<script\b([^>]*)>", re.IGNORECASE)
INLINE_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)
POST_FORM = re.compile(r"<form\b[^>]*method=[\"']?post[^>]*>(.*?)</form>", re.IGNORECASE | re.DOTALL)


def csrf_refused(request, reason=""):
    return HttpResponse(f"csrf-refused: {reason}", status=403)


def test_production_settings_pass_check_deploy(tmp_path):
    env = {
        key: value for key, value in os.environ.items() if key not in {"REDIS_URL", "DATABASE_URL", "DEBUG"}
    }
    env.update(
        LEDGERLINE_ENV="production",
        SECRET_KEY="k" * 20 + uuid.uuid4().hex + uuid.uuid4().hex,
        ALLOWED_HOSTS="ledgerline.example.com",
        DATABASE_URL=f"sqlite:///{tmp_path / 'deploy.sqlite3'}",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_argon2_hashes_passwords():
    # The test suite swaps in a fast hasher; the configured list is what production uses.
    assert configured.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"


def _concrete_paths():
    """Every browser URL pattern (not the API, not the admin) with its converters filled in."""
    fill = {"int": "1", "str": "x", "slug": "x", "uuid": str(uuid.UUID(int=1)), "path": "x"}

    def walk(patterns, prefix):
        for entry in patterns:
            route = str(entry.pattern)
            if isinstance(entry, URLResolver):
                yield from walk(entry.url_patterns, prefix + route)
            elif isinstance(entry, URLPattern):
                yield prefix + route

    for route in walk(get_resolver().url_patterns, ""):
        if route.startswith(("api/", "admin/")) or route.startswith("^"):
            continue
        path = re.sub(r"<(?:(\w+):)?\w+>", lambda m: fill[m.group(1) or "str"], route)
        yield "/" + path


@pytest.mark.django_db
@override_settings(CSRF_FAILURE_VIEW="tests.reliability.test_web_security.csrf_refused")
def test_every_browser_url_refuses_a_post_without_csrf_token(make_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user(Role.ADMIN, Role.FINANCE, is_staff=True, is_superuser=True))
    paths = sorted(set(_concrete_paths()))
    assert len(paths) > 50
    accepted = {}
    for path in paths:
        response = client.post(path, {"anything": "1"})
        if not (response.status_code == 403 and response.content.startswith(b"csrf-refused")):
            accepted[path] = response.status_code
    assert accepted == {}


@pytest.mark.django_db
def test_api_session_writes_need_the_csrf_token(make_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user(Role.INTEGRATOR))
    response = client.post("/api/v1/api-keys/", {"name": "x", "scopes": ["core:read"]})
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


@pytest.mark.django_db
def test_every_rendered_form_carries_a_csrf_token(make_user):
    client = Client()
    client.force_login(make_user(*Role.values, is_staff=True))
    checked, missing = 0, []
    for path in sorted(set(_concrete_paths())):
        if re.search(r"/(1|x)(/|$)", path) or path.endswith(("logout/", "healthz")):
            continue
        response = client.get(path)
        if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
            continue
        for form in POST_FORM.findall(response.content.decode()):
            checked += 1
            if 'name="csrfmiddlewaretoken"' not in form:
                missing.append(path)
    assert checked > 10
    assert missing == []


def test_templates_have_no_inline_script_without_a_nonce_and_no_inline_handlers():
    offenders = []
    for template in (ROOT / "templates").rglob("*.html"):
        text = template.read_text()
        for attributes in SCRIPT_TAG.findall(text):
            if "src=" not in attributes and "request.csp_nonce" not in attributes:
                offenders.append(f"{template.relative_to(ROOT)}: <script{attributes}>")
        if INLINE_HANDLER.search(text):
            offenders.append(f"{template.relative_to(ROOT)}: inline event handler")
    assert offenders == []


@pytest.mark.django_db
@override_settings(
    SECURE_HSTS_SECONDS=31536000, SECURE_HSTS_INCLUDE_SUBDOMAINS=True, SECURE_SSL_REDIRECT=False
)
def test_security_headers(make_user):
    client = Client()
    response = client.get("/accounts/login/", secure=True)
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    assert directives["default-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    # A nonce is added only to responses that render an inline script (the login page has none).
    assert directives["script-src"] == "'self'"
    assert "unsafe-inline" not in directives["script-src"] and "unsafe-eval" not in policy
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Strict-Transport-Security"].startswith("max-age=31536000")
    # A page with an inline script carries the response's own nonce.
    client.force_login(make_user(Role.PROJECT_MANAGER))
    page = client.get("/projects/approvals/")
    assert page.status_code == 200
    script_src = page["Content-Security-Policy"].split("script-src ")[1].split(";")[0].split()
    assert script_src[0] == "'self'" and script_src[1].startswith("'nonce-") and len(script_src) == 2
    nonce = script_src[1][len("'nonce-") : -1]
    inline = [attrs for attrs in SCRIPT_TAG.findall(page.content.decode()) if "src=" not in attrs]
    assert inline and all(f'nonce="{nonce}"' in attrs for attrs in inline)
    # The API docs alone may load Swagger UI from its CDN.
    docs = client.get("/api/docs/")
    assert "https://cdn.jsdelivr.net" in docs["Content-Security-Policy"]
    assert "cdn.jsdelivr.net" not in page["Content-Security-Policy"]


@pytest.mark.django_db
def test_login_is_locked_after_five_failures(make_user):
    make_user(Role.CONSULTANT, username="victim", password="right-horse-battery-staple")
    client = Client()
    statuses = [
        client.post("/accounts/login/", {"username": "victim", "password": "wrong-guess-123"}).status_code
        for _ in range(5)
    ]
    assert statuses == [200] * 4 + [429]
    locked = client.post("/accounts/login/", {"username": "victim", "password": "right-horse-battery-staple"})
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_api_rate_limit_answers_429(token_client_for, monkeypatch):
    monkeypatch.setattr(ClientThrottle, "THROTTLE_RATES", {"client": "5/min", "anon": "60/min"})
    client = token_client_for(Role.INTEGRATOR, scopes=("core:read",))
    statuses = [client.get("/api/v1/users/me/").status_code for _ in range(7)]
    assert statuses == [200] * 5 + [429, 429]
    throttled = client.get("/api/v1/users/me/")
    assert throttled.json()["code"] == "throttled"
    assert int(throttled["Retry-After"]) > 0


@pytest.mark.django_db
def test_no_secret_reaches_the_logs(make_user, client_for, caplog):
    password = "Sekrit-pass-9917-zz"
    make_user(Role.INTEGRATOR, username="ivy", password=password)
    api = client_for(Role.INTEGRATOR)
    caplog.set_level(logging.DEBUG)  # from here on: what the application logs, at every level
    Client().post("/accounts/login/", {"username": "ivy", "password": password + "x"})
    Client().post("/accounts/login/", {"username": "ivy", "password": password})
    key = api.post("/api/v1/api-keys/", {"name": "ci", "scopes": ["core:read"]}, format="json").json()["key"]
    hook = api.post(
        "/api/v1/webhooks/",
        {"url": "https://hooks.example.com/in", "event_types": ["*"]},
        format="json",
    ).json()
    anonymous = Client()
    anonymous.get("/api/v1/users/me/", HTTP_AUTHORIZATION=f"Token {key}x")
    logged = caplog.text + "".join(str(record.__dict__) for record in caplog.records)
    for secret in (password, key, key[:16], hook["secret"]):
        assert secret not in logged
