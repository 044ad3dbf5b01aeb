"""Staff screens for cases: the scoped list, the case page and its actions, edit, and the two-step new case.

Department scoping is the base filter ``CaseScopeFilter``: every lookup here
(list, show, edit, act) goes through it, so a case of another department is a
404 whatever the URL.  Every change goes through ``core.services.cases`` and
carries the version the user saw; a stale version is refused, nothing written.
"""
from __future__ import annotations

import re
from itertools import groupby
from typing import Any, Callable

from flask import abort, current_app, flash, g, redirect, request, url_for
from flask_appbuilder import expose
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.models.sqla.filters import SQLAFilterConverter
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.security.decorators import has_access
from flask_appbuilder.security.sqla.models import Role
from flask_appbuilder.widgets import ListWidget
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from jinja2 import TemplateNotFound
import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import lazyload, selectinload
from sqlalchemy.orm.exc import StaleDataError
from wtforms import HiddenField, SelectField, TextAreaField
from wtforms.validators import Length

from core.extensions import db
from core.formats import format_datetime, format_number, format_wall_datetime
from core.views.base import CivicModelView
from core.views.incidents import LinkToIncidentAction
from core.forms import apply_case_errors, attribute_values, new_case_form_class, split_tags
from core.i18n_content import attribute_label, localized, value_names
from core.models import CHANNELS, EVENT_KINDS, PRIORITIES, STATUSES, TRANSITIONS, Case, CaseEvent, Department, ServiceType, User
from core.models.base import utcnow
from core.security import CaseScopeFilter, acting_user, can_see_case, case_access, case_scope
from core.services import cases as case_service
from core.services.cases import MAX_DESCRIPTION, Actor, CaseError, ConflictError
from core.services.handoffs import MAX_REASON
from core.services.mentions import mention_labels
from core.services.tasks import open_tasks_rule

# Labels of the fields a CaseError may name (service messages are prefixed with them).
FIELD_LABELS = {
    "body": _l("Note"), "note": _l("Note"), "status": _l("Status"), "assignee": _l("Assignee"),
    "department": _l("Department"), "reason": _l("Reason"), "tags": _l("Tags"), "version": _l("Version"),
    "action": _l("Action"), "service": _l("Service"), "parent": _l("Duplicate of"),
    "confirm_open_tasks": _l("Open tasks"),
}


# ---------------------------------------------------------------- display helpers

def status_label(code: str):
    return STATUSES[code][0] if code in STATUSES else code


def priority_label(code: str):
    return PRIORITIES.get(code, code)


def channel_label(code: str):
    return CHANNELS.get(code, code)


def user_label(user) -> str:
    if user is None:
        return ""
    name = " ".join(p for p in (user.first_name, user.last_name) if p and p not in ("-", user.username))
    return f"{name} ({user.username})" if name else user.username


def conflict_message(expected: int, current: int) -> str:
    return gettext(
        "This case was changed by someone else while you had it open (you saw version %(expected)s, it is now "
        "version %(current)s). Nothing was saved: reload the case and apply your change again.",
        expected=expected, current=current,
    )


UNSAVED_TEXT_FIELDS = ("note", "reason", "tags", "title", "instructions")


def flash_unsaved_text(form, labels: dict | None = None) -> None:
    """After a refused action, what the user typed is shown back so that it is not lost (they reload the page
    to see the colleague's change, which would empty the form)."""
    labels = FIELD_LABELS if labels is None else labels
    typed = [(labels.get(name, name), (form.get(name) or "").strip()) for name in UNSAVED_TEXT_FIELDS]
    typed = [(label, text) for label, text in typed if text]
    if typed:
        flash(gettext("What you typed was not saved; copy it before you reload: %(text)s",
                      text="; ".join(gettext("%(field)s: %(message)s", field=label, message=text) for label, text in typed)),
              "warning")


def flash_case_errors(exc: CaseError) -> None:
    for field, messages in exc.errors.items():
        for message in messages:
            flash(gettext("%(field)s: %(message)s", field=FIELD_LABELS.get(field, field), message=message), "danger")


# ---------------------------------------------------------------- list: text search, count and paging at scale

