"""Absolute links for e-mails: built from ``[intake] public_url`` so that a worker outside any
request (``civic notify run``) writes the same links as a web request."""
from __future__ import annotations

from flask import current_app, url_for


def public_url(endpoint: str, **values) -> str:
    base = current_app.extensions["civic"].plugin_config["intake"]["public_url"].rstrip("/")
    with current_app.test_request_context(base_url=base):
        return url_for(endpoint, _external=True, **values)
