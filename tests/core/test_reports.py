"""Reports, the way a city leader uses them: build "storm debris cases by zone, last 14 days, median time to
close" in the screen, save it, run it again for another period, export it, share it, and get it by e-mail
the next morning.  On SQLite and PostgreSQL.

The cases of this module carry the tag ``report-story`` (other modules share the database), and every
report here filters on it.
"""
from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from tests.conftest import PASSWORD, csrf_token
from tests.smtp import parts, smtp, smtp_server  # noqa: F401  (fixtures)

TAG = "report-story"
TZ = ZoneInfo("America/New_York")
STORY = {"subject": "cases", "period": "last_14_days", "group": "zone", "measures": ["count", "close_median"],
         "f.service": "ROAD_DEBRIS", "f.tag": TAG}


def local_noon(days_ago: int) -> datetime:
    """Noon in Palm Coast ``days_ago`` days before the city's today, as naive UTC."""
    from core.formats import city_today

    with_zone = datetime.combine(city_today() - timedelta(days=days_ago), time(12), tzinfo=TZ)
    return with_zone.astimezone(timezone.utc).replace(tzinfo=None)


@pytest.fixture(scope="module")
def story(app):
    """Debris cases in two zones (closed after known times), one too old for the period, one of another
    service, one of Utilities; a supervisor of Public Works who builds reports."""
    from core.extensions import db
    from core.models import Department
    from core.services.cases import SYSTEM, change_status, create_case
    from core.services.users import create_user

    with app.app_context():
        pw = db.session.scalar(sa.select(Department).where(Department.code == "PW"))
        if db.session.scalar(sa.select(sa.func.count()).select_from(sa.text("ab_user")).where(sa.text("username = 'report_sup'"))) == 0:
            create_user("report_sup", PASSWORD, "Supervisor", email="report_sup@palmcoast.example.gov", departments=[pw])
        made = []

        def debris(zone, days_ago, hours_to_close, service="ROAD_DEBRIS"):
            case = create_case(db.session, service_code=service, description="Branches on the road", zone=zone,
                               tags=[TAG], created_at=local_noon(days_ago))
            if hours_to_close is not None:
                change_status(db.session, case, "acknowledged", SYSTEM)
                change_status(db.session, case, "closed", SYSTEM)
                case.acknowledged_at = case.created_at + timedelta(hours=1)
                case.closed_at = case.created_at + timedelta(hours=hours_to_close)
                db.session.commit()
            made.append(case.id)
            return case

        for hours in (10, 20, 60):
            debris("north", 3, hours)
        debris("north", 5, None)  # still open: counted, no time to close
        for hours in (4, 8):
            debris("south", 1, hours)
        debris("south", 20, 100)  # before the period
        debris("south", 2, 1, service="SIDEWALK")  # another service
        debris("east", 2, 30, service="METER")  # Utilities' case
    return made


def html(response) -> str:
    return response.get_data(as_text=True)


def cells(page: str, table_id: str = "report-table") -> list[list[str]]:
    body = page.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    return [[re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r, re.S)] for r in rows]


