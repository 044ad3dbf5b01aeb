"""Civic Connect core.  Plugin authors import only from here: ``from core import hookimpl``."""
from core.hookspecs import hookimpl

__all__ = ["create_app", "hookimpl"]


def create_app(*args, **kwargs):
    """Build the Flask app for a city config (see ``core.app.create_app``)."""
    from core.app import create_app as _create_app

    return _create_app(*args, **kwargs)
