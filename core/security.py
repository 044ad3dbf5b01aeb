"""Who may see which cases: department scoping, enforced in every view and API query."""
from __future__ import annotations

from flask import g, has_request_context
from flask_appbuilder.models.filters import BaseFilter
from flask_login import current_user
from sqlalchemy import false, or_, select

from core.models import Case, Task, crew_member, department_staff

# Roles whose holders see every department's cases.
ALL_CASES_ROLES = frozenset({"Admin", "Dispatcher"})


def acting_user():
    """The signed-in user: the browser session's, or under JWT the token's (FAB puts it on ``g.user``)."""
    if has_request_context():
        token_user = getattr(g, "user", None)
        if token_user is not None and getattr(token_user, "is_authenticated", False):
            return token_user
    return current_user


def role_names(user=None) -> set[str]:
    user = user if user is not None else acting_user()
    if user is None or not getattr(user, "is_authenticated", False):
        return set()
    return {r.name for r in user.roles}


def sees_all_cases(user=None) -> bool:
    return bool(role_names(user) & ALL_CASES_ROLES)


def user_department_ids(user=None):
    """A subquery of the departments the user works for."""
    user = user if user is not None else acting_user()
    return select(department_staff.c.department_id).where(department_staff.c.user_id == user.id)


def user_crew_ids(user):
    """A subquery of the crews the user is a member of."""
    return select(crew_member.c.crew_id).where(crew_member.c.user_id == user.id)


def task_scope(user, departments=None):
    """A WHERE clause on Task: the tasks the user works (their departments', their own, their crews')."""
    departments = user_department_ids(user) if departments is None else departments
    return or_(Task.department_id.in_(departments), Task.assignee_id == user.id, Task.crew_id.in_(user_crew_ids(user)))


def case_scope(user=None):
    """A WHERE clause on Case that keeps only the cases the user may see: their departments' cases, and the
    cases where one of their departments, they or their crew hold a task (open or closed: history stays readable)."""
    user = user if user is not None else acting_user()
    if user is None or not getattr(user, "is_authenticated", False):
        return false()
    if sees_all_cases(user):
        return None
    departments = user_department_ids(user)
    # Uncorrelated: PostgreSQL hashes the (indexed) task lookup once instead of probing it for every case.
    holds_task = Case.id.in_(select(Task.case_id).where(task_scope(user, departments)))
    return or_(Case.department_id.in_(departments), holds_task)


def department_case_scope(user=None):
    """A WHERE clause on Case: only the cases of the user's own departments (all for dispatchers and admins),
    for numbers about each department's own cases (the dashboard); lists and pages use ``case_scope``."""
    user = user if user is not None else acting_user()
    if user is None or not getattr(user, "is_authenticated", False):
        return false()
    if sees_all_cases(user):
        return None
    return Case.department_id.in_(user_department_ids(user))


def case_access(case: Case, user=None) -> str | None:
    """How far the user may go with a case: "full" (the owning department, dispatchers, admins), "task"
    (they may read it and work only their tasks on it) or None (not theirs to see)."""
    user = user if user is not None else acting_user()
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    if sees_all_cases(user):
        return "full"
    from core.extensions import db

    owner = select(department_staff.c.department_id).where(
        department_staff.c.user_id == user.id, department_staff.c.department_id == case.department_id
    )
    if db.session.execute(owner).first() is not None:
        return "full"
    holds_task = select(Task.id).where(Task.case_id == case.id, task_scope(user)).limit(1)
    return "task" if db.session.execute(holds_task).first() is not None else None


def can_see_case(case: Case, user=None) -> bool:
    return case_access(case, user) is not None


def can_work_task(task: Task, user=None) -> bool:
    """Whether the user may work this task: anyone with full access to its case, else its department's staff,
    its assignee and its crew's members."""
    user = user if user is not None else acting_user()
    access = case_access(task.case, user)
    if access != "task":
        return access == "full"
    from core.extensions import db

    return db.session.execute(select(Task.id).where(Task.id == task.id, task_scope(user))).first() is not None


class CaseScopeFilter(BaseFilter):
    """FAB base filter for Case queries: lists, show, edit and the REST API all pass through it."""

    name = "Department scope"
    arg_name = "scope"

    def apply(self, query, value):
        clause = case_scope()
        return query if clause is None else query.filter(clause)


