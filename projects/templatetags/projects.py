"""Template helpers of the projects pages: `{% load projects %}`."""

from decimal import Decimal

from django import template

register = template.Library()


@register.filter
def hours(value) -> str:
    """Hours for display: Decimal("7.5") → "7.50"; None → ""."""
    if value is None or value == "":
        return ""
    return f"{Decimal(value):,.2f}"


@register.filter
def hours_input(value) -> str:
    """Hours as typed back into an input: "8", "7.5", "7.25"; None → ""."""
    if value is None or value == "":
        return ""
    text = f"{Decimal(value).normalize():f}"
    return text


@register.filter
def bar_width(percent) -> int:
    """A percentage clamped to 0..100 for a progress bar's width."""
    if percent is None:
        return 0
    return max(0, min(int(percent), 100))


@register.filter
def get_item(mapping, key):
    return mapping.get(key) if mapping else None