def test_a_manager_builds_storm_debris_by_zone_saves_exports_and_gets_it_the_next_morning(app, story, client_for, smtp):
    from core.extensions import db
    from core.models import OutboxMessage, Report
    from core.notify import deliver_due
    from core.reports.schedule import send_due

    manager = client_for("report_sup")
    builder = manager.get("/reports/new?subject=cases")
    assert builder.status_code == 200
    page = html(builder)
    for field in ('name="period"', 'name="group"', 'name="measures"', 'name="f.service"', 'name="f.zone"', 'name="chart"'):
        assert field in page

    # "Show" runs the report unsaved.
    shown = manager.get("/reports/run", query_string=STORY)
    assert shown.status_code == 200, html(shown)
    table = cells(html(shown))
    assert table[0] == ["Zone", "Cases", "Median time to close"]
    assert table[1] == ["north", "4", "20 hours"]  # 10, 20, 60 hours; the open case has no time to close
    assert table[2] == ["south", "2", "6 hours"]  # 4 and 8 hours; the 20-day-old case is out of the period
    assert table[3] == ["Total", "6", "10 hours"]  # median of 4, 8, 10, 20, 60
    assert "<svg" in html(shown) and 'id="report-chart"' in html(shown)

    # Save it.
    form = {k: v for k, v in STORY.items()}
    saved = manager.post("/reports/new", data={**form, "name": "Storm debris by zone", "description": "For the stand-up",
                                               "csrf_token": csrf_token(page)})
    assert saved.status_code == 302
    with app.app_context():
        report = db.session.scalar(sa.select(Report).where(Report.name == "Storm debris by zone"))
        report_id, spec = report.id, report.spec
    assert spec["filters"] == {"service": ["ROAD_DEBRIS"], "tag": [TAG]} and spec["period"] == "last_14_days"
    assert cells(html(manager.get(f"/reports/{report_id}")))[1] == ["north", "4", "20 hours"]
    assert "Storm debris by zone" in html(manager.get("/reports/"))

    # Export.
    exported = manager.get(f"/reports/{report_id}/export.csv")
    assert exported.status_code == 200 and exported.headers["Content-Disposition"].startswith('attachment; filename="storm-debris-by-zone-')
    rows = list(csv.reader(io.StringIO(exported.get_data().decode("utf-8-sig"))))
    header = rows.index(["Zone", "Cases", "Median time to close (hours)"])
    assert rows[header + 1:] == [["north", "4", "20.0"], ["south", "2", "6.0"], ["Total", "6", "10.0"]]
    xlsx = manager.get(f"/reports/{report_id}/export.xlsx")
    assert xlsx.status_code == 200
    with zipfile.ZipFile(io.BytesIO(xlsx.get_data())) as z:
        strings = z.read("xl/sharedStrings.xml").decode()
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
    assert "Storm debris by zone" in strings and "north" in strings and "Median time to close (hours)" in strings
    assert "<v>4</v>" in sheet and "<v>20</v>" in sheet

    # Subscribe: nothing goes out until the next morning's send hour (7:00 in Palm Coast).
    r = manager.post(f"/reports/{report_id}/subscribe", data={"frequency": "daily", "csrf_token": csrf_token(page)})
    assert r.status_code == 302
    with app.app_context():
        # The first 7:00 after the subscription: this morning's when subscribed before 7:00, else tomorrow's.
        local_now = datetime.now(TZ)
        first_day = local_now.date() + timedelta(days=0 if local_now.time() < time(7) else 1)
        before = datetime.combine(first_day, time(6, 50), tzinfo=TZ).astimezone(timezone.utc).replace(tzinfo=None)
        morning = datetime.combine(first_day, time(7, 5), tzinfo=TZ).astimezone(timezone.utc).replace(tzinfo=None)
        assert send_due(db.session, before).sent == []
        assert send_due(db.session, morning).sent == ["Storm debris by zone -> report_sup"]
        assert send_due(db.session, morning + timedelta(minutes=30)).sent == []  # once a day
        queued = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.related == f"report:{report_id}")).all()
        assert len(queued) == 1
        deliver_due()
    [mail] = smtp.to("report_sup@palmcoast.example.gov")
    assert mail["Subject"].startswith("Report: Storm debris by zone, ")
    text, body = parts(mail)
    assert "north: 4 | 20 hours" in text and "Total: 6 | 10 hours" in text
    assert f"/reports/{report_id}" in text and "<td style=\"padding: 4px 8px;\">north</td>" in body


