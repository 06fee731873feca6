from django.db import models


def amount_field(**kwargs) -> models.DecimalField:
    """A money amount in its currency, quantized to the minor unit (at most 4 places)."""
    kwargs.setdefault("max_digits", 20)
    kwargs.setdefault("decimal_places", 4)
    return models.DecimalField(**kwargs)


def hours_field(**kwargs) -> models.DecimalField:
    kwargs.setdefault("max_digits", 14)
    kwargs.setdefault("decimal_places", 2)
    return models.DecimalField(**kwargs)
