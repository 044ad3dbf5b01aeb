"""What the staff case page reads, in a fixed handful of statements whatever the case holds.

The page and its panels (tasks, work orders, hand-offs, mentions, incident ...) each used to ask the
database on their own: the same departments twice, each task's crews and staff, a department's whole staff
each time a department was loaded.  Here the case is read once with everything hung on it (tags, tasks with
their crews and work orders, photos), its timeline with its mentions in one statement, and the choices of the
forms (departments, crews, people) in two; the panels take them from ``page_data(case)``.

Nothing is kept between requests: ``page_data`` lives on ``flask.g`` and is rebuilt on every request.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import current_app, g, has_request_context
from flask_appbuilder.security.sqla.models import Role, assoc_user_role
from sqlalchemy import String, and_, exists, func, literal, literal_column, or_, select, union_all
from sqlalchemy.orm import defaultload, joinedload, lazyload, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from core import duplicates
from core.extensions import db
from core.models import Case, CaseEvent, Crew, Department, Mention, ServiceType, Task, User, department_staff
from core.security import case_access, case_scope, sees_all_cases


def _quiet_department(path):
    """Never the whole staff of a department with it: the page reads the staff it needs in one statement."""
    return path.lazyload(Department.staff)


def _enabled(plugin: str) -> bool:
    civic = current_app.extensions.get("civic")
    return civic is not None and plugin in civic.pm.enabled


def case_options() -> list:
    """Loader options for the case of the page: one statement for the case with its tags and photos, one for
    its tasks with their people, crews and work orders."""
    task = selectinload(Case.tasks)
    options = [
        _quiet_department(defaultload(Case.department)),
        _quiet_department(defaultload(Case.service_type).defaultload(ServiceType.department)),
        # Tags and photos are few: joined to the case's own statement (their rows multiply, they stay few).
        joinedload(Case.assignee), joinedload(Case.incident), joinedload(Case.tags), joinedload(Case.attachments),
        task.joinedload(Task.assignee),
        _quiet_department(task.defaultload(Task.department)),
        task.joinedload(Task.crew).lazyload(Crew.members),
    ]
    # The field service plugin's one-to-one on tasks (its Work orders panel reads it): only in an app that has
    # the plugin (and so its table); once imported, the attribute exists in every app of the process.
    if hasattr(Task, "work_order") and _enabled("fieldservice"):
        options.append(task.joinedload(Task.work_order))
    return options


def load_case(case_id: int, user) -> PageData | None:
    """The case page's case, if it lies in the user's scope, with how many cases share its incident and how far
    the user may go with it (``case_access``), all in one statement."""
    scope = case_scope(user)
    same = Case.__table__.alias("linked")
    linked = (select(func.count(same.c.id)).where(same.c.incident_id == Case.incident_id, Case.incident_id.is_not(None))
              .correlate(Case).scalar_subquery())
    sees_all = sees_all_cases(user)
    # Not a dispatcher: "full" for the case's own department's staff, else (the case is in scope) "task".
    owner = literal_column("1") if sees_all else exists().where(
        department_staff.c.user_id == user.id, department_staff.c.department_id == Case.department_id
    )
    stmt = select(Case, linked, owner).where(Case.id == case_id).options(*case_options())
    if scope is not None:
        stmt = stmt.where(scope)
    row = db.session.execute(stmt).unique().first()
    if row is None:
        return None
    page = page_data(row[0])
    page.incident_cases = int(row[1] or 0)
    page._access = ("full" if sees_all or row[2] else "task",)
    return page


@dataclass
class PageData:
    """The case page's reads, shared by the page and its panels within one request."""

    case: Case
    incident_cases: int | None = None
    _access: Any = field(default=None, repr=False)
    _timeline: tuple | None = field(default=None, repr=False)
    _choices: tuple | None = field(default=None, repr=False)
    _people: dict | None = field(default=None, repr=False)

    # ---- who reads

    @property
    def access(self) -> str | None:
        if self._access is None:
            self._access = (case_access(self.case),)
        return self._access[0]

    # ---- the timeline and its mentions (one statement)

    def _load_timeline(self) -> tuple:
        if self._timeline is None:
            rows = db.session.execute(
                select(CaseEvent, Mention, User.username, Department.code)
                .outerjoin(Mention, Mention.event_id == CaseEvent.id)
                .outerjoin(User, User.id == Mention.user_id).outerjoin(Department, Department.id == Mention.department_id)
                .where(CaseEvent.case_id == self.case.id).order_by(CaseEvent.created_at, CaseEvent.id)
            ).all()
            events, mentions = {}, []
            for event, mention, username, code in rows:
                events.setdefault(event.id, event)
                if mention is not None:
                    mentions.append((mention, username, code))
            events = list(events.values())
            set_committed_value(self.case, "events", events)
            mentions.sort(key=lambda row: (row[0].created_at, row[0].id))
            self._timeline = (events, mentions)
        return self._timeline

    @property
    def events(self) -> list[CaseEvent]:
        """Oldest first."""
        return self._load_timeline()[0]

    @property
    def mentions(self) -> list[tuple]:
        """(Mention, username, department code), oldest first."""
        return self._load_timeline()[1]

    # ---- the forms' choices: departments with their active crews (one statement), people (one)

    def _load_choices(self) -> tuple:
        if self._choices is None:
            rows = db.session.execute(
                select(Department, Crew)
                .outerjoin(Crew, and_(Crew.department_id == Department.id, Crew.active.is_(True)))
                .where(Department.active.is_(True))
                .options(lazyload(Department.staff), joinedload(Crew.members))
            ).unique().all()
            departments, crews = {}, {}
            for department, crew in rows:
                departments.setdefault(department.id, department)
                if crew is not None:
                    crews.setdefault(crew.id, crew)
            self._choices = (
                sorted(departments.values(), key=lambda d: d.localized_name.lower()),
                sorted(crews.values(), key=lambda c: c.name),
            )
        return self._choices

    @property
    def departments(self) -> list[Department]:
        """The active departments, by name in the reader's language."""
        return self._load_choices()[0]

    @property
    def crews(self) -> list[Crew]:
        """The active crews (of active departments), by name, with their members."""
        return self._load_choices()[1]

    def department_crews(self, department_id: int) -> list[Crew]:
        return [c for c in self.crews if c.department_id == department_id]

    def _load_people(self) -> dict:
        """Active staff of the departments the page's forms offer (the case's and its tasks'), and the
        dispatchers (key None)."""
        if self._people is None:
            wanted = sorted({self.case.department_id, *(t.department_id for t in self.case.tasks if t.department_id)})
            dispatchers = select(assoc_user_role.c.user_id).join(Role, Role.id == assoc_user_role.c.role_id).where(Role.name == "Dispatcher")
            rows = db.session.execute(
                select(User, department_staff.c.department_id, User.id.in_(dispatchers))
                .outerjoin(department_staff, and_(department_staff.c.user_id == User.id, department_staff.c.department_id.in_(wanted)))
                .where(User.active.is_(True), or_(department_staff.c.department_id.is_not(None), User.id.in_(dispatchers)))
            ).all()
            people: dict = {}
            for user, department_id, is_dispatcher in rows:
                if department_id is not None:
                    people.setdefault(department_id, {})[user.id] = user
                if is_dispatcher:
                    people.setdefault(None, {})[user.id] = user
            self._people = people
        return self._people

    def staff(self, department_id: int | None) -> list[User]:
        """Active staff of a department the page offers (None: the dispatchers)."""
        return list(self._load_people().get(department_id, {}).values())

    def task_people(self, task: Task) -> list[User]:
        """Who a task may be given to: its department's active staff and its active crews' active members."""
        users = {u.id: u for u in self.staff(task.department_id)}
        for crew in self.department_crews(task.department_id):
            users.update({u.id: u for u in crew.members if u.active})
        return sorted(users.values(), key=lambda u: u.username.lower())


