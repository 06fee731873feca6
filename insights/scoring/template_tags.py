"""Template tags of the scores shown on other apps' pages (registered as the `insights_scores` library in
settings, so a page loads it without the insights app owning its view)."""

from django import template

from insights.detectors.opportunities import opportunity_score

register = template.Library()


@register.simple_tag
def win_score(opportunity):
    """The open opportunity's win score beside its stage's default probability; None once it is closed."""
    return opportunity_score(opportunity)
