"""Open311 API keys: created once and stored as a hash, sent three ways, refused when missing, unknown
or revoked, limited per minute; managed with `civic open311 ...` and on Residents › API keys (Admin)."""
from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from core.models.base import utcnow
from tests.conftest import csrf_token
from tests.plugins.intake.open311_helpers import POTHOLE, error_codes, error_texts, new_key, parse, post, run_cli, tag


def key_row(app, name: str):
    from core.extensions import db
    from plugins.intake.models import ApiKey

    with app.app_context():
        row = db.session.scalar(sa.select(ApiKey).where(ApiKey.name == name))
        if row is not None:
            db.session.expunge(row)
        db.session.remove()
    return row


def missing_service_code(plain: str | None) -> dict:
    """A POST that passes the key check and then fails cheaply (400): enough to count against a limit."""
    return {"api_key": plain} if plain else {}


# ---------------------------------------------------------------- the key itself

def test_a_new_key_is_random_and_only_its_hash_and_prefix_are_kept(app):
    name, plain = new_key(app, rate_limit=30)
    _other_name, other = new_key(app)
    assert len(plain) >= 43 and plain != other and re.fullmatch(r"[A-Za-z0-9_-]+", plain)
    row = key_row(app, name)
    assert row.key_hash == hashlib.sha256(plain.encode()).hexdigest() and row.prefix == plain[:8]
    assert plain not in (row.name, row.key_hash, row.prefix) and row.rate_limit == 30 and row.revoked_at is None


def test_key_names_are_unique_and_checked(app, session):
    from plugins.intake.open311.keys import KeyProblem, create_key

    name, _plain = new_key(app)
    with pytest.raises(KeyProblem) as exc:
        create_key(session, f"  {name} ")
    assert exc.value.field == "name" and "already exists" in exc.value.message
    for bad_name in ("", "   ", "x" * 101):
        with pytest.raises(KeyProblem):
            create_key(session, bad_name)
    for bad_limit in (0, -5, "ten", 100_001, True):
        with pytest.raises(KeyProblem) as exc:
            create_key(session, f"App {tag()}", rate_limit=bad_limit)
        assert exc.value.field == "rate_limit"


# ---------------------------------------------------------------- sending it

def test_app_sends_its_key_in_the_body_the_query_or_a_bearer_header(app):
    _name, plain = new_key(app)
    c = app.test_client()
    post(c, "requests", {**POTHOLE, "api_key": plain}, 201)
    assert c.post(f"/open311/v2/requests.json?api_key={plain}", data=POTHOLE).status_code == 201
    assert c.post("/open311/v2/requests.json", data=POTHOLE, headers={"Authorization": f"Bearer {plain}"}).status_code == 201


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_missing_wrong_or_revoked_key_is_403_wherever_it_is_sent(app, session, fmt):
    from plugins.intake.open311.keys import find_key, revoke_key

    name, plain = new_key(app)
    revoked_name, revoked = new_key(app)
    revoke_key(session, find_key(session, revoked_name))
    c = app.test_client()
    url = f"/open311/v2/requests.{fmt}"
    response = c.post(url, data=POTHOLE)
    assert response.status_code == 403
    assert error_texts(parse(response, fmt), fmt) == ["api_key: is required: ask the city for a key and send it as api_key"]
    wrong = plain[:-4] + "AAAA"
    for value, expected in ((wrong, "api_key: this key is not known here"), (revoked, "api_key: this key was revoked")):
        for response in (
            c.post(url, data={**POTHOLE, "api_key": value}),
            c.post(f"{url}?api_key={value}", data=POTHOLE),
            c.post(url, data=POTHOLE, headers={"Authorization": f"Bearer {value}"}),
        ):
            assert response.status_code == 403
            body = parse(response, fmt)
            assert error_codes(body, fmt) == {403} and error_texts(body, fmt) == [expected]
    # the same for updates
    response = c.post(f"/open311/v2/servicerequestupdates.{fmt}", data={"service_request_id": "PC-1", "description": "x", "api_key": revoked})
    assert response.status_code == 403
    assert c.post(url, data={**POTHOLE, "api_key": plain}).status_code == 201  # a good key still works


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_key_over_its_rate_limit_gets_429_with_retry_after(app, fmt):
    _name, plain = new_key(app, rate_limit=2)
    _other_name, other = new_key(app, rate_limit=2)
    c = app.test_client()
    for _ in range(2):
        assert c.post(f"/open311/v2/requests.{fmt}", data=missing_service_code(plain)).status_code == 400
    response = c.post(f"/open311/v2/requests.{fmt}", data={**POTHOLE, "api_key": plain})
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    body = parse(response, fmt)
    assert error_codes(body, fmt) == {429} and error_texts(body, fmt)[0].startswith("api_key: more than 2 requests in a minute")
    assert c.post(f"/open311/v2/servicerequestupdates.{fmt}", data={"api_key": plain}).status_code == 429
    assert c.post(f"/open311/v2/requests.{fmt}", data={**POTHOLE, "api_key": other}).status_code == 201  # each key its own limit


