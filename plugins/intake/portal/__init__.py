"""The resident portal: one blueprint, its routes split by subject.

- ``reporting``: home, service search, the report form, "Is this it?" and "me too".
- ``following``: the public case page, follow/unfollow, "Was this resolved?".
- ``accounts``: sign up, confirm, sign in and out, reset password, link a utility account,
  "My city", download my data, close my account.
"""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, current_app
from flask_login import current_user

HERE = Path(__file__).resolve().parent.parent

portal = Blueprint("portal", __name__, url_prefix="/portal", template_folder=str(HERE / "templates"), static_folder=str(HERE / "static"), static_url_path="/static")


@portal.context_processor
def _portal_globals():
    """``current_app`` for the layout (it shows links only for endpoints that exist)."""
    return {"current_app": current_app}


@portal.before_request
def _note_activity():
    """A signed-in resident's visit counts as activity for retention (core/privacy.py; at most one write an hour)."""
    if not getattr(current_user, "is_authenticated", False):
        return
    from core import privacy
    from core.extensions import db
    from plugins.intake.residents import current_account

    account = current_account()
    if account is not None:
        before = account.last_active_at
        privacy.touch(account)
        if account.last_active_at != before:
            db.session.commit()


def blueprint() -> Blueprint:
    """The portal with every route module loaded (each adds its routes to ``portal`` on import)."""
    from plugins.intake.portal import accounts, following, reporting  # noqa: F401

    return portal