# The list counts matches up to this many (then shows "10,000+"), or up to ten pages past the one shown.
COUNT_CAP = 10_000
SEARCH_COUNT_CAP = 1_000  # a text search with more hits than this is refined, not paged through
FTS_FEW = 10_000  # SQLite: up to this many matches, the search reads the index's list of matches first
MAX_SEARCH_LENGTH = 200
PAGES_AHEAD = 10
MAX_SEARCH_WORDS = 12
_WORD = re.compile(r"[^\W_]+")  # letters and digits, as both full-text indexes split them
_FTS = sa.table("case_fts", sa.column("rowid"), sa.column("case_id"), sa.column("document"))


def search_words(text: str | None) -> list[str]:
    """The words of what a user typed: no search syntax (quotes, operators, brackets) ever reaches the database."""
    return _WORD.findall(text or "")[:MAX_SEARCH_WORDS]


def text_search_clause(session, text: str | None):
    """A WHERE clause on Case: every word in the reference, description or address, through the full-text
    index ``case_fts`` (migration 0007); None when the text has no words."""
    words = search_words(text)
    if not words:
        return None
    if session.get_bind().dialect.name != "sqlite":
        query = sa.func.plainto_tsquery(sa.literal_column("'simple'::regconfig"), " ".join(words))
        return Case.id.in_(select(_FTS.c.case_id).where(_FTS.c.document.op("@@")(query)))
    match = " ".join(f'"{w}"' for w in words)  # each word a quoted FTS5 string: a word never holds a quote
    matches = sa.text("case_fts MATCH :case_fts_match").bindparams(case_fts_match=match)
    if _fts_matches_few(session, match):
        return Case.id.in_(select(_FTS.c.rowid).where(matches))
    if g.get("case_fts_join"):  # a count (CaseInterface.capped_count) walks the index's matches and joins the cases
        g.case_fts_joined = match
        return sa.true()
    # SQLite would first list every match of an IN (a million for a common word): check the cases in the
    # list's own order instead, one index probe each, and stop at the page.  A case whose own (ASCII) text lacks
    # a word is passed over before its probe (core.sqlite_search).
    probe = sa.exists(select(_FTS.c.rowid).where(matches, _FTS.c.rowid == Case.id))
    if not all(w.isascii() for w in words):
        return probe
    quick = sa.func.civic_may_hold_words(Case.reference, Case.description, Case.address, " ".join(w.lower() for w in words))
    return sa.and_(quick == 1, probe)


def _fts_matches_few(session, match: str) -> bool:
    """Whether SQLite's index holds at most FTS_FEW cases for this search (asked once a request;
    ``CIVIC_LIST_FTS_FEW`` overrides it)."""
    known = g.setdefault("case_fts_few", {})
    if match not in known:
        few = int(current_app.config.get("CIVIC_LIST_FTS_FEW", FTS_FEW))
        some = select(_FTS.c.rowid).where(sa.text("case_fts MATCH :m").bindparams(m=match)).limit(few + 1).subquery()
        known[match] = session.scalar(select(sa.func.count()).select_from(some)) <= few
    return known[match]


def count_limit(page: int | None, page_size: int | None, searching: bool = False) -> int:
    """How many matches the list counts at most (``CIVIC_LIST_COUNT_CAP``, less for a text search, or up to ten
    pages past the one shown), plus one to tell "more" from "exactly"."""
    size = page_size or CaseView.page_size
    cap = int(current_app.config.get("CIVIC_LIST_COUNT_CAP", COUNT_CAP))
    if searching:
        cap = min(cap, SEARCH_COUNT_CAP)
    return max(cap, ((page or 0) + 1 + PAGES_AHEAD) * size) + 1


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class FilterCaseText(BaseFilter):
    """FAB's free-text filter over reference, description and address: the text as typed, looked for only in
    the cases the full-text index finds with all its words (never a scan of the whole table)."""

    name = _l("Reference, description or address contains")
    arg_name = "case_text"

    def apply(self, query, value):
        """The full-text index finds the cases with every word; of those, the ones that hold the text as typed."""
        clause = text_search_clause(self.datamodel.session, value)
        if clause is None:
            return query
        pattern = _like(value.strip())
        return query.filter(clause, sa.or_(*(col.ilike(pattern, escape="\\") for col in (Case.reference, Case.description, Case.address))))


class CaseSearchFilter(BaseFilter):
    """The list's ``?q=`` search box: every word, through the full-text index (added to one request's filters)."""

    name = _l("Search cases")
    arg_name = "q"

    def apply(self, query, value):
        clause = text_search_clause(self.datamodel.session, value)
        return query if clause is None else query.filter(clause)


