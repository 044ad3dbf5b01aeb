"""The access matrix's machinery: the people (one signed-in browser and one JWT per role), the case they
look at, the values that fill URL arguments, and the classification of an answer.

The expectations themselves are in ``tests/access_table.py``; the test is ``tests/core/test_access_matrix.py``.
"""
from __future__ import annotations

import io
import random
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from PIL import Image

from tests.conftest import PASSWORD, csrf_token

# Texts that only the case's own readers may see: a refusal must not contain any of them.
DESCRIPTION_MARKER = "MATRIXDESC"
CONTACT_EMAIL_MARKER = "matrix.contact"
CONTACT_PHONE_MARKER = "386-555-0142"
NOTE_MARKER = "MATRIXNOTE"
SECRET_MARKERS = (DESCRIPTION_MARKER, CONTACT_EMAIL_MARKER, CONTACT_PHONE_MARKER, NOTE_MARKER)
# What people outside the case never see on any page, allowed or not (the description is public on the portal).
PRIVATE_MARKERS = (CONTACT_EMAIL_MARKER, CONTACT_PHONE_MARKER, NOTE_MARKER)
OUTSIDERS = ("anonymous", "resident_b", "staff_b")  # neither the reporter, nor the case's department, nor all-cases roles

# A file each static route really serves (the route's ``<path:filename>``).
STATIC_FILES = {
    "static": "civic.css",
    "appbuilder.static": "css/ab.css",
    "portal.static": "accounts.css",
    "portal.leaflet": "leaflet.js",
    "fieldservice_assets.leaflet": "leaflet.js",
    "fieldservice_assets.markercluster": "MarkerCluster.css",
    "fieldservice_assets.static": "fieldservice/crew.js",
    "knowledge_help.static": "help.css",
}

# Where a refused browser page sends an anonymous (or insufficiently privileged) visitor.
LOGIN_PATHS = ("/login/", "/portal/sign-in")

STAFF_USERS = {
    # role column -> (username, FAB role, department codes)
    "staff_a": ("matrix_pw", "Department staff", ("PW",)),
    "staff_b": ("matrix_util", "Department staff", ("UTIL",)),
    "dispatcher": ("matrix_dispatch", "Dispatcher", ()),
    "crew": ("matrix_crew", "Field crew", ("PW",)),
    "admin": ("matrix_admin", "Admin", ()),
}


@dataclass
class World:
    """Everything the matrix reads: one browser and one JWT header per role, and the ids of real rows."""

    browsers: dict[str, Any] = field(default_factory=dict)
    jwt: dict[str, dict[str, str]] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)  # argument name -> value
    pks: dict[str, Any] = field(default_factory=dict)  # FAB view class -> a pk of a real row
    endpoint_values: dict[str, dict[str, Any]] = field(default_factory=dict)  # endpoint -> {argument: value}


def _browser(app):
    client = app.test_client()
    # Rate limits (sign-up, sign-in) are per client address: each role has its own.
    client.environ_base["REMOTE_ADDR"] = f"10.77.{random.randint(0, 255)}.{random.randint(1, 254)}"
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def _staff_login(client, username: str) -> None:
    page = client.get("/login/")
    answer = client.post("/login/", data={"username": username, "password": PASSWORD, "csrf_token": csrf_token(page.get_data(as_text=True))})
    assert answer.status_code == 302 and "/login" not in answer.headers["Location"], f"{username} could not sign in"


def _resident(app, client, name: str) -> tuple[str, int]:
    """A confirmed resident account signed in on ``client``: (e-mail, account id)."""
    from core.extensions import db
    from core.models import Account, User
    from tests.plugins.intake.test_accounts import link_in, outbox

    email = f"matrix.{name}.{uuid.uuid4().hex[:8]}@example.org"
    page = client.get("/portal/sign-up").get_data(as_text=True)
    answer = client.post("/portal/sign-up", data={"csrf_token": csrf_token(page), "name": f"Resident {name}", "email": email,
                                                  "password": PASSWORD, "language": "en"})
    assert answer.status_code == 200, answer.get_data(as_text=True)[:500]
    assert client.get(link_in(outbox(app, email)[-1], "confirm")).status_code == 302
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.username == email))
        account_id = db.session.scalar(sa.select(Account.id).where(Account.user_id == user.id))
        db.session.remove()
    return email, account_id


