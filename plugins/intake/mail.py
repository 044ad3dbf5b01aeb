"""E-mails in the recipient's language: plain text plus HTML, from templates under ``templates/mail/``.

``render_mail("case_received", "fr", case=case)`` renders ``mail/case_received.txt`` and
``mail/case_received.html`` inside ``force_locale("fr")``; each template sets the subject with
``{% set subject = _("...") %}`` at its top (the text template's subject is used).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from flask import current_app, render_template
from flask_babel import force_locale


@dataclass(frozen=True)
class Mail:
    subject: str
    text: str
    html: str


def render_mail(name: str, locale: str, **context) -> Mail:
    offered = current_app.extensions["civic"].config.city["locales"]
    locale = locale if locale in offered else current_app.extensions["civic"].config.city["default_locale"]
    with force_locale(locale):
        template = current_app.jinja_env.get_template(f"mail/{name}.txt")
        module = template.make_module(context)
        text = str(module).strip() + "\n"
        # One line; French no-break spaces (before ":", inside « ») are kept.
        subject = re.sub(r"[ \t\r\n]+", " ", str(getattr(module, "subject", ""))).strip()
        html = render_template(f"mail/{name}.html", subject=subject, **context)
    return Mail(subject=subject, text=text, html=html)
