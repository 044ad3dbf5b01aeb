"""The EOC board in a real Chromium: it refreshes its numbers by itself, without reloading the page.

One run is enough for a browser test: SQLite only (the PostgreSQL run of the session is skipped here).
"""
from __future__ import annotations

import os

import pytest
import sqlalchemy as sa

from core.models.base import utcnow
from tests.browser import browser, live_server, sign_in  # noqa: F401  (fixtures)
from tests.conftest import PASSWORD
from tests.plugins.fieldservice.test_eoc import active_sweep, new_case, setup, tag

SHOTS = os.environ.get("CIVIC_TEST_SCREENSHOTS")  # a folder: keep a screenshot of the board there


@pytest.fixture(scope="module", autouse=True)
def sqlite_only(app):
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("browser tests run once, on SQLite")


@pytest.fixture
def quick_refresh(app):
    """The board refreshes every 5 s (the config's lowest) instead of 30 s during the test."""
    conf = app.extensions["civic"].plugin_config["fieldservice"]
    before = conf.get("refresh_seconds")
    conf["refresh_seconds"] = 5
    yield
    conf["refresh_seconds"] = before


def check_off(session, sweep_id: int, street: str, status: str) -> None:
    """A crew's check-off as the phone's sync leaves it in the database."""
    from plugins.fieldservice.models import StreetSegment, SweepCheck, SweepSegment

    row = session.scalar(sa.select(SweepSegment).join(StreetSegment, StreetSegment.id == SweepSegment.segment_id)
                         .where(SweepSegment.sweep_id == sweep_id, StreetSegment.street_name == street))
    now = utcnow()
    row.status, row.checked_at, row.updated_at = status, now, now
    session.add(SweepCheck(sweep_segment_id=row.id, status=status, checked_at=now, received_at=now, actor_label="crew"))
    session.commit()


def test_the_board_shows_a_new_check_off_and_case_without_reloading(app, live_server, browser, quick_refresh):  # noqa: F811
    streets = {f"Alder {tag()}": "not_checked", f"Birch {tag()}": "not_checked"}
    first, second = list(streets)
    with setup(app) as session:
        with active_sweep(session, streets, started_hours_ago=1) as (sweep, _, _):
            sweep_id = sweep.id
            context = browser.new_context(viewport={"width": 1600, "height": 900})
            page = context.new_page()
            try:
                sign_in(page, live_server, "dispatcher", PASSWORD)
                page.goto(f"{live_server}/fieldservice/eoc/")
                total = f'[data-sweep="{sweep_id}"] .eoc-sweep-total'
                page.wait_for_selector(total, timeout=10_000)
                assert "0% checked" in page.text_content(total)
                page.evaluate("window.boardMarker = 'still here'")
                open_before = int(page.text_content("#eoc-open-total").replace(",", "").replace("\u202f", "").replace("\u00a0", ""))

                check_off(session, sweep_id, first, "debris")
                case = new_case(session, lat=29.59, long=-81.21)

                page.wait_for_function(f"document.querySelector('{total}').textContent.indexOf('50% checked') >= 0", timeout=15_000)
                page.wait_for_function(
                    "n => parseInt(document.getElementById('eoc-open-total').textContent.replace(/[^0-9]/g, ''), 10) > n",
                    arg=open_before, timeout=15_000)
                activity = page.text_content("#eoc-activity")
                assert first in activity and case.reference in activity
                assert page.evaluate("window.boardMarker") == "still here"  # the same page: never reloaded
                assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
                assert page.evaluate("window.eocBoard.refreshes") >= 2
                assert page.locator("#eoc-map .leaflet-interactive").count() >= 1  # the hot-spot cells are drawn

                page.click("button[data-window='6h']")
                page.wait_for_function("document.querySelector(\"button[data-window='6h']\").getAttribute('aria-pressed') === 'true'")
                if SHOTS:
                    page.screenshot(path=os.path.join(SHOTS, "eoc-board.png"))
            finally:
                context.close()
