"""The public city performance page: off unless the city publishes it; then cases received and closed per
month and the median time to close of public services, for anyone, in their language, with no personal data."""
from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from tests.conftest import DEMO_CONFIG, recorded_sql

FRENCH = {"HTTP_ACCEPT_LANGUAGE": "fr-CA"}
# Personal data of one resident's request: none of it may reach the public page.
PRIVATE = {
    "description": "Alligator sleeping under the Quagmire footbridge",
    "address": "4187 Zebulon Harbor Parkway",
    "contact_name": "Zebulon Quagmire",
    "contact_email": "zebulon.quagmire@example.org",
    "contact_phone": "386-555-0142",
}


def month_of(app, months_ago: int) -> date:
    today = datetime.now(ZoneInfo(app.config["CIVIC_TIMEZONE"])).date()
    first = today.replace(day=1)
    for _ in range(months_ago):
        first = (first - timedelta(days=1)).replace(day=1)
    return first


def city_noon(app, day: date) -> datetime:
    """Naive UTC of noon on a day of the city's calendar."""
    tz = ZoneInfo(app.config["CIVIC_TIMEZONE"])
    return datetime.combine(day, time(12), tzinfo=tz).astimezone(timezone.utc).replace(tzinfo=None)


def closed_case(session, service: str, created: datetime, closed: datetime, **fields) -> str:
    from core.models import Case
    from core.services.cases import SYSTEM, change_status, create_case

    case = create_case(session, service_code=service, created_at=created, **fields)
    change_status(session, case, "closed", SYSTEM)
    session.execute(sa.update(Case).where(Case.id == case.id).values(closed_at=closed))
    session.commit()
    return case.reference


class Page:
    """The public page as a visitor sees it (the cache emptied first unless ``cached``)."""

    def __init__(self, app, cached: bool = False, **environ):
        from core.reports.performance import forget

        if not cached:
            forget(app)
        response = app.test_client().get("/performance/", environ_base=environ)
        assert response.status_code == 200
        self.html = response.get_data(as_text=True)

    def month(self, first_day: date) -> tuple[int, int]:
        row = re.search(rf'<tr data-month="{first_day.isoformat()[:7]}">(.*?)</tr>', self.html, re.S).group(1)
        received = re.search(r"data-received>([^<]+)<", row).group(1)
        closed = re.search(r"data-closed>([^<]+)<", row).group(1)
        return int(re.sub(r"\D", "", received)), int(re.sub(r"\D", "", closed))

    def months(self) -> list[str]:
        return re.findall(r'<tr data-month="([^"]+)">', self.html)

    def services(self) -> dict[str, tuple[int, str]]:
        rows = re.findall(r"<tr data-service><td>(.*?)</td><td[^>]*data-closed>([^<]+)</td><td[^>]*data-median>([^<]+)</td>", self.html)
        return {name: (int(re.sub(r"\D", "", n)), median) for name, n, median in rows}

    def received_total(self) -> int:
        return int(re.sub(r"\D", "", re.search(r'id="kpi-received">([^<]+)<', self.html).group(1)))


@pytest.fixture(scope="module")
def city_year(app):
    """A few months of closed cases of three services, one of them internal; returns the page before them
    and the references and months used."""
    from core.extensions import db
    from core.models import ServiceType

    before = Page(app)
    two, three, four = month_of(app, 2), month_of(app, 3), month_of(app, 4)
    references = []
    with app.test_request_context():
        session = db.session
        closed_on = city_noon(app, two + timedelta(days=11))
        for hours in (1, 2, 3, 4, 50):  # canals: 5 closed, median 3 hours
            references.append(closed_case(session, "CANAL", closed_on - timedelta(hours=hours), closed_on))
        for _ in range(4):  # lift stations: only 4 closed, not shown
            references.append(closed_case(session, "LIFT_STATION", closed_on - timedelta(hours=1), closed_on))
        for _ in range(6):  # an internal service: 6 closed, not shown
            references.append(closed_case(session, "CODE_SIGN", closed_on - timedelta(hours=1), closed_on))
        # received in month -4, closed in month -3
        received, closed = city_noon(app, four + timedelta(days=11)), city_noon(app, three + timedelta(days=2))
        references.append(closed_case(session, "ANIMAL_WILDLIFE", received, closed, **PRIVATE))
        from core.services.cases import create_case

        open_case = create_case(session, service_code="CANAL", created_at=city_noon(app, four + timedelta(days=12)), **PRIVATE)
        references.append(open_case.reference)
        create_case(session, service_code="CANAL", created_at=city_noon(app, month_of(app, 13) + timedelta(days=5)))  # before the 12 months
        internal = session.scalar(sa.select(ServiceType).where(ServiceType.code == "CODE_SIGN"))
        internal.public = False
        session.commit()
        db.session.remove()
    yield {"before": before, "references": references, "months": (two, three, four)}
    with app.app_context():
        db.session.execute(sa.update(ServiceType).where(ServiceType.code == "CODE_SIGN").values(public=True))
        db.session.commit()


