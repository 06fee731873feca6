"""Browser pages of the platform core: sign-in, the landing redirect, the overview, API keys, webhooks,
domain events and the audit log. Views check the role, call a service or selector, and render."""

from functools import wraps

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Max, Q
from django.http import HttpResponseServerError
from django.shortcuts import get_object_or_404, redirect, render
from django.template import loader
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.api.filtersets import AuditEventFilterSet, EventFilterSet
from core.errors import DomainError
from core.forms import (
    ApiKeyForm,
    AuditFilterForm,
    EventFilterForm,
    LoginForm,
    WebhookCreateForm,
    WebhookEditForm,
)
from core.models import ApiKey, AuditEvent, Event, WebhookDelivery
from core.roles import Role, has_role
from core.selectors import webhook_deliveries_for, webhook_subscriptions_visible_to
from core.services.api_keys import create_api_key, revoke_api_key
from core.services.webhooks import (
    create_webhook_subscription,
    delete_webhook_subscription,
    replay_webhook_delivery,
    rotate_webhook_secret,
    send_test_event,
    update_webhook_subscription,
)
from core.workspaces import workspace_url_name

PAGE_SIZE = 50
EVENT_READERS = (Role.FINANCE, Role.EXECUTIVE, Role.INTEGRATOR)
AUDIT_READERS = (Role.FINANCE, Role.EXECUTIVE)
WEBHOOK_MANAGERS = (Role.INTEGRATOR,)
# The plain key of a just-created API key waits here for exactly one page render.
NEW_API_KEY_SESSION_KEY = "ledgerline.new_api_key"


