"""What every Civic Connect staff list screen shares."""
from __future__ import annotations

from flask import abort, request
from flask_appbuilder import ModelView
from flask_appbuilder.baseviews import expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import gettext
from sqlalchemy import Boolean

MAX_PAGE_SIZE = 100


def check_list_args(view_name: str, order_columns: list[str]) -> None:
    """FAB's list reads paging and ordering arguments unchecked (a bad one is a 500): refuse them with a 400."""
    args = request.args
    problems = []
    page, size = args.get(f"page_{view_name}"), args.get(f"psize_{view_name}")
    if page is not None and not (page.isdigit() and len(page) < 10):
        problems.append(gettext("%(field)s: must be a page number", field=gettext("Page")))
    if size is not None and not (size.isdigit() and 0 < int(size) <= MAX_PAGE_SIZE):
        problems.append(gettext("%(field)s: must be between 1 and %(max)s", field=gettext("Page size"), max=MAX_PAGE_SIZE))
    if args.get(f"_oc_{view_name}", order_columns[0]) not in order_columns:
        problems.append(gettext("%(field)s: cannot sort on this column", field=gettext("Order")))
    if args.get(f"_od_{view_name}", "asc") not in ("asc", "desc"):
        problems.append(gettext("%(field)s: must be asc or desc", field=gettext("Order direction")))
    if problems:
        abort(400, description=" ".join(problems))


def yes_no(value) -> str:
    """Booleans in the reader's language rather than Python's True/False."""
    if value is None:
        return ""
    return gettext("Yes") if value else gettext("No")


def blank_if_none(value):
    """An empty cell rather than Python's "None"."""
    return "" if value is None else value


def readable_formatters(model) -> dict:
    """Yes/No for booleans and nothing for empty values, for every column and relation of a model."""
    mapper = model.__mapper__
    out = {name: blank_if_none for name in mapper.attrs.keys()}
    out.update({name: yes_no for name, column in mapper.columns.items() if isinstance(column.type, Boolean)})
    return out


class CivicModelView(ModelView):
    """A FAB ModelView for our screens: booleans read Yes/No (translated), and its list refuses
    bad paging and sorting arguments with a 400 instead of a 500."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.formatters_columns = {**readable_formatters(self.datamodel.obj), **(self.formatters_columns or {})}

    @expose("/list/")
    @has_access
    def list(self):
        check_list_args(self.__class__.__name__, self.order_columns)
        return super().list()
