import os
import shutil

import pytest
from django.core.cache import cache
from django.db import connection
from rest_framework.test import APIClient

from core.roles import Role
from core.services.api_keys import create_api_key
from tests.factories import UserFactory


def pytest_collection_modifyitems(config, items):
    from django.conf import settings

    on_sqlite = settings.DATABASES["default"]["ENGINE"].endswith("sqlite3")
    skip_pg = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL=postgres://… (SQLite lacks it)")
    skip_worker = pytest.mark.skip(reason="needs a Celery broker: set REDIS_URL=redis://…")
    skip_browser = pytest.mark.skip(
        reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)"
    )
    for item in items:
        if item.get_closest_marker("postgres") and on_sqlite:
            item.add_marker(skip_pg)
        if item.get_closest_marker("celery_worker") and not settings.REDIS_URL:
            item.add_marker(skip_worker)
        if item.get_closest_marker("e2e") and not shutil.which(
            os.environ.get("CHROMIUM", "/usr/bin/chromium")
        ):
            item.add_marker(skip_browser)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Argon2 is deliberately slow; tests create many users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _eager_celery(request, settings):
    """Tasks run in-process even when REDIS_URL points the suite at Redis; only `celery_worker` tests use
    the real broker, so no test leaves messages behind for another to consume."""
    if request.node.get_closest_marker("celery_worker"):
        yield
        return
    from config.celery import app

    previous = app.conf.task_always_eager
    settings.CELERY_TASK_ALWAYS_EAGER = True
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def _deferred_constraints_checked(request):
    """On PostgreSQL, fire the deferred ledger triggers (entries balance) before a test's transaction is
    rolled back: a test transaction never commits, so without this they would never run."""
    marker = request.node.get_closest_marker("django_db")
    in_test_transaction = marker is not None and not (
        marker.kwargs.get("transaction") or marker.args[:1] == (True,)
    )
    if in_test_transaction:
        request.getfixturevalue("db")
    yield
    if in_test_transaction and connection.vendor == "postgresql" and connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


@pytest.fixture(autouse=True)
def _uploads_in_a_temporary_folder(settings, tmp_path_factory):
    # Receipts and other uploads written by tests (and the demo loader) never land in the work tree.
    settings.MEDIA_ROOT = tmp_path_factory.getbasetemp() / "media"


@pytest.fixture(autouse=True)
def _clear_cache():
    # API throttle counters live in the cache; tests must not see each other's.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def make_user(db):
    def make(*roles: str, **kwargs):
        return UserFactory(roles=list(roles), **kwargs)

    return make


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def client_for(make_user):
    """An APIClient signed in (session) as a new user holding `roles`."""

    def make(*roles: str, **kwargs):
        user = make_user(*roles, **kwargs)
        client = APIClient()
        client.force_authenticate(user=user)
        client.user = user
        return client

    return make


@pytest.fixture
def token_client_for(make_user):
    """An APIClient using a real API key with `scopes` for a new user holding `roles`."""

    def make(*roles: str, scopes=("core:read", "core:write")):
        user = make_user(*roles)
        issued = create_api_key(actor=user, user=user, name="test", scopes=list(scopes))
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {issued.key}")
        client.user = user
        client.api_key = issued.api_key
        client.key = issued.key
        return client

    return make


@pytest.fixture
def finance_client(client_for):
    return client_for(Role.FINANCE)


@pytest.fixture
def is_postgresql():
    return connection.vendor == "postgresql"
