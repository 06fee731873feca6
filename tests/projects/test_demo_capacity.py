"""The demo's holiday calendars (the demo firm's practices, holidays and time off are checked in
test_demo.py, which loads it once)."""

from datetime import date

from projects.demo_capacity import _easter, public_holidays


def test_easter_and_the_holiday_calendars():
    assert [_easter(year) for year in (2024, 2025, 2026, 2027)] == [
        date(2024, 3, 31),
        date(2025, 4, 20),
        date(2026, 4, 5),
        date(2027, 3, 28),
    ]
    german = dict(public_holidays("EUR", 2026))
    assert german[date(2026, 4, 3)] == "Karfreitag" and german[date(2026, 5, 14)] == "Christi Himmelfahrt"
    american = dict(public_holidays("USD", 2026))
    assert (
        american[date(2026, 11, 26)] == "Thanksgiving Day" and american[date(2026, 5, 25)] == "Memorial Day"
    )
    assert dict(public_holidays("GBP", 2026))[date(2026, 8, 31)] == "Summer bank holiday"
