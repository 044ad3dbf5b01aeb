"""The plugin contract: every hook is documented, every hook is tested, and each hook does its job.

The hooks are exercised by ``civic-demo`` (tests/fixtures/site/civic_demo), a
third-party plugin installed through its entry point and enabled in a copy of
the demo city's config, on a fresh database of each backend.
"""
from __future__ import annotations

import ast
import inspect
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_babel import force_locale, gettext

from core import hookspecs
from core.config import ConfigError
from tests.conftest import PASSWORD, ROOT, api_token, build_app, csrf_token, login, prepare_database
from tests.fixtures import BACKENDS, SITE, city_config, close_app, fresh_database, plugin_site, run_civic

DOCS = ROOT / "docs" / "plugin-hooks.md"
DEMO_SECTION = '\n[demo]\nroute_to = "PARKS"\ngreeting = "Bonjour from the demo plugin"\n'
POTHOLE = {"service_code": "POTHOLE", "attributes": {"SIZE": "small"}}


def hook_specs() -> dict[str, object]:
    """Every hook of core/hookspecs.py, by name."""
    return {name: fn for name, fn in inspect.getmembers(hookspecs, inspect.isfunction) if hasattr(fn, "civic_connect_spec")}


def signature(name: str) -> str:
    return f"{name}{inspect.signature(hook_specs()[name])}"


def doc_headings() -> set[str]:
    return {line[3:].strip() for line in DOCS.read_text(encoding="utf-8").splitlines() if line.startswith("## ")}


def collected_test_names() -> set[str]:
    """Names of the test functions (module level and in classes) of every test file under tests/."""
    names: set[str] = set()
    for path in (ROOT / "tests").rglob("test_*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            bodies = node.body if isinstance(node, ast.ClassDef) else [node]
            names.update(n.name for n in bodies if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)))
    return names


def test_every_hook_is_documented_under_its_exact_signature():
    headings = doc_headings()
    missing = [f"## {signature(name)}" for name in hook_specs() if signature(name) not in headings]
    assert not missing, f"docs/plugin-hooks.md has no section for: {', '.join(missing)}"


def test_plugin_hooks_doc_describes_no_hook_that_does_not_exist():
    hooks = {signature(name) for name in hook_specs()}
    stale = sorted(h for h in doc_headings() if re.fullmatch(r"\w+\(.*\)", h) and h not in hooks)
    assert not stale, f"docs/plugin-hooks.md documents hooks that core/hookspecs.py does not define: {stale}"


def test_every_hook_has_a_test_hook_function():
    names = collected_test_names()
    untested = [n for n in hook_specs() if f"test_hook_{n}" not in names and not any(t.startswith(f"test_hook_{n}_") for t in names)]
    assert not untested, f"hooks without a test_hook_<name> test: {', '.join(untested)}"


def test_firstresult_hooks_say_so_in_their_docstring():
    for name, fn in hook_specs().items():
        if fn.civic_connect_spec.get("firstresult"):
            assert "first non-None result" in fn.__doc__, name


# --- the demo plugin in a real app -------------------------------------------------------------


@dataclass
class DemoCity:
    app: Flask
    config: Path
    database_url: str
    directory: Path

    def civic(self, *args: str):
        return run_civic(*args, config=self.config, database_url=self.database_url, data_dir=self.directory)

    def client(self, username: str | None = None):
        client = self.app.test_client()
        return login(client, username) if username else client


@pytest.fixture(scope="module", params=BACKENDS)
def demo(request, tmp_path_factory):
    """The demo city with the knowledge and demo plugins on a fresh, migrated database."""
    from core.services.users import create_user

    directory = tmp_path_factory.mktemp("demo-city")
    config = city_config(directory, ["knowledge", "demo"], append=DEMO_SECTION)
    with plugin_site(), fresh_database(request.param, directory) as url:
        app = build_app(url, config)
        prepare_database(app)
        with app.app_context():
            create_user("admin", PASSWORD, "Admin")
            create_user("reviewer", PASSWORD, "Demo reviewer")
            create_user("dispatcher", PASSWORD, "Dispatcher")
        yield DemoCity(app, config, url, directory)
        close_app(app)