# FAB's text filters (by arg_name), as tests on a code: see FilterCodeText.
_CODE_TESTS: dict[str, Callable[[str, str], bool]] = {
    "sw": lambda code, v: code.startswith(v), "nsw": lambda code, v: not code.startswith(v),
    "ew": lambda code, v: code.endswith(v), "new": lambda code, v: not code.endswith(v),
    "ct": lambda code, v: v in code, "nct": lambda code, v: v not in code,
}
# Columns that only ever hold one of these codes.
_CODE_COLUMNS = {"status": STATUSES, "priority": PRIORITIES, "channel": CHANNELS}


class FilterCodeText(BaseFilter):
    """A FAB text filter ("starts with", "contains"...) on a column of known codes, applied as ``IN`` over the
    codes it matches: the same rows, but the column's index serves it (``ILIKE 'new%'`` scans the table)."""

    codes: tuple[str, ...] = ()
    test: Callable[[str, str], bool] = staticmethod(lambda code, v: False)

    def apply(self, query, value):
        typed = str(value or "").lower()
        wanted = [code for code in self.codes if self.test(code.lower(), typed)]
        return query.filter(getattr(self.model, self.column_name).in_(wanted))


class CaseFilterConverter(SQLAFilterConverter):
    """FAB's filters, plus the free-text search offered first on the reference column; text filters on the
    code columns (status, priority, channel) read the index (FilterCodeText)."""

    def convert(self, col_name):
        filters = super().convert(col_name) or []
        if col_name == "reference":
            return [FilterCaseText(col_name, self.datamodel)] + filters
        if col_name in _CODE_COLUMNS:
            return [self._on_codes(f, col_name) if f.arg_name in _CODE_TESTS else f for f in filters]
        return filters

    def _on_codes(self, flt: BaseFilter, col_name: str) -> BaseFilter:
        cls = type(f"Code{type(flt).__name__}", (FilterCodeText,), {
            "name": flt.name, "arg_name": flt.arg_name, "codes": tuple(_CODE_COLUMNS[col_name]),
            "test": staticmethod(_CODE_TESTS[flt.arg_name]),
        })
        return cls(col_name, self.datamodel)


class CaseInterface(SQLAInterface):
    """Case queries that stay fast at millions of cases (the staff list and ``/api/v1/case/``).

    FAB counts every match with ``count(*)`` over a subquery and pages with OFFSET over whole rows.  Here the
    count stops at ``count_limit`` rows (read from an index), and a page is a deferred join: its ids come
    from the ordering index alone (ordered by the column, then the id, as FAB does), then only those rows
    are read, with their assignees in one more query.  The rows and their order are exactly FAB's."""

    filter_converter_class = CaseFilterConverter

    def apply_all(self, query, *args, **kwargs):
        """FAB's query, with the assignee loaded in one more query (unless the API picks columns itself)."""
        select_columns = kwargs.get("select_columns", args[5] if len(args) > 5 else None)
        query = super().apply_all(query, *args, **kwargs)
        return query if select_columns else query.options(selectinload(Case.assignee))

    def get_related_interface(self, col_name: str) -> SQLAInterface:
        return RelatedChoices(self.get_related_model(col_name))

    def capped_count(self, filters, limit: int) -> int:
        """How many cases match, counting no further than ``limit``.  On SQLite a search for common words counts
        by walking the full-text index's matches and joining each case (a case read by its key), not by probing
        the index once per case: the probes cost ~60 µs each, the walk a few µs."""
        g.case_fts_join = True
        try:
            found = self.apply_filters(self.session.query(Case.id), filters)
        finally:
            g.pop("case_fts_join", None)
            match = g.pop("case_fts_joined", None)
        if match is not None:
            found = found.join(_FTS, _FTS.c.rowid == Case.id).filter(sa.text("case_fts MATCH :case_fts_count").bindparams(case_fts_count=match))
        ids = found.limit(limit).subquery()
        return self.session.scalar(select(sa.func.count()).select_from(ids))

    def page_ids(self, filters, order_column: str, order_direction: str, page, page_size, small: bool):
        """The ids of one page, ordered by the column then the id.  A small result (counted in full) is read
        whole and sorted: the OFFSET 0 fence keeps PostgreSQL from walking the recency index in the hope of
        meeting a rare match soon.  A big one is walked in index order, where the matches come quickly."""
        column = getattr(Case, order_column or "id")
        order = sa.desc if order_direction == "desc" else sa.asc
        found = self.apply_filters(self.session.query(Case.id.label("id"), column.label("sort_key")), filters)
        if small:
            fenced = found.offset(0).subquery()
            ids = select(fenced.c.id).order_by(order(fenced.c.sort_key), order(fenced.c.id))
        else:
            ids = found.with_entities(Case.id).order_by(order(column), order(Case.id)).statement
        if page_size:
            ids = ids.limit(page_size).offset((page or 0) * page_size)
        return ids.subquery()

    def query(self, filters=None, order_column="", order_direction="", page=None, page_size=None,
              select_columns=None, outer_default_load=False):
        searching = any(isinstance(f, (FilterCaseText, CaseSearchFilter)) for f in (filters.filters if filters else ()))
        limit = count_limit(page, page_size, searching)
        count = self.capped_count(filters, limit)
        g.case_count_capped = count >= limit
        if not order_column:
            order_column, order_direction = "id", "desc"
        ids = self.page_ids(filters, order_column, order_direction, page, page_size, small=count < limit)
        rows = self.session.query(Case).filter(Case.id.in_(select(ids.c.id))).options(selectinload(Case.assignee))
        rows = self.apply_order_by(rows, order_column, order_direction, add_pk=True)
        return count, rows.all()


