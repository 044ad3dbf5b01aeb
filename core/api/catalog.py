"""``/api/v1/department/`` and ``/api/v1/service/``: the catalog, readable by staff, written by admins.

Writes take the same shape as the city config file (a service names its
department by code; attribute definitions are Open311's) and are validated by
the same schemas.  Nothing is deleted: set ``active`` to false instead.

Languages: ``name``, ``description``, ``group`` and ``keywords`` are answered in
the request's language (``?_l_=fr`` or ``Accept-Language``), falling back to the
default; ``translations`` holds every language's texts, the default's included.
Attribute definitions come in their stored form (``description_i18n`` ...).
On writes each text is plain (the default language's) or a table
``{"en": "Pothole", "fr": "Nid-de-poule"}``.  On ``PUT`` a plain text changes the
default language only; a table replaces that text in every language.
"""
from __future__ import annotations

from typing import Any

from flask import current_app
from flask_appbuilder.api import expose, safe
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.security.decorators import permission_name, protect
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError, fields, validate
from sqlalchemy import select
from werkzeug.wrappers import Response

from core.api.base import CivicModelApi
from core.config import (
    DEPARTMENT_TEXTS,
    SERVICE_TEXTS,
    DepartmentSchema,
    Localized,
    ServiceSchema,
    localize_attribute,
    localize_texts,
)
from core.i18n_content import all_translations, localized
from core.models import Department, ServiceType
from core.records import ConfigProblem
from core.services.catalog import stored_translations


