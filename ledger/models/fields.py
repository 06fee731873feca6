from django.db import models


def amount_field(**kwargs) -> models.DecimalField:
    """A money amount; the value is always quantized to its currency's minor unit (at most 4 places)."""
    kwargs.setdefault("max_digits", 20)
    kwargs.setdefault("decimal_places", 4)
    return models.DecimalField(**kwargs)


def rate_field(**kwargs) -> models.DecimalField:
    kwargs.setdefault("max_digits", 24)
    kwargs.setdefault("decimal_places", 12)
    return models.DecimalField(**kwargs)


def currency_field(**kwargs) -> models.CharField:
    """An ISO 4217 code; valid codes are the rows of `Currency`."""
    kwargs.setdefault("max_length", 3)
    return models.CharField(**kwargs)