class RelatedCaseScopeFilter(BaseFilter):
    """FAB base filter for rows that belong to a case (events, attachments)."""

    name = "Department scope"
    arg_name = "scope"

    def apply(self, query, value):
        clause = case_scope()
        if clause is None:
            return query
        model = self.datamodel.obj
        return query.filter(model.case_id.in_(select(Case.id).where(clause)))


def security_manager_class():
    """FAB's security manager, with its admin screens labelled in every column (FAB leaves some
    labels to be generated from column names, which no catalog can translate) and Yes/No booleans."""
    from flask_appbuilder.security.sqla.manager import SecurityManager
    from flask_appbuilder.security.views import PermissionViewModelView as FabPermissionViewModelView
    from flask_appbuilder.security.views import RoleModelView as FabRoleModelView
    from flask_appbuilder.security.views import UserDBModelView as FabUserDBModelView
    from flask_appbuilder.security.views import UserGroupModelView as FabUserGroupModelView
    from flask_appbuilder.security.views import UserStatsChartView as FabUserStatsChartView
    from flask import abort, flash, redirect, request
    from flask_appbuilder import expose, has_access
    from flask_appbuilder.security.forms import LoginForm_db
    from flask_appbuilder.security.views import AuthDBView as FabAuthDBView
    from flask_appbuilder.security.decorators import no_cache
    from flask_login import login_user
    from flask_babel import lazy_gettext as _l

    from core.views.base import readable_formatters

    people = {
        "name": _l("Name"), "label": _l("Label"), "description": _l("Description"), "users": _l("Users"),
        "roles": _l("Roles"), "groups": _l("Groups"), "permissions": _l("Permissions"), "role": _l("Role"),
        "user": _l("User"), "permission": _l("Permission"), "view_menu": _l("View/Menu"),
    }

    class NoFileDownloads:
        """FAB's /<view>/download/<filename> serves file columns; ours have none, so it is a 404 (FAB's own
        answered an unknown file name with a 500)."""

        @expose("/download/<string:filename>")
        @has_access
        def download(self, filename):
            abort(404)

    # Same class names as FAB's: its endpoints and permission names stay as they are.
    class UserDBModelView(NoFileDownloads, FabUserDBModelView):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.formatters_columns = {**readable_formatters(self.datamodel.obj), **(self.formatters_columns or {})}

    class UserGroupModelView(NoFileDownloads, FabUserGroupModelView):
        label_columns = {**(FabUserGroupModelView.label_columns or {}), **people}

    class RoleModelView(NoFileDownloads, FabRoleModelView):
        label_columns = {**(FabRoleModelView.label_columns or {}), **people}

    class PermissionViewModelView(FabPermissionViewModelView):
        label_columns = {**people, **(FabPermissionViewModelView.label_columns or {})}

    class UserStatsChartView(FabUserStatsChartView):
        label_columns = {**FabUserDBModelView.label_columns, "active": _l("Active"), **FabUserStatsChartView.label_columns}

        @expose("/chart/<group_by>")
        @expose("/chart/")
        @has_access
        def chart(self, group_by=0):
            """FAB's chart, with a chart number that is not one a 404 (FAB's int() of it was a 500)."""
            if not (str(group_by).isdigit() and int(group_by) < len(self.definitions)):
                abort(404)
            return super().chart(group_by)

    class AuthDBView(FabAuthDBView):
        """FAB's sign-in, sending the user on only to a page of this site (FAB's own check let ``\\host`` and
        ``/\\host`` through, which browsers read as ``//host``: another site)."""

        def _get_safe_next_url(self) -> str:
            return safe_redirect_target(request.args.get("next")) or self.appbuilder.get_url_for_index

        @expose("/login/", methods=["GET", "POST"])
        @no_cache
        def login(self):
            if g.user is not None and g.user.is_authenticated:
                return redirect(self._get_safe_next_url())
            form = LoginForm_db()
            if form.validate_on_submit():
                next_url = self._get_safe_next_url()
                user = self.appbuilder.sm.auth_user_db(form.username.data, form.password.data)
                if not user:
                    flash(str(self.invalid_login_message), "warning")
                    return redirect(self.appbuilder.get_url_for_login_with(next_url))
                login_user(user, remember=False)
                return redirect(next_url)
            return self.render_template(self.login_template, title=self.title, form=form, appbuilder=self.appbuilder)

    class CivicSecurityManager(SecurityManager):
        authdbview = AuthDBView
        userdbmodelview = UserDBModelView
        groupmodelview = UserGroupModelView
        rolemodelview = RoleModelView
        permissionviewmodelview = PermissionViewModelView
        userstatschartview = UserStatsChartView

        def get_user_by_id(self, pk):
            """The user with their roles, groups and the groups' roles in one statement: every request loads
            its user here (Flask-Login, JWT) and every permission check reads the roles (FAB lazy-loads each)."""
            return load_user_with_roles(self.session, self.user_model, self.group_model, pk)

        def exist_permission_on_roles(self, view_name: str, permission_name: str, role_ids) -> bool:
            """Permissions of roles kept in the database (built-in roles are checked in memory by FAB): the
            roles' whole permission set is read once per request instead of one query per check."""
            return (permission_name, view_name) in db_role_permissions(self, role_ids)

    return CivicSecurityManager