def test_the_city_default_rate_limit_applies_to_keys_without_their_own(app, monkeypatch):
    monkeypatch.setitem(app.extensions["civic"].plugin_config["intake"], "open311_rate_limit", 1)
    _name, plain = new_key(app)
    c = app.test_client()
    assert c.post("/open311/v2/requests.json", data=missing_service_code(plain)).status_code == 400
    assert c.post("/open311/v2/requests.json", data={**POTHOLE, "api_key": plain}).status_code == 429


def test_last_used_is_written_at_most_once_a_minute(app):
    from core.extensions import db
    from plugins.intake.models import ApiKey
    from tests.conftest import recorded_sql

    name, plain = new_key(app)
    assert key_row(app, name).last_used_at is None
    c = app.test_client()
    c.post("/open311/v2/requests.json", data=missing_service_code(plain))
    first = key_row(app, name).last_used_at
    assert first is not None and first >= utcnow() - timedelta(minutes=1)
    with recorded_sql(app) as statements:
        c.post("/open311/v2/requests.json", data=missing_service_code(plain))
    assert not [s for s in statements if s.startswith("UPDATE intake_api_key")]
    assert key_row(app, name).last_used_at == first
    with app.app_context():  # two minutes later
        db.session.execute(sa.update(ApiKey).where(ApiKey.name == name).values(last_used_at=first - timedelta(minutes=2)))
        db.session.commit()
        db.session.remove()
    c.post("/open311/v2/requests.json", data=missing_service_code(plain))
    assert key_row(app, name).last_used_at >= first


# ---------------------------------------------------------------- civic open311 ...

def test_cli_creates_a_key_prints_it_once_and_lists_keys_without_it(app):
    name = f"CLI app {tag()}"
    result = run_cli(app, "open311", "create-key", name, "--rate-limit", "50")
    assert result.exit_code == 0, result.output
    plain = result.stdout.strip()
    assert len(plain) >= 43 and "\n" not in plain
    assert "will not be shown again" in result.stderr and plain not in result.stderr
    row = key_row(app, name)
    assert row.key_hash == hashlib.sha256(plain.encode()).hexdigest() and row.rate_limit == 50
    assert app.test_client().post("/open311/v2/requests.json", data={**POTHOLE, "api_key": plain}).status_code == 201
    listed = run_cli(app, "open311", "list-keys")
    assert listed.exit_code == 0
    (line,) = [line for line in listed.output.splitlines() if line.startswith(name + "\t")]
    assert plain[:8] in line and "50/min" in line and "active" in line
    assert plain not in listed.output


def test_cli_refuses_a_duplicate_name_with_one_clear_line(app):
    name, _plain = new_key(app)
    result = run_cli(app, "open311", "create-key", name)
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [f"Error: name: a key named '{name}' already exists"]
    result = run_cli(app, "open311", "create-key", f"App {tag()}", "--rate-limit", "0")
    assert result.exit_code == 1 and "rate_limit" in result.output


def test_cli_revokes_a_key_and_it_stops_working(app):
    name, plain = new_key(app)
    result = run_cli(app, "open311", "revoke-key", name)
    assert result.exit_code == 0 and result.output.strip() == f"API key '{name}' revoked."
    response = app.test_client().post("/open311/v2/requests.json", data={**POTHOLE, "api_key": plain})
    assert response.status_code == 403
    assert run_cli(app, "open311", "revoke-key", name).output.strip() == f"API key '{name}' was already revoked."
    assert "revoked" in [line for line in run_cli(app, "open311", "list-keys").output.splitlines() if line.startswith(name + "\t")][0]
    missing = run_cli(app, "open311", "revoke-key", f"nobody {tag()}")
    assert missing.exit_code == 1 and "no API key is named" in missing.output


# ---------------------------------------------------------------- Residents › API keys

