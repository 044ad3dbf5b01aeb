"""Business-hours SLA: core.sla.due_at and the [sla] table of the city config."""
from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from core.config import ConfigError, load_city_config
from core.sla import BusinessCalendar, due_at

NY = ZoneInfo("America/New_York")
WEEKDAYS_8_TO_5 = {d: (time(8), time(17)) for d in range(5)}
CALENDAR = BusinessCalendar(tz=NY, hours=WEEKDAYS_8_TO_5, holidays=frozenset({date(2026, 12, 7)}))


def utc(*args) -> datetime:
    """A New York wall time as the naive UTC the database stores."""
    return datetime(*args, tzinfo=NY).astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


def test_friday_afternoon_plus_two_hours_is_monday_nine():
    # Friday 2026-11-20 16:00 -> 1 h on Friday, 1 h on Monday 2026-11-23.
    assert due_at(utc(2026, 11, 20, 16, 0), 2, CALENDAR) == utc(2026, 11, 23, 9, 0)


def test_within_one_day():
    assert due_at(utc(2026, 11, 24, 9, 30), 3, CALENDAR) == utc(2026, 11, 24, 12, 30)


def test_a_holiday_monday_moves_to_tuesday():
    # Monday 2026-12-07 is a holiday in this calendar.
    assert due_at(utc(2026, 12, 4, 16, 0), 2, CALENDAR) == utc(2026, 12, 8, 9, 0)


def test_start_outside_hours_begins_at_next_opening():
    assert due_at(utc(2026, 11, 24, 6, 0), 1, CALENDAR) == utc(2026, 11, 24, 9, 0)
    assert due_at(utc(2026, 11, 24, 20, 0), 1, CALENDAR) == utc(2026, 11, 25, 9, 0)
    assert due_at(utc(2026, 11, 21, 10, 0), 9, CALENDAR) == utc(2026, 11, 23, 17, 0)  # Saturday


def test_dst_change_weekend_keeps_wall_clock_hours():
    # DST ends Sunday 2026-11-01: Friday 16:00 EDT (20:00 UTC) + 2 h -> Monday 09:00 EST (14:00 UTC).
    assert due_at(utc(2026, 10, 30, 16, 0), 2, CALENDAR) == datetime(2026, 11, 2, 14, 0)
    # DST starts Sunday 2027-03-14: Friday 16:00 EST (21:00 UTC) + 2 h -> Monday 09:00 EDT (13:00 UTC).
    assert due_at(utc(2027, 3, 12, 16, 0), 2, CALENDAR) == datetime(2027, 3, 15, 13, 0)


def test_no_calendar_means_calendar_hours():
    assert due_at(datetime(2026, 11, 20, 21, 0), 72) == datetime(2026, 11, 23, 21, 0)
    assert due_at(datetime(2026, 11, 20, 21, 0), 72, None) == datetime(2026, 11, 23, 21, 0)


def test_demo_city_declares_city_hall_hours_and_holidays():
    config = load_city_config()
    assert config.sla["hours"][0] == (time(8), time(17)) and 5 not in config.sla["hours"]
    assert date(2026, 12, 25) in config.sla["holidays"]


MINIMAL = """
[city]
name = "Test"
jurisdiction_id = "test"
timezone = "America/New_York"

[plugins]
enabled = []
"""


def problems(tmp_path: Path, sla: str) -> list[str]:
    f = tmp_path / "city.toml"
    f.write_text(MINIMAL + sla, encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_city_config(f)
    return exc.value.lines


def test_config_without_sla_is_calendar_hours(tmp_path):
    f = tmp_path / "city.toml"
    f.write_text(MINIMAL, encoding="utf-8")
    assert load_city_config(f).sla is None


@pytest.mark.parametrize("sla, key, message", [
    ('[sla]\nhours = { mon = "9-5" }\n', "sla.hours.mon", "is not opening hours"),
    ('[sla]\nhours = { mon = "17:00-08:00" }\n', "sla.hours.mon", "closing time must be after"),
    ('[sla]\nhours = { monday = "08:00-17:00" }\n', "sla.hours.monday", "unknown day"),
    ('[sla]\nhours = {}\n', "sla.hours", "at least one open day"),
    ('[sla]\nholidays = ["2026-12-25"]\n', "sla.hours", "missing data"),
    ('[sla]\nhours = { mon = "08:00-17:00" }\nholidays = ["Christmas"]\n', "sla.holidays[0]", "not a valid date"),
    ('[sla]\nhours = { mon = "08:00-17:00" }\nweekends = true\n', "sla.weekends", "unknown key"),
])
def test_bad_sla_table_gives_one_line_naming_file_and_key(tmp_path, sla, key, message):
    lines = problems(tmp_path, sla)
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{tmp_path / 'city.toml'}: {key}: ") or f": {key}: " in lines[0], lines
    assert "city.toml" in lines[0] and message in lines[0], lines
