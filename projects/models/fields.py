from django.db import models


def money_field(**kwargs) -> models.DecimalField:
    """A money amount or rate in its currency (quantized to the minor unit where it is an amount)."""
    kwargs.setdefault("max_digits", 20)
    kwargs.setdefault("decimal_places", 4)
    return models.DecimalField(**kwargs)


def hours_field(**kwargs) -> models.DecimalField:
    kwargs.setdefault("max_digits", 10)
    kwargs.setdefault("decimal_places", 2)
    return models.DecimalField(**kwargs)


def currency_field(**kwargs) -> models.CharField:
    """An ISO 4217 code (a row of `ledger.Currency`)."""
    kwargs.setdefault("max_length", 3)
    return models.CharField(**kwargs)