class RelatedChoices(SQLAInterface):
    """The choices of a related filter or form field (departments, services, tags): their rows in one query,
    without FAB's count and without their own relations (a department's staff)."""

    def query(self, filters=None, order_column="", order_direction="", page=None, page_size=None,
              select_columns=None, outer_default_load=False):
        rows = self.apply_filters(self.session.query(self.obj), filters).options(lazyload("*")).all()
        return len(rows), rows


class CaseListWidget(ListWidget):
    """FAB's list, with "10,000+" for a count that stopped at its cap."""

    template = "civic/case_list_widget.html"


def case_list_url(**equals: Any) -> str:
    """The case list filtered on equal values, e.g. ``case_list_url(status="new", department=3)``."""
    filters = CaseView.datamodel.get_filters(CaseView.search_columns).get_search_filters()
    args = {}
    for column, value in equals.items():
        index = next(i for i, f in enumerate(filters[column]) if f.arg_name in ("eq", "rel_o_m"))
        args[f"_flt_{index}_{column}"] = value
    return url_for("CaseView.list", **args)


# ---------------------------------------------------------------- the case page

def attribute_rows(case: Case) -> list[tuple[str, str]]:
    """(label, shown value) for each attribute: labels are the service's descriptions, list keys shown by name
    (both in the request's language)."""
    values = dict(case.attributes or {})
    rows = []
    for defn in sorted(case.service_type.attributes or [], key=lambda d: d.get("order") or 0):
        code = defn["code"]
        if code not in values:
            continue
        value = values.pop(code)
        names = value_names(defn)
        if isinstance(value, list):
            shown = ", ".join(str(names.get(v, v)) for v in value)
        elif defn.get("datatype") == "datetime" and isinstance(value, str):
            shown = format_wall_datetime(value)
        elif defn.get("datatype") == "number" and isinstance(value, (int, float)) and not isinstance(value, bool):
            shown = format_number(value)
        else:
            shown = str(names.get(value, value))
        rows.append((attribute_label(defn), shown))
    rows.extend((code, str(value)) for code, value in values.items())  # no longer in the catalog
    return rows


def event_summary(event: CaseEvent) -> str:
    """What changed, from the event's data (the body is shown separately)."""
    data = event.data or {}
    if event.kind == "status_changed":
        return f"{status_label(data.get('old'))} → {status_label(data.get('new'))}"
    if event.kind in ("assigned", "department_changed", "tagged", "incident_linked", "incident_unlinked"):
        old, new = data.get("old"), data.get("new")
        fmt = lambda v: ", ".join(v) if isinstance(v, list) else (v or "—")  # noqa: E731
        return f"{fmt(old)} → {fmt(new)}"
    if event.kind == "routed":
        return f"{data.get('department', '')} ({data.get('rule', '')})"
    if event.kind == "created":
        return str(channel_label(data.get("channel", "")))
    if event.kind == "updated":
        return ", ".join(sorted(data.get("fields", {})))
    if event.kind == "duplicate_suggested":
        return str(data.get("suggested_duplicate", ""))
    if event.kind.startswith("task_") or event.kind == "open_tasks_confirmed":
        from core.views.tasks import task_event_summary

        return task_event_summary(event)
    if event.kind == "merged":
        return str(data.get("duplicate", ""))
    return ""