class Keywords(fields.List):
    """Keywords as a list of words, or as one comma-separated string."""

    def __init__(self, **kwargs: Any):
        super().__init__(fields.String(), **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            value = value.split(",")
        words = super()._deserialize(value, attr, data, **kwargs)
        return [w.strip() for w in words if w.strip()]


class DepartmentCreateSchema(DepartmentSchema):
    """The body of ``POST /api/v1/department/`` (as in the city config file)."""

    email = fields.Email(load_default=None, validate=validate.Length(max=254))


class DepartmentUpdateSchema(DepartmentCreateSchema):
    """The body of ``PUT /api/v1/department/<id>``: only the fields to change."""


class ServiceCreateSchema(ServiceSchema):
    """The body of ``POST /api/v1/service/`` (as in the city config file)."""

    keywords = Localized(Keywords(), load_default=list)


class ServiceUpdateSchema(ServiceCreateSchema):
    """The body of ``PUT /api/v1/service/<id>``: only the fields to change."""


def _load(schema: Schema, body: dict[str, Any], partial: bool) -> dict[str, Any]:
    """Validate; on update, fields left out stay as they are (nested definitions stay complete)."""
    missing = tuple(name for name in schema.fields if name not in body)
    return schema.load(body, partial=missing if partial else False)


def _ordered(attributes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    numbered = [{**a, "order": a.get("order") or i} for i, a in enumerate(attributes, start=1)]
    return sorted(numbered, key=lambda a: a["order"])


class CatalogApi(CivicModelApi):
    """Create and change catalog rows by code; the code is the key ``civic config sync`` uses, so it never changes."""

    include_route_methods = {"get", "get_list", "info", "post", "put"}
    create_schema: type[Schema]
    update_schema: type[Schema]
    noun = ""
    texts: tuple[str, ...] = ()  # the columns that have translations

    def to_row(self, data: dict[str, Any], errors: dict[str, list[str]], item=None) -> dict[str, Any]:
        """Turn validated input into column values: texts split into default + ``translations`` (subclasses
        also resolve references).  ``item`` is the row a PUT changes, None for a POST."""
        values = dict(data)
        tables = {name for name in self.texts if isinstance(values.get(name), dict)}
        problems: list[ConfigProblem] = []
        sent = localize_texts(values, self.texts, "", current_app.extensions["civic"].config.locale_rules, problems)
        for problem in problems:
            errors.setdefault(problem.key, []).append(problem.message)
        if item is None:
            values["translations"] = stored_translations(sent)
        elif tables:
            kept = {loc: {k: v for k, v in texts.items() if k not in tables} for loc, texts in (item.translations or {}).items()}
            for loc, texts in stored_translations(sent).items():
                kept.setdefault(loc, {}).update(texts)
            values["translations"] = {loc: texts for loc, texts in kept.items() if texts}
        return values

    # -- answers in the request's language ---------------------------------------------------

    def present(self, rows: list[dict[str, Any]]) -> None:
        """Texts in the request's language; ``translations`` with every language (in place)."""
        for row in rows:
            if "translations" not in row:
                continue
            texts = [name for name in self.texts if name in row]
            row["translations"] = all_translations(row, tuple(texts))
            for name in texts:
                row[name] = localized({**row, "translations": row["translations"]}, name)

    def dump(self, item) -> dict[str, Any]:
        row = self.show_model_schema.dump(item)
        self.present([row])
        return row

    def pre_get(self, data: dict[str, Any]) -> None:
        self.present([data["result"]])

    def pre_get_list(self, data: dict[str, Any]) -> None:
        self.present(data["result"])

    def _exists(self, code: str) -> bool:
        model = self.datamodel.obj
        return self.datamodel.session.scalar(select(model.id).where(model.code == code)) is not None

    @expose("/", methods=["POST"])
    @protect()
    @safe
    @permission_name("post")
    def post(self) -> Response:
        """Add a catalog entry
        ---
        post:
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  $ref: '#/components/schemas/{{self.__class__.__name__}}.post'
          responses:
            201:
              description: The new entry
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      id:
                        type: integer
                      result:
                        $ref: '#/components/schemas/{{self.__class__.__name__}}.get'
            400:
              $ref: '#/components/responses/400'
            401:
              $ref: '#/components/responses/401'
            403:
              $ref: '#/components/responses/403'
        """
        body, error = self.json_object()
        if error:
            return error
        try:
            data = _load(self.create_schema(), body, partial=False)
        except ValidationError as exc:
            return self.response_fields(exc.messages)
        errors: dict[str, list[str]] = {}
        if self._exists(data["code"]):
            errors["code"] = [gettext("a %(noun)s with code '%(code)s' already exists", noun=self.noun, code=data["code"])]
        values = self.to_row(data, errors)
        if errors:
            return self.response_fields(errors)
        item = self.datamodel.obj(**values)
        session = self.datamodel.session
        session.add(item)
        session.commit()
        return self.response(201, id=item.id, result=self.dump(item))

    @expose("/<int:pk>", methods=["PUT"])
    @protect()
    @safe
    @permission_name("put")
    def put(self, pk: int) -> Response:
        """Change a catalog entry (send only the fields to change; `active: false` retires it)
        ---
        put:
          parameters:
          - in: path
            schema:
              type: integer
            name: pk
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  $ref: '#/components/schemas/{{self.__class__.__name__}}.put'
          responses:
            200:
              description: The changed entry
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      id:
                        type: integer
                      result:
                        $ref: '#/components/schemas/{{self.__class__.__name__}}.get'
            400:
              $ref: '#/components/responses/400'
            401:
              $ref: '#/components/responses/401'
            403:
              $ref: '#/components/responses/403'
            404:
              $ref: '#/components/responses/404'
        """
        item = self.datamodel.get(pk, self._base_filters) if self.id_in_range(pk) else None
        if item is None:
            return self.response_404()
        body, error = self.json_object()
        if error:
            return error
        try:
            data = _load(self.update_schema(), body, partial=True)
        except ValidationError as exc:
            return self.response_fields(exc.messages)
        errors: dict[str, list[str]] = {}
        if "code" in data and data["code"] != item.code:
            errors["code"] = [gettext("cannot change (it is the key of the city config); add a new %(noun)s and deactivate this one", noun=self.noun)]
        values = self.to_row(data, errors, item)
        if errors:
            return self.response_fields(errors)
        for name, value in values.items():
            setattr(item, name, value)
        self.datamodel.session.commit()
        return self.response(200, id=item.id, result=self.dump(item))


class DepartmentApi(CatalogApi):
    """City departments."""

    resource_name = "department"
    datamodel = SQLAInterface(Department)
    create_schema = DepartmentCreateSchema
    update_schema = DepartmentUpdateSchema
    add_model_schema = DepartmentCreateSchema()
    edit_model_schema = DepartmentUpdateSchema()
    add_columns = list(DepartmentCreateSchema._declared_fields)
    edit_columns = list(DepartmentUpdateSchema._declared_fields)
    noun = _l("department")
    texts = DEPARTMENT_TEXTS
    list_columns = show_columns = ["id", "code", "name", "email", "phone", "active", "translations"]
    search_columns = ["code", "name", "active"]
    order_columns = ["code", "name"]
    base_order = ("name", "asc")
    list_title = _l("Departments")
    show_title = _l("Department")
    label_columns = {
        "code": _l("Code"), "name": _l("Name"), "email": _l("E-mail"), "phone": _l("Phone"), "active": _l("Active"),
        "translations": _l("Translations"),
    }


class ServiceTypeApi(CatalogApi):
    """The service catalog, with each service's Open311 attribute definitions."""

    resource_name = "service"
    datamodel = SQLAInterface(ServiceType)
    create_schema = ServiceCreateSchema
    update_schema = ServiceUpdateSchema
    add_model_schema = ServiceCreateSchema()
    edit_model_schema = ServiceUpdateSchema()
    add_columns = list(ServiceCreateSchema._declared_fields)
    edit_columns = list(ServiceUpdateSchema._declared_fields)
    noun = _l("service")
    texts = SERVICE_TEXTS
    list_columns = show_columns = [
        "id", "code", "name", "description", "group", "keywords", "department.code", "department.name",
        "sla_hours", "public", "type", "active", "attributes", "translations",
    ]
    search_columns = ["code", "name", "group", "department", "public", "active"]
    order_columns = ["code", "name", "group", "sla_hours"]
    base_order = ("code", "asc")
    list_title = _l("Services")
    show_title = _l("Service")
    label_columns = {
        "code": _l("Code"), "name": _l("Name"), "description": _l("Description"), "group": _l("Group"),
        "keywords": _l("Keywords"), "department.code": _l("Department"), "department.name": _l("Department name"),
        "sla_hours": _l("SLA (hours)"), "public": _l("Public"), "type": _l("Type"), "active": _l("Active"),
        "attributes": _l("Attributes"), "translations": _l("Translations"),
    }

    def present(self, rows: list[dict[str, Any]]) -> None:
        """As every catalog answer, and each service's department name in the request's language too."""
        super().present(rows)
        codes = {row["department"]["code"] for row in rows if isinstance(row.get("department"), dict) and "code" in row["department"]}
        if not codes:
            return
        found = self.datamodel.session.execute(
            select(Department.code, Department.name, Department.translations).where(Department.code.in_(codes))
        ).all()
        names = {d.code: localized(d, "name") for d in found}
        for row in rows:
            dept = row.get("department")
            if isinstance(dept, dict) and dept.get("code") in names and "name" in dept:
                dept["name"] = names[dept["code"]]

    def to_row(self, data: dict[str, Any], errors: dict[str, list[str]], item=None) -> dict[str, Any]:
        values = super().to_row(data, errors, item)
        if "department" in values:
            code = values["department"]
            dept = self.datamodel.session.scalar(select(Department).where(Department.code == code))
            if dept is None:
                errors["department"] = [gettext("unknown department '%(code)s'", code=code)]
            values["department"] = dept
        if "keywords" in values:
            values["keywords"] = ",".join(values["keywords"])
            if len(values["keywords"]) > 500:
                errors["keywords"] = [gettext("are %(n)d characters long together; the limit is 500", n=len(values["keywords"]))]
        if "attributes" in values:
            problems: list[ConfigProblem] = []
            rules = current_app.extensions["civic"].config.locale_rules
            for i, defn in enumerate(values["attributes"]):
                localize_attribute(defn, f"attributes[{i}]", rules, problems)
            for problem in problems:
                errors.setdefault(problem.key, []).append(problem.message)
            values["attributes"] = _ordered(values["attributes"])
        return values
