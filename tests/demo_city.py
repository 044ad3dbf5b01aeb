"""The Palm Coast demo city on a database of its own, set up as `make run` does, for the user stories and the
screenshots.

`civic init`, `civic demo`, `civic knowledge import`, `civic fieldservice demo` and `civic fema demo` run through
the real command group, so the stories meet the city a new installation shows.  The demo staff keep their
usernames (dispatcher, pw_staff, pw_supervisor, pw_crew, util_staff...) with ``DEMO_PASSWORD`` (the demo tests'
own); the city also gets the two people the demo leaves out: ``crew`` (the field crew of the browser tests in
tests/plugins/fieldservice) and ``fema_coordinator``.
"""
from __future__ import annotations

from pathlib import Path

from tests.conftest import ROOT, build_app
from tests.core.test_demo import DEMO_PASSWORD, run_civic

KNOWLEDGE_SAMPLE = ROOT / "config" / "knowledge-sample.toml"
EXTRA_STAFF = {
    # username: (role, department codes, first name, last name)
    "crew": ("Field crew", ("PW",), "Sam", "Rivera"),
    "fema_coordinator": ("FEMA coordinator", (), "Linda", "Chen"),
}


def civic(app, *args: str) -> str:
    """Run one `civic` command on ``app`` (tests/core/test_demo.py's runner); its output, or a failure naming it."""
    result = run_civic(app, *args)
    if result.exit_code != 0:
        raise RuntimeError(f"civic {' '.join(args)} failed ({result.exit_code}): {result.output}")
    return result.output


def build_demo_city(database_url: str, cases: int = 0, **settings):
    """A new app on ``database_url`` (an empty database) with the whole demo loaded, as `make run` leaves it."""
    import sqlalchemy as sa

    from core.extensions import db
    from core.models import Department
    from core.services.users import create_user

    app = build_app(database_url, **settings)
    civic(app, "init")
    civic(app, "demo", "--cases", str(cases))
    civic(app, "knowledge", "import", str(KNOWLEDGE_SAMPLE))
    civic(app, "fieldservice", "demo")
    civic(app, "fema", "demo")
    with app.app_context():
        for username, (role, codes, first_name, last_name) in EXTRA_STAFF.items():
            departments = [db.session.scalar(sa.select(Department).where(Department.code == c)) for c in codes]
            create_user(username, DEMO_PASSWORD, role, first_name=first_name, last_name=last_name,
                        email=f"{username}@demo.palmcoast.example.gov", departments=departments)
        db.session.remove()
    return app


def close_city(app) -> None:
    from core.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def sqlite_url(folder: Path) -> str:
    return f"sqlite:///{folder / 'civic.db'}"
