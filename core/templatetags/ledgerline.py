"""Ledgerline's template helpers: `{% load ledgerline %}`."""

from django import template
from django.utils import timezone
from django.utils.dateformat import format as format_date

from core.money import format_money
from core.roles import Role, user_roles
from core.selectors import audit_events_for

register = template.Library()

_ROLE_ORDER = {role: index for index, role in enumerate(Role.values)}


@register.filter
def money(amount, currency=None):
    """`{{ amount|money:"USD" }}` → "$1,234.50"; a djmoney `Money` brings its currency: `{{ total|money }}`.

    Blank for None. A float raises (money is never a float), so the bug shows in tests, not on a page.
    """
    if amount is None or amount == "":
        return ""
    if currency is None and hasattr(amount, "currency"):
        amount, currency = amount.amount, amount.currency.code
    if currency is None:
        raise template.TemplateSyntaxError("money needs a currency: {{ amount|money:'USD' }}")
    return format_money(amount, str(currency))


@register.filter
def role_label(name: str) -> str:
    """ "project_manager" → "Project manager"."""
    try:
        return Role(name).label
    except ValueError:
        return name


@register.filter
def role_labels(user_or_names) -> list[str]:
    """A user's roles (or a list of role names) as labels, in the order of `Role`."""
    names = user_roles(user_or_names) if hasattr(user_or_names, "is_authenticated") else (user_or_names or ())
    return [role_label(n) for n in sorted(names, key=lambda n: _ROLE_ORDER.get(n, len(_ROLE_ORDER)))]


@register.filter
def roles(user_or_names) -> str:
    """A user's roles (or a list of role names) for display: "Finance, Executive", or "No role"."""
    return ", ".join(role_labels(user_or_names)) or "No role"


def _formatted(value, fmt: str) -> str:
    if value in (None, ""):
        return ""
    if hasattr(value, "tzinfo") and timezone.is_aware(value):
        value = timezone.localtime(value)
    return format_date(value, fmt)


# Explicit formats: with USE_I18N the locale's format ("Jan. 5, 2025") wins over settings.DATE_FORMAT.
@register.filter
def ymd(value) -> str:
    """A date or datetime as YYYY-MM-DD (datetimes in the site's time zone)."""
    return _formatted(value, "Y-m-d")


@register.filter
def ymd_hm(value) -> str:
    """A datetime as YYYY-MM-DD HH:MM in the site's time zone."""
    return _formatted(value, "Y-m-d H:i")


# Audit rows of these actions record the object's state, not [old, new] pairs; a two-item list in them
# (e.g. two scopes) is a value. Every other action's two-item lists are changes, as `core.audit.diff` writes.
_STATE_ACTION_SUFFIXES = (".created", ".deleted")


@register.filter
def change_rows(changes, action: str = "") -> list[tuple[str, object, object, bool]]:
    """An audit row's `changes` as (field, old, new, is_change) rows; context values as (field, value)."""
    if not isinstance(changes, dict):
        return [("", changes, None, False)] if changes not in (None, "") else []
    records_state = str(action).endswith(_STATE_ACTION_SUFFIXES)
    rows = []
    for field, value in changes.items():
        if not records_state and isinstance(value, list) and len(value) == 2:
            rows.append((field, value[0], value[1], True))
        else:
            rows.append((field, value, None, False))
    return rows


@register.filter
def audit_value(value) -> str:
    """A JSON value from the audit trail for reading: lists joined, None as "∅", "" as "(blank)"."""
    if value is None:
        return "∅"
    if value == "":
        return "(blank)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(audit_value(item) for item in value) if value else "(none)"
    if isinstance(value, dict):
        return ", ".join(f"{key}: {audit_value(item)}" for key, item in value.items()) or "(none)"
    return str(value)


@register.filter
def duration(delta) -> str:
    """A timedelta in words: "15 minutes", "1 hour", "2 hours 30 minutes"."""
    if delta is None:
        return ""
    minutes = int(delta.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    parts = []
    if hours:
        parts.append(f"{hours} hour{'s' if hours != 1 else ''}")
    if minutes or not hours:
        parts.append(f"{minutes} minute{'s' if minutes != 1 else ''}")
    return " ".join(parts)


@register.simple_tag
def audit_history(object_type: str, object_id, limit: int = 20):
    """The latest `limit` audit rows of one object, newest first.

    `{% audit_history "billing.invoice" invoice.pk as rows %}`; core/_audit_history.html wraps it.
    """
    return list(audit_events_for(object_type, object_id)[:limit])