def duplicate_lists(case: Case, scope, candidates: bool, reports: bool) -> tuple[list[Case], list[Case]]:
    """The page's possible duplicates (open cases nearby, within ``scope``) when ``candidates``, and the reports
    merged into the case when ``reports``: one statement for both."""
    parts = []
    search = duplicates.candidate_search(case, scope=scope) if candidates else None
    if search is not None:
        parts.append(("candidate", search[0]))
    if reports:
        parts.append(("report", duplicates.duplicates_statement(case)))
    if not parts:
        return [], []
    ids = union_all(*(
        select(stmt.with_only_columns(Case.id).subquery().c.id, literal(kind, String).label("kind")) for kind, stmt in parts
    )).subquery()
    with db.session.no_autoflush:
        rows = db.session.execute(select(Case, ids.c.kind).join(ids, ids.c.id == Case.id).options(*duplicates.LISTED)).all()
    found = {kind: [c for c, k in rows if k == kind] for kind, _ in parts}
    near = []
    if search is not None:
        newest_first = sorted(found["candidate"], key=lambda c: (c.created_at, c.id), reverse=True)
        near = duplicates.nearest(case, newest_first, search[1])
    return near, sorted(found.get("report", []), key=lambda c: (c.created_at, c.id))


def page_data(case: Case) -> PageData:
    """The reads of this request's case page for ``case`` (made on first use)."""
    if not has_request_context():
        return PageData(case)
    pages = g.setdefault("civic_case_pages", {})
    page = pages.get(case.id)
    if page is None or page.case is not case:
        page = pages[case.id] = PageData(case)
    return page