# name -> (plugin or None for the core, function(user id) giving a scalar subquery): small facts about the
# signed-in user that every page reads (their saved language, the menu's "For me" count), fetched with the
# user in the same statement.
USER_FACTS: dict = {}


def register_user_fact(name: str, subquery, plugin: str | None = None, pages_only: bool = False) -> None:
    """Read ``subquery(user_id)`` with the signed-in user, once per request (see ``user_fact``); a plugin's fact
    only in the apps that enable the plugin (its tables exist only there); ``pages_only``: not for the REST API
    (``/api/``), which shows no menu."""
    USER_FACTS[name] = (plugin, subquery, pages_only)


def _facts_of_this_app() -> list[str]:
    from flask import current_app, request

    civic = current_app.extensions.get("civic")
    enabled = set(civic.pm.enabled) if civic is not None else set()
    api = has_request_context() and request.path.startswith("/api/")
    return [name for name, (plugin, _, pages_only) in USER_FACTS.items()
            if (plugin is None or plugin in enabled) and not (pages_only and api)]


def user_fact(name: str, user_id: int):
    """The fact read with the user of this request: (True, value), or (False, None) when it was not read (no
    request, another user, or a fact registered after the user was loaded): the caller then asks the database."""
    if not has_request_context():
        return False, None
    facts = g.get("civic_user_facts")
    if not facts or facts[0] != user_id or name not in facts[1]:
        return False, None
    return True, facts[1][name]


def forget_user_fact(name: str) -> None:
    """After a change within the request (a saved language), ask the database again."""
    facts = g.get("civic_user_facts") if has_request_context() else None
    if facts:
        facts[1].pop(name, None)


def load_user_with_roles(session, user_model, group_model, pk):
    """One statement for a user, everything FAB's permission checks read about them, and the user facts."""
    from sqlalchemy.orm import joinedload

    try:
        pk = int(pk)
    except (TypeError, ValueError):
        return None
    names = _facts_of_this_app()
    facts = [USER_FACTS[name][1](pk).label(f"fact_{n}") for n, name in enumerate(names)]
    stmt = select(user_model, *facts).where(user_model.id == pk).options(
        joinedload(user_model.roles), joinedload(user_model.groups).joinedload(group_model.roles)
    )
    row = session.execute(stmt).unique().first()
    if row is None:
        return None
    if has_request_context():
        g.civic_user_facts = (row[0].id, dict(zip(names, row[1:])))
    return row[0]


def db_role_permissions(sm, role_ids) -> frozenset[tuple[str, str]]:
    """{(permission, view)} of database-kept roles, read once per request (a change made in the role screens
    shows on the next request, in every worker: nothing is kept between requests)."""
    key = frozenset(role_ids)
    cache = g.setdefault("civic_role_permissions", {}) if has_request_context() else {}
    if key not in cache:
        from flask_appbuilder.security.sqla.models import Permission, PermissionView, ViewMenu, assoc_permissionview_role

        stmt = (
            select(Permission.name, ViewMenu.name)
            .select_from(PermissionView)
            .join(Permission, Permission.id == PermissionView.permission_id)
            .join(ViewMenu, ViewMenu.id == PermissionView.view_menu_id)
            .join(assoc_permissionview_role, assoc_permissionview_role.c.permission_view_id == PermissionView.id)
            .where(assoc_permissionview_role.c.role_id.in_(sorted(key)))
        )
        cache[key] = frozenset((p, v) for p, v in sm.session.execute(stmt))
    return cache[key]


