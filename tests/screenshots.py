"""`make screenshots`: PNGs of the main screens, in English and French, for the staff guide and the README.

Run as ``python -m tests.screenshots [--out docs/screenshots]``.  It sets up the demo city as `make run` does
(tests/demo_city.py) on a SQLite file in a temporary folder, serves it on 127.0.0.1, drives Debian's Chromium
(tests/browser.py: never a downloaded browser) through the screens as each person would, and writes
``<screen>-<language>.png``: phone-sized (390 x 844) for what residents and crews use, desktop (1280 x 800) for the
staff screens.  Each PNG is reduced to a 256-colour palette by Pillow (screens have few colours): a few tens of kB
each, small enough to keep in git.  Not part of `make test`.
"""
from __future__ import annotations

import argparse
import io
import logging
import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.browser import CHROMIUM, CHROMIUM_ARGS, served, sign_in
from tests.conftest import ROOT
from tests.demo_city import DEMO_PASSWORD, build_demo_city, close_city, sqlite_url

OUT = ROOT / "docs" / "screenshots"
LANGUAGES = {"en": "en-US", "fr": "fr-CA"}
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 1, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 800}, "device_scale_factor": 1}
DEMO_CASES = 800


@dataclass(frozen=True)
class Screen:
    """One screenshot: its file name stem, who signs in (None: a resident without an account), the size, how to
    get the page ready (``show(page, base_url, facts)``), and whether the whole page is taken or only the screen."""

    name: str
    user: str | None
    device: dict
    show: Callable
    full_page: bool = False


# ---------------------------------------------------------------- what the screenshots show

def city_facts(app) -> dict[str, str]:
    """References the screens open: a resolved public case with a note to the resident, an open Public Works case
    with a long timeline, a demo resident's utility account number."""
    import sqlalchemy as sa

    from core.extensions import db
    from core.models import Account, Case, CaseEvent, Department

    with app.app_context():
        session = db.session
        noted = (sa.select(Case.reference).join(CaseEvent, CaseEvent.case_id == Case.id)
                 .where(CaseEvent.kind == "public_note", Case.status == "resolved").order_by(Case.id.desc()).limit(1))
        resolved = session.scalar(noted) or session.scalar(sa.select(Case.reference).where(Case.status == "resolved").limit(1))
        events = sa.select(sa.func.count(CaseEvent.id)).where(CaseEvent.case_id == Case.id).scalar_subquery()
        busy = (sa.select(Case.id).join(Department, Department.id == Case.department_id)
                .where(Department.code == "PW", Case.status.in_(("in_progress", "acknowledged"))).order_by(events.desc(), Case.id.desc()).limit(1))
        account = session.scalar(sa.select(Account.utility_account_number).where(Account.utility_account_number.is_not(None)).order_by(Account.id))
        facts = {"resolved": resolved, "staff_case": str(session.scalar(busy)), "utility_account": account}
        db.session.remove()
    return facts


def portal_home(page, base: str, facts: dict) -> None:
    page.goto(f"{base}/portal/")


def portal_case(page, base: str, facts: dict) -> None:
    page.goto(f"{base}/portal/cases/{facts['resolved']}")


def staff_case(page, base: str, facts: dict) -> None:
    page.goto(f"{base}/caseview/show/{facts['staff_case']}")
    page.wait_for_selector("#actions")


def queue(page, base: str, facts: dict) -> None:
    page.goto(f"{base}/queue/")


def call_desk(page, base: str, facts: dict) -> None:
    page.goto(f"{base}/calls/new/")
    page.fill("#q", facts["utility_account"])
    page.click("form.civic-call-search button[type=submit]")
    page.wait_for_selector("#caller-matches")
    page.click("#caller-matches tr.civic-caller-match a.btn")
    page.wait_for_selector("#caller-details")
    page.select_option("select.civic-service-select", "METER", force=True)  # select2 hides the plain <select>
    page.wait_for_selector("#call-suggestions li")


def crew_phone(page, base: str, facts: dict) -> None:
    page.goto(f"{base}/fieldservice/crew/")
    page.wait_for_selector(".segment .statuses button")


def eoc_board(page, base: str, facts: dict) -> None:
    page.goto(f"{base}/fieldservice/eoc/")
    page.wait_for_selector(".eoc-sweep-total")
    page.wait_for_selector("#eoc-map .leaflet-interactive")


def fema_export(page, base: str, facts: dict) -> None:
    page.goto(f"{base}/fema/exports/")
    page.wait_for_selector("#fema-export-form")


SCREENS = (
    Screen("portal", None, PHONE, portal_home),
    Screen("portal-case", None, PHONE, portal_case),
    Screen("call-desk", "dispatcher", DESKTOP, call_desk, full_page=True),
    Screen("queue", "pw_supervisor", DESKTOP, queue),
    Screen("staff-case", "pw_staff", DESKTOP, staff_case, full_page=True),
    Screen("crew", "pw_crew", PHONE, crew_phone),
    Screen("eoc", "dispatcher", DESKTOP, eoc_board),
    Screen("fema-export", "fema_coordinator", DESKTOP, fema_export),
)


# ---------------------------------------------------------------- the machinery

def save_small_png(png: bytes, path: Path) -> int:
    """Write the screenshot as a palette PNG (256 colours, optimised); its size in bytes."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=256, method=Image.Quantize.FASTOCTREE)
    image.save(path, "PNG", optimize=True)
    return path.stat().st_size


def take(browser, base: str, facts: dict, screen: Screen, language: str, out: Path) -> Path:
    context = browser.new_context(**screen.device, locale=LANGUAGES[language])
    try:
        page = context.new_page()
        if screen.user:
            sign_in(page, base, screen.user, DEMO_PASSWORD)
        screen.show(page, base, facts)
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(300)  # the map's tiles and fade-ins settle
        path = out / f"{screen.name}-{language}.png"
        save_small_png(page.screenshot(full_page=screen.full_page), path)
        return path
    finally:
        context.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.screenshots", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT, help=f"folder of the PNGs (default {OUT.relative_to(ROOT)})")
    parser.add_argument("--only", action="append", default=[], help="take only this screen (repeatable): " + ", ".join(s.name for s in SCREENS))
    args = parser.parse_args(argv)
    unknown = set(args.only) - {s.name for s in SCREENS}
    if unknown:
        parser.error(f"--only: no screen named {', '.join(sorted(unknown))}")
    if not os.path.exists(CHROMIUM):
        print(f"Chromium not found at {CHROMIUM}: `make test-services` installs Debian's package.", file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request would bury the list of files
    with tempfile.TemporaryDirectory(prefix="civic-screens-") as data:
        os.environ["CIVIC_DATA_DIR"] = data
        os.environ.pop("CIVIC_DATABASE_URL", None)
        print(f"setting up the demo city ({DEMO_CASES} cases) in {data} ...")
        app = build_demo_city(sqlite_url(Path(data)), cases=DEMO_CASES)
        try:
            facts = city_facts(app)
            with served(app) as base, sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                try:
                    for screen in SCREENS:
                        if args.only and screen.name not in args.only:
                            continue
                        for language in LANGUAGES:
                            path = take(browser, base, facts, screen, language, args.out)
                            print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}  {path.stat().st_size // 1024} kB")
                finally:
                    browser.close()
        finally:
            close_city(app)
    return 0


if __name__ == "__main__":
    sys.exit(main())