def test_a_saved_report_runs_again_for_another_period_without_changing(app, story, client_for):
    manager = client_for("report_sup")
    page = html(manager.get("/reports/new?subject=cases"))
    manager.post("/reports/new", data={**STORY, "name": "Debris rerun", "csrf_token": csrf_token(page)})
    from core.extensions import db
    from core.formats import city_today
    from core.models import Report

    with app.app_context():
        report_id = db.session.scalar(sa.select(Report.id).where(Report.name == "Debris rerun"))
        first = (city_today() - timedelta(days=25)).isoformat()
        last = (city_today() - timedelta(days=15)).isoformat()
    again = manager.get(f"/reports/{report_id}", query_string={"period": "custom", "date_from": first, "date_to": last,
                                                                 "f.service": "ROAD_DEBRIS", "f.tag": TAG, "rerun": "1"})
    assert cells(html(again))[1:] == [["south", "1", "4 days, 4 hours"], ["Total", "1", "4 days, 4 hours"]]
    assert cells(html(manager.get(f"/reports/{report_id}")))[-1] == ["Total", "6", "10 hours"]  # the saved one is unchanged
    with app.app_context():
        assert db.session.get(Report, report_id).spec["period"] == "last_14_days"


def test_each_department_counts_its_own_cases_and_dispatchers_all(story, client_for):
    query = {"subject": "cases", "period": "last_14_days", "group": "department", "measures": ["count"], "f.tag": TAG}
    pw = cells(html(client_for("pw_staff").get("/reports/run", query_string=query)))
    assert [row[0] for row in pw[1:-1]] == ["Public Works - Streets"] and pw[-1] == ["Total", "7"]
    everyone = cells(html(client_for("dispatcher").get("/reports/run", query_string=query)))
    assert everyone[-1] == ["Total", "8"]
    assert "Utilities - Water and Sewer" in [row[0] for row in everyone]


def test_sharing_with_a_department_shows_the_report_with_the_readers_own_numbers(app, story, client_for):
    from core.extensions import db
    from core.models import Department, Report

    manager = client_for("report_sup")
    page = html(manager.get("/reports/new?subject=cases"))
    query = {"subject": "cases", "period": "last_14_days", "group": "department", "measures": ["count"], "f.tag": TAG}
    manager.post("/reports/new", data={**query, "name": "Shared by department", "csrf_token": csrf_token(page)})
    with app.app_context():
        report_id = db.session.scalar(sa.select(Report.id).where(Report.name == "Shared by department"))
        util_id = db.session.scalar(sa.select(Department.id).where(Department.code == "UTIL"))
    reader = client_for("util_staff")
    assert reader.get(f"/reports/{report_id}").status_code == 404
    assert "Shared by department" not in html(reader.get("/reports/"))

    assert manager.post(f"/reports/{report_id}/share", data={"department": [str(util_id)], "csrf_token": csrf_token(page)}).status_code == 302
    listing = html(reader.get("/reports/"))
    assert "Shared by department" in listing
    seen = cells(html(reader.get(f"/reports/{report_id}")))
    assert [row[0] for row in seen[1:]] == ["Utilities - Water and Sewer", "Total"] and seen[-1] == ["Total", "1"]
    # A reader does not change it.
    token = csrf_token(html(reader.get(f"/reports/{report_id}")))
    assert reader.post(f"/reports/{report_id}/share", data={"csrf_token": token}).status_code in (302, 403)
    assert reader.post(f"/reports/{report_id}/delete", data={"csrf_token": token}).status_code in (302, 403)
    with app.app_context():
        assert db.session.get(Report, report_id) is not None and len(db.session.get(Report, report_id).shares) == 1