@pytest.fixture
def session(demo):
    from core.extensions import db

    with demo.app.app_context():
        yield db.session
        db.session.rollback()
        db.session.remove()


def seen(demo, hook: str, reference: str) -> list[tuple]:
    """What the demo plugin's after-commit hooks recorded for one case."""
    plugin = demo.app.extensions["civic"].pm.get_plugin("demo")
    return [(status, payload) for h, ref, status, payload in plugin.SEEN if h == hook and ref == reference]


def new_case(session, description: str = "Deep hole on Belle Terre Parkway", **kwargs):
    from core.services.cases import create_case

    return create_case(session, description=description, **{**POTHOLE, **kwargs})


def test_hook_plugin_info(tmp_path):
    config = city_config(tmp_path, ["knowledge", "demo"])
    with plugin_site():
        info = build_app(f"sqlite:///{tmp_path / 'unused.db'}", config).extensions["civic"].pm.infos["demo"]
    assert (info.name, info.version, info.requires) == ("demo", "0.3.0", ("knowledge",))

    result = run_civic("plugins", config=config, data_dir=tmp_path)  # needs no database
    assert result.returncode == 0, result.stderr
    block = re.search(r"^demo 0\.3\.0 \[enabled\] \(civic-demo\)\n((?:    .*\n)+)", result.stdout, re.M)
    assert block, result.stdout
    assert "    requires: knowledge\n" in block.group(1)
    assert re.search(r"hooks: .*\bcase_panels\b.*\bplugin_info\b.*\broute_case\b", block.group(1))


def test_hook_config_defaults(demo):
    settings = demo.app.extensions["civic"].plugin_config["demo"]
    assert settings == {
        "route_keyword": "demo-route",  # default
        "route_to": "PARKS",  # from the file
        "reference_prefix": "DEMO",  # default
        "greeting": "Bonjour from the demo plugin",  # the file wins over the default
    }


def test_hook_config_docs(tmp_path):
    """A city's own plugin documents its keys: `civic config reference` shows them with the plugin's defaults."""
    result = run_civic("config", "reference", config=None, data_dir=tmp_path)  # needs no database
    assert result.returncode == 0, result.stderr
    section = result.stdout.split("## Plugin `demo`\n", 1)[1].split("\n## ", 1)[0]
    assert "Demo notes on cases (test plugin). Turned on by `\"demo\"` in `[plugins] enabled` (requires `knowledge`)." in section
    assert '| `route_to` | text | `"PARKS"` | The department code such a case goes to. |' in section
    assert '| `greeting` | text | `"Hello from the demo plugin"` | What the demo page says. |' in section
    assert "plugin 'demo'" not in result.stderr  # every key documented, every documented key known


def test_hook_validate_config(tmp_path):
    config = city_config(tmp_path, ["knowledge", "demo"], append='\n[demo]\nroute_to = "NOWHERE"\ncolour = "red"\n')
    with plugin_site(), pytest.raises(ConfigError) as caught:
        build_app(f"sqlite:///{tmp_path / 'unused.db'}", config)
    assert caught.value.lines == [
        f"{config}: demo.colour: unknown key",
        f"{config}: demo.route_to: unknown department 'NOWHERE'",
    ]


def test_hook_register_migrations(demo):
    from core.extensions import db

    with demo.app.app_context():
        inspector = sa.inspect(db.engine)
        assert "demo_note" in inspector.get_table_names()
        assert {c["name"] for c in inspector.get_columns("demo_note")} == {"id", "case_id", "title", "body"}
        with db.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT version_num FROM alembic_version_demo")).scalars().all() == ["demo_0001"]
            assert "demo_0001" not in conn.execute(sa.text("SELECT version_num FROM alembic_version_core")).scalars().all()