def _load_samples(app) -> None:
    """The samples ``make run`` loads (FEMA, knowledge, field service), so that their pages have rows to show."""
    from core.extensions import db
    from plugins.fema.demo import load_demo as fema_demo
    from plugins.fieldservice.demo import load_demo as field_demo
    from plugins.knowledge.importer import import_knowledge
    from tests.conftest import ROOT

    with app.app_context():
        fema_demo(db.session)
        import_knowledge(db.session, str(ROOT / "config" / "knowledge-sample.toml"))
        field_demo(db.session)
        db.session.commit()
        db.session.remove()


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


def _first_pk(model, department_id: int) -> Any:
    """The first row of the model; of department A's when rows belong to departments (directly, or through
    their FEMA employee or unit of equipment)."""
    from core.extensions import db
    from plugins.fema.models import Employee, Equipment

    pk = sa.inspect(model).primary_key[0]
    stmt = sa.select(sa.func.min(pk))
    columns = sa.inspect(model).columns
    if "department_id" in columns:
        stmt = stmt.where(columns["department_id"] == department_id)
    elif "employee_id" in columns:
        stmt = stmt.where(columns["employee_id"].in_(sa.select(Employee.id).where(Employee.department_id == department_id)))
    elif "equipment_id" in columns:
        stmt = stmt.where(columns["equipment_id"].in_(sa.select(Equipment.id).where(Equipment.department_id == department_id)))
    return db.session.scalar(stmt) or db.session.scalar(sa.select(sa.func.min(pk)))


def build_world(app) -> World:
    """Create the people and the case, sign everybody in, and collect the ids URL arguments need."""
    from core.extensions import db
    from core.models import Account, Department, User
    from core.services.attachments import store_attachment
    from core.services.cases import SYSTEM, add_note, create_case
    from core.services.tasks import add_task
    from core.services.users import create_user
    from plugins.knowledge.models import Article, Topic
    from tests.conftest import api_token

    world = World()
    with app.app_context():
        for username, role, codes in STAFF_USERS.values():
            depts = [db.session.scalar(sa.select(Department).where(Department.code == c)) for c in codes]
            create_user(username, PASSWORD, role, email=f"{username}@palmcoast.example.gov", departments=depts)
        db.session.remove()

    _load_samples(app)
    world.browsers["anonymous"] = _browser(app)
    accounts = {}
    for role in ("resident_a", "resident_b"):
        world.browsers[role] = _browser(app)
        accounts[role] = _resident(app, world.browsers[role], role)
    for role, (username, _, _) in STAFF_USERS.items():
        world.browsers[role] = _browser(app)
        _staff_login(world.browsers[role], username)
        world.jwt[role] = api_token(app.test_client(), username)
    for role in ("resident_a", "resident_b"):
        world.jwt[role] = api_token(app.test_client(), accounts[role][0])
    world.jwt["anonymous"] = {}

    with app.app_context():
        account = db.session.get(Account, accounts["resident_a"][1])
        case = create_case(db.session, service_code="POTHOLE", description=f"{DESCRIPTION_MARKER} a deep pothole by the school",
                           attributes={"SIZE": "large"}, lat=29.58, long=-81.21, account=account,
                           contact_email=f"{CONTACT_EMAIL_MARKER}@example.org", contact_phone=CONTACT_PHONE_MARKER)
        assert case.department.code == "PW", "POTHOLE cases belong to Public Works in the demo city"
        add_note(db.session, case, f"{NOTE_MARKER} internal: the resident called twice", SYSTEM, public=False)
        pw = db.session.scalar(sa.select(Department).where(Department.code == "PW"))
        task = add_task(db.session, case, department=pw, title="Fill the pothole")
        photo = store_attachment(db.session, case, io.BytesIO(_png()), "matrix.png", SYSTEM, public=True)
        db.session.commit()
        world.values.update({
            "case_id": case.id, "reference": case.reference, "attachment_id": photo.id, "task_id": task.id,
            "service_code": "POTHOLE", "code": "PW", "locale": "en", "version": "v1", "name": "muldelete",
            "filename": "matrix-missing.csv", "token": "not-a-token",
            "request_id": case.reference, "edition": "2019", "group_by": "1",
        })
        world.pks = {"CaseView": case.id, "TaskView": task.id, "AttachmentView": photo.id}
        world.values["slug"] = db.session.scalar(sa.select(Article.slug).where(Article.status == "published", Article.audience == "public").order_by(Article.id).limit(1))
        world.endpoint_values = {**ENDPOINT_VALUES,
                                 "knowledge_help.topic": {"code": db.session.scalar(sa.select(Topic.code).order_by(Topic.id).limit(1))}}
        world.values["account_id"] = accounts["resident_a"][1]
        world.values["user_ids"] = {r: db.session.scalar(sa.select(User.id).where(User.username == u))
                                    for r, (u, _, _) in STAFF_USERS.items()}
        for view in app.appbuilder.baseviews:
            datamodel = getattr(view, "datamodel", None)
            name = type(view).__name__
            if datamodel is not None and name not in world.pks:
                try:
                    world.pks[name] = _first_pk(datamodel.obj, pw.id)
                except Exception:  # noqa: BLE001 -- a view over a model without a single-column key
                    world.pks[name] = None
        # FAB's user screens on the admin's own row: the matrix must not act on the users it signs in.
        world.pks["UserDBModelView"] = world.values["user_ids"]["admin"]
        db.session.remove()
    return world


