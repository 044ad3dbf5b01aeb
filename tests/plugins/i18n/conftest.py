"""Fixtures for the i18n plugin: fresh staff and residents (their language choices must not leak into
other tests' shared users), and other cities on the same database as the demo city."""
from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import PASSWORD, build_app
from tests.fixtures import BUILT_IN, city_config, close_app


def page_language(html: str) -> str:
    """The ``lang`` of the page's ``<html>`` element."""
    m = re.search(r"<html\b[^>]*\blang=\"([^\"]*)\"", html)
    assert m, "the page has no <html lang>"
    return m.group(1)


def with_i18n_section(text: str, lines: str) -> str:
    """A city config's text with these lines in its ``[i18n]`` section (added when there is none)."""
    if re.search(r"(?m)^\[i18n\]\s*$", text):
        return re.sub(r"(?m)^\[i18n\]\s*$", "[i18n]\n" + lines.rstrip("\n"), text, count=1)
    return text + "\n[i18n]\n" + lines


def other_city(directory: Path, *, enabled=BUILT_IN, replace: dict[str, str] | None = None, i18n: str = "") -> Path:
    """A copy of the demo city with some text replaced and some lines in its [i18n] section."""
    path = city_config(directory, list(enabled), replace=replace)
    if i18n:
        path.write_text(with_i18n_section(path.read_text(encoding="utf-8"), i18n), encoding="utf-8")
    return path


@pytest.fixture
def new_user(app):
    """``new_user("Department staff")`` creates a user of that role, signed in nowhere yet; returns the username."""

    def make(role: str = "Department staff", departments=("PW",), language: str | None = None) -> str:
        from core.extensions import db
        from core.models import Account, Department
        from core.services.users import create_user

        username = f"i18n_{uuid.uuid4().hex[:10]}"
        with app.app_context():
            depts = [db.session.scalar(sa.select(Department).where(Department.code == c)) for c in departments]
            user = create_user(username, PASSWORD, role, departments=depts)
            if language is not None:  # a resident: the account linked to the login holds the language
                db.session.add(Account(name=username, email=f"{username}@example.org", preferred_language=language, user_id=user.id))
                db.session.commit()
            db.session.remove()
        return username

    return make


def saved_locale(app, username: str) -> str | None:
    """What the i18n plugin keeps for a staff member (None when nothing was saved)."""
    from core.extensions import db
    from plugins.i18n.models import UserLocale

    with app.app_context():
        user = app.appbuilder.sm.find_user(username=username)
        row = db.session.scalar(sa.select(UserLocale.locale).where(UserLocale.user_id == user.id))
        db.session.remove()
        return row


def account_language(app, username: str) -> str:
    from core.extensions import db
    from core.models import Account

    with app.app_context():
        user = app.appbuilder.sm.find_user(username=username)
        language = db.session.scalar(sa.select(Account.preferred_language).where(Account.user_id == user.id))
        db.session.remove()
        return language


@pytest.fixture
def city_on_demo_database(app, database_url):
    """``city_on_demo_database(config_path)`` builds another city's app on the demo city's (migrated) database."""
    built = []

    def make(config: Path):
        application = build_app(database_url, config)
        built.append(application)
        return application

    yield make
    for application in built:
        close_app(application)