def test_hook_translation_directories(demo):
    directory = str(SITE / "civic_demo" / "translations")
    assert directory in demo.app.config["BABEL_TRANSLATION_DIRECTORIES"].split(";")
    with demo.app.test_request_context(), force_locale("fr"):
        assert gettext("Demo notes") == "Notes de démonstration"
        assert gettext("List Users") != "List Users"  # Flask-AppBuilder's own French still loads


def test_hook_register_roles(demo):
    reviewer = demo.client("reviewer")
    assert reviewer.get("/demonoteview/list/").status_code == 200
    assert reviewer.get("/caseview/list/").status_code in (302, 403)  # a new role gets only what it names

    dispatcher = demo.client("dispatcher")
    assert dispatcher.get("/demonoteview/list/").status_code == 200  # the plugin extended the core's role ...
    assert dispatcher.get("/caseview/list/").status_code == 200  # ... which keeps its own permissions


def test_hook_register_views(demo, session):
    from civic_demo.models import DemoNote

    admin = demo.client("admin")
    assert "Demo notes" in admin.get("/").get_data(as_text=True)  # the menu entry
    form = admin.get("/demonoteview/add")
    assert form.status_code == 200
    r = admin.post(
        "/demonoteview/add",
        data={"title": "Check the Palm Harbor culvert", "body": "after the storm", "csrf_token": csrf_token(form.get_data(as_text=True))},
    )
    assert r.status_code == 302
    assert session.scalar(sa.select(DemoNote.body).where(DemoNote.title == "Check the Palm Harbor culvert")) == "after the storm"
    assert "Check the Palm Harbor culvert" in admin.get("/demonoteview/list/").get_data(as_text=True)


def test_hook_register_apis(demo, session):
    from civic_demo.models import DemoNote

    note = DemoNote(title="Sweep Old Kings Road", body="")
    session.add(note)
    session.commit()
    client = demo.app.test_client()
    assert client.get(f"/api/v1/demo_note/{note.id}").status_code == 401
    r = client.get(f"/api/v1/demo_note/{note.id}", headers=api_token(client, "admin"))
    assert r.status_code == 200
    assert r.json["result"]["title"] == "Sweep Old Kings Road"
    assert "/api/v1/demo_note/" in client.get("/api/v1/_openapi").get_data(as_text=True)


def test_hook_register_blueprints(demo):
    r = demo.client().get("/demo/hello")
    assert r.status_code == 200
    assert r.json == {"greeting": "Bonjour from the demo plugin"}


def test_hook_register_commands(demo, session):
    from civic_demo.models import DemoNote

    count = session.scalar(sa.select(sa.func.count(DemoNote.id)))
    result = demo.civic("demo-notes")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"demo notes: {count}"


def test_hook_startup(demo):
    assert demo.app.extensions["demo"] == {"greeting": "Bonjour from the demo plugin", "in_app_context": True}


def test_hook_route_case(demo, session):
    from core.models import CaseEvent

    routed = new_case(session, "Deep hole next to the demo-route sign")
    default = new_case(session)
    assert routed.department.code == "PARKS"
    assert default.department.code == "PW"  # no plugin answer: the catalog's department (the core's default)
    rules = dict(
        session.execute(
            sa.select(CaseEvent.case_id, CaseEvent.data).where(CaseEvent.case_id.in_([routed.id, default.id]), CaseEvent.kind == "routed")
        ).all()
    )
    assert rules[routed.id]["rule"] == "demo:keyword"
    assert rules[default.id]["rule"] == "catalog:POTHOLE"


def test_hook_case_reference(demo, session):
    first, second = new_case(session), new_case(session)
    assert re.fullmatch(r"DEMO-[0-9A-F]{10}", first.reference)
    assert first.reference != second.reference


