"""Security settings: CSRF on browser calls to the REST API, sign-in limits, session cookies and their
lifetime, passwords of at least 12 characters, redirects that stay on the site, HEAD requests that never
act, and the production mode that refuses to start with development secrets."""
from __future__ import annotations

import hashlib
import random
import time
import uuid
from urllib.parse import quote, urlsplit

import pytest
import sqlalchemy as sa
from flask.sessions import session_json_serializer
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from tests.conftest import DEMO_CONFIG, PASSWORD, api_token, build_app, csrf_token, login
from tests.fixtures import run_civic

# Where an attacker would like a sign-in link to send the victim.  Browsers read "\\host" and "/\host" as
# "//host", and drop the tab of "/\t/host".
ELSEWHERE = ("https://evil.example/phish", "//evil.example/phish", "\\\\evil.example", "/\\evil.example",
             "/\t/evil.example", "javascript:alert(1)", "http:evil.example", "https:/evil.example")


def browser(app):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = f"10.99.{random.randint(0, 255)}.{random.randint(1, 254)}"
    return client


def stays_on_site(response) -> bool:
    """The answer is a redirect to a page of this site (a path, or this host)."""
    target = urlsplit(response.headers.get("Location", ""))
    return response.status_code in (301, 302, 303, 307, 308) and target.netloc in ("", "localhost") \
        and target.scheme in ("", "http", "https") and target.path.startswith("/") and not target.path.startswith("//")


def failed_login(client, username: str = "pw_staff"):
    page = client.get("/login/").get_data(as_text=True)
    return client.post("/login/", data={"username": username, "password": "not-the-password", "csrf_token": csrf_token(page)})


# ---------------------------------------------------------------- CSRF on the REST API

def test_a_browser_session_cannot_change_data_through_the_rest_api_without_the_csrf_header(app, client_for):
    staff = client_for("pw_staff")
    before = staff.post("/api/v1/case/", json={"service_code": "POTHOLE", "description": "from a forged page"})
    assert before.status_code == 400 and "CSRF" in before.get_data(as_text=True)

    token = csrf_token(staff.get("/resetmypassword/form").get_data(as_text=True))
    with_header = staff.post("/api/v1/case/", json={"service_code": "POTHOLE", "description": "with the header"},
                             headers={"X-CSRFToken": token})
    assert with_header.status_code == 401  # past CSRF: the API itself wants a JWT, never a cookie

    jwt = api_token(app.test_client(), "pw_staff")
    by_token = app.test_client().post("/api/v1/case/", json={"service_code": "POTHOLE"}, headers=jwt)
    assert by_token.status_code == 400 and "CSRF" not in by_token.get_data(as_text=True)  # the body's fields, not CSRF
    assert "message" in by_token.json


def test_open311_posts_need_an_api_key_and_no_csrf_token(app):
    answer = browser(app).post("/open311/v2/requests.json", data={"service_code": "POTHOLE", "description": "x"})
    assert answer.status_code == 403 and "api_key" in answer.get_data(as_text=True)


# ---------------------------------------------------------------- sign-in limits

@pytest.fixture
def another_app(app):
    """``another_app(**settings)``: the demo city on the same database, built again with these settings."""
    from core.extensions import db

    made = []

    def make(**settings):
        made.append(build_app(app.config["SQLALCHEMY_DATABASE_URI"], **settings))
        return made[-1]

    yield make
    for other in made:
        with other.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def limited_app(another_app):
    """The sign-in limit of production (test apps allow thousands a minute)."""
    from core.app import _security_settings

    return another_app(AUTH_RATE_LIMIT=_security_settings()["AUTH_RATE_LIMIT"])


def test_the_sign_in_page_answers_429_after_ten_attempts_a_minute_from_one_address(limited_app):
    attacker = browser(limited_app)
    answers = [failed_login(attacker).status_code for _ in range(10)]
    assert answers == [302] * 10  # wrong password: back to the form
    assert failed_login(attacker).status_code == 429
    assert attacker.get("/login/").status_code == 200  # reading the page is not limited

    someone_else = browser(limited_app)  # another address is not affected
    assert login(someone_else, "pw_staff").get("/dashboard/").status_code == 200


