""""For me": my mentions, my department's mentions and the tasks waiting for me; and the case page's
"Hand-offs" and "Mentions" panels.

The "For me" screen (``/forme/``, a top-level menu entry with a count badge) has three lists, each
paginated in SQL (``LIMIT``/``OFFSET`` and a ``count``):

- mentions of me and of my departments, unread first (``?all=1`` adds the read ones); marking one
  read (POST, CSRF) marks a department's mention read for the whole department;
- open tasks assigned to me or to one of my crews, those due first;
- open tasks of my departments that nobody (no person, no crew) holds yet.

A mention grants no access: a mention whose case the reader may not open is listed without a link.
"""
from __future__ import annotations

from flask import abort, flash, g, has_request_context, redirect, render_template, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import gettext, ngettext
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import joinedload

from core.extensions import db
from core.formats import format_duration
from core.models import OPEN_TASK_STATUSES, Case, Department, Mention, Task
from core.models.base import utcnow
from core.records import Panel, RoleSpec, ViewSpec
from core.security import acting_user, case_scope, register_user_fact, user_crew_ids, user_department_ids, user_fact

PAGE_SIZE = 20
MAX_PAGE = 10_000
SNIPPET = 300
PAGE_ARGS = ("all", "mp", "tp", "up")  # the only arguments a pager link carries on
VIEW = "ForMeView"
MENU = "For me"


# ---------------------------------------------------------------- what is "for me", in SQL

def my_mentions(user):
    """Mentions of the user or of one of their departments."""
    return or_(Mention.user_id == user.id, Mention.department_id.in_(user_department_ids(user)))


def my_tasks(user):
    """Open tasks assigned to the user or to one of their crews."""
    return and_(Task.status.in_(OPEN_TASK_STATUSES), or_(Task.assignee_id == user.id, Task.crew_id.in_(user_crew_ids(user))))


def unassigned_department_tasks(user):
    """Open tasks of the user's departments that no person and no crew holds."""
    return and_(
        Task.status.in_(OPEN_TASK_STATUSES), Task.assignee_id.is_(None), Task.crew_id.is_(None),
        Task.department_id.in_(user_department_ids(user)),
    )


def _waiting_of(user):
    unread = select(func.count(Mention.id)).where(my_mentions(user), Mention.read_at.is_(None)).scalar_subquery()
    tasks = select(func.count(Task.id)).where(my_tasks(user)).scalar_subquery()
    return unread + tasks


class _UserId:
    """What ``my_mentions``/``my_tasks`` read of a user: the id alone (the user is not loaded yet)."""

    def __init__(self, user_id: int):
        self.id = user_id


# The badge is on every staff page: read with the signed-in user, in the statement that loads them.
register_user_fact("waiting_count", lambda user_id: _waiting_of(_UserId(user_id)), pages_only=True)


def waiting_count(user) -> int:
    """Unread mentions plus my open tasks: the menu badge (one query, or none when it came with the user)."""
    known, value = user_fact("waiting_count", user.id)
    if known:
        return int(value or 0)
    return int(db.session.execute(select(_waiting_of(user))).scalar() or 0)


class ForMeLabel:
    """The menu entry: "For me" in the reader's language, with the count of what waits for them as a
    badge.  FAB passes the label through ``gettext``, which finds no entry for this object and gives
    it back; Jinja then calls ``__html__``."""

    text = _l("For me")

    def count(self) -> int:
        if not has_request_context():
            return 0
        user = acting_user()
        if user is None or not getattr(user, "is_authenticated", False):
            return 0
        if "civic_for_me_count" not in g:
            g.civic_for_me_count = waiting_count(user)
        return g.civic_for_me_count

    def __str__(self) -> str:
        return str(self.text)

    def __html__(self) -> Markup:
        count = self.count()
        badge = Markup(' <span class="badge civic-for-me-count">%d</span>') % count if count else ""
        return escape(str(self.text)) + badge

    def __hash__(self) -> int:
        return hash(MENU)

    def __eq__(self, other) -> bool:
        return other is self


# ---------------------------------------------------------------- the screen

def _page(name: str) -> int:
    value = request.args.get(name, "1")
    if not (value.isdigit() and 0 < int(value) <= MAX_PAGE):
        abort(400, description=gettext("%(field)s: must be a page number", field=gettext("Page")))
    return int(value)


class Section:
    """One paginated list of the screen."""

    def __init__(self, name: str, rows: list, total: int, page: int):
        self.name, self.rows, self.total, self.page = name, rows, total, page

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))

    def url(self, page: int) -> str:
        args = {k: v for k, v in request.args.items() if k in PAGE_ARGS and k != self.name}
        return url_for("ForMeView.index", **args, **{self.name: page})


def _section(name: str, stmt, count_stmt) -> Section:
    page = _page(name)
    total = db.session.scalar(count_stmt) or 0
    rows = db.session.scalars(stmt.limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).unique().all()
    return Section(name, rows, total, page)