def test_admin_creates_a_key_and_sees_it_once(app, client_for):
    admin = client_for("admin")
    page = admin.get("/apikeyview/add")
    assert page.status_code == 200
    name = f"Screen app {tag()}"
    response = admin.post("/apikeyview/add", data={"name": name, "rate_limit": "60", "csrf_token": csrf_token(page.get_data(as_text=True))})
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    plain = re.search(r'id="api-key"[^>]*value="([^"]+)"', html).group(1)
    assert "will not be shown again" in html
    row = key_row(app, name)
    assert row.key_hash == hashlib.sha256(plain.encode()).hexdigest() and row.rate_limit == 60 and row.created_by_id is not None
    assert app.test_client().post("/open311/v2/requests.json", data={**POTHOLE, "api_key": plain}).status_code == 201
    listed = admin.get("/apikeyview/list/", query_string={"_flt_0_name": name}).get_data(as_text=True)
    assert name in listed and row.prefix in listed and plain not in listed
    for url in (f"/apikeyview/show/{row.id}", f"/apikeyview/edit/{row.id}"):
        assert plain not in admin.get(url).get_data(as_text=True), url
    assert name in admin.get(f"/apikeyview/show/{row.id}").get_data(as_text=True)
    # the same name again: the form says so, no key is shown
    page = admin.get("/apikeyview/add")
    again = admin.post("/apikeyview/add", data={"name": name, "csrf_token": csrf_token(page.get_data(as_text=True))})
    assert again.status_code == 200 and "already exists" in again.get_data(as_text=True) and 'id="api-key"' not in again.get_data(as_text=True)


def test_a_dispatcher_cannot_open_the_api_keys_screen(app, client_for):
    name, _plain = new_key(app)
    row = key_row(app, name)
    dispatcher = client_for("dispatcher")
    for url in ("/apikeyview/list/", "/apikeyview/add", f"/apikeyview/show/{row.id}", f"/apikeyview/revoke/{row.id}"):
        response = dispatcher.get(url)
        assert response.status_code in (302, 403), url
        assert name not in response.get_data(as_text=True)
    token = csrf_token(dispatcher.get("/noticeview/add").get_data(as_text=True))  # a form the dispatcher may open
    response = dispatcher.post(f"/apikeyview/revoke/{row.id}", data={"confirm": "yes", "csrf_token": token})
    assert response.status_code in (302, 403) and key_row(app, name).revoked_at is None
    assert "/apikeyview/" not in dispatcher.get("/").get_data(as_text=True)  # no menu entry either
    assert "/apikeyview/" in client_for("admin").get("/").get_data(as_text=True)
    assert client_for(None).get("/apikeyview/list/").status_code in (302, 403)


def test_admin_revokes_a_key_after_confirming_and_it_stops_working(app, client_for):
    name, plain = new_key(app)
    row = key_row(app, name)
    admin = client_for("admin")
    show = admin.get(f"/apikeyview/show/{row.id}").get_data(as_text=True)
    assert f"/apikeyview/revoke/{row.id}" in show
    confirm = admin.get(f"/apikeyview/revoke/{row.id}")
    assert confirm.status_code == 200 and name in confirm.get_data(as_text=True)
    assert key_row(app, name).revoked_at is None  # asking is not revoking
    no_csrf = admin.post(f"/apikeyview/revoke/{row.id}", data={"confirm": "yes"})
    assert no_csrf.status_code == 400 and key_row(app, name).revoked_at is None
    token = csrf_token(confirm.get_data(as_text=True))
    unconfirmed = admin.post(f"/apikeyview/revoke/{row.id}", data={"csrf_token": token})
    assert unconfirmed.status_code == 400 and key_row(app, name).revoked_at is None
    done = admin.post(f"/apikeyview/revoke/{row.id}", data={"confirm": "yes", "csrf_token": token})
    assert done.status_code == 302 and key_row(app, name).revoked_at is not None
    response = app.test_client().post("/open311/v2/requests.json", data={**POTHOLE, "api_key": plain})
    assert response.status_code == 403 and response.json[0]["description"] == "api_key: this key was revoked"
    assert admin.get("/apikeyview/revoke/999999999").status_code == 404


def test_admin_changes_a_keys_rate_limit(app, client_for):
    name, _plain = new_key(app)
    row = key_row(app, name)
    admin = client_for("admin")
    page = admin.get(f"/apikeyview/edit/{row.id}")
    assert page.status_code == 200
    token = csrf_token(page.get_data(as_text=True))
    bad = admin.post(f"/apikeyview/edit/{row.id}", data={"rate_limit": "0", "csrf_token": token})
    assert bad.status_code == 200 and key_row(app, name).rate_limit is None
    done = admin.post(f"/apikeyview/edit/{row.id}", data={"rate_limit": "15", "csrf_token": token})
    assert done.status_code == 302 and key_row(app, name).rate_limit == 15
    assert key_row(app, name).name == name  # only the limit is editable
