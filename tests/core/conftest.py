"""Fixtures of the core's tests: REST API callers signed in by JWT."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def _tokens():
    """JWT headers by (database, user): a login hashes a password, so each user signs in once per module
    (tokens expire: a run-wide cache would outlive them)."""
    return {}


@pytest.fixture
def api(app, api_headers, _tokens):
    """``api("pw_staff").get(url)``: a test client whose requests carry that user's JWT."""

    def headers(username: str) -> dict[str, str]:
        key = (app.config["SQLALCHEMY_DATABASE_URI"], username)
        if key not in _tokens:
            _tokens[key] = api_headers(username)
        return _tokens[key]

    class Caller:
        def __init__(self, username: str | None):
            self.client = app.test_client()
            self.headers = headers(username) if username else {}

        def __getattr__(self, method):
            call = getattr(self.client, method)
            return lambda url, **kw: call(url, headers=self.headers, **kw)

    return Caller
