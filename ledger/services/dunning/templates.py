"""The template engine of dunning texts: Django template syntax without the tags that load code."""

from functools import cache

from django.template import Context, Engine, Library, defaultfilters, defaulttags

# Tags a policy's template may not use: they load code, reveal internals, or need a request.
BLOCKED_TAGS = {"load", "debug", "url", "csrf_token", "querystring"}


@cache
def _template_engine() -> Engine:
    """A Django template engine without loaders and without the tags that load code or need a request.

    Templates only ever see the plain values of `notice_context` (strings, numbers, dates, lists, dicts),
    never model instances, so they cannot reach other data through attributes or methods.
    """
    library = Library()
    library.tags = {name: tag for name, tag in defaulttags.register.tags.items() if name not in BLOCKED_TAGS}
    library.filters = dict(defaultfilters.register.filters)
    engine = Engine(autoescape=False)
    engine.template_builtins = [library]
    return engine


def render_template(source: str, context: dict) -> str:
    return _template_engine().from_string(source).render(Context(context, autoescape=False))