def test_bad_report_input_is_refused_with_the_field_named_and_nothing_saved(app, story, client_for):
    from core.extensions import db
    from core.models import Report

    manager = client_for("report_sup")
    r = manager.get("/reports/run", query_string={**STORY, "group": "moon"})
    assert r.status_code == 400 and "Group by: must be one of" in html(r)
    r = manager.get("/reports/run", query_string={**STORY, "period": "custom", "date_from": "2026-13-45"})
    assert r.status_code == 400 and "From: is not a date (YYYY-MM-DD)" in html(r)
    r = manager.get("/reports/run", query_string={**STORY, "f.planet": "mars"})
    assert r.status_code == 400 and "unknown filter" in html(r)
    r = manager.get("/reports/run", query_string={**STORY, "f.service": "ROAD_DEBRIS,MOON_DUST"})
    assert r.status_code == 400 and "Service: unknown value: MOON_DUST" in html(r)
    r = manager.get("/reports/run", query_string={**STORY, "subject": "weather"})
    assert r.status_code == 400 and "Subject: must be one of" in html(r)
    page = html(manager.get("/reports/new?subject=cases"))
    with app.app_context():
        before = db.session.scalar(sa.select(sa.func.count()).select_from(Report))
    r = manager.post("/reports/new", data={**STORY, "name": "", "measures": ["count", "nope"], "csrf_token": csrf_token(page)})
    assert r.status_code == 400
    assert "Name: is required" in html(r) and "Measures: unknown measure: nope" in html(r)
    assert manager.post("/reports/new", data={**STORY, "name": "No token"}).status_code == 400  # CSRF
    r = manager.post("/reports/1/subscribe", data={"frequency": "hourly", "csrf_token": csrf_token(page)})
    assert r.status_code in (400, 404)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Report)) == before


def test_people_without_reports_access_are_refused(story, client_for):
    for who in ("crew", "resident", None):
        client = client_for(who)
        for url in ("/reports/", "/reports/run?subject=cases", "/reports/export.csv?subject=cases"):
            r = client.get(url)
            assert r.status_code in (302, 401, 403), (who, url, r.status_code)
            assert "report-table" not in html(r)


def test_exported_text_cannot_run_as_a_spreadsheet_formula(app, story, client_for):
    from core.extensions import db
    from core.services.cases import create_case

    with app.app_context():
        create_case(db.session, service_code="ROAD_DEBRIS", description="x", zone="=HYPERLINK(\"http://evil\")", tags=["formula-test"])
    r = client_for("dispatcher").get("/reports/export.csv", query_string={"subject": "cases", "period": "all", "group": "zone",
                                                                          "measures": "count", "f.tag": "formula-test"})
    rows = list(csv.reader(io.StringIO(r.get_data().decode("utf-8-sig"))))
    assert ["'=HYPERLINK(\"http://evil\")", "1"] in rows


def test_the_report_screens_speak_french(story, client_for):
    client = client_for("report_sup")
    page = html(client.get("/reports/run", query_string=STORY, headers={"Accept-Language": "fr"}))
    assert "Délai médian de clôture" in page and "Zone" in page


def test_send_moments_follow_the_city_clock_and_the_weekly_day():
    """Daily at 7:00 Palm Coast time (EST in winter = 12:00 UTC), weekly on Mondays."""
    from core.reports.schedule import latest_moments

    from tests.conftest import DEMO_CONFIG, build_app

    app = build_app("sqlite://", DEMO_CONFIG)
    with app.app_context():
        wednesday_noon_utc = datetime(2026, 12, 2, 12, 30)
        daily, weekly = latest_moments(wednesday_noon_utc, 7, 0)
        assert daily == datetime(2026, 12, 2, 12, 0)
        assert weekly == datetime(2026, 11, 30, 12, 0)
        early = datetime(2026, 12, 2, 11, 0)  # 6:00 in Palm Coast: today's mail is not due yet
        assert latest_moments(early, 7, 0)[0] == datetime(2026, 12, 1, 12, 0)
        summer = datetime(2026, 7, 1, 11, 30)  # EDT: 7:00 is 11:00 UTC
        assert latest_moments(summer, 7, 0)[0] == datetime(2026, 7, 1, 11, 0)


def test_a_bad_reports_config_is_one_line_naming_the_key(tmp_path):
    from core.config import ConfigError, load_city_config
    from tests.conftest import DEMO_CONFIG

    text = DEMO_CONFIG.read_text().replace("send_hour = 7", "send_hour = 31")
    bad = tmp_path / "city.toml"
    bad.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_city_config(bad)
    [line] = [l for l in str(caught.value).splitlines() if "send_hour" in l]
    assert "reports.send_hour" in line and str(bad.name) in line
