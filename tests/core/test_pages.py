"""Core browser pages: access per role, API-key and webhook flows, sign-in throttling, error pages."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import SESSION_KEY
from django.template import Context, Template
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone
from djmoney.money import Money

from core import views
from core.models import ApiKey, AuditEvent, Event, WebhookDelivery, WebhookSubscription
from core.models.api_keys import hash_api_key_secret
from core.roles import Role
from core.services.api_keys import create_api_key
from core.services.webhooks import create_webhook_subscription, update_webhook_subscription
from core.workspaces import WORKSPACES
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

EVERY_ROLE = [*Role.values, None]


@pytest.fixture
def login(client, make_user):
    """Sign `client` in as a new user holding `roles` (None: no role) and return the user."""

    def sign_in(*roles, **kwargs):
        user = make_user(*(r for r in roles if r), **kwargs)
        client.force_login(user)
        return user

    return sign_in


@pytest.fixture
def subscription(make_user):
    owner = make_user(Role.INTEGRATOR, username="hook-owner")
    return create_webhook_subscription(
        actor=owner, owner=owner, url="https://hooks.example.com/in", event_types=["invoice.released"]
    )


# Each page and the roles that may open it (None: every signed-in user).
PAGES = [
    ("core:overview", None),
    ("core:api-keys", None),
    ("core:api-key-create", None),
    ("core:webhooks", {Role.INTEGRATOR, Role.ADMIN}),
    ("core:webhook-create", {Role.INTEGRATOR, Role.ADMIN}),
    ("core:events", {Role.FINANCE, Role.EXECUTIVE, Role.INTEGRATOR, Role.ADMIN}),
    ("core:audit-log", {Role.FINANCE, Role.EXECUTIVE, Role.ADMIN}),
]


@pytest.mark.parametrize("url_name", [name for name, _ in PAGES])
def test_pages_send_anonymous_visitors_to_sign_in(client, url_name):
    url = reverse(url_name)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"


@pytest.mark.parametrize("role", EVERY_ROLE)
@pytest.mark.parametrize(("url_name", "allowed"), PAGES)
def test_page_access_by_role(client, login, url_name, allowed, role):
    login(role)
    response = client.get(reverse(url_name))
    if allowed is None or role in allowed:
        assert response.status_code == 200
        assert b"Ledgerline" in response.content
    else:
        assert response.status_code == 403
        assert "You do not have access to this page" in response.content.decode()


def test_home_sends_each_user_to_their_workspace(client, login):
    login(Role.CONSULTANT)
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"] == reverse(WORKSPACES[Role.CONSULTANT]) == "/projects/time/"
    login(Role.INTEGRATOR)
    assert client.get(reverse("home"))["Location"] == reverse("core:overview")


def test_home_follows_role_priority(client, login, monkeypatch):
    monkeypatch.setitem(WORKSPACES, Role.CONSULTANT, "core:api-keys")
    monkeypatch.setitem(WORKSPACES, Role.FINANCE, "core:events")
    login(Role.CONSULTANT, Role.FINANCE)
    assert client.get(reverse("home"))["Location"] == reverse("core:events")


@pytest.mark.parametrize(
    ("roles", "is_staff", "expected"),
    [
        ([Role.CONSULTANT], False, ["Home", "My week", "My utilization", "Insights", "API keys", "API docs"]),
        ([Role.INTEGRATOR], False, ["Home", "Sales", "API keys", "Webhooks", "Events", "API docs"]),
        (
            [Role.FINANCE],
            False,
            [
                "Home",
                "Sales",
                "Projects",
                "Billing",
                "Ledger",
                "Revenue",
                "Dashboards",
                "Flow health",
                "Insights",
                "API keys",
                "Events",
                "Audit log",
                "API docs",
            ],
        ),
        (
            [Role.ADMIN],
            False,
            [
                "Home",
                "Sales",
                "My week",
                "Approvals",
                "Projects",
                "Capacity",
                "Billing",
                "Ledger",
                "Revenue",
                "Dashboards",
                "Project health",
                "Flow health",
                "My utilization",
                "Insights",
                "API keys",
                "Webhooks",
                "Events",
                "Audit log",
                "API docs",
            ],
        ),
        (
            [Role.ADMIN],
            True,
            [
                "Home",
                "Sales",
                "My week",
                "Approvals",
                "Projects",
                "Capacity",
                "Billing",
                "Ledger",
                "Revenue",
                "Dashboards",
                "Project health",
                "Flow health",
                "My utilization",
                "Insights",
                "API keys",
                "Webhooks",
                "Events",
                "Audit log",
                "API docs",
                "Admin site",
            ],
        ),
    ],
)
def test_navigation_shows_what_the_roles_allow(client, login, roles, is_staff, expected):
    login(*roles, is_staff=is_staff)
    response = client.get(reverse("core:overview"))
    labels = [link.label for link in [*response.context["nav_links"], *response.context["nav_tools"]]]
    assert labels == expected
    # On the user's workspace its own nav entry is highlighted ("Home" when it has none).
    workspace = client.get(reverse("home"), follow=True)
    active = [link.label for link in workspace.context["nav_links"] if link.active]
    own_entry = {Role.FINANCE: "Ledger", Role.CONSULTANT: "My week"}
    assert active == [own_entry.get(roles[0], "Home")]


def test_layout_has_the_user_roles_logout_form_and_htmx_csrf_header(client, login):
    login(Role.FINANCE, Role.EXECUTIVE, first_name="Fiona", last_name="Chen")
    html = client.get(reverse("core:overview")).content.decode()
    assert "Fiona Chen" in html
    assert "Finance, Executive" in html
    assert f'action="{reverse("logout")}"' in html
    assert 'hx-headers=\'{"X-CSRFToken": "' in html
    assert "vendor/htmx-2.0.11/htmx.min.js" in html


def test_logout_needs_post(client, login):
    login(Role.CONSULTANT)
    assert client.get(reverse("logout")).status_code == 405
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert SESSION_KEY not in client.session


def test_overview_shows_keys_audit_and_events_for_finance(client, login):
    user = login(Role.FINANCE)
    create_api_key(actor=user, user=user, name="ETL", scopes=["billing:read"])
    Event.objects.create(type="invoice.released", subject_type="billing.invoice", subject_id="42")
    html = client.get(reverse("core:overview")).content.decode()
    assert "1 of 1" in html
    assert "api_key.created" in html
    assert "invoice.released" in html
    assert "billing.invoice #42" in html


def test_overview_empty_states_for_a_consultant(client, login):
    login(Role.CONSULTANT)
    Event.objects.create(type="invoice.released", subject_type="billing.invoice", subject_id="42")
    html = client.get(reverse("core:overview")).content.decode()
    assert "No API keys yet — create one to call the API." in html
    assert "You have not changed anything yet" in html
    assert "invoice.released" not in html


def _create_key(client, **data):
    payload = {"name": "CRM sync", "scopes": ["crm:read", "crm:write"], **data}
    return client.post(reverse("core:api-key-create"), payload)


def test_api_key_is_shown_once_after_creation(client, login):
    user = login(Role.INTEGRATOR)
    response = _create_key(client)
    assert response.status_code == 302
    assert response["Location"] == reverse("core:api-keys")

    api_key = ApiKey.objects.get(user=user)
    assert api_key.name == "CRM sync"
    assert api_key.scopes == ["crm:read", "crm:write"]
    first = client.get(reverse("core:api-keys"))
    key = first.context["new_key"]["key"]
    assert api_key.key_hash == hash_api_key_secret(key)
    assert key in first.content.decode()
    assert "it will not be shown again" in first.content.decode()
    assert "no-store" in first["Cache-Control"]

    again = client.get(reverse("core:api-keys"))
    assert again.context["new_key"] is None
    assert key not in again.content.decode()
    assert key not in str(dict(client.session))


def test_api_key_expiry_is_the_end_of_the_chosen_day(client, login):
    user = login(Role.CONSULTANT)
    day = timezone.localdate() + timedelta(days=30)
    _create_key(client, expires_on=day.isoformat())
    expires_at = timezone.localtime(ApiKey.objects.get(user=user).expires_at)
    assert (expires_at.date(), expires_at.hour, expires_at.minute) == (day + timedelta(days=1), 0, 0)


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"scopes": []}, "scopes", "Choose at least one scope."),
        ({"name": ""}, "name", "This field is required."),
        ({"scopes": ["crm:admin"]}, "scopes", "Select a valid choice."),
        ({"expires_on": "2001-01-01"}, "expires_on", "Choose today or a later day."),
    ],
)
def test_api_key_form_errors_are_inline_and_create_nothing(client, login, data, field, message):
    login(Role.CONSULTANT)
    response = _create_key(client, **data)
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    html = response.content.decode()
    assert f'id="{"scopes" if field == "scopes" else "id_" + field}_error"' in html
    assert ApiKey.objects.count() == 0


def test_api_key_refused_by_the_service_shows_its_message_on_the_field(client, login):
    user = login(Role.CONSULTANT)
    create_api_key(actor=user, user=user, name="CRM sync", scopes=["crm:read"])
    response = _create_key(client)
    assert response.status_code == 200
    assert response.context["form"].errors["name"] == ["A key with this name exists."]
    assert 'aria-invalid="true"' in response.content.decode()
    assert ApiKey.objects.count() == 1


def test_revoke_needs_a_confirming_post(client, login):
    user = login(Role.CONSULTANT)
    api_key = create_api_key(actor=user, user=user, name="Old", scopes=["core:read"]).api_key
    url = reverse("core:api-key-revoke", args=[api_key.pk])

    confirm = client.get(url)
    assert confirm.status_code == 200
    assert "Revoke “Old”?" in confirm.content.decode()
    api_key.refresh_from_db()
    assert api_key.revoked_at is None

    response = client.post(url)
    assert response.status_code == 302
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None
    assert "is revoked" in client.get(reverse("core:api-keys")).content.decode()


def test_revoke_is_refused_without_csrf_token(make_user):
    user = make_user(Role.CONSULTANT)
    api_key = create_api_key(actor=user, user=user, name="Old", scopes=["core:read"]).api_key
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.post(reverse("core:api-key-revoke", args=[api_key.pk]))
    assert response.status_code == 403
    assert "This form has expired" in response.content.decode()
    api_key.refresh_from_db()
    assert api_key.revoked_at is None


def test_cannot_revoke_someone_elses_key(client, login, make_user):
    login(Role.ADMIN)
    other = make_user(Role.CONSULTANT)
    api_key = create_api_key(actor=other, user=other, name="Theirs", scopes=["core:read"]).api_key
    assert client.post(reverse("core:api-key-revoke", args=[api_key.pk])).status_code == 404
    api_key.refresh_from_db()
    assert api_key.revoked_at is None


def test_webhook_create_with_a_bad_url_shows_the_error_and_creates_nothing(client, login):
    login(Role.INTEGRATOR)
    response = client.post(
        reverse("core:webhook-create"), {"url": "not a url", "event_types": "*", "active": "on"}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["url"] == ["Enter a valid URL."]
    assert 'id="id_url_error"' in response.content.decode()
    assert WebhookSubscription.objects.count() == 0


def test_webhook_create_shows_the_services_refusal_inline(client, login):
    login(Role.INTEGRATOR)
    response = client.post(
        reverse("core:webhook-create"),
        {"url": "https://hooks.example.com/in", "event_types": "Invoice Released", "active": "on"},
    )
    assert response.status_code == 200
    assert "is not an event type" in response.context["form"].errors["event_types"][0]
    assert WebhookSubscription.objects.count() == 0


def test_webhook_create_edit_and_delete(client, login):
    user = login(Role.INTEGRATOR)
    response = client.post(
        reverse("core:webhook-create"),
        {
            "url": "https://hooks.example.com/in",
            "event_types": "invoice.released\npayment.received, invoice.released",
            "description": "ERP bridge",
            "active": "on",
        },
    )
    subscription = WebhookSubscription.objects.get(owner=user)
    assert response["Location"] == reverse("core:webhook-detail", args=[subscription.pk])
    assert subscription.event_types == ["invoice.released", "payment.received"]
    assert subscription.active is True
    assert subscription.secret.startswith("whsec_")

    detail = client.get(response["Location"]).content.decode()
    assert "ERP bridge" in detail
    assert subscription.secret not in detail

    client.post(
        reverse("core:webhook-edit", args=[subscription.pk]),
        {"url": "https://hooks.example.com/v2", "event_types": "*", "description": "ERP bridge"},
    )
    subscription.refresh_from_db()
    assert (subscription.url, subscription.event_types, subscription.active) == (
        "https://hooks.example.com/v2",
        ["*"],
        False,
    )

    delete_url = reverse("core:webhook-delete", args=[subscription.pk])
    assert client.get(delete_url).status_code == 200
    assert WebhookSubscription.objects.filter(pk=subscription.pk).exists()
    assert client.post(delete_url)["Location"] == reverse("core:webhooks")
    assert not WebhookSubscription.objects.filter(pk=subscription.pk).exists()
    assert AuditEvent.objects.filter(action="webhook_subscription.deleted").count() == 1


def test_webhook_secret_is_revealed_only_on_request(client, make_user, subscription):
    client.force_login(subscription.owner)
    url = reverse("core:webhook-secret", args=[subscription.pk])
    revealed = client.get(url, {"show": "1"}, headers={"HX-Request": "true"})
    assert subscription.secret in revealed.content.decode()
    assert "no-store" in revealed["Cache-Control"]
    hidden = client.get(url, headers={"HX-Request": "true"})
    assert subscription.secret not in hidden.content.decode()
    assert client.get(url, {"show": "1"})["Location"] == reverse(
        "core:webhook-detail", args=[subscription.pk]
    )


def test_webhooks_of_other_integrators_are_not_found(client, login, subscription):
    login(Role.INTEGRATOR)
    assert subscription not in client.get(reverse("core:webhooks")).context["subscriptions"]
    for name in ("core:webhook-detail", "core:webhook-edit", "core:webhook-delete", "core:webhook-secret"):
        assert client.get(reverse(name, args=[subscription.pk])).status_code == 404
    assert client.post(reverse("core:webhook-delete", args=[subscription.pk])).status_code == 404
    assert WebhookSubscription.objects.filter(pk=subscription.pk).exists()


def test_admins_see_every_webhook(client, login, subscription):
    login(Role.ADMIN)
    response = client.get(reverse("core:webhooks"))
    assert list(response.context["subscriptions"]) == [subscription]
    assert client.get(reverse("core:webhook-detail", args=[subscription.pk])).status_code == 200


def test_webhook_detail_lists_deliveries_with_replay_on_finished_ones(client, subscription):
    client.force_login(subscription.owner)
    statuses = [WebhookDelivery.Status.DELIVERED, WebhookDelivery.Status.DEAD, WebhookDelivery.Status.PENDING]
    deliveries = {}
    for index, status in enumerate(statuses):
        event = Event.objects.create(
            type="invoice.released", subject_type="billing.invoice", subject_id=str(index)
        )
        deliveries[status] = WebhookDelivery.objects.create(
            subscription=subscription,
            event=event,
            status=status,
            attempts=3,
            last_status_code=503,
            last_error="HTTP 503: busy" if status != WebhookDelivery.Status.DELIVERED else "",
        )
    html = client.get(reverse("core:webhook-detail", args=[subscription.pk])).content.decode()
    assert "HTTP 503: busy" in html
    for status, delivery in deliveries.items():
        replay = reverse("core:webhook-delivery-replay", args=[delivery.pk])
        assert (replay in html) == (status != WebhookDelivery.Status.PENDING)


def test_replay_is_post_only_and_requeues_the_delivery(
    client, subscription, django_capture_on_commit_callbacks
):
    client.force_login(subscription.owner)
    event = Event.objects.create(type="invoice.released", subject_type="billing.invoice", subject_id="1")
    delivery = WebhookDelivery.objects.create(
        subscription=subscription, event=event, status=WebhookDelivery.Status.DEAD, attempts=8
    )
    url = reverse("core:webhook-delivery-replay", args=[delivery.pk])
    assert client.get(url).status_code == 405
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.DEAD

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(url)
    assert response["Location"] == reverse("core:webhook-detail", args=[subscription.pk])
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (WebhookDelivery.Status.PENDING, 0)
    assert len(callbacks) == 1


def test_events_newest_first_filtered_and_paginated(client, login):
    login(Role.EXECUTIVE)
    Event.objects.bulk_create(
        Event(
            type="payment.received" if i % 2 else "invoice.released",
            subject_type="billing.invoice",
            subject_id=str(i),
        )
        for i in range(120)
    )
    first = client.get(reverse("core:events"))
    page = first.context["events"]
    assert (len(page), page.paginator.count, page.paginator.num_pages) == (50, 120, 3)
    assert [e.subject_id for e in page][:2] == ["119", "118"]

    filtered = client.get(reverse("core:events"), {"type": "payment.received", "page": 2})
    page = filtered.context["events"]
    assert (len(page), page.paginator.count) == (10, 60)
    assert {e.type for e in page} == {"payment.received"}
    assert "type=payment.received&amp;page=1" in filtered.content.decode()


def test_audit_log_filters_and_shows_changes(client, login, make_user):
    login(Role.FINANCE)
    actor = make_user(Role.INTEGRATOR, username="ivy")
    subscription = create_webhook_subscription(
        actor=actor, owner=actor, url="https://a.example.com/", event_types=["*"]
    )
    update_webhook_subscription(actor=actor, subscription=subscription, url="https://b.example.com/")
    response = client.get(
        reverse("core:audit-log"),
        {
            "actor": "ivy",
            "action": "webhook_subscription.updated",
            "object_type": "core.webhooksubscription",
            "object_id": str(subscription.pk),
        },
    )
    rows = list(response.context["rows"])
    assert [r.action for r in rows] == ["webhook_subscription.updated"]
    html = response.content.decode()
    assert '<span class="old">https://a.example.com/</span>' in html
    assert '<span class="new">https://b.example.com/</span>' in html

    nothing = client.get(reverse("core:audit-log"), {"actor": "nobody"})
    assert "No audit entries match these filters." in nothing.content.decode()


def test_audit_history_include(make_user):
    user = make_user(Role.CONSULTANT, username="cora")
    issued = create_api_key(actor=user, user=user, name="Pair", scopes=["core:read", "crm:read"])
    html = Template(
        '{% include "core/_audit_history.html" with object_type="core.apikey" object_id=key.pk %}'
    ).render(Context({"key": issued.api_key}))
    assert "api_key.created" in html
    # A created row records state: its two scopes are one value, not a change from one to the other.
    assert "core:read, crm:read" in html
    assert 'class="old"' not in html
    empty = Template(
        '{% include "core/_audit_history.html" with object_type="billing.invoice" object_id=1 %}'
    ).render(Context({}))
    assert "No recorded changes yet." in empty


@pytest.mark.parametrize(
    ("template", "context", "expected"),
    [
        ('{{ amount|money:"USD" }}', {"amount": Decimal("1234.5")}, "$1,234.50"),
        ('{{ amount|money:"JPY" }}', {"amount": Decimal("1000")}, "¥1,000"),
        ("{{ amount|money }}", {"amount": Money(Decimal("-5"), "EUR")}, "-€5.00"),
        ('{{ amount|money:"USD" }}', {"amount": None}, ""),
        ("{{ names|roles }}", {"names": ["executive", "finance"]}, "Finance, Executive"),
        ("{{ names|roles }}", {"names": []}, "No role"),
        ("{{ day|ymd }}", {"day": date(2026, 1, 5)}, "2026-01-05"),
    ],
)
def test_template_helpers(template, context, expected):
    assert Template("{% load ledgerline %}" + template).render(Context(context)) == expected


def test_sign_in_with_the_form(client, make_user):
    user = make_user(Role.CONSULTANT)
    response = client.post(reverse("login"), {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    assert client.session[SESSION_KEY] == str(user.pk)


def test_failed_sign_in_shows_the_error(client, make_user):
    user = make_user(Role.CONSULTANT)
    response = client.post(reverse("login"), {"username": user.username, "password": "wrong"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()
    assert SESSION_KEY not in client.session


def test_sign_in_locks_after_five_failures_even_for_the_right_password(client, make_user):
    user = make_user(Role.CONSULTANT)
    statuses = [
        client.post(reverse("login"), {"username": user.username, "password": f"wrong-{i}"}).status_code
        for i in range(5)
    ]
    assert statuses == [200, 200, 200, 200, 429]

    response = client.post(reverse("login"), {"username": user.username, "password": PASSWORD})
    assert response.status_code == 429
    html = response.content.decode()
    assert "Too many failed sign-in attempts for this account from your address" in html
    assert "try again in 15 minutes" in html
    assert SESSION_KEY not in client.session


def test_lockout_is_per_address(client, make_user):
    user = make_user(Role.CONSULTANT)
    for i in range(5):
        client.post(reverse("login"), {"username": user.username, "password": f"wrong-{i}"})
    other = Client(REMOTE_ADDR="10.0.0.9")
    assert other.post(reverse("login"), {"username": user.username, "password": PASSWORD}).status_code == 302


def test_unknown_page_is_html_404(client, login):
    login(Role.CONSULTANT)
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    assert "We could not find that page" in response.content.decode()


def test_unknown_api_route_is_json_404(client):
    response = client.get("/api/v1/nope/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert set(response.json()) == {"code", "detail", "fields"}


def test_server_error_page_needs_no_database(django_assert_num_queries):
    request = RequestFactory().get("/somewhere/")
    with django_assert_num_queries(0):
        response = views.server_error(request)
    assert response.status_code == 500
    assert "Something went wrong on our side" in response.content.decode()
    assert "vendor/bootstrap-5.3.9/bootstrap.min.css" in response.content.decode()


def test_server_error_under_the_api_is_json():
    response = views.server_error(RequestFactory().get("/api/v1/things/"))
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
