"""A crew's day on a phone, in a real Chromium: the list and the map of its work orders, and "Done" from the field.

SQLite only (one run is enough for a browser test).
"""
from __future__ import annotations

import os
from datetime import timedelta

import pytest

from tests.browser import PHONE, browser, live_server, sign_in  # noqa: F401  (fixtures)
from tests.conftest import PASSWORD
from tests.plugins.fieldservice.test_workorders import actor, new_case, new_crew, read, setup, today_in_city

SHOTS = os.environ.get("CIVIC_TEST_SCREENSHOTS")


@pytest.fixture(scope="module", autouse=True)
def sqlite_only(app):
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("browser tests run once, on SQLite")


def test_crew_member_finishes_the_day_s_work_order_from_the_phone(app, live_server, browser):  # noqa: F811
    from core.models import Case
    from plugins.fieldservice.workorders import create_work_order

    with setup(app) as session:
        crew = new_crew(session)
        by = actor(session, "dispatcher")
        day = today_in_city(app)
        today_case = new_case(session, lat=29.585, long=-81.205, address="4 Palm Coast Pkwy")
        first = create_work_order(session, today_case, actor=by, crew=crew, scheduled_for=day, instructions="Cold patch, two bags")
        late = create_work_order(session, new_case(session, lat=29.59, long=-81.20), actor=by, crew=crew, scheduled_for=day - timedelta(days=1))
        crew_id, first_id, late_id, case_id = crew.id, first.id, late.id, today_case.id

    context = browser.new_context(**PHONE)
    page = context.new_page()
    try:
        sign_in(page, live_server, "crew", PASSWORD)
        page.goto(f"{live_server}/fieldservice/workorders/day/?crew={crew_id}")
        assert page.locator(f"#wo-{first_id}").is_visible() and page.locator(f"#wo-{late_id}").is_visible()
        assert "Cold patch, two bags" in page.text_content(f"#wo-{first_id}")
        assert page.locator(f"#wo-{late_id} .label-danger").count() == 1  # overdue
        assert page.locator("#day-map .leaflet-interactive").count() == 2  # one marker per work order
        assert page.evaluate("document.documentElement.scrollWidth") <= 390  # fits the phone's width
        if SHOTS:
            page.screenshot(path=os.path.join(SHOTS, "my-day.png"), full_page=True)
        page.click(f"#wo-{first_id} a.btn-success")
        page.fill("#wo-notes", "Patched and rolled")
        page.click("#workorder-complete button[type=submit]")
        page.wait_for_selector(f"#wo-{first_id}[data-status='done']")
        assert "Work order #%d is done." % first_id in page.text_content("body")
    finally:
        context.close()
    assert read(app, lambda s: s.get(Case, case_id).status) == "resolved"