def role_required(*roles: str):
    """Sign-in required; then one of `roles` (admins always pass), else the 403 page."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapper(request, *args, **kwargs):
            if not has_role(request.user, *roles):
                raise PermissionDenied("Your role does not give access to this page.")
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def _page(request, queryset, per_page: int = PAGE_SIZE):
    return Paginator(queryset, per_page).get_page(request.GET.get("page"))


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True


@login_required
def home(request):
    return redirect(workspace_url_name(request.user))


@require_GET
@login_required
def overview(request):
    user = request.user
    keys = ApiKey.objects.filter(user=user)
    key_stats = keys.aggregate(
        total=Count("id"),
        active=Count("id", filter=Q(revoked_at__isnull=True)),
        last_used=Max("last_used_at"),
    )
    sees_events = has_role(user, Role.FINANCE, Role.EXECUTIVE)
    context = {
        "key_stats": key_stats,
        "recent_keys": keys[:3],
        "my_audit_events": AuditEvent.objects.filter(actor=user).order_by("-id")[:10],
        "sees_events": sees_events,
        "latest_events": Event.objects.select_related("actor").order_by("-id")[:10] if sees_events else None,
    }
    return render(request, "core/overview.html", context)


@require_GET
@login_required
@never_cache
def api_key_list(request):
    new_key = request.session.pop(NEW_API_KEY_SESSION_KEY, None)
    keys = ApiKey.objects.filter(user=request.user)
    if new_key is not None:
        new_key["api_key"] = keys.filter(pk=new_key["id"]).first()
    return render(request, "core/api_keys/list.html", {"api_keys": keys, "new_key": new_key})


@require_http_methods(["GET", "POST"])
@login_required
def api_key_create(request):
    form = ApiKeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            issued = create_api_key(
                actor=request.user,
                user=request.user,
                name=form.cleaned_data["name"],
                scopes=form.cleaned_data["scopes"],
                expires_at=form.expires_at(),
            )
        except DomainError as exc:
            form.add_domain_error(exc)
        else:
            request.session[NEW_API_KEY_SESSION_KEY] = {"id": issued.api_key.pk, "key": issued.key}
            return redirect("core:api-keys")
    return render(request, "core/api_keys/form.html", {"form": form})


@require_http_methods(["GET", "POST"])
@login_required
def api_key_revoke(request, pk: int):
    api_key = get_object_or_404(ApiKey, pk=pk, user=request.user)
    if request.method == "POST":
        try:
            revoke_api_key(actor=request.user, api_key=api_key)
        except DomainError as exc:
            messages.error(request, exc.detail)
        else:
            messages.success(request, f"The key “{api_key.name}” is revoked; requests made with it now fail.")
        return redirect("core:api-keys")
    return render(request, "core/api_keys/revoke.html", {"api_key": api_key})


def _subscriptions_for(user):
    return webhook_subscriptions_visible_to(user).select_related("owner")


@require_GET
@role_required(*WEBHOOK_MANAGERS)
def webhook_list(request):
    subscriptions = _subscriptions_for(request.user).annotate(
        dead_count=Count("deliveries", filter=Q(deliveries__status=WebhookDelivery.Status.DEAD)),
        last_delivery_at=Max("deliveries__last_attempt_at"),
    )
    return render(
        request,
        "core/webhooks/list.html",
        {"subscriptions": subscriptions, "show_owner": has_role(request.user, Role.ADMIN)},
    )


@require_http_methods(["GET", "POST"])
@role_required(*WEBHOOK_MANAGERS)
def webhook_create(request):
    form = WebhookCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            subscription = create_webhook_subscription(
                actor=request.user, owner=request.user, **form.cleaned_data
            )
        except DomainError as exc:
            form.add_domain_error(exc)
        else:
            messages.success(
                request, "Webhook subscription created. Use its secret to verify our signatures."
            )
            return redirect("core:webhook-detail", pk=subscription.pk)
    return render(request, "core/webhooks/form.html", {"form": form})


@require_GET
@role_required(*WEBHOOK_MANAGERS)
def webhook_detail(request, pk: int):
    subscription = get_object_or_404(_subscriptions_for(request.user), pk=pk)
    deliveries = webhook_deliveries_for(subscription)
    return render(
        request,
        "core/webhooks/detail.html",
        {"subscription": subscription, "deliveries": _page(request, deliveries)},
    )


@require_GET
@role_required(*WEBHOOK_MANAGERS)
@never_cache
def webhook_secret(request, pk: int):
    """The secret revealed (`?show=1`) or masked again; an htmx fragment, or the detail page without htmx."""
    subscription = get_object_or_404(_subscriptions_for(request.user), pk=pk)
    if not request.headers.get("HX-Request"):
        return redirect("core:webhook-detail", pk=pk)
    return render(
        request,
        "core/webhooks/_secret.html",
        {"subscription": subscription, "revealed": request.GET.get("show") == "1"},
    )


@require_http_methods(["GET", "POST"])
@role_required(*WEBHOOK_MANAGERS)
def webhook_edit(request, pk: int):
    subscription = get_object_or_404(_subscriptions_for(request.user), pk=pk)
    form = WebhookEditForm(request.POST or None, initial=WebhookEditForm.initial_for(subscription))
    if request.method == "POST" and form.is_valid():
        fields = form.changed_fields()
        if not fields:
            messages.info(request, "Nothing changed.")
            return redirect("core:webhook-detail", pk=pk)
        try:
            update_webhook_subscription(actor=request.user, subscription=subscription, **fields)
        except DomainError as exc:
            form.add_domain_error(exc)
        else:
            messages.success(request, "Webhook subscription saved.")
            return redirect("core:webhook-detail", pk=pk)
    return render(request, "core/webhooks/form.html", {"form": form, "subscription": subscription})


@require_http_methods(["GET", "POST"])
@role_required(*WEBHOOK_MANAGERS)
def webhook_delete(request, pk: int):
    subscription = get_object_or_404(_subscriptions_for(request.user), pk=pk)
    if request.method == "POST":
        try:
            delete_webhook_subscription(actor=request.user, subscription=subscription)
        except DomainError as exc:
            messages.error(request, exc.detail)
            return redirect("core:webhook-detail", pk=pk)
        messages.success(request, f"Webhook subscription for {subscription.url} deleted.")
        return redirect("core:webhooks")
    return render(request, "core/webhooks/delete.html", {"subscription": subscription})


@require_POST
@role_required(*WEBHOOK_MANAGERS)
def webhook_send_test(request, pk: int):
    subscription = get_object_or_404(_subscriptions_for(request.user), pk=pk)
    try:
        event = send_test_event(actor=request.user, subscription=subscription)
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(
            request, f"Test event #{event.pk} ({event.type}) sent; its delivery is listed below."
        )
    return redirect("core:webhook-detail", pk=pk)


@require_http_methods(["GET", "POST"])
@role_required(*WEBHOOK_MANAGERS)
def webhook_rotate_secret(request, pk: int):
    subscription = get_object_or_404(_subscriptions_for(request.user), pk=pk)
    if request.method == "POST":
        try:
            rotate_webhook_secret(actor=request.user, subscription=subscription)
        except DomainError as exc:
            messages.error(request, exc.detail)
        else:
            messages.success(request, "New signing secret issued; deliveries from now on are signed with it.")
        return redirect("core:webhook-detail", pk=pk)
    return render(request, "core/webhooks/rotate.html", {"subscription": subscription})


@require_POST
@role_required(*WEBHOOK_MANAGERS)
def webhook_delivery_replay(request, pk: int):
    delivery = get_object_or_404(
        WebhookDelivery.objects.select_related("event").filter(
            subscription__in=webhook_subscriptions_visible_to(request.user)
        ),
        pk=pk,
    )
    try:
        replay_webhook_delivery(actor=request.user, delivery=delivery)
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"Delivery #{delivery.pk} of {delivery.event.type} queued again.")
    return redirect("core:webhook-detail", pk=delivery.subscription_id)


@require_GET
@role_required(*EVENT_READERS)
def event_list(request):
    types = list(Event.objects.order_by("type").values_list("type", flat=True).distinct())
    form = EventFilterForm(request.GET or None, types=types)
    events = EventFilterSet(
        {"type": request.GET.get("type", "")}, queryset=Event.objects.select_related("actor").order_by("-id")
    ).qs
    return render(request, "core/events/list.html", {"form": form, "events": _page(request, events)})


@require_GET
@role_required(*AUDIT_READERS)
def audit_log(request):
    form = AuditFilterForm(request.GET or None)
    filters = {name: request.GET.get(name, "").strip() for name in AuditFilterForm.base_fields}
    rows = AuditEventFilterSet(
        {name: value for name, value in filters.items() if value},
        queryset=AuditEvent.objects.select_related("actor").order_by("-id"),
    ).qs
    return render(
        request,
        "core/audit/list.html",
        {"form": form, "rows": _page(request, rows), "filtered": any(filters.values())},
    )


def page_not_found(request, exception=None):
    if request.path.startswith("/api/"):
        from core.api.errors import json_not_found

        return json_not_found(request, exception)
    return render(request, "404.html", status=404)


def server_error(request):
    """Rendered without a request context: no context processors, no database, nothing that can fail again."""
    if request.path.startswith("/api/"):
        from core.api.errors import json_server_error

        return json_server_error(request)
    return HttpResponseServerError(loader.get_template("500.html").render())