def assignable_users(case: Case) -> list[User]:
    """Active staff of the case's department, plus the dispatchers."""
    users = {u.id: u for u in case.department.staff if u.active}
    dispatchers = select(User).join(User.roles).where(Role.name == "Dispatcher", User.active.is_(True))
    for user in db.session.scalars(dispatchers):
        users.setdefault(user.id, user)
    return sorted(users.values(), key=lambda u: user_label(u).lower())


def _template_exists(name: str) -> bool:
    try:
        current_app.jinja_env.get_template(name)
    except TemplateNotFound:
        return False
    return True


# ---------------------------------------------------------------- actions on the case page

def _add_note(public: bool) -> Callable[[Case, Any, Actor], str]:
    def act(case: Case, form, actor: Actor) -> str:
        event = case_service.add_note(db.session, case, form.get("body", ""), actor, public=public)
        if public:
            return gettext("Public note added.")
        named = mention_labels(db.session, event)
        if named:
            return gettext("Internal note added; %(names)s will be notified.", names=", ".join(named))
        return gettext("Internal note added.")

    return act


def _change_status(case: Case, form, actor: Actor) -> str:
    new, note = form.get("status", ""), (form.get("note") or "").strip()
    if len(note) > MAX_DESCRIPTION:
        raise CaseError({"note": [f"is {len(note)} characters long; the limit is {MAX_DESCRIPTION}"]})
    confirmed = form.get("confirm_open_tasks") in ("y", "on", "1", "true")
    case_service.change_status(db.session, case, new, actor, note=note, confirm_open_tasks=confirmed)
    return gettext("Status changed to %(status)s.", status=status_label(new))


def _assign(case: Case, form, actor: Actor) -> str:
    wanted = form.get("assignee", "")
    user = None
    if wanted:
        user = {str(u.id): u for u in assignable_users(case)}.get(wanted)
        if user is None:
            raise CaseError({"assignee": ["choose a member of the case's department or a dispatcher"]})
    case_service.assign(db.session, case, user, actor)
    return gettext("Assigned to %(name)s.", name=user_label(user)) if user else gettext("Nobody is assigned now.")


def _reroute(case: Case, form, actor: Actor) -> str:
    wanted = form.get("department", "")
    department = db.session.get(Department, int(wanted)) if wanted.isdigit() and len(wanted) < 10 else None
    case_service.reroute(db.session, case, department, actor, form.get("reason", ""))
    return gettext("Sent to %(department)s.", department=department.localized_name)


def _merge(case: Case, form, actor: Actor) -> str:
    """Merge this case into the parent named by its reference (a case the user may see)."""
    wanted = (form.get("parent") or "").strip()
    parent = db.session.scalar(select(Case).where(Case.reference == wanted)) if wanted and len(wanted) <= 32 else None
    if parent is not None and not can_see_case(parent):
        parent = None
    if parent is None and wanted:
        raise CaseError({"parent": [gettext("unknown case '%(reference)s'", reference=wanted[:32])]})
    case_service.merge_into(db.session, case, parent, actor)
    return gettext("Merged into %(reference)s as a duplicate.", reference=parent.reference)


def _set_tags(case: Case, form, actor: Actor) -> str:
    case_service.set_tags(db.session, case, split_tags(form.get("tags")), actor)
    return gettext("Tags saved.")


ACTIONS: dict[str, Callable[[Case, Any, Actor], str]] = {
    "internal_note": _add_note(public=False),
    "public_note": _add_note(public=True),
    "status": _change_status,
    "assign": _assign,
    "reroute": _reroute,
    "tags": _set_tags,
    "merge": _merge,
}


# Actions that only add to the timeline: a colleague's change in between does not make them stale.
APPEND_ONLY_ACTIONS = frozenset({"internal_note", "public_note"})


class EditRefused(Exception):
    """Raised from pre_update: FAB flashes the message and writes nothing."""


