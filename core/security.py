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
    from flask_babel import lazy_gettext as _l

    from core.views.base import readable_formatters

    people = {
        "name": _l("Name"), "label": _l("Label"), "description": _l("Description"), "users": _l("Users"),
        "roles": _l("Roles"), "groups": _l("Groups"), "permissions": _l("Permissions"), "role": _l("Role"),
        "user": _l("User"), "permission": _l("Permission"), "view_menu": _l("View/Menu"),
    }

    # Same class names as FAB's: its endpoints and permission names stay as they are.
    class UserDBModelView(FabUserDBModelView):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.formatters_columns = {**readable_formatters(self.datamodel.obj), **(self.formatters_columns or {})}

    class UserGroupModelView(FabUserGroupModelView):
        label_columns = {**(FabUserGroupModelView.label_columns or {}), **people}

    class RoleModelView(FabRoleModelView):
        label_columns = {**(FabRoleModelView.label_columns or {}), **people}

    class PermissionViewModelView(FabPermissionViewModelView):
        label_columns = {**people, **(FabPermissionViewModelView.label_columns or {})}

    class UserStatsChartView(FabUserStatsChartView):
        label_columns = {**FabUserDBModelView.label_columns, "active": _l("Active"), **FabUserStatsChartView.label_columns}

    class CivicSecurityManager(SecurityManager):
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
