"""Fields the ledger's serializers share: money amounts in their currency's minor units."""

from rest_framework import serializers

from core.money import quantize


def _lookup(instance, path: str):
    for part in path.split("."):
        instance = instance[part] if isinstance(instance, dict) else getattr(instance, part)
    return instance


class AmountField(serializers.DecimalField):
    """A money amount as a decimal string in its currency's minor units: "1234.50" USD, "1000" JPY.

    `currency` is the dotted path (from the object) to its ISO code; without one, the serializer
    context's `currency` is used (reports, whose amounts are all in one functional currency).
    """

    def __init__(self, *, currency: str | None = "currency", **kwargs):
        kwargs.setdefault("max_digits", 20)
        kwargs.setdefault("decimal_places", 4)
        kwargs.setdefault("read_only", True)
        self.currency_path = currency
        super().__init__(**kwargs)

    def get_attribute(self, instance):
        value = super().get_attribute(instance)
        currency = _lookup(instance, self.currency_path) if self.currency_path else None
        return value, currency

    def to_representation(self, pair):
        value, currency = pair
        if value is None:
            return None
        currency = currency or self.context.get("currency")
        if currency:
            value = quantize(value, currency)
        return format(value, "f")