# ---------------------------------------------------------------- the view

def case_id_or_404(pk) -> int:
    """A case id from the URL: a whole number a BIGINT holds, or 404 (no database error either)."""
    try:
        case_id = int(pk)
    except (TypeError, ValueError):
        abort(404)
    if not 0 < case_id < 2**63:
        abort(404)
    return case_id


class CaseView(LinkToIncidentAction, CivicModelView):
    """Cases as staff work them: list and edit are FAB's; the case page and new case are our own templates."""

    datamodel = CaseInterface(Case)
    base_filters = [["id", CaseScopeFilter, None]]
    # No delete: a case is closed, never removed.  "act" is the case page's action endpoint.
    base_permissions = ["can_list", "can_show", "can_add", "can_edit", "can_act"]
    list_title = _l("Cases")
    show_title = _l("Case")
    add_title = _l("New case")
    edit_title = _l("Edit case")
    list_columns = ["reference", "service_type", "status", "priority", "department", "assignee", "channel", "address", "created_at", "expected_at"]
    search_columns = ["reference", "status", "department", "service_type", "tags", "channel", "priority", "created_at"]
    search_form_extra_fields = {
        "status": SelectField(_l("Status"), choices=[(code, label) for code, (label, _) in STATUSES.items()]),
        "priority": SelectField(_l("Priority"), choices=list(PRIORITIES.items())),
        "channel": SelectField(_l("Channel"), choices=list(CHANNELS.items())),
    }
    order_columns = ["reference", "status", "priority", "channel", "created_at", "expected_at"]
    add_columns = ["description"]  # FAB's add form is replaced by the two-step form below
    edit_columns = ["description", "priority", "address", "zipcode", "lat", "long", "zone", "tags", "expected_version"]
    edit_form_extra_fields = {
        "description": TextAreaField(_l("Description"), validators=[Length(max=MAX_DESCRIPTION)]),
        "priority": SelectField(_l("Priority"), choices=list(PRIORITIES.items())),
        "expected_version": HiddenField(),
    }
    base_order = ("created_at", "desc")
    page_size = 25
    list_template = "civic/case_list.html"
    list_widget = CaseListWidget
    formatters_columns = {
        "status": status_label, "priority": priority_label, "channel": channel_label,
        "created_at": format_datetime, "expected_at": format_datetime, "assignee": user_label, "address": lambda v: v or "",
    }
    label_columns = {
        "reference": _l("Reference"), "service_type": _l("Service"), "status": _l("Status"),
        "priority": _l("Priority"), "department": _l("Department"), "assignee": _l("Assignee"),
        "channel": _l("Channel"), "address": _l("Address"), "created_at": _l("Created"),
        "expected_at": _l("Expected"), "closed_at": _l("Closed"), "description": _l("Description"),
        "tags": _l("Tags"), "zipcode": _l("ZIP code"), "lat": _l("Latitude"), "long": _l("Longitude"),
        "zone": _l("Zone"),
    }
    database_error_message = _l(
        "The case was not saved: someone else changed it at the same moment, or the database refused the change. "
        "Reload the case and try again."
    )

    # ---- list: the ?q= search box, the capped count

    def _get_list_widget(self, filters, **kwargs):
        """FAB's list, searched by ``?q=`` (with the other filters, in the user's scope, newest first)."""
        q = request.args.get("q", "")
        if len(q) > MAX_SEARCH_LENGTH:
            abort(400, description=gettext("%(field)s: at most %(max)s characters", field=gettext("Search"), max=MAX_SEARCH_LENGTH))
        searched = filters
        if search_words(q):
            searched = filters.copy()
            searched.add_filter("reference", CaseSearchFilter, q)
        widgets = super()._get_list_widget(filters=searched, **kwargs)
        # The page's links keep the user's own filters; ?q= rides along in the URL.
        widgets["list"].template_args.update(filters=filters, count_capped=g.pop("case_count_capped", False))
        return widgets

    def _case_or_404(self, pk) -> Case:
        """The case if it exists and lies in the user's scope; 404 otherwise (no hint which)."""
        case = self.datamodel.get(case_id_or_404(pk), self._base_filters)
        if case is None:
            abort(404)
        return case

    def _case_to_change(self, pk) -> Case:
        """The case, if the user may change it: 404 outside their scope, 403 when they only hold a task on it."""
        case = self._case_or_404(pk)
        if case_access(case) != "full":
            abort(403, description=gettext("Only the case's department changes this case; work your task from its Tasks panel."))
        return case

    # ---- case page

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        """The case page: its reads are shared with the panels (core.views.case_page), a fixed few statements."""
        from core.views.case_page import duplicate_lists, load_case

        page = load_case(case_id_or_404(pk), acting_user())
        if page is None:
            abort(404)
        case = page.case
        sm = self.appbuilder.sm
        access = page.access  # "task": they read the case and work only their tasks (core/views/tasks.py)
        can_act = sm.has_access("can_act", self.class_permission_name) and access == "full"
        departments = [d for d in page.departments if d.id != case.department_id] if can_act else []
        events = page.events
        panels = current_app.extensions["civic"].pm.flatten("case_panels", case=case)
        # Reports merged into this case leave a "merged" entry on its timeline: without one there are none.
        possible_duplicates, other_reports = duplicate_lists(
            case, case_scope(), candidates=can_act and case.is_open and case.duplicate_of_id is None,
            reports=any(e.kind == "merged" for e in events),
        )
        assignees = []
        if can_act:
            people = {u.id: u for u in [*page.staff(case.department_id), *page.staff(None)]}
            assignees = sorted(people.values(), key=lambda u: user_label(u).lower())
        return self.render_template(
            "civic/case_show.html",
            title=case.reference,
            case=case,
            attributes=attribute_rows(case),
            events=events,
            event_kinds=EVENT_KINDS,
            event_summary=event_summary,
            panels=sorted(panels, key=lambda p: p.order),
            transitions=[(code, status_label(code)) for code in TRANSITIONS.get(case.status, ())],
            assignees=assignees,
            departments=departments,
            can_act=can_act,
            possible_duplicates=possible_duplicates,
            other_reports=other_reports,
            can_edit=sm.has_access("can_edit", self.class_permission_name) and access == "full",
            access=access, open_tasks=[t for t in case.tasks if t.is_open], open_tasks_rule=open_tasks_rule(),
            attachments_include=_template_exists("civic/case_attachments.html"),
            attachment_routes="AttachmentView.download" in current_app.view_functions,
            status_label=status_label, priority_label=priority_label, channel_label=channel_label,
            user_label=user_label, now_utc=utcnow(), localized=localized, max_reason=MAX_REASON,
        )

    @expose("/act/<pk>", methods=["POST"])
    @has_access
    def act(self, pk):
        """Every action of the case page: one POST, CSRF-checked, carrying the version the user saw."""
        case = self._case_to_change(pk)
        back = redirect(url_for(".show", pk=case.id))
        handler = ACTIONS.get(request.form.get("action", ""))
        if handler is None:
            flash(gettext("%(field)s: %(message)s", field=FIELD_LABELS["action"], message=gettext("unknown action")), "danger")
            return back
        try:
            if request.form.get("action") not in APPEND_ONLY_ACTIONS:  # a note overwrites nothing
                case_service.check_version(case, request.form.get("version"))
            message = handler(case, request.form, Actor.of(current_user))
        except ConflictError as exc:
            text = conflict_message(exc.expected, exc.case.version)
            db.session.rollback()
            flash(text, "danger")
            flash_unsaved_text(request.form)
        except StaleDataError:  # changed between our read and our write
            db.session.rollback()
            flash(conflict_message(request.form.get("version"), db.session.get(Case, case.id).version), "danger")
            flash_unsaved_text(request.form)
        except CaseError as exc:
            db.session.rollback()
            flash_case_errors(exc)
        else:
            flash(message, "success")
            if not can_see_case(case):
                flash(gettext("Case %(reference)s is no longer in your departments.", reference=case.reference), "info")
                return redirect(url_for(".list"))
        return back

    # ---- edit

    @expose("/edit/<pk>", methods=["GET", "POST"])
    @has_access
    def edit(self, pk):
        """FAB's edit form, after the same 404 for a malformed, unknown or out-of-scope id as the case page
        (and a 403 for those who only hold a task on the case)."""
        case = self._case_to_change(pk)
        if request.method == "POST":
            stale = self._stale_edit(case)
            if stale is not None:
                return stale
        return super().edit(pk)

    def _stale_edit(self, case: Case):
        """A form saved over someone else's change comes back as the user typed it (nothing is lost, nothing
        overwritten), with the conflict named and what is saved now beside it; the form then carries the
        current version, so saving it again is a choice made knowingly.  None when the version is current."""
        try:
            case_service.check_version(case, request.form.get("expected_version"))
            return None
        except ConflictError as exc:
            message = gettext(
                "This case was changed by someone else while you had it open (you saw version %(expected)s, it is now "
                "version %(current)s). Nothing was saved; your text is kept in the form below: compare it with what "
                "is saved now, then save again to replace it, or reload the case to start from theirs.",
                expected=exc.expected, current=case.version,
            )
        except CaseError as exc:
            message = gettext("%(field)s: %(message)s", field=FIELD_LABELS["version"], message=exc.errors["version"][0])
        form = self.edit_form.refresh(request.form)
        saved = []
        for name in ("description", "priority", "address", "zipcode", "lat", "long", "zone"):
            value = getattr(case, name)
            typed = (request.form.get(name) or "").strip()
            if str(value if value is not None else "") != typed:
                shown = priority_label(value) if name == "priority" else ("" if value is None else value)
                saved.append(gettext("%(field)s: %(value)s", field=self.label_columns.get(name, name), value=shown))
        form.expected_version.data = case.version
        db.session.rollback()
        flash(message, "danger")
        if saved:
            flash(gettext("Saved now (version %(version)s): %(values)s", version=case.version, values="; ".join(saved)), "warning")
        widgets = self._get_edit_widget(form=form, exclude_cols=self._filters.get_relation_cols())
        return self.render_template(self.edit_template, title=self.edit_title, widgets=widgets, related_views=self._related_views), 409

    def prefill_form(self, form, pk):
        form.expected_version.data = db.session.get(Case, pk).version

    def pre_update(self, item):
        try:
            case_service.check_version(item, request.form.get("expected_version"))
        except ConflictError as exc:
            text = conflict_message(exc.expected, exc.case.version)
            db.session.rollback()
            raise EditRefused(text) from None
        except CaseError as exc:
            db.session.rollback()
            raise EditRefused(gettext("%(field)s: %(message)s", field=FIELD_LABELS["version"], message=exc.errors["version"][0])) from None
        g.civic_case_changes = case_service.record_edit(db.session, item, Actor.of(current_user))

    def post_update(self, item):
        changes = g.pop("civic_case_changes", None)
        if changes:
            current_app.extensions["civic"].pm.hook.case_updated(case=item, changes=changes)

    # ---- new case: pick a service, then its form

    @expose("/add", methods=["GET", "POST"])
    @has_access
    def add(self):
        code = request.args.get("service", "")
        service = None
        if code:
            service = db.session.scalar(select(ServiceType).where(ServiceType.code == code, ServiceType.active.is_(True)))
            if service is None:
                flash(gettext("%(field)s: %(message)s", field=FIELD_LABELS["service"], message=gettext("unknown service")), "danger")
        if service is None:
            services = db.session.scalars(select(ServiceType).where(ServiceType.active.is_(True))).all()
            # Grouped and sorted in the request's language.
            services = sorted(services, key=lambda s: (s.localized_group.lower(), s.localized_name.lower()))
            groups = [(group, list(items)) for group, items in groupby(services, key=lambda s: s.localized_group)]
            return self.render_template("civic/case_pick_service.html", title=self.add_title, groups=groups, localized=localized)

        form = new_case_form_class(service.attributes)()
        if form.validate_on_submit():
            try:
                case = case_service.create_case(
                    db.session,
                    service_code=service.code,
                    attributes=attribute_values(form, service.attributes),
                    actor=Actor.of(current_user),
                    **form.case_values(),
                )
            except CaseError as exc:
                db.session.rollback()
                for message in apply_case_errors(form, exc.errors):
                    flash(message, "danger")
            else:
                flash(gettext("Case %(reference)s created.", reference=case.reference), "success")
                if can_see_case(case):
                    return redirect(url_for(".show", pk=case.id))
                flash(gettext("It was routed to %(department)s, outside your departments.", department=case.department.localized_name), "info")
                return redirect(url_for(".list"))
        elif request.method == "POST":
            flash(gettext("The case was not created: correct the marked fields."), "danger")
        return self.render_template("civic/case_add.html", title=self.add_title, form=form, service=service, localized=localized)