def test_hook_case_created(demo, session):
    case = new_case(session)
    # Called once, after the commit: another connection already saw the committed case.
    assert seen(demo, "case_created", case.reference) == [("new", None)]

    uncommitted = new_case(session, commit=False)
    reference = uncommitted.reference
    session.rollback()
    assert seen(demo, "case_created", reference) == []


def test_hook_case_status_changed(demo, session):
    from core.services.cases import Actor, change_status

    case = new_case(session)
    change_status(session, case, "acknowledged", Actor(label="test"))
    assert seen(demo, "case_status_changed", case.reference) == [("acknowledged", ("new", "acknowledged"))]
    assert seen(demo, "case_updated", case.reference) == [("acknowledged", {"status": ("new", "acknowledged")})]


def test_hook_case_updated(demo, session):
    from core.services.cases import Actor, add_note, set_tags

    case = new_case(session)
    add_note(session, case, "Crew says it is a sinkhole", Actor(label="test"))
    set_tags(session, case, ["sinkhole"], Actor(label="test"))
    assert seen(demo, "case_updated", case.reference) == [
        ("new", {"note": (None, "internal_note")}),
        ("new", {"tags": ([], ["sinkhole"])}),
    ]


def test_hook_task_changed(demo, session):
    """A field-service plugin hears of every task change, after the commit, and can make work orders of them."""
    from core import hookimpl
    from core.extensions import db
    from core.models import Task
    from core.services.cases import Actor, create_case
    from core.services.tasks import add_task_note, change_task_status, update_task

    heard: list[tuple] = []

    def committed_status(task):
        """The task's status as a second connection sees it: None until it is committed."""
        with db.engine.connect() as conn:
            return conn.execute(sa.select(Task.status).where(Task.id == task.id)).scalar()

    class WorkOrders:
        @hookimpl
        def task_changed(self, task, changes):
            heard.append((task.department.code, committed_status(task), dict(changes)))

    pm = demo.app.extensions["civic"].pm
    pm.register(WorkOrders(), name="work-orders-test")
    try:
        case = create_case(session, service_code="TREE_DOWN", attributes={"BLOCKING": ["power"]}, description="Tree on the power line")
        created = sorted(heard)
        heard.clear()
        pw = next(t for t in case.tasks if t.department.code == "PW")
        change_task_status(session, pw, "in_progress", Actor(label="test"))
        update_task(session, pw, Actor(label="test"), title="Cut the oak")
        add_task_note(session, pw, "Bucket truck on site", Actor(label="test"))
        create_case(session, service_code="TREE_DOWN", attributes={"BLOCKING": ["power"]}, description="power line", commit=False)
        session.rollback()
    finally:
        pm.unregister(name="work-orders-test")
    assert [(code, status) for code, status, _ in created] == [("CE", "open"), ("PW", "open"), ("UTIL", "open")]
    assert created[1][2] == {"status": (None, "open"), "department": (None, "PW"), "title": (None, "Cut and clear the tree"),
                             "due_at": (None, pw.due_at.isoformat())}
    assert heard == [
        ("PW", "in_progress", {"status": ("open", "in_progress")}),
        ("PW", "in_progress", {"title": ("Cut and clear the tree", "Cut the oak")}),
        ("PW", "in_progress", {"note": (None, "task_note")}),
    ], "nothing for the case that was rolled back"


