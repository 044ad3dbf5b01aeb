"""``/api/v1/department/`` and ``/api/v1/service/``: the catalog, readable by staff, written by admins.

Writes take the same shape as the city config file (a service names its
department by code; attribute definitions are Open311's) and are validated by
the same schemas.  Nothing is deleted: set ``active`` to false instead.
"""
from __future__ import annotations

from typing import Any

from flask_appbuilder.api import expose, safe
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.security.decorators import permission_name, protect
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError, fields, validate
from sqlalchemy import select
from werkzeug.wrappers import Response

from core.api.base import CivicModelApi
from core.config import DepartmentSchema, ServiceSchema
from core.models import Department, ServiceType


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

    keywords = Keywords(load_default=list)


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

    def to_row(self, data: dict[str, Any], errors: dict[str, list[str]]) -> dict[str, Any]:
        """Turn validated input into column values (subclasses resolve references)."""
        return data

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
        return self.response(201, id=item.id, result=self.show_model_schema.dump(item))

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
        values = self.to_row(data, errors)
        if errors:
            return self.response_fields(errors)
        for name, value in values.items():
            setattr(item, name, value)
        self.datamodel.session.commit()
        return self.response(200, id=item.id, result=self.show_model_schema.dump(item))


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
    list_columns = show_columns = ["id", "code", "name", "email", "phone", "active"]
    search_columns = ["code", "name", "active"]
    order_columns = ["code", "name"]
    base_order = ("name", "asc")
    list_title = _l("Departments")
    show_title = _l("Department")
    label_columns = {"code": _l("Code"), "name": _l("Name"), "email": _l("E-mail"), "phone": _l("Phone"), "active": _l("Active")}


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
    list_columns = show_columns = [
        "id", "code", "name", "description", "group", "keywords", "department.code", "department.name",
        "sla_hours", "public", "type", "active", "attributes",
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
        "attributes": _l("Attributes"),
    }

    def to_row(self, data: dict[str, Any], errors: dict[str, list[str]]) -> dict[str, Any]:
        values = dict(data)
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
            values["attributes"] = _ordered(values["attributes"])
        return values
