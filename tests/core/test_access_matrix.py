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
from tests.conftest import build_app, csrf_token, drop_schema, postgres_url, prepare_database

STATE_CHANGING = ("POST", "PUT", "PATCH", "DELETE")
# HEAD runs as GET in the app (core.security.HeadAsGet, a WSGI middleware), so its answer is the GET's: it is asked
# as a visitor, as another department's staff and as the admin (who could do the most with a HEAD that acted).
HEAD_ROLES = ("anonymous", "staff_b", "admin")


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


def refusal(role: str, response) -> bool:
    """How a refused role is answered: someone signed in gets 403 or 404, never a sign-in page (they are signed
    in); a visitor gets 401/403/404 or is sent to sign in."""
    if role == "anonymous":
        return outcome(response) == "login" or response.status_code in (401, 403, 404)
    return response.status_code in (403, 404)


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

    matched = {found[0] for found in map(expectation, (r.rule for r in _rules(app))) if found}
    stale = [pattern for pattern, _ in TABLE if pattern not in matched]
    assert not stale, f"entries of tests/access_table.py that match no route any more: {stale}"


def test_each_role_opens_exactly_what_the_access_table_allows_and_refusals_leak_nothing(matrix):
    """GET of every route as every role (and HEAD as HEAD_ROLES); nobody outside the case (anonymous, resident B, the other
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
            for method in ("GET", "HEAD") if role in HEAD_ROLES else ("GET",):
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
                elif not refusal(role, response):
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


def test_with_a_valid_csrf_token_the_permission_check_still_refuses_every_role_the_table_refuses(matrix):
    """The state-changing browser requests again, now with the role's own valid CSRF token (form field and
    header) and an empty form: the token no longer stops anyone, so what refuses a role is the permission check.
    A role the table does not let write gets 403/404 (signed in) or the sign-in page (anonymous); it is never
    answered as if it had acted, and never sees the case's private text.  The roles the table lets write are not
    asked: an empty form would make them delete or change the matrix's rows."""
    app, world = matrix
    tokens = {role: csrf_token(world.browsers[role].get("/portal/report/POTHOLE").get_data(as_text=True)) for role in ROLES}
    wrong, asked = [], 0
    for rule in _rules(app):
        methods = sorted(set(STATE_CHANGING) & rule.methods)
        found = expectation(rule.rule)
        if not methods or found is None or found[1].skip or found[1].public or rule.rule.startswith("/api/"):
            continue
        pattern, expect = found
        may_write = expect.allow if expect.write is None else expect.write
        url = fill(rule, world)
        for method in methods:
            for role in ROLES:
                if role in may_write:
                    continue
                asked += 1
                response = world.browsers[role].open(url, method=method, data={"csrf_token": tokens[role]},
                                                     headers={"X-CSRFToken": tokens[role]})
                response.get_data()
                response.close()
                got = outcome(response)
                cell = f"{method} {url} as {role}: {response.status_code} ({got})"
                if not refusal(role, response):
                    wrong.append(f"{cell}: the table ({pattern}) refuses this role")
                elif leaked(response):
                    wrong.append(f"{cell}: the refusal shows {leaked(response)}")
    assert asked > 300
    assert not wrong, f"{len(wrong)} requests of refused roles were not refused by the permission check:\n  " + "\n  ".join(wrong)


def test_docs_security_md_shows_the_access_table_as_tested():
    from tests.access_table import render_markdown
    from tests.conftest import ROOT

    text = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    assert render_markdown() in text, "docs/security.md: paste the output of tests.access_table.render_markdown()"
