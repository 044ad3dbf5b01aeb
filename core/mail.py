"""E-mails the core writes to staff (a mention ...), in the recipient's language: plain text plus HTML.

``render_mail("mention", "fr", subject=lambda: gettext(...), **context)`` renders
``civic/mail/mention.txt`` and ``civic/mail/mention.html`` inside ``force_locale("fr")``; the subject
is computed there too, so it is in the same language.  A locale the city does not offer falls back
to its default.  Which language a staff member reads: ``staff_locale`` (the ``user_locale`` hook).
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app, has_request_context, render_template, url_for
from flask_babel import force_locale


@dataclass(frozen=True)
class Mail:
    subject: str
    text: str
    html: str


def offered_locale(locale: str | None) -> str:
    """``locale`` if the city offers it, else the city's default."""
    city = current_app.extensions["civic"].config.city
    return locale if locale in city["locales"] else city["default_locale"]


def staff_locale(user_id: int) -> str:
    """The language to write to a staff member in: the ``user_locale`` hook (the i18n plugin answers
    with the language the user chose), else the city's default."""
    chosen = current_app.extensions["civic"].pm.hook.user_locale(user_id=user_id)
    return offered_locale(chosen)


def render_mail(name: str, locale: str, subject: Callable[[], str], **context) -> Mail:
    locale = offered_locale(locale)
    with force_locale(locale):
        # One line; French no-break spaces (before ":", inside « ») are kept.
        title = re.sub(r"[ \t\r\n]+", " ", str(subject())).strip()
        text = render_template(f"civic/mail/{name}.txt", subject=title, **context).strip() + "\n"
        html = render_template(f"civic/mail/{name}.html", subject=title, **context)
    return Mail(subject=title, text=text, html=html)


def staff_link(endpoint: str, **values) -> str:
    """An absolute link to a staff page: the request's host, else Flask's ``SERVER_NAME`` (or localhost)."""
    if has_request_context():
        return url_for(endpoint, _external=True, **values)
    with current_app.test_request_context():
        return url_for(endpoint, _external=True, **values)