def test_hook_register_notifiers(demo, session):
    """A plugin adds an "sms" channel; the worker delivers through it, and still knows e-mail."""
    from core import hookimpl
    from core.models import OutboxMessage
    from core.notify import deliver_due, enqueue, notifiers
    from core.records import Notifier

    texts: list[tuple[str, str]] = []

    class SmsPlugin:
        @hookimpl
        def register_notifiers(self):
            return [Notifier("sms", lambda message: texts.append((message.recipient, message.body_text)))]

    pm = demo.app.extensions["civic"].pm
    pm.register(SmsPlugin(), name="sms-test")
    try:
        sms = enqueue(session, recipient="+13865550142", subject="", body_text="Storm debris pick-up starts Monday.", channel="sms")
        pager = enqueue(session, recipient="4242", subject="", body_text="Page the on-call crew", channel="pager")
        session.commit()
        with demo.app.app_context():
            assert sorted(notifiers()) == ["email", "sms"]
            deliver_due()
    finally:
        pm.unregister(name="sms-test")
    assert texts == [("+13865550142", "Storm debris pick-up starts Monday.")]
    session.expire_all()
    assert session.get(OutboxMessage, sms.id).status == "sent"
    failed = session.get(OutboxMessage, pager.id)
    assert failed.status == "failed" and "no notifier for channel 'pager'" in failed.last_error


def test_hook_case_panels(demo, session):
    from core.records import Panel

    case = new_case(session)
    html = f'<p class="demo-panel">Demo notes for {case.reference}</p>'
    panels = demo.app.extensions["civic"].pm.flatten("case_panels", case=case)
    assert html in [p.html for p in panels if isinstance(p, Panel)]  # after the core's own panels (hand-offs ...)
    page = demo.client("admin").get(f"/caseview/show/{case.id}")
    assert page.status_code == 200
    assert html in page.get_data(as_text=True)


def test_hook_suggest_articles(demo, session):
    """The knowledge plugin answers with its published articles for the service; residents never get an internal one."""
    from core.models import ServiceType
    from core.records import Suggestion
    from plugins.knowledge.models import Article, ArticleText

    pothole = session.scalar(sa.select(ServiceType).where(ServiceType.code == "POTHOLE"))
    for slug, audience in (("pothole-repairs", "public"), ("pothole-crew-notes", "internal")):
        article = Article(slug=slug, audience=audience, status="published", services=[pothole])
        article.texts.append(ArticleText(locale="en", title=slug.replace("-", " ").title(), summary="When and how."))
        session.add(article)
    session.commit()
    hook = demo.app.extensions["civic"].pm.flatten
    with demo.app.test_request_context():
        public = hook("suggest_articles", service_code="POTHOLE", text="", tags=[], locale="en", audience="public")
        staff = hook("suggest_articles", service_code="POTHOLE", text="", tags=[], locale="en", audience="all")
    assert public == [Suggestion("Pothole Repairs", "/help/articles/pothole-repairs", "When and how.", "article", False)]
    assert {(s.title, s.internal) for s in staff} == {("Pothole Repairs", False), ("Pothole Crew Notes", True)}
    assert all(s.url == "" for s in staff if s.internal)
    # Without the resident portal (intake is off here) the help centre has its own layout.
    page = demo.client().get("/help/articles/pothole-repairs")
    assert page.status_code == 200 and "Pothole Repairs" in page.get_data(as_text=True)


def test_hook_dashboard_widgets(demo):
    page = demo.client("dispatcher").get("/dashboard/")
    assert page.status_code == 200
    assert '<p class="demo-widget">Demo widget</p>' in page.get_data(as_text=True)


