"""How an insight's figures read in the inbox: one labelled row per figure, nested values in words."""

from decimal import Decimal, InvalidOperation


def _label(key: str) -> str:
    return key.replace("_", " ").capitalize()


def _text(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, dict):
        return "; ".join(f"{key}: {_text(item)}" for key, item in value.items())
    if isinstance(value, list):
        return " · ".join(_text(item) for item in value)
    return str(value)


def _numeric(value) -> bool:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return False
    try:
        Decimal(str(value))
    except InvalidOperation:
        return False
    return True


def figure_rows(figures: dict) -> list[tuple[str, str, bool]]:
    """[(label, value as text, is a number)] per figure (in the order the database keeps the keys)."""
    return [(_label(key), _text(value), _numeric(value)) for key, value in (figures or {}).items()]