def test_the_rest_api_sign_in_is_limited_too(limited_app):
    client = browser(limited_app)
    answers = [client.post("/api/v1/security/login", json={"username": "pw_staff", "password": "wrong-password-1",
                                                             "provider": "db"}).status_code for _ in range(11)]
    assert answers == [401] * 10 + [429]


# ---------------------------------------------------------------- cookies and sessions

def _session_cookie(client) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None, "no session cookie"
    return cookie.value


def test_the_session_cookie_is_http_only_same_site_lax_and_not_secure_over_plain_http(app):
    client = browser(app)
    page = client.get("/login/")
    answer = client.post("/login/", data={"username": "pw_staff", "password": PASSWORD,
                                          "csrf_token": csrf_token(page.get_data(as_text=True))})
    header = next(h for h in answer.headers.getlist("Set-Cookie") if h.startswith("session="))
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Secure" not in header


def test_over_https_the_cookies_are_secure(another_app, monkeypatch):
    monkeypatch.setenv("CIVIC_HTTPS", "true")
    secure = another_app()
    assert secure.config["SESSION_COOKIE_SECURE"] and secure.config["REMEMBER_COOKIE_SECURE"]
    client = browser(secure)
    page = client.get("/login/", base_url="https://localhost")
    # Over HTTPS Flask-WTF also wants the Referer of a page of this site (WTF_CSRF_SSL_STRICT).
    answer = client.post("/login/", base_url="https://localhost", headers={"Referer": "https://localhost/login/"}, data={
        "username": "pw_staff", "password": PASSWORD, "csrf_token": csrf_token(page.get_data(as_text=True))})
    header = next(h for h in answer.headers.getlist("Set-Cookie") if h.startswith("session="))
    assert "Secure" in header and "HttpOnly" in header


def test_a_session_older_than_eight_hours_is_signed_out(app):
    """The cookie is signed with the time it was written; past ``PERMANENT_SESSION_LIFETIME`` it is refused."""
    assert app.config["PERMANENT_SESSION_LIFETIME"].total_seconds() == 8 * 3600
    assert app.config["JWT_REFRESH_TOKEN_EXPIRES"] == app.config["PERMANENT_SESSION_LIFETIME"]  # the REST API's too
    client = login(browser(app), "pw_staff")
    assert client.get("/dashboard/").status_code == 200

    serializer = app.session_interface.get_signing_serializer(app)
    data = serializer.loads(_session_cookie(client))

    class NineHoursAgo(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 9 * 3600

    old = URLSafeTimedSerializer(app.secret_key, salt="cookie-session", serializer=session_json_serializer, signer=NineHoursAgo,
                                 signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha1})
    client.set_cookie("session", old.dumps(data))
    stale = client.get("/dashboard/")
    assert stale.status_code == 302 and urlsplit(stale.headers["Location"]).path == "/login/"


def test_signing_out_ends_the_session(app):
    client = login(browser(app), "pw_staff")
    assert client.get("/logout/").status_code == 302
    assert urlsplit(client.get("/dashboard/").headers["Location"]).path == "/login/"


# ---------------------------------------------------------------- passwords

def test_the_admin_cannot_give_a_new_user_a_password_under_12_characters(app, client_for):
    admin = client_for("admin")
    page = admin.get("/users/add").get_data(as_text=True)
    with app.app_context():
        from core.extensions import db
        from flask_appbuilder.security.sqla.models import Role

        role_id = db.session.scalar(sa.select(Role.id).where(Role.name == "Department staff"))
    name = f"short_{uuid.uuid4().hex[:6]}"
    form = {"first_name": "Short", "last_name": "Password", "username": name, "email": f"{name}@palmcoast.example.gov",
            "active": "y", "roles": str(role_id), "password": "eleven-char", "conf_password": "eleven-char",
            "csrf_token": csrf_token(page)}
    refused = admin.post("/users/add", data=form)
    assert refused.status_code == 200 and "Use at least 12 characters." in refused.get_data(as_text=True)
    with app.app_context():
        assert app.appbuilder.sm.find_user(username=name) is None

    accepted = admin.post("/users/add", data={**form, "password": "twelve-chars", "conf_password": "twelve-chars"})
    assert accepted.status_code == 302
    with app.app_context():
        assert app.appbuilder.sm.find_user(username=name) is not None


