"""Which language a request is answered in, and the language switcher that remembers a choice.

Pages: the signed-in user's saved preference, then the choice made with the
switcher in this session, then the browser's ``Accept-Language`` (``fr-CA``,
``fr-FR`` and ``fr`` all give ``fr``), then the city's default locale.

REST API (``/api/...``): an explicit ``Accept-Language`` wins over the saved
preference (a client asks for the language of this answer); FAB's ``_l_``
query argument wins over both.

A saved preference is the account's ``preferred_language`` for a resident
(an ``Account`` linked to the user) and the ``i18n_user_locale`` row for staff.
Only the locales the city offers (``city.locales``) are ever chosen.
"""
from __future__ import annotations

import functools
from typing import Callable

from flask import Flask, abort, current_app, has_request_context, request, session
from flask_babel import get_locale, gettext
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from werkzeug.datastructures import LanguageAccept

from core.extensions import db
from core.models import Account
from core.security import acting_user, forget_user_fact, register_user_fact, user_fact
from plugins.i18n.models import UserLocale

SWITCHER_ENDPOINT = "LocaleView.index"  # FAB's /lang/<locale>, linked from the navbar's language menu
CHOICE = "i18n_locale"  # the language chosen with the switcher in this session
SHOWN = "locale"  # FAB's key: its navbar marks this language as the current one


def offered() -> list[str]:
    """The city's locales, in the order of its config (``LANGUAGES`` is built from ``city.locales``)."""
    return list(current_app.config["LANGUAGES"])


def best_offered(languages: list[tuple[str, float]]) -> str | None:
    """The offered locale that best fits ``[(language tag, quality)]``, best quality first.

    Each tag is matched on its own (werkzeug's ``best_match``: exactly, else by its primary
    language, so ``fr-CA`` gives ``fr``): asking werkzeug about the whole list at once would let
    an exact ``fr;q=0.9`` beat ``en-GB`` (quality 1), which only matches by its primary language.
    ``*`` is no preference: the next source decides.
    """
    available = offered()
    ranked = sorted((item for item in languages if item[0] and item[0] != "*" and item[1] > 0), key=lambda item: -item[1])
    for tag, _quality in ranked:
        match = LanguageAccept([(tag, 1)]).best_match(available)
        if match:
            return match
    return None


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def is_static_file() -> bool:
    return not request.endpoint or request.endpoint == "static" or request.endpoint.endswith(".static")


# ---------------------------------------------------------------- the sources, in the order they are asked

def from_saved_preference() -> str | None:
    user = acting_user()
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return best_offered([(saved_preference(user.id) or "", 1)])


def from_session() -> str | None:
    return best_offered([(session.get(CHOICE) or "", 1)])


def from_accept_language() -> str | None:
    return best_offered(list(request.accept_languages))


def from_query_argument() -> str | None:
    """FAB's ``?_l_=fr`` on its REST API."""
    return best_offered([(request.args.get("_l_") or "", 1)])


PAGE_ORDER: tuple[Callable[[], str | None], ...] = (from_saved_preference, from_session, from_accept_language)
API_ORDER: tuple[Callable[[], str | None], ...] = (from_query_argument, from_accept_language, from_saved_preference, from_session)


def select_locale() -> str | None:
    """Flask-Babel's locale selector when the i18n plugin is on (replaces FAB's, which ignores the browser)."""
    if not has_request_context():
        return None  # Flask-Babel then uses BABEL_DEFAULT_LOCALE, the city's default
    for source in API_ORDER if is_api_request() else PAGE_ORDER:
        chosen = source()
        if chosen:
            return chosen
    return current_app.config["BABEL_DEFAULT_LOCALE"]


# ---------------------------------------------------------------- saved preferences

def _saved_preference_of(user_id):
    account = select(Account.preferred_language).where(Account.user_id == user_id).scalar_subquery()
    chosen = select(UserLocale.locale).where(UserLocale.user_id == user_id).scalar_subquery()
    return func.coalesce(account, chosen)


# Read with the signed-in user, in the statement that loads them (core.security.user_fact).
register_user_fact("saved_locale", _saved_preference_of, plugin="i18n")


def saved_preference(user_id: int) -> str | None:
    """The resident account's preferred language, else the staff member's saved choice (one query, or none when
    it came with the signed-in user)."""
    known, value = user_fact("saved_locale", user_id)
    if known:
        return value
    with db.session.no_autoflush:  # never flush someone's half-made change just to learn a language
        return db.session.scalar(select(_saved_preference_of(user_id)))


def save_preference(user_id: int, locale: str) -> None:
    """Remember a user's language: on the resident's account, or in ``i18n_user_locale`` for staff."""
    forget_user_fact("saved_locale")
    for _ in range(2):
        account = db.session.scalar(select(Account).where(Account.user_id == user_id))
        if account is not None:
            account.preferred_language = locale
        else:
            row = db.session.scalar(select(UserLocale).where(UserLocale.user_id == user_id))
            if row is None:
                db.session.add(UserLocale(user_id=user_id, locale=locale))
            else:
                row.locale = locale
        try:
            db.session.commit()
            return
        except IntegrityError:  # the same user's other tab saved first: update that row instead
            db.session.rollback()
    raise RuntimeError(f"could not save the language of user {user_id}")


# ---------------------------------------------------------------- wiring

def wrap_switcher(app: Flask) -> None:
    """FAB's /lang/<locale> refuses what the city does not offer and saves a signed-in user's choice."""
    switch = app.view_functions[SWITCHER_ENDPOINT]

    @functools.wraps(switch)
    def choose_language(locale: str):
        if locale not in offered():
            abort(404, description=gettext("This site is not offered in that language."))
        response = switch(locale=locale)  # FAB: session["locale"], then back to the page
        session[CHOICE] = locale
        if current_user.is_authenticated:
            save_preference(current_user.id, locale)
        return response

    app.view_functions[SWITCHER_ENDPOINT] = choose_language


def install(app: Flask) -> None:
    """Replace FAB's locale selector and switcher for this app."""
    app.extensions["babel"].locale_selector = select_locale
    wrap_switcher(app)

    @app.before_request
    def choose_before_anything_is_written():
        """Pages learn their language first thing (the user is known from the session cookie), so the
        preference query never runs in the middle of a change, and FAB's navbar (which reads
        session["locale"]) shows that language as the current one.  API users are known only once
        FAB has checked the token: theirs is chosen at the first message."""
        if is_static_file() or is_api_request():
            return
        shown = str(get_locale())
        if session.get(SHOWN) != shown:
            session[SHOWN] = shown

    @app.after_request
    def vary_on_language(response):
        if not is_static_file():
            response.vary.add("Accept-Language")
        return response