def test_hook_user_locale(demo, session):
    """A mention e-mails a staff member in the language a plugin knows they chose; else the city's default."""
    from core import hookimpl
    from core.models import Account, OutboxMessage
    from core.services.cases import SYSTEM, add_note
    from core.services.users import create_user

    french = create_user("agent_fr", PASSWORD, "Dispatcher", email="agent_fr@palmcoast.example.gov")
    english = create_user("agent_en", PASSWORD, "Dispatcher", email="agent_en@palmcoast.example.gov")
    resident_staff = create_user("agent_account", PASSWORD, "Dispatcher", email="agent_account@palmcoast.example.gov")
    session.add(Account(name="Agent with an account", user_id=resident_staff.id, preferred_language="fr"))
    session.commit()

    class LanguagePlugin:
        @hookimpl
        def user_locale(self, user_id):
            return "fr" if user_id == french.id else None

    pm = demo.app.extensions["civic"].pm
    pm.register(LanguagePlugin(), name="language-test")
    try:
        case = new_case(session)
        add_note(session, case, "@agent_fr @agent_en @agent_account the tree is on the line", SYSTEM)
    finally:
        pm.unregister(name="language-test")
    sent = {m.recipient: m for m in session.scalars(sa.select(OutboxMessage).where(OutboxMessage.related == f"case:{case.id}"))}
    assert {r: m.locale for r, m in sent.items()} == {
        "agent_fr@palmcoast.example.gov": "fr", "agent_en@palmcoast.example.gov": "en", "agent_account@palmcoast.example.gov": "fr",
    }
    assert '<html lang="fr">' in sent["agent_fr@palmcoast.example.gov"].body_html
    assert '<html lang="en">' in sent["agent_en@palmcoast.example.gov"].body_html


def test_hook_active_event_tag(demo, session):
    """With no events plugin nothing is tagged; a plugin that knows the active event answers, the first non-None wins."""
    from core import hookimpl

    class NoEvent:
        @hookimpl
        def active_event_tag(self):
            return None

    class Storm:
        @hookimpl
        def active_event_tag(self):
            return "hurricane-test-dr-9999"

    pm = demo.app.extensions["civic"].pm
    with demo.app.app_context():
        assert pm.hook.active_event_tag() is None  # knowledge and demo do not implement it
        pm.register(NoEvent(), name="no-event-test")
        pm.register(Storm(), name="storm-test")
        try:
            assert pm.hook.active_event_tag() == "hurricane-test-dr-9999"
        finally:
            pm.unregister(name="storm-test")
            pm.unregister(name="no-event-test")
        assert pm.hook.active_event_tag() is None


def test_hook_report_subjects(demo, session):
    """A plugin's subject is reported on like the core's cases: one GROUP BY, scoped by the plugin's rule."""
    from flask_babel import lazy_gettext as _l
    from sqlalchemy import false, func

    from core import hookimpl
    from core.models import Case
    from core.reports.engine import ReportDenied, run
    from core.reports.spec import parse
    from core.reports.subjects import Dimension, Measure, Subject, build_registry
    from flask_appbuilder.security.sqla.models import User

    class Priorities:
        @hookimpl
        def report_subjects(self):
            return [Subject("urgent", _l("Urgent cases"), lambda: Case.__table__, lambda: Case.created_at, _l("Received"),
                            scope=lambda user: Case.priority == "high" if user.username == "dispatcher" else false(),
                            dimensions=[Dimension("channel", _l("Channel"), lambda: Case.channel)],
                            measures=[Measure("count", _l("Cases"), lambda: func.count())],
                            allowed=lambda user: user.username != "reviewer")]

    pm = demo.app.extensions["civic"].pm
    pm.register(Priorities(), name="urgent-test")
    try:
        subjects = build_registry(pm)
        assert list(subjects)[0] == "cases" and "urgent" in subjects
        new_case(session, priority="high")
        new_case(session, priority="low")
        users = {u.username: u for u in session.query(User)}
        with demo.app.test_request_context():
            spec = parse({"subject": "urgent", "period": "all", "group": "channel"}, subjects)
            high = session.query(func.count()).select_from(Case).filter(Case.priority == "high").scalar()
            assert run(session, spec, users["dispatcher"], subjects=subjects).totals == [high]
            assert run(session, spec, users["admin"], subjects=subjects).totals == [0]  # the plugin's scope rules
            with pytest.raises(ReportDenied):
                run(session, spec, users["reviewer"], subjects=subjects)
    finally:
        pm.unregister(name="urgent-test")


