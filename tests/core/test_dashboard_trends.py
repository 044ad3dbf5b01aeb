"""The staff dashboard's trends: median time to close per week, satisfaction per week (the intake plugin's
widget), this week's top services -- scoped to the reader's departments, in the reader's language."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from tests.conftest import recorded_sql

POTHOLE = {"service_code": "POTHOLE", "attributes": {"SIZE": "small"}}  # Public Works (PW)
METER = {"service_code": "METER", "attributes": {}}  # Utilities (UTIL)
SVG = "{http://www.w3.org/2000/svg}"
FRENCH = {"HTTP_ACCEPT_LANGUAGE": "fr-CA"}


def city_moment(app, weeks_ago: int, weekday: int = 2, hour: int = 12) -> datetime:
    """Naive UTC of a weekday at noon (city time) ``weeks_ago`` weeks before this one: far from any week edge."""
    tz = ZoneInfo(app.config["CIVIC_TIMEZONE"])
    today = datetime.now(tz).date()
    day = today - timedelta(days=today.weekday(), weeks=weeks_ago) + timedelta(days=weekday)
    return datetime.combine(day, time(hour), tzinfo=tz).astimezone(timezone.utc).replace(tzinfo=None)


def week_label(app, weeks_ago: int, headers=None) -> str:
    """How the chart names that week (its Monday), in the language of a request with these headers."""
    from core.views.dashboard import short_day

    today = datetime.now(ZoneInfo(app.config["CIVIC_TIMEZONE"])).date()
    monday = today - timedelta(days=today.weekday(), weeks=weeks_ago)
    with app.test_request_context(headers={"Accept-Language": headers["HTTP_ACCEPT_LANGUAGE"]} if headers else {}):
        return short_day(monday)


def closed_case(app, kind: dict, closed_at: datetime, open_hours: float) -> int:
    """A case received ``open_hours`` before ``closed_at`` and closed then (the timestamp set directly)."""
    from core.extensions import db
    from core.models import Case
    from core.services.cases import SYSTEM, change_status, create_case

    with app.app_context():
        case = create_case(db.session, **kind, created_at=closed_at - timedelta(hours=open_hours))
        change_status(db.session, case, "closed", SYSTEM)
        db.session.execute(sa.update(Case).where(Case.id == case.id).values(closed_at=closed_at))
        db.session.commit()
        return case.id


def answered(app, kind: dict, when: datetime, *ratings: int) -> None:
    """A resolved case whose residents rated it (one survey answer each), the answers dated ``when``."""
    from core.extensions import db
    from core.models import Case
    from core.services.cases import SYSTEM, change_status, create_case
    from plugins.intake.models import Satisfaction
    from plugins.intake.satisfaction import record_answer

    with app.test_request_context():
        case = create_case(db.session, **kind)
        change_status(db.session, case, "resolved", SYSTEM)
        for i, rating in enumerate(ratings):
            answer, reopened = record_answer(db.session.get(Case, case.id), f"resident-{case.id}-{i}", resolved=True, rating=rating, comment="")
            assert not reopened
            db.session.execute(sa.update(Satisfaction).where(Satisfaction.id == answer.id).values(created_at=when))
        db.session.commit()
        db.session.remove()


class Page:
    def __init__(self, client, **environ):
        response = client.get("/dashboard/", environ_base=environ)
        assert response.status_code == 200
        self.html = response.get_data(as_text=True)

    def chart(self, marker: str) -> ET.Element:
        """The SVG inside the block that ``marker`` (an id or data attribute) starts."""
        start = self.html.index(marker)
        svg = re.search(r"<svg .*?</svg>", self.html[start:], re.S).group(0)
        return ET.fromstring(svg)

    def points(self, marker: str) -> dict[str, str]:
        """{week label: value as shown} from each dot's hover text."""
        root = self.chart(marker)
        titles = [c.find(f"{SVG}title").text for c in root.iter(f"{SVG}circle")]
        return dict(t.split(": ", 1) for t in titles)

    def top_services(self) -> list[tuple[str, int]]:
        block = self.html.split('id="top-services"', 1)[1].split("</table>", 1)[0]
        return [(code, int(re.sub(r"\D", "", n))) for code, n in
                re.findall(r'<tr data-service="([^"]+)">.*?<td class="text-right">([^<]+)</td>', block, re.S)]


def test_the_median_time_to_close_of_each_week_counts_the_departments_own_cases(app, client_for):
    closed = city_moment(app, weeks_ago=9)
    for hours in (2, 4, 9):  # Public Works: median 4 hours
        closed_case(app, POTHOLE, closed, hours)
    closed_case(app, METER, closed, 100)  # Utilities: 4 days and 4 hours
    closed_case(app, POTHOLE, city_moment(app, weeks_ago=6, weekday=0, hour=9), 3 * 24)  # a Monday morning
    week9, week6 = week_label(app, 9), week_label(app, 6)

    public_works = Page(client_for("pw_staff")).points('id="close-time-trend"')
    assert public_works[week9] == "4 hours"
    assert public_works[week6] == "3 days"
    assert Page(client_for("util_staff")).points('id="close-time-trend"')[week9] == "4 days, 4 hours"
    assert Page(client_for("dispatcher")).points('id="close-time-trend"')[week9] == "6 hours, 30 minutes"  # 2, 4, 9, 100


