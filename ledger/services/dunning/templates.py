"""The template engine of dunning texts: Django template syntax without the tags that load code."""

from functools import cache, lru_cache

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


@lru_cache(maxsize=256)
def _compiled(source: str):
    """A policy level's template compiled once per process, not once per notice (a run renders each
    level's subject and body for every client it reminds)."""
    return _template_engine().from_string(source)


def render_template(source: str, context: dict) -> str:
    return _compiled(source).render(Context(context, autoescape=False))