def test_hook_report_fields(demo, session):
    """A measure added to the core's cases subject; additions to a subject nobody registers are ignored."""
    from flask_babel import lazy_gettext as _l
    from sqlalchemy import case, func

    from core import hookimpl
    from core.models import Case
    from core.reports.engine import run
    from core.reports.spec import parse
    from core.reports.subjects import Measure, SubjectFields, build_registry
    from flask_appbuilder.security.sqla.models import User

    class HighShare:
        @hookimpl
        def report_fields(self):
            high = Measure("high", _l("High priority"), lambda: func.sum(case((Case.priority == "high", 1), else_=0)))
            return [SubjectFields("cases", measures=[high]), SubjectFields("no-such-subject", measures=[high])]

    pm = demo.app.extensions["civic"].pm
    pm.register(HighShare(), name="high-test")
    try:
        subjects = build_registry(pm)
        assert "no-such-subject" not in subjects and subjects["cases"].measure("high") is not None
        new_case(session, priority="high", tags=["fields-hook"])
        new_case(session, priority="normal", tags=["fields-hook"])
        admin = session.query(User).filter_by(username="admin").one()
        with demo.app.test_request_context():
            spec = parse({"subject": "cases", "period": "all", "measures": ["count", "high"], "filters": {"tag": ["fields-hook"]}}, subjects)
            assert run(session, spec, admin, subjects=subjects).totals == [2, 1]
        pm.register(HighShare(), name="high-twice")
        with pytest.raises(ValueError, match="registered twice"):
            build_registry(pm)
    finally:
        pm.unregister(name="high-test")
        if pm.has_plugin("high-twice"):
            pm.unregister(name="high-twice")


def test_hook_forget_contact(demo, session):
    """Anonymising a resident (or an anonymous reporter's old case) asks each plugin to forget them, in the
    same transaction: everywhere for an account, on the given cases only for a case's contact."""
    from core import hookimpl
    from core.models import Account
    from core.privacy import anonymise_account, anonymise_case_contact

    asked: list[tuple] = []

    class Remembers:
        @hookimpl
        def forget_contact(self, session, account, emails, case_ids):
            asked.append((account.id if account is not None else None, list(emails), case_ids, session().in_transaction()))

    account = Account(name="Zanzibar Quix", email="Zanzibar.Quix@example.org", phone="386-555-0101")
    session.add(account)
    session.commit()
    case = new_case(session, account=account, contact_email=account.email)
    other = new_case(session, contact_name="Anon Reporter", contact_email="anon.reporter@example.org")
    pm = demo.app.extensions["civic"].pm
    pm.register(Remembers(), name="remembers-test")
    try:
        anonymise_account(session, account, actor_label="test")
        anonymise_case_contact(session, other, actor_label="test")
        session.commit()
    finally:
        pm.unregister(name="remembers-test")
    assert asked == [(account.id, ["zanzibar.quix@example.org"], None, True), (None, ["anon.reporter@example.org"], [other.id], True)]
    assert case.contact_email is None and other.contact_name is None and account.name == "Closed account"


def test_hook_expire_contacts(demo, session):
    """Retention asks each plugin to clear the contact details it recorded before the cut-off and adds up the counts
    (a plugin without any answers None); a dry run rolls the plugins' changes back."""
    from datetime import timedelta

    from core import hookimpl
    from core.models.base import utcnow
    from core.privacy import run_retention

    asked = []

    class Calls:
        @hookimpl
        def expire_contacts(self, session, before):
            asked.append(before)
            return 3

    class Nothing:
        @hookimpl
        def expire_contacts(self, session, before):
            return None

    pm = demo.app.extensions["civic"].pm
    pm.register(Calls(), name="calls-test")
    pm.register(Nothing(), name="nothing-test")
    try:
        now = utcnow()
        report = run_retention(session, inactive_resident_days=1095, case_contact_days=730, dry_run=True, now=now)
    finally:
        pm.unregister(name="calls-test")
        pm.unregister(name="nothing-test")
    assert asked == [now - timedelta(days=730)] and report.other_records == 3