def _openable(case_ids: set[int], user) -> set[int]:
    """Which of these cases the user may open (one query, the same scope as the case screens)."""
    if not case_ids:
        return set()
    scope = case_scope(user)
    stmt = select(Case.id).where(Case.id.in_(case_ids))
    if scope is not None:
        stmt = stmt.where(scope)
    return set(db.session.scalars(stmt))


def _task_query(where):
    return (
        select(Task).where(where).options(joinedload(Task.case), joinedload(Task.crew), joinedload(Task.assignee))
        .order_by(Task.due_at.is_(None), Task.due_at, Task.created_at, Task.id)
    )


class ForMeView(BaseView):
    """Mentions and tasks for the signed-in staff member."""

    route_base = "/forme"
    default_view = "index"
    class_permission_name = VIEW
    method_permission_name = {"index": "list", "mark_read": "mark_read", "mark_all_read": "mark_read"}
    base_permissions = ["can_list", "can_mark_read"]

    @expose("/")
    @has_access
    def index(self):
        user = acting_user()
        show_all = request.args.get("all") == "1"
        mine = my_mentions(user)
        if not show_all:
            mine = and_(mine, Mention.read_at.is_(None))
        mentions = _section(
            "mp",
            select(Mention).where(mine).options(joinedload(Mention.case), joinedload(Mention.event))
            .order_by(Mention.read_at.is_not(None), Mention.created_at.desc(), Mention.id.desc()),
            select(func.count(Mention.id)).where(mine),
        )
        assigned = _section("tp", _task_query(my_tasks(user)), select(func.count(Task.id)).where(my_tasks(user)))
        waiting = unassigned_department_tasks(user)
        unassigned = _section("up", _task_query(waiting), select(func.count(Task.id)).where(waiting))
        department_ids = {m.department_id for m in mentions.rows if m.department_id}
        departments = {d.id: d for d in db.session.scalars(select(Department).where(Department.id.in_(department_ids)))} if department_ids else {}
        case_ids = {m.case_id for m in mentions.rows} | {t.case_id for t in (*assigned.rows, *unassigned.rows)}
        return self.render_template(
            "civic/for_me.html",
            title=gettext("For me"),
            mentions=mentions, assigned=assigned, unassigned=unassigned, show_all=show_all,
            departments=departments, openable=_openable(case_ids, user), snippet=SNIPPET, now_utc=utcnow(),
        )

    @expose("/read/<int:mention_id>", methods=["POST"])
    @has_access
    def mark_read(self, mention_id: int):
        """Mark one of my mentions (or my department's) read; another's is a 404."""
        user = acting_user()
        mention = db.session.scalar(select(Mention).where(Mention.id == mention_id, my_mentions(user))) if mention_id < 2**63 else None
        if mention is None:
            abort(404)
        if mention.read_at is None:
            mention.read_at = utcnow()
            db.session.commit()
        flash(gettext("Mention marked as read."), "success")
        return redirect(url_for(".index"))

    @expose("/read-all", methods=["POST"])
    @has_access
    def mark_all_read(self):
        user = acting_user()
        result = db.session.execute(
            update(Mention).where(my_mentions(user), Mention.read_at.is_(None)).values(read_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
        count = result.rowcount or 0
        flash(ngettext("%(num)d mention marked as read.", "%(num)d mentions marked as read.", count), "success")
        return redirect(url_for(".index"))


def view_specs() -> list[ViewSpec]:
    return [ViewSpec(MENU, ForMeView, ForMeLabel(), icon="fa-bell")]


def role_specs() -> list[RoleSpec]:
    perms = ((f"{VIEW}|{MENU}", "can_list|can_mark_read|menu_access"),)
    return [RoleSpec(name, perms) for name in ("Dispatcher", "Department staff", "Field crew")]


# ---------------------------------------------------------------- the case page

def case_panels(case) -> list[Panel]:
    """The chain of departments ("Hand-offs") and who was mentioned on the case ("Mentions")."""
    from core.services.handoffs import chain
    from core.views.case_page import page_data

    page = page_data(case)
    legs = chain(db.session, case, events=page.events)
    now = utcnow()
    per_department: dict[str, float] = {}
    for leg in legs:
        per_department[leg.department.code] = per_department.get(leg.department.code, 0) + leg.duration(now).total_seconds()
    panels = [
        Panel(_l("Hand-offs"), render_template("civic/handoffs_panel.html", legs=legs, now_utc=now, totals=per_department,
                                               format_duration=format_duration), order=30)
    ]
    mentions = page.mentions  # read with the timeline, in its statement
    if mentions:
        panels.append(Panel(_l("Mentions"), render_template("civic/mentions_panel.html", mentions=mentions), order=31))
    return panels