class HeadAsGet:
    """WSGI middleware: a HEAD request runs as a GET and its body is dropped.

    Views and Flask-AppBuilder tell a page from a submission with ``request.method == "GET"``, and Flask-WTF does
    not check CSRF on HEAD: a HEAD to ``/users/delete/<pk>``, a FAB action or a work order's completion acted with
    no CSRF token.  Seen as a GET, a HEAD can only show the page (and its headers, Content-Length included)."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") != "HEAD":
            return self.wsgi_app(environ, start_response)
        body = self.wsgi_app({**environ, "REQUEST_METHOD": "GET"}, start_response)
        if hasattr(body, "close"):
            body.close()
        return []


# ---------------------------------------------------------------- passwords, redirects, production

PASSWORD_MIN = 12  # every password set anywhere: staff screens, portal, `civic` commands
PASSWORD_MAX = 200
# Passwords a city must never keep in production (the admin's, the secret key): well-known defaults.
WELL_KNOWN_SECRETS = frozenset({
    "admin", "administrator", "password", "changeme", "change-me", "secret", "dev", "development", "test",
    "123456789012", "password1234", "adminadmin12", "civic", "civic-connect", "palm-coast", "please-change-me",
})


def password_problem(password: str) -> str | None:
    """Why a new password is refused (a sentence for the form field), or None when it is fine."""
    from flask_babel import gettext

    if len(password) < PASSWORD_MIN:
        return gettext("Use at least %(count)d characters.", count=PASSWORD_MIN)
    if len(password) > PASSWORD_MAX:
        return gettext("Use at most %(count)d characters.", count=PASSWORD_MAX)
    if password.isdigit():
        return gettext("Use letters or symbols too, not only digits.")
    if password.lower() in WELL_KNOWN_SECRETS:
        return gettext("This password is too easy to guess: choose another one.")
    return None


def check_password_complexity(password: str) -> None:
    """``FAB_PASSWORD_COMPLEXITY_VALIDATOR``: FAB's user and password screens show the sentence on the field."""
    from flask_appbuilder.exceptions import PasswordComplexityValidationError

    problem = password_problem(password or "")
    if problem:
        raise PasswordComplexityValidationError(problem)


def safe_redirect_target(target: str | None) -> str | None:
    """A page of this site to go to after signing in, switching language...: a path (``/caseview/list/?page=2``)
    or an absolute URL of this very host (FAB's ``next=`` is ``request.url``); None for anything else --
    another host (``https://evil.example``, ``//evil``, ``\\evil``, ``/\\evil``), another scheme
    (``javascript:``), or control characters (browsers drop a tab in ``/\t/evil``, making it ``//evil``)."""
    from urllib.parse import urlsplit

    from flask import request

    if not target or len(target) > 2000 or any(ord(ch) < 33 or ch in "\\\x7f" for ch in target):
        return None
    try:
        parts = urlsplit(target)
    except ValueError:
        return None
    if parts.scheme or parts.netloc:
        own = has_request_context() and parts.scheme in ("http", "https") and parts.netloc == request.host
        return target if own and parts.path.startswith("/") else None
    return target if target.startswith("/") and not target.startswith("//") else None


def production_problems(settings: dict, directory) -> list[str]:
    """In production mode (``CIVIC_ENV=production``), what must not be left as it is in development: one line
    each, naming the setting."""
    import os
    from pathlib import Path

    problems = []
    key = os.environ.get("CIVIC_SECRET_KEY") or ""
    if not key:
        problems.append("CIVIC_SECRET_KEY: production mode needs the secret key from the environment (at least 32 random "
                        "characters, the same on every server), e.g. python -c 'import secrets; print(secrets.token_urlsafe(48))'")
    elif len(key) < 32 or key.lower() in WELL_KNOWN_SECRETS:
        problems.append("CIVIC_SECRET_KEY: too short or a well-known value; use at least 32 random characters")
    admin = os.environ.get("CIVIC_ADMIN_PASSWORD")
    demo = os.environ.get("CIVIC_DEMO_PASSWORD")
    if admin is not None and (len(admin) < PASSWORD_MIN or admin.lower() in WELL_KNOWN_SECRETS or admin == demo):
        problems.append(f"CIVIC_ADMIN_PASSWORD: a default or demo password (use at least {PASSWORD_MIN} characters of your own)")
    if (Path(directory) / "admin-password").exists():
        problems.append(f"{Path(directory) / 'admin-password'}: the admin's generated password is kept in this file; sign in, "
                        "change the password (Security > Users) and delete the file")
    if demo or (Path(directory) / "demo-password").exists():
        problems.append("CIVIC_DEMO_PASSWORD: the demo users (one shared password) must not be on a production server; "
                        "unset it and delete the demo users and <data dir>/demo-password")
    if settings.get("DEBUG"):
        problems.append("FLASK_DEBUG: the debugger must be off in production")
    return problems


STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class BadField(Exception):
    """A query or form field no view can take: a NUL character in its name or value (no text of the app may hold
    one: PostgreSQL cannot store it, XML cannot carry it), or a multipart part whose name cannot be read.
    Answered 400 naming the field (``description``) before any view or the CSRF check runs; a blueprint may
    shape the answer its clients expect (Open311 does)."""

    code = 400

    def __init__(self, field: str | None):
        from flask_babel import gettext

        self.field = (field or "")[:100].replace("\x00", "\\0")
        super().__init__(self.field)
        if field is None:
            self.description = gettext("A form field has a name that cannot be read.")
        else:
            self.description = gettext("%(field)s: %(message)s", field=self.field, message=gettext("must not contain NUL characters"))


def bad_field(request) -> BadField | None:
    """The first query or form field with a NUL character (or a form part without a readable name), else None.
    A body over the size limit is not read here: the view answers its own 413."""
    for name, value in request.args.items(multi=True):
        if "\x00" in name or "\x00" in value:
            return BadField(name)
    limit = request.max_content_length
    if request.method in STATE_CHANGING and request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data") \
            and request.content_length is not None and (limit is None or request.content_length <= limit):
        for name, value in request.form.items(multi=True):
            if name is None:  # werkzeug's multipart parser: a part with a mangled Content-Disposition
                return BadField(None)
            if "\x00" in name or "\x00" in (value or ""):
                return BadField(name)
    return None


def install_request_guards(app) -> None:
    """No NUL character in any query or form field, no form part without a name (400 naming the field, before
    any view and before the CSRF check).

    A list's bulk action (FAB's ``action_post``) is refused with 403 to a role without its permission, before
    the form is read.

    CSRF on the REST API when a browser session is used: FAB exempts its API blueprints from CSRF (they are
    meant for JWT), so a state-changing ``/api/`` call that carries a signed-in session cookie and no bearer
    token must carry the ``X-CSRFToken`` header, like every browser form.  JWT calls are not concerned."""
    from flask import abort, request, session

    from core.extensions import csrf

    def refuse_bad_fields():
        problem = bad_field(request)
        if problem is not None:
            raise problem

    # Before Flask-WTF's CSRF check, which reads every form field's name (and after the load shedding's gate,
    # which must not wait for a body to be parsed).
    guards = app.before_request_funcs.setdefault(None, [])
    csrf_check = next((i for i, f in enumerate(guards) if getattr(f, "__module__", "") == "flask_wtf.csrf"), 0)
    guards.insert(csrf_check, refuse_bad_fields)

    @app.errorhandler(BadField)
    def bad_field_answer(exc: BadField):
        from flask import jsonify

        from core.errors import wants_json

        if wants_json():
            return jsonify(message={exc.field: [exc.description]}), 400
        return exc.description, 400, {"Content-Type": "text/plain; charset=utf-8"}

    @app.before_request
    def bulk_actions_need_their_permission_first():
        """FAB's ``action_post`` (the list's bulk actions) reads the form before it checks the permission, and
        answers a refusal with a redirect: here a role without the action's permission gets 403 first."""
        if request.method != "POST" or not (request.endpoint or "").endswith(".action_post"):
            return None
        view = next((v for v in app.appbuilder.baseviews if getattr(v, "blueprint", None) is not None
                     and v.blueprint.name == request.blueprint), None)
        if view is None:
            return None
        security = app.appbuilder.sm
        allowed = {name for name in getattr(view, "actions", {})
                   if security.has_access(view.get_action_permission_name(name), view.class_permission_name)}
        if not allowed:
            abort(403)
        name = request.form.get("action", "")
        if name not in view.actions:
            from flask_babel import gettext

            return gettext("%(field)s: %(message)s", field=gettext("Action"), message=gettext("unknown action")), 400, \
                {"Content-Type": "text/plain; charset=utf-8"}
        if name not in allowed:
            abort(403)
        return None

    @app.before_request
    def csrf_for_api_calls_with_a_session():
        if request.method not in STATE_CHANGING or not request.path.startswith("/api/"):
            return None
        if request.headers.get("Authorization", "").lower().startswith("bearer "):
            return None
        if session.get("_user_id") is None:
            return None
        csrf.protect()  # 400 (CSRFError) without a valid X-CSRFToken
        return None