def test_the_close_time_trend_covers_twelve_weeks_with_gaps_for_quiet_weeks(app, client_for):
    closed_case(app, POTHOLE, city_moment(app, weeks_ago=11), 5)
    closed_case(app, POTHOLE, city_moment(app, weeks_ago=12), 5)  # thirteen weeks ago: not on the chart
    page = Page(client_for("pw_staff"))
    root = page.chart('id="close-time-trend"')
    labels = [t.text for t in root.iter(f"{SVG}text") if "civic-category" in (t.get("class") or "")]
    assert labels[0] == week_label(app, 11)  # the oldest week first (labels may be thinned, never the first)
    points = page.points('id="close-time-trend"')
    assert week_label(app, 11) in points and week_label(app, 12) not in points
    assert len(points) <= 12


def test_the_satisfaction_trend_is_the_intake_plugins_widget_scoped_like_the_dashboard(app, client_for):
    week = city_moment(app, weeks_ago=8)
    answered(app, POTHOLE, week, 2, 5)  # Public Works: 3.5
    answered(app, METER, week, 1)  # Utilities
    label = week_label(app, 8)

    page = Page(client_for("pw_staff"))
    assert "Satisfaction trend" in page.html
    assert page.points("data-satisfaction-trend")[label] == "3.5"
    assert Page(client_for("util_staff")).points("data-satisfaction-trend")[label] == "1"
    assert Page(client_for("dispatcher")).points("data-satisfaction-trend")[label] == "2.67"
    ticks = [t.text for t in page.chart("data-satisfaction-trend").iter(f"{SVG}text") if "civic-tick" in (t.get("class") or "")]
    assert ticks == ["1", "2", "3", "4", "5"]  # the rating's own scale


def test_top_services_this_week_counts_new_cases_since_monday(app, client_for):
    from core.extensions import db
    from core.models import Department, ServiceType
    from core.services.cases import create_case

    dispatcher = client_for("dispatcher")
    before = dict(Page(dispatcher).top_services())
    with app.app_context():
        pw = db.session.scalar(sa.select(Department.id).where(Department.code == "PW"))
        services = db.session.scalars(sa.select(ServiceType).where(ServiceType.department_id == pw).order_by(ServiceType.code)).all()
        candidates = [s.code for s in services if not any(a.get("required") for a in s.attributes or [])]  # no form to fill
    service = next(code for code in candidates if code not in before)
    busiest = max(before.values(), default=0) + 1
    last_sunday = city_moment(app, weeks_ago=1, weekday=6, hour=20)
    with app.app_context():
        for _ in range(busiest):
            create_case(db.session, service_code=service)
        create_case(db.session, service_code=service, created_at=last_sunday)  # last week: not counted
        db.session.remove()

    top = Page(dispatcher).top_services()
    assert top[0] == (service, busiest)
    assert len(top) <= 5
    assert [n for _, n in top] == sorted((n for _, n in top), reverse=True)
    assert service in dict(Page(client_for("pw_staff")).top_services())
    assert service not in dict(Page(client_for("util_staff")).top_services())


def test_the_trends_read_in_french(app, client_for):
    from flask_babel import force_locale, gettext

    closed = city_moment(app, weeks_ago=10)
    closed_case(app, POTHOLE, closed, 3)
    closed_case(app, POTHOLE, closed, 4)
    answered(app, POTHOLE, closed, 4, 3)
    page = Page(client_for("pw_staff"), **FRENCH)
    assert '<html lang="fr"' in page.html
    label = week_label(app, 10, FRENCH)
    assert label.endswith(".") or label.split()[-1].islower()  # "23 nov." : a French month abbreviation
    assert page.points('id="close-time-trend"')[label] == "3\u00a0heures et 30\u00a0minutes"
    assert page.points("data-satisfaction-trend")[label] == "3,5"
    with app.test_request_context(), force_locale("fr"):
        headings = [gettext("Median time to close, by week closed"), gettext("Top services this week"), gettext("Satisfaction trend")]
    for heading in headings:
        assert heading in page.html
    for english in ("Median time to close, by week closed", "Top services this week", "Satisfaction trend"):
        if english not in headings:  # once the French catalog has it, the English is gone from the page
            assert english not in page.html


def test_the_trends_add_three_aggregate_queries_to_the_page(app, client_for):
    """Before the trends the page ran 14 statements on an empty database (the signed-in user, the core's
    counts and overdue list, the plugins' widgets); the close-time trend, the top services and the
    satisfaction trend add one GROUP BY each (17), and overdue cases on the list add a few batched loads
    (their departments, services and tags), never one query per case."""
    from core.extensions import db
    from core.services.cases import create_case

    client = client_for("dispatcher")
    closed_case(app, POTHOLE, city_moment(app, weeks_ago=3), 2)
    with app.app_context():  # overdue cases of several services and departments on the list
        for code in ("SIDEWALK", "SWALE", "TREE_TRIM", "CODE_GRASS", "ANIMAL_DEAD"):
            create_case(db.session, service_code=code, created_at=datetime(2001, 1, 8, 12, 0))
        db.session.remove()
    Page(client)
    with recorded_sql(app) as statements:
        Page(client)
    trends = [s for s in statements if "percentile" in s or "civic_bucket" in s or "date_trunc" in s or 'GROUP BY "case".service_type_id' in s]
    assert len(trends) == 3, trends
    assert all("GROUP BY" in s for s in trends)
    assert len(statements) <= 22, statements