def test_staff_cannot_change_their_own_password_to_a_short_one(app, client_for):
    staff = client_for("util_staff")
    page = staff.get("/resetmypassword/form").get_data(as_text=True)
    answer = staff.post("/resetmypassword/form", data={"password": "short-pass", "conf_password": "short-pass",
                                                       "csrf_token": csrf_token(page)})
    assert answer.status_code == 200 and "Use at least 12 characters." in answer.get_data(as_text=True)
    assert login(browser(app), "util_staff")  # the old password still works


def test_a_resident_password_needs_12_characters(app):
    from tests.plugins.intake.test_accounts import portal_client, sign_up, unique_email

    answer = sign_up(portal_client(app), unique_email(), password="elevenchars")
    assert answer.status_code == 400 and "Use at least 12 characters." in answer.get_data(as_text=True)


def test_civic_init_refuses_a_short_admin_password(tmp_path):
    url = f"sqlite:///{tmp_path / 'civic.db'}"
    run = run_civic("init", config=DEMO_CONFIG, data_dir=tmp_path, database_url=url, env={"CIVIC_ADMIN_PASSWORD": "admin"})
    assert run.returncode == 2
    assert "CIVIC_ADMIN_PASSWORD: Use at least 12 characters." in run.stderr


# ---------------------------------------------------------------- redirects stay on the site

@pytest.mark.parametrize("target", ELSEWHERE)
def test_signing_in_never_sends_the_user_to_another_site(app, target):
    client = browser(app)
    page = client.get(f"/login/?next={quote(target)}").get_data(as_text=True)
    answer = client.post(f"/login/?next={quote(target)}",
                         data={"username": "pw_staff", "password": PASSWORD, "csrf_token": csrf_token(page)})
    assert stays_on_site(answer), answer.headers.get("Location")
    again = client.get(f"/login/?next={quote(target)}")  # already signed in: sent on at once
    assert stays_on_site(again), again.headers.get("Location")


def test_signing_in_goes_back_to_the_page_asked_for(app):
    client = browser(app)
    refused = client.get("/caseview/list/?page=2")
    next_url = refused.headers["Location"].split("next=", 1)[1]
    page = client.get(refused.headers["Location"]).get_data(as_text=True)
    answer = client.post(f"/login/?next={next_url}", data={"username": "pw_staff", "password": PASSWORD,
                                                           "csrf_token": csrf_token(page)})
    assert urlsplit(answer.headers["Location"]).path == "/caseview/list/"


@pytest.mark.parametrize("target", ELSEWHERE)
def test_the_portal_sign_in_never_sends_the_resident_to_another_site(app, target):
    from tests.plugins.intake.test_accounts import new_resident, portal_client, submit

    client, email, _ = new_resident(app)
    assert stays_on_site(client.get(f"/portal/sign-in?next={quote(target)}"))  # signed in: sent on at once
    client.post("/portal/sign-out", data={"csrf_token": csrf_token(client.get("/portal/my-city").get_data(as_text=True))})
    fresh = portal_client(app)
    answer = submit(fresh, f"/portal/sign-in?next={quote(target)}", {"email": email, "password": PASSWORD})
    assert stays_on_site(answer), answer.headers.get("Location")


@pytest.mark.parametrize("target", ELSEWHERE)
def test_the_language_switch_goes_back_to_a_page_of_this_site(app, target):
    client = browser(app)
    client.get("/portal/")
    answer = client.get(f"/lang/fr?next={quote(target)}", headers={"Referer": target})
    assert stays_on_site(answer), answer.headers.get("Location")


# ---------------------------------------------------------------- HEAD never acts

def test_a_head_request_shows_a_page_and_never_changes_anything(app, client_for):
    """FAB refused a GET that deletes but not a HEAD: ``HEAD /users/delete/<pk>`` deleted the user."""
    from core.extensions import db
    from core.services.users import create_user

    name = f"keep_{uuid.uuid4().hex[:6]}"
    with app.app_context():
        user_id = create_user(name, PASSWORD, "Department staff").id
        db.session.remove()
    admin = client_for("admin")
    assert admin.head(f"/users/delete/{user_id}").status_code == 302
    assert admin.head(f"/users/action/muldelete/{user_id}").status_code == 302
    with app.app_context():
        assert app.appbuilder.sm.find_user(username=name) is not None

    page = admin.head("/caseview/list/")
    assert page.status_code == 200 and page.get_data() == b"" and int(page.headers["Content-Length"]) > 0


