"""Dates, times, numbers, money and relative times in the reader's language and the city's time zone.

The demo city is Palm Coast, Florida (America/New_York).  The database keeps naive UTC.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from flask import render_template_string
from flask_babel import force_locale

from core import formats
from tests.conftest import login
from tests.plugins.i18n.conftest import other_city

NOV_28_2_05_PM = datetime(2026, 11, 28, 19, 5)  # naive UTC, as stored: 2:05 PM in Palm Coast (EST, UTC-5)
JUL_4_12_30_PM = datetime(2026, 7, 4, 16, 30)  # 12:30 PM in Palm Coast (EDT, UTC-4)
NNBSP, NBSP = "\u202f", "\u00a0"  # CLDR puts a narrow no-break space before AM/PM, a no-break space in "1 234"


def formatted(app, accept_language: str, render):
    """What ``render()`` gives for a request from a browser asking for this language."""
    with app.test_request_context("/", headers={"Accept-Language": accept_language}):
        return render()


@pytest.mark.parametrize(
    "language, expected",
    [
        ("en", f"Nov 28, 2026, 2:05{NNBSP}PM"),
        ("fr", "28 nov. 2026 14 h 05"),  # French in Canadian format (fr -> fr_CA), joined without a comma
    ],
)
def test_a_timestamp_is_shown_in_the_citys_time_zone_in_each_language(app, language, expected):
    assert formatted(app, language, lambda: formats.format_datetime(NOV_28_2_05_PM)) == expected


def test_summer_time_is_the_citys_summer_time(app):
    assert formatted(app, "en-US", lambda: formats.format_datetime(JUL_4_12_30_PM)) == f"Jul 4, 2026, 12:30{NNBSP}PM"
    assert formatted(app, "fr-CA", lambda: formats.format_datetime(JUL_4_12_30_PM)) == "4 juill. 2026 12 h 30"


def test_a_date_is_the_citys_date_not_utcs(app):
    late_evening = datetime(2026, 11, 29, 3, 0)  # 10 PM on Nov 28 in Palm Coast
    assert formatted(app, "en", lambda: formats.format_date(late_evening)) == "Nov 28, 2026"
    assert formatted(app, "fr", lambda: formats.format_date(late_evening)) == "28 nov. 2026"
    assert formatted(app, "fr", lambda: formats.format_date(date(2026, 1, 5))) == "5 janv. 2026"


def test_a_date_and_time_someone_typed_is_shown_as_typed(app):
    """A ``datetime`` attribute is the city's wall-clock time: no time-zone shift."""
    assert formatted(app, "en", lambda: formats.format_wall_datetime("2026-07-01T09:30")) == f"Jul 1, 2026, 9:30{NNBSP}AM"
    assert formatted(app, "fr", lambda: formats.format_wall_datetime("2026-07-01T09:30")) == "1 juill. 2026 09 h 30"
    assert formatted(app, "fr", lambda: formats.format_wall_datetime("not a date")) == "not a date"


@pytest.mark.parametrize(
    "language, number, money",
    [
        ("en", "1,234.5", "$1,234.56"),
        ("fr", f"1{NBSP}234,5", f"1{NBSP}234,56{NBSP}${NBSP}US"),
    ],
)
def test_numbers_and_money_in_each_language(app, language, number, money):
    assert formatted(app, language, lambda: formats.format_number(1234.5)) == number
    assert formatted(app, language, lambda: formats.format_currency(1234.56)) == money


@pytest.mark.parametrize(
    "language, past, future",
    [("en", "3 hours ago", "in 2 days"), ("fr", "il y a 3 heures", "dans 2 jours")],
)
def test_relative_times_in_each_language(app, language, past, future):
    three_hours_before = NOV_28_2_05_PM - timedelta(hours=3)
    two_days_after = NOV_28_2_05_PM + timedelta(days=2)
    assert formatted(app, language, lambda: formats.format_time_ago(three_hours_before, now=NOV_28_2_05_PM)) == past
    assert formatted(app, language, lambda: formats.format_time_ago(two_days_after, now=NOV_28_2_05_PM)) == future


def test_the_formats_are_jinja_filters(app):
    template = "{{ when|datetime }} | {{ when|date }} | {{ 1234.5|number }} | {{ 1234.56|currency }} | {{ recent|time_ago }}"
    recent = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(hours=3, minutes=1)

    def render():
        return render_template_string(template, when=NOV_28_2_05_PM, recent=recent)

    assert formatted(app, "en", render) == f"Nov 28, 2026, 2:05{NNBSP}PM | Nov 28, 2026 | 1,234.5 | $1,234.56 | 3 hours ago"
    assert formatted(app, "fr", render) == f"28 nov. 2026 14 h 05 | 28 nov. 2026 | 1{NBSP}234,5 | 1{NBSP}234,56{NBSP}${NBSP}US | il y a 3 heures"


def test_a_notification_rendered_in_the_residents_language_uses_their_formats(app):
    """The rule for notifications: render within force_locale(account.preferred_language)."""
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        with force_locale("fr"):
            assert formats.format_datetime(NOV_28_2_05_PM) == "28 nov. 2026 14 h 05"
        assert formats.format_datetime(NOV_28_2_05_PM) == f"Nov 28, 2026, 2:05{NNBSP}PM"


def test_the_case_page_shows_its_times_in_the_readers_language(app, new_user):
    from core.extensions import db
    from core.services.cases import create_case

    with app.app_context():
        case = create_case(db.session, service_code="POTHOLE", attributes={"SIZE": "small"}, created_at=NOV_28_2_05_PM)
        case_id, reference = case.id, case.reference
        db.session.remove()
    client = login(app.test_client(), new_user(departments=("PW",)))
    english = client.get(f"/caseview/show/{case_id}", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert f"Nov 28, 2026, 2:05{NNBSP}PM" in english
    french = client.get(f"/caseview/show/{case_id}", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert "28 nov. 2026 14 h 05" in french
    listed = client.get(f"/caseview/list/?_flt_0_reference={reference}", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert "28 nov. 2026 14 h 05" in listed


def test_a_city_chooses_its_format_locales_and_currency(app, city_on_demo_database, tmp_path):
    city = city_on_demo_database(other_city(tmp_path, i18n='format_locales = { fr = "fr_FR" }\ncurrency = "CAD"\n'))
    assert formatted(city, "fr", lambda: formats.format_datetime(NOV_28_2_05_PM)) == "28 nov. 2026 14:05"
    assert formatted(city, "fr", lambda: formats.format_currency(1234.56)) == f"1{NNBSP}234,56{NBSP}$CA"
    assert formatted(city, "en", lambda: formats.format_currency(1234.56)) == "CA$1,234.56"


def test_without_the_i18n_plugin_the_formats_use_the_language_as_it_is(app, city_on_demo_database, tmp_path):
    core_only = city_on_demo_database(other_city(tmp_path, enabled=[]))
    with core_only.test_request_context("/"):
        with force_locale("fr"):
            assert formats.format_datetime(NOV_28_2_05_PM) == "28 nov. 2026 14:05"  # fr, not fr_CA
            assert formats.format_currency(1234.56) == f"1{NNBSP}234,56{NBSP}$US"
        with force_locale("en"):
            assert formats.format_datetime(NOV_28_2_05_PM) == f"Nov 28, 2026, 2:05{NNBSP}PM"
