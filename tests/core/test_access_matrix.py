"""The access matrix: every route of the app and every REST operation, asked by every role.

One app per engine with every plugin of the demo city (its own database), a Public Works case reported by
resident A, and a signed-in browser and a JWT for each role (``tests/access_harness.py``).  What each role may
open is the table in ``tests/access_table.py`` (rendered in ``docs/security.md``); a route the table does not
classify fails here by name, so a new endpoint cannot escape.
"""
from __future__ import annotations

import uuid

import pytest

from tests.access_harness import OUTSIDERS, PRIVATE_MARKERS, build_world, fill, leaked, outcome
from tests.access_table import ROLES, TABLE, expectation, normalised
from tests.conftest import build_app, drop_schema, postgres_url, prepare_database

STATE_CHANGING = ("POST", "PUT", "PATCH", "DELETE")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def matrix(request, tmp_path_factory):
    """(app, world) on a database of its own: the samples it loads must not reach other tests."""
    if request.param == "sqlite":
        url, schema = f"sqlite:///{tmp_path_factory.mktemp('matrix') / 'civic.db'}", None
    else:
        schema = f"civic_matrix_{uuid.uuid4().hex[:10]}"
        url = postgres_url(schema)
    app = build_app(url)
    prepare_database(app)
    world = build_world(app)
    yield app, world
    from core.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    if schema:
        drop_schema(schema)


def _rules(app):
    return sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint))


def _ask(app, world, role: str, url: str, method: str):
    """The role's request: the REST API with the role's JWT (no cookie), anything else in the role's browser."""
    if url.startswith("/api/"):
        client, headers = app.test_client(), world.jwt[role]
    else:
        client, headers = world.browsers[role], {}
    kwargs = {"json": {}} if url.startswith("/api/") and method in STATE_CHANGING else {}
    response = client.open(url, method=method, headers=headers, **kwargs)
    response.get_data()
    response.close()
    return response


def test_every_route_and_every_rest_operation_is_in_the_access_table(matrix):
    app, world = matrix
    unclassified = sorted({f"{r.rule}  ({r.endpoint})" for r in _rules(app) if expectation(r.rule) is None})
    assert not unclassified, "routes missing from tests/access_table.py (say who may open them):\n  " + "\n  ".join(unclassified)

    document = app.test_client().get("/api/v1/_openapi", headers=world.jwt["admin"])
    assert document.status_code == 200
    routes = {(normalised(r.rule), m) for r in _rules(app) for m in r.methods}
    operations = [(path, method.upper()) for path, ops in document.json["paths"].items() for method in ops
                  if method.upper() in ("GET", "POST", "PUT", "PATCH", "DELETE")]
    assert len(operations) > 20
    orphans = [f"{m} {p}" for p, m in operations if (p, m) not in routes]
    assert not orphans, f"OpenAPI operations that are no route of the app: {orphans}"
    unclassified_ops = [f"{m} {p}" for p, m in operations if expectation(p) is None]
    assert not unclassified_ops, f"OpenAPI operations missing from tests/access_table.py: {unclassified_ops}"

    stale = [pattern for pattern, _ in TABLE if not any(expectation(r.rule) and expectation(r.rule)[0] == pattern for r in _rules(app))]
    assert not stale, f"entries of tests/access_table.py that match no route any more: {stale}"


def test_each_role_opens_exactly_what_the_access_table_allows_and_refusals_leak_nothing(matrix):
    """GET and HEAD of every route as every role; nobody outside the case (anonymous, resident B, the other
    department's staff) ever sees its contact details or internal note, on any page."""
    app, world = matrix
    wrong, skipped = [], []
    for rule in _rules(app):
        if "GET" not in rule.methods:
            continue
        pattern, expect = expectation(rule.rule) or (None, None)
        if expect is None:
            continue  # reported by the test above
        if expect.skip:
            skipped.append(f"{rule.rule}: {expect.skip}")
            continue
        url = fill(rule, world)
        assert url is not None, f"{rule.rule}: no value for its arguments {sorted(rule.arguments)} (tests/access_harness.py)"
        for role in ROLES:
            for method in ("GET", "HEAD"):
                response = _ask(app, world, role, url, method)
                got = outcome(response)
                cell = f"{method} {url} as {role}: {response.status_code} ({got})"
                if got == "error":
                    wrong.append(f"{cell}: a server error")
                    continue
                if role in OUTSIDERS and leaked(response, PRIVATE_MARKERS):
                    wrong.append(f"{cell}: shows the case's {leaked(response, PRIVATE_MARKERS)} to someone outside it")
                if expect.public or method == "HEAD" and got == "ok" and role in expect.allow:
                    continue
                if role in expect.allow:
                    if not (got == "ok" or expect.missing and response.status_code in (400, 404)):
                        wrong.append(f"{cell}: the table ({pattern}) allows it")
                elif got not in ("refused", "login"):
                    wrong.append(f"{cell}: the table ({pattern}) refuses it")
                elif leaked(response):
                    wrong.append(f"{cell}: the refusal shows {leaked(response)}")
    assert len(skipped) == sum(1 for _, e in TABLE if e.skip), skipped
    assert not wrong, f"{len(wrong)} cells differ from tests/access_table.py:\n  " + "\n  ".join(wrong)


def test_state_changing_requests_without_a_csrf_token_or_a_permission_never_succeed(matrix):
    app, world = matrix
    wrong = []
    for rule in _rules(app):
        methods = sorted(set(STATE_CHANGING) & rule.methods)
        found = expectation(rule.rule)
        if not methods or found is None or found[1].skip:
            continue
        pattern, expect = found
        url = fill(rule, world)
        assert url is not None, f"{rule.rule}: no value for its arguments {sorted(rule.arguments)}"
        api = url.startswith("/api/")
        may_write = expect.allow if expect.write is None else expect.write
        for method in methods:
            for role in ROLES:
                response = _ask(app, world, role, url, method)
                got = outcome(response)
                cell = f"{method} {url} as {role}: {response.status_code} ({got})"
                if got == "error":
                    wrong.append(f"{cell}: a server error")
                elif expect.public:
                    continue
                elif not api and got == "ok":
                    wrong.append(f"{cell}: a browser request without a CSRF token succeeded")
                elif api and role not in may_write and got not in ("refused", "login"):
                    wrong.append(f"{cell}: the table ({pattern}) does not let this role write")
                elif got != "ok" and leaked(response):
                    wrong.append(f"{cell}: the refusal shows {leaked(response)}")
    assert not wrong, f"{len(wrong)} state-changing requests went wrong:\n  " + "\n  ".join(wrong)


def test_docs_security_md_shows_the_access_table_as_tested():
    from tests.access_table import render_markdown
    from tests.conftest import ROOT

    text = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    assert render_markdown() in text, "docs/security.md: paste the output of tests.access_table.render_markdown()"