# ---------------------------------------------------------------- production mode

@pytest.fixture
def production(monkeypatch, tmp_path):
    """CIVIC_ENV=production with a data folder of its own and a good secret key; each test spoils one thing."""
    monkeypatch.setenv("CIVIC_ENV", "production")
    monkeypatch.setenv("CIVIC_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CIVIC_SECRET_KEY", "k" * 8 + uuid.uuid4().hex + uuid.uuid4().hex)
    for name in ("CIVIC_ADMIN_PASSWORD", "CIVIC_DEMO_PASSWORD", "CIVIC_HTTPS"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def _start(tmp_path):
    from core import create_app
    from core.config import ConfigError

    try:
        create_app(DEMO_CONFIG, settings={"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'civic.db'}"})
    except ConfigError as exc:
        return exc.lines
    return []


def test_production_starts_with_its_own_secrets_and_secure_cookies(production, tmp_path):
    from core import create_app

    assert _start(tmp_path) == []
    app = create_app(DEMO_CONFIG, settings={"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'civic.db'}"})
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["PREFERRED_URL_SCHEME"] == "https"


def test_production_refuses_a_missing_or_weak_secret_key(production, tmp_path):
    production.delenv("CIVIC_SECRET_KEY")
    lines = _start(tmp_path)
    assert len(lines) == 1 and lines[0].startswith("CIVIC_SECRET_KEY: production mode needs the secret key")
    production.setenv("CIVIC_SECRET_KEY", "changeme")
    assert _start(tmp_path) == ["CIVIC_SECRET_KEY: too short or a well-known value; use at least 32 random characters"]


def test_production_refuses_the_default_or_demo_admin_password(production, tmp_path):
    production.setenv("CIVIC_ADMIN_PASSWORD", "admin")
    assert [line.split(":")[0] for line in _start(tmp_path)] == ["CIVIC_ADMIN_PASSWORD"]
    production.setenv("CIVIC_ADMIN_PASSWORD", "palm-coast-demo-2026")
    production.setenv("CIVIC_DEMO_PASSWORD", "palm-coast-demo-2026")
    assert [line.split(":")[0] for line in _start(tmp_path)] == ["CIVIC_ADMIN_PASSWORD", "CIVIC_DEMO_PASSWORD"]


def test_production_refuses_the_generated_admin_password_left_on_disk(production, tmp_path):
    (tmp_path / "admin-password").write_text("generated-by-civic-init")
    lines = _start(tmp_path)
    assert len(lines) == 1 and "admin-password: the admin's generated password is kept in this file" in lines[0]


def test_the_civic_command_prints_the_production_problem_and_stops(tmp_path):
    run = run_civic("plugins", config=DEMO_CONFIG, data_dir=tmp_path, env={"CIVIC_ENV": "production", "CIVIC_SECRET_KEY": ""})
    assert run.returncode == 2 and run.stderr.startswith("CIVIC_SECRET_KEY: production mode needs the secret key")


def test_development_is_the_default_and_needs_none_of_it(monkeypatch, tmp_path):
    monkeypatch.delenv("CIVIC_ENV", raising=False)
    monkeypatch.delenv("CIVIC_SECRET_KEY", raising=False)
    monkeypatch.setenv("CIVIC_DATA_DIR", str(tmp_path))
    (tmp_path / "admin-password").write_text("generated-by-civic-init")
    assert _start(tmp_path) == []
    monkeypatch.setenv("CIVIC_ENV", "staging")
    assert _start(tmp_path) == ["CIVIC_ENV: must be production or development, not 'staging'"]


def test_the_wsgi_server_gets_the_same_one_line_refusal(tmp_path):
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    env = {k: v for k, v in os.environ.items() if not k.startswith("CIVIC_")}
    env.update({"CIVIC_ENV": "production", "CIVIC_DATA_DIR": str(tmp_path), "CIVIC_CONFIG": str(DEMO_CONFIG)})
    run = subprocess.run([sys.executable, "-c", "import core.wsgi"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    lines = run.stderr.strip().splitlines()
    assert run.returncode == 2 and len(lines) == 1, run.stderr
    assert lines[0].startswith("CIVIC_SECRET_KEY: production mode needs the secret key")