@pytest.fixture
def unpublished(app):
    reports = app.extensions["civic"].config.reports
    was = reports["public_performance"]
    reports["public_performance"] = False
    yield
    reports["public_performance"] = was


def test_the_page_is_off_unless_the_city_config_publishes_it(app, unpublished):
    from core.config import load_city_config

    assert load_city_config(DEMO_CONFIG.parent / "default.toml").reports["public_performance"] is False
    assert load_city_config(DEMO_CONFIG).reports["public_performance"] is True  # the demo city publishes it
    assert app.test_client().get("/performance/").status_code == 404
    assert "/performance/" not in app.test_client().get("/portal/").get_data(as_text=True)


def test_a_bad_public_performance_value_is_a_config_error_naming_the_key(tmp_path):
    from core.config import ConfigError, load_city_config

    bad = tmp_path / "city.toml"
    text = DEMO_CONFIG.read_text(encoding="utf-8").replace("public_performance = true", 'public_performance = "sometimes"')
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_city_config(bad)
    assert any("reports.public_performance" in line for line in error.value.lines)


def test_anyone_sees_cases_received_and_closed_per_month(app, city_year):
    two, three, four = city_year["months"]
    before, after = city_year["before"], Page(app)
    assert len(after.months()) == 12 and after.months()[-1] == month_of(app, 0).isoformat()[:7]
    assert month_of(app, 12).isoformat()[:7] not in after.months()
    received, closed = (a - b for a, b in zip(after.month(two), before.month(two)))
    assert (received, closed) == (15, 15)
    assert tuple(a - b for a, b in zip(after.month(three), before.month(three))) == (0, 1)
    assert tuple(a - b for a, b in zip(after.month(four), before.month(four))) == (2, 0)
    assert after.received_total() - before.received_total() == 17  # the case of 13 months ago is not counted
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="civic-chart civic-chart-bar"' in after.html
    assert "/performance/" in app.test_client().get("/portal/").get_data(as_text=True)  # linked from the portal's footer


def test_median_time_to_close_shows_public_services_with_five_closed_cases_or_more(app, city_year):
    from core.extensions import db
    from core.models import ServiceType

    services = Page(app).services()
    assert services["Canal or waterway problem"] == (5, "3 hours")  # 1, 2, 3, 4 and 50 hours (the sixth is still open)
    assert "Lift station alarm" not in services  # 4 closed: it would point at too few residents
    assert "Illegal sign" not in services  # 6 closed, but the service is internal

    def make_public(public: bool) -> None:
        with app.app_context():
            db.session.execute(sa.update(ServiceType).where(ServiceType.code == "CODE_SIGN").values(public=public))
            db.session.commit()

    make_public(True)
    try:
        assert Page(app).services()["Illegal sign"] == (6, "1 hour")  # hidden above only because it was internal
    finally:
        make_public(False)


def test_no_personal_data_reaches_the_page(app, city_year):
    html = Page(app).html + Page(app, **FRENCH).html
    for reference in city_year["references"]:
        assert reference not in html
    for value in PRIVATE.values():
        assert value not in html
    assert "Quagmire" not in html and "Zebulon" not in html and "@example.org" not in html


def test_the_page_reads_in_french(app, city_year):
    from flask_babel import force_locale, gettext

    page = Page(app, **FRENCH)
    assert re.search(r'<html[^>]*lang="fr"', page.html)
    services = page.services()
    assert services["Problème de canal ou de cours d’eau"] == (5, "3\u00a0heures")
    with app.test_request_context(headers={"Accept-Language": "fr-CA"}):
        from babel import dates

        from core.formats import format_locale

        month = dates.format_date(city_year["months"][0], "LLLL y", locale=format_locale()).capitalize()
        with force_locale("fr"):
            headings = [gettext("City performance"), gettext("Cases received and closed per month"), gettext("Median time to close by service")]
    assert f"<td>{month}</td>" in page.html  # "Septembre 2026"
    for heading in headings:
        assert heading in page.html


def test_the_numbers_are_cached_ten_minutes_per_language(app, city_year):
    from core.extensions import db
    from core.reports.performance import CACHE_SECONDS
    from core.services.cases import create_case

    assert CACHE_SECONDS == 600
    english = Page(app)  # computed, then kept
    with app.app_context():
        create_case(db.session, service_code="CANAL")
        db.session.remove()
    with recorded_sql(app) as statements:
        again = Page(app, cached=True)
    assert again.received_total() == english.received_total()
    assert not [s for s in statements if 'FROM "case"' in s]  # no GROUP BY for this visitor
    french = Page(app, cached=True, **FRENCH)  # a language of its own: computed now
    assert french.received_total() == english.received_total() + 1
    assert Page(app).received_total() == english.received_total() + 1  # once the cache is dropped


def test_the_page_runs_three_aggregate_queries(app, city_year):
    from core.reports.performance import forget

    forget(app)
    with recorded_sql(app) as statements:
        app.test_client().get("/performance/")
    case_queries = [s for s in statements if '"case"' in s]
    assert len(case_queries) == 3, case_queries
    assert all("GROUP BY" in s for s in case_queries)
    assert not any("contact_" in s or "description" in s or "address" in s or "reference" in s for s in case_queries)
