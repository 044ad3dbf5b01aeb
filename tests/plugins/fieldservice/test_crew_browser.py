"""A crew member on a phone, in a real Chromium: checks a street off online, loses the connection, checks
another off (it waits on the phone), gets the connection back and the waiting one is sent: two check-offs
in the database, no more, no less.  (One run is enough: SQLite only.)"""
from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from tests.browser import PHONE, browser, live_server, sign_in  # noqa: F401
from tests.conftest import PASSWORD
from tests.plugins.fieldservice.conftest import BASE_LAT, BASE_LONG, make_network


@pytest.fixture(scope="module")
def phone_sweep(app):
    """An active sweep over a fresh network, its west zone driven by a crew with the ``crew`` user."""
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("browser test: the SQLite run is enough")
    from core.extensions import db
    from core.models import Crew, Department, User
    from core.services.cases import Actor
    from plugins.fieldservice import sweeps

    with app.app_context():
        session = db.session
        net = make_network(session)
        pw = session.scalar(sa.select(Department).where(Department.code == "PW"))
        crew_user = session.scalar(sa.select(User).where(User.username == "crew"))
        crew = Crew(name=f"Phone crew {net.tag}", department=pw, members=[crew_user])
        session.add(crew)
        session.commit()
        dispatcher = Actor.of(session.scalar(sa.select(User).where(User.username == "dispatcher")))
        sweep = sweeps.create_sweep(session, name=f"Phone pass {net.tag}", sweep_type="debris", zone_codes=net.zones, actor=dispatcher,
                                    crews_by_zone={net.zones[0]: crew})
        sweeps.start_sweep(session, sweep, dispatcher)
        ids = (sweep.id, crew_user.id)
        db.session.remove()
    return ids


def checks_by(app, sweep_id: int, user_id: int) -> list[str]:
    from core.extensions import db
    from plugins.fieldservice.models import SweepCheck, SweepSegment

    with app.app_context():
        rows = db.session.scalars(
            sa.select(SweepCheck.status).join(SweepSegment, SweepSegment.id == SweepCheck.sweep_segment_id)
            .where(SweepSegment.sweep_id == sweep_id, SweepCheck.actor_id == user_id).order_by(SweepCheck.id)
        ).all()
        db.session.remove()
    return list(rows)


def wait_until(condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_crew_checks_off_streets_on_a_phone_online_and_offline(app, live_server, browser, phone_sweep):  # noqa: F811
    sweep_id, user_id = phone_sweep
    context = browser.new_context(**PHONE, geolocation={"latitude": BASE_LAT + 0.001, "longitude": BASE_LONG + 0.005},
                                  permissions=["geolocation"])
    page = context.new_page()
    try:
        sign_in(page, live_server, "crew", PASSWORD)
        page.goto(f"{live_server}/fieldservice/crew/")
        page.select_option("#sweep-picker", str(sweep_id))
        page.wait_for_selector(".segment .statuses button")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390  # fits the phone's width

        first = page.locator(".segment").nth(0)
        first.locator("button[data-status=clear]").click()
        wait_until(lambda: checks_by(app, sweep_id, user_id) == ["clear"])
        page.wait_for_function("document.getElementById('queue-status').className === 'pill'")

        # The service worker keeps the page and its list for offline use (the first visit's list too).
        kept = """async () => {
            const urls = (await (await caches.open("civic-crew-v1")).keys()).map(r => r.url);
            return urls.some(u => u.includes("/crew/api/sweep/")) && urls.some(u => u.endsWith("/fieldservice/crew/"));
        }"""
        wait_until(lambda: page.evaluate(kept), seconds=45)  # at the latest with the list's next refresh (30 s)
        # Offline: the browser says so (navigator.onLine), and every request to the server fails -- the page's and
        # the service worker's alike (Chromium's offline emulation may let a service worker's fetches through).
        context.set_offline(True)
        context.route(f"{live_server}/**", lambda route: route.abort("internetdisconnected"))
        page.wait_for_function("navigator.onLine === false")
        second = page.locator(".segment").nth(1)
        second.locator("button[data-status=debris]").click()
        page.wait_for_selector("#queue-status.waiting")
        assert "(1)" in page.inner_text("#queue-status")
        assert page.locator(".segment .pending").count() == 1
        assert checks_by(app, sweep_id, user_id) == ["clear"]
        # The page opens again without a connection (service worker), the waiting check-off still there.
        page.reload()
        page.wait_for_selector(".segment .pending")
        assert page.evaluate("navigator.serviceWorker.controller !== null")
        assert "(1)" in page.inner_text("#queue-status")
        assert checks_by(app, sweep_id, user_id) == ["clear"]

        context.unroute(f"{live_server}/**")
        context.set_offline(False)
        page.wait_for_function("document.getElementById('queue-status').className === 'pill'", timeout=30000)
        assert page.locator(".segment .pending").count() == 0
        assert checks_by(app, sweep_id, user_id) == ["clear", "debris"]
        page.wait_for_timeout(500)  # nothing more is sent
        assert checks_by(app, sweep_id, user_id) == ["clear", "debris"]
    finally:
        context.close()