# ---------------------------------------------------------------- answers

def outcome(response) -> str:
    """``ok`` (the page itself, or a redirect elsewhere than a sign-in page), ``login`` (sent to sign in),
    ``refused`` (401/403/404/405), ``invalid`` (400/409/413/422: refused before doing anything), ``limited`` (429)
    or ``error`` (5xx)."""
    code = response.status_code
    if code >= 500:
        return "error"
    if code == 429:
        return "limited"
    if 300 <= code < 400:
        target = urlsplit(response.headers.get("Location", "")).path
        return "login" if target.startswith(LOGIN_PATHS) else "ok"
    if code < 300:
        return "ok"
    if code in (401, 403, 404, 405):
        return "refused"
    return "invalid"


def leaked(response, markers=SECRET_MARKERS) -> list[str]:
    body = response.get_data()
    return [m for m in markers if m.encode() in body]



# ---------------------------------------------------------------- URLs

# Arguments filled from another view's rows: argument name -> the FAB view whose first row gives it.
ARGUMENT_VIEWS = {"call_id": "CallLogView", "disaster_id": "DisasterView", "site_id": "SiteView"}
# Arguments whose value depends on the route (a ``code`` is a service's, a layer's or a topic's).
ENDPOINT_VALUES = {
    "open311.service_definition": {"code": "POTHOLE"},
    "FieldMapView.layer": {"code": "zones"},
}
# The format argument of each family of routes.
FORMATS = {"open311.": "json", "ReportView.": "csv"}
# Arguments with no row to point at in the test database: a number that names nothing (every role then gets
# the same 404, and the table says so for these routes).
NOTHING = 987654321


def fill(rule, world: World) -> str | None:
    """The rule's URL with real ids, or None when an argument has no value (the table must then skip it)."""
    values: dict[str, Any] = {}
    view = rule.endpoint.split(".")[0]
    for arg in rule.arguments - set(rule.defaults or {}):
        if arg in world.endpoint_values.get(rule.endpoint, {}):
            values[arg] = world.endpoint_values[rule.endpoint][arg]
        elif arg == "filename" and rule.endpoint in STATIC_FILES:
            values[arg] = STATIC_FILES[rule.endpoint]
        elif arg == "pk":
            values[arg] = world.pks.get(view) or NOTHING
        elif arg in ARGUMENT_VIEWS:
            values[arg] = world.pks.get(ARGUMENT_VIEWS[arg]) or NOTHING
        elif arg == "fmt":
            values[arg] = next((f for prefix, f in FORMATS.items() if rule.endpoint.startswith(prefix)), "json")
        elif arg in world.values:
            values[arg] = world.values[arg]
        elif arg in ("mention_id", "photo_id", "sid"):
            values[arg] = NOTHING
        else:
            return None
    path = rule.rule
    for arg, value in values.items():
        path = path.replace(f"<{_converter(rule, arg)}{arg}>", str(value))
    return path


def _converter(rule, arg: str) -> str:
    import re

    m = re.search(rf"<(\w+(?:\([^)]*\))?:)?{arg}>", rule.rule)
    return m.group(1) or "" if m else ""
