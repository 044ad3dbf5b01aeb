"""``/api/v1/case/``: cases for staff, scoped to the departments each user works for.

Creating goes through ``create_case`` and changing through the case services,
so the API numbers, routes and records a case exactly like every other channel.
"""
from __future__ import annotations

from typing import Any

from flask import current_app, g
from flask_appbuilder.api import expose, safe
from flask_appbuilder.security.decorators import permission_name, protect
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.wrappers import Response

from core.api.base import CivicModelApi
from core.i18n_content import localized
from core.models import CHANNELS, PRIORITIES, STATUSES, TRANSITIONS, Case, CaseEvent, ServiceType
from core.security import CaseScopeFilter, acting_user, case_access
from core.services.cases import (
    MAX_DESCRIPTION,
    Actor,
    CaseError,
    ConflictError,
    assign,
    change_status,
    check_version,
    create_case,
    record_edit,
    set_tags,
)
from core.services.tasks import check_open_tasks
from core.views.cases import CaseInterface


def _api_user():
    return acting_user()


def _text(max_length: int, **kwargs: Any) -> fields.String:
    return fields.String(validate=validate.Length(max=max_length), **kwargs)


class CaseCreateSchema(Schema):
    """The body of ``POST /api/v1/case/``."""

    service_code = fields.String(required=True, metadata={"description": "A service code from /api/v1/service/"})
    description = _text(MAX_DESCRIPTION)
    priority = fields.String(validate=validate.OneOf(list(PRIORITIES)))
    channel = fields.String(validate=validate.OneOf(list(CHANNELS)))
    address = _text(300, allow_none=True)
    address_id = _text(64, allow_none=True)
    zipcode = _text(10, allow_none=True)
    lat = fields.Float(allow_none=True)
    long = fields.Float(allow_none=True)
    zone = _text(50, allow_none=True)
    attributes = fields.Dict(keys=fields.String(), allow_none=True, metadata={"description": "Values for the service's attributes, by code"})
    contact_name = _text(200, allow_none=True)
    contact_email = fields.Email(allow_none=True, validate=validate.Length(max=254))
    contact_phone = _text(40, allow_none=True)
    tags = fields.List(_text(64))


class CaseUpdateSchema(Schema):
    """The body of ``PUT /api/v1/case/<id>``: only the fields to change, plus the version edited."""

    version = fields.Integer(
        required=True,
        error_messages={"required": _l("is required: send the version of the case you edited")},
        metadata={"description": "The case's version when you loaded it; a stale version is refused with 409"},
    )
    description = _text(MAX_DESCRIPTION)
    priority = fields.String(validate=validate.OneOf(list(PRIORITIES)))
    address = _text(300, allow_none=True)
    zipcode = _text(10, allow_none=True)
    lat = fields.Float(allow_none=True, validate=validate.Range(-90, 90))
    long = fields.Float(allow_none=True, validate=validate.Range(-180, 180))
    zone = _text(50, allow_none=True)
    tags = fields.List(_text(64))
    status = fields.String(validate=validate.OneOf(list(STATUSES)))
    assignee = fields.String(allow_none=True, metadata={"description": "A staff username, or null to unassign"})
    confirm_open_tasks = fields.Boolean(
        metadata={"description": "Resolve or close the case although some of its tasks are open (when the city's "
                                 "[cases] open_tasks_on_resolve is \"confirm\"); recorded on the timeline"}
    )

    @validates_schema
    def _location_pairs(self, data, **kwargs):
        if ("lat" in data) != ("long" in data):
            raise ValidationError(_l("lat and long go together"), "long" if "lat" in data else "lat")


class CaseEventSchema(Schema):
    """One timeline entry."""

    id = fields.Integer()
    kind = fields.String()
    kind_label = fields.Function(lambda ev: str(ev.kind_label))
    created_at = fields.DateTime()
    actor_label = fields.String()
    public = fields.Boolean()
    body = fields.String()
    data = fields.Dict()


# Plain fields the PUT may change; they go on the timeline through record_edit.
_FIELD_EDITS = ("description", "priority", "address", "zipcode", "lat", "long", "zone")

_COLUMNS = [
    "id", "reference", "service_type.code", "service_type.name", "status", "status_label", "priority", "channel",
    "department.code", "assignee.username", "address", "zipcode", "lat", "long", "zone", "tags.name", "attributes",
    "expected_at", "created_at", "updated_at", "closed_at", "version",
]


class CaseApi(CivicModelApi):
    """Cases for staff: list, read, create (through ``create_case``) and change; never delete."""

    resource_name = "case"
    # The staff list's interface: a count that stops at its cap (``count_capped`` says so) and deep pages
    # read through the ordering index (core.views.cases.CaseInterface).
    datamodel = CaseInterface(Case)
    base_filters = [["id", CaseScopeFilter, None]]
    include_route_methods = {"get", "get_list", "info", "post", "put", "events"}
    openapi_spec_component_schemas = (CaseEventSchema,)
    page_size = 25
    base_order = ("created_at", "desc")
    search_columns = ["status", "department", "service_type", "channel", "created_at"]
    order_columns = ["created_at", "updated_at", "expected_at", "closed_at", "reference", "status", "priority"]
    list_columns = _COLUMNS
    show_columns = _COLUMNS + [
        "description", "address_id", "contact_name", "contact_email", "contact_phone", "account.id", "account.name",
    ]
    add_model_schema = CaseCreateSchema()
    edit_model_schema = CaseUpdateSchema()
    add_columns = list(CaseCreateSchema._declared_fields)
    edit_columns = list(CaseUpdateSchema._declared_fields)
    list_title = _l("Cases")
    show_title = _l("Case")
    add_title = _l("New case")
    edit_title = _l("Edit case")
    label_columns = {
        "reference": _l("Reference"), "service_type.code": _l("Service code"), "service_type.name": _l("Service"),
        "status": _l("Status"), "status_label": _l("Status name"), "priority": _l("Priority"), "channel": _l("Channel"),
        "department.code": _l("Department"), "assignee.username": _l("Assignee"), "address": _l("Address"),
        "zipcode": _l("ZIP code"), "lat": _l("Latitude"), "long": _l("Longitude"), "zone": _l("Zone"),
        "tags.name": _l("Tags"), "attributes": _l("Attributes"), "expected_at": _l("Expected"),
        "created_at": _l("Created"), "updated_at": _l("Updated"), "closed_at": _l("Closed"), "version": _l("Version"),
        "description": _l("Description"), "contact_name": _l("Contact name"), "contact_email": _l("Contact e-mail"),
        "contact_phone": _l("Contact phone"), "account.id": _l("Account id"), "account.name": _l("Account"),
        "address_id": _l("Address id"), "service_code": _l("Service code"), "tags": _l("Tags"), "assignee": _l("Assignee"),
    }

    # -- service names in the request's language ---------------------------------------------

    def localize_services(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Each case's ``service_type.name`` in the request's language (one query per answer)."""
        codes = {r["service_type"]["code"] for r in rows if isinstance(r.get("service_type"), dict) and "code" in r["service_type"]}
        if codes:
            found = self.datamodel.session.execute(
                select(ServiceType.code, ServiceType.name, ServiceType.translations).where(ServiceType.code.in_(codes))
            ).all()
            names = {s.code: localized(s, "name") for s in found}
            for row in rows:
                service = row.get("service_type")
                if isinstance(service, dict) and "name" in service and service.get("code") in names:
                    service["name"] = names[service["code"]]
        return rows

    def pre_get(self, data: dict[str, Any]) -> None:
        self.localize_services([data["result"]])

    def pre_get_list(self, data: dict[str, Any]) -> None:
        self.localize_services(data["result"])
        data["count_capped"] = bool(g.pop("case_count_capped", False))

    def dump(self, case: Case) -> dict[str, Any]:
        return self.localize_services([self.show_model_schema.dump(case)])[0]

    # -- create ------------------------------------------------------------------------------

    @expose("/", methods=["POST"])
    @protect()
    @safe
    @permission_name("post")
    def post(self) -> Response:
        """Create a case through the same service as every other channel
        ---
        post:
          description: >-
            Validates, numbers, routes and records a new case. Errors name each field.
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  $ref: '#/components/schemas/{{self.__class__.__name__}}.post'
          responses:
            201:
              description: The new case
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
            data = CaseCreateSchema().load(body)
            case = create_case(self.datamodel.session, **data, actor=Actor.of(_api_user()))
        except ValidationError as exc:
            return self.response_fields(exc.messages)
        except CaseError as exc:
            self.datamodel.session.rollback()
            return self.response_fields(exc.errors)
        return self.response(201, id=case.id, result=self.dump(case))

    # -- change ------------------------------------------------------------------------------

    @expose("/<int:pk>", methods=["PUT"])
    @protect()
    @safe
    @permission_name("put")
    def put(self, pk: int) -> Response:
        """Change a case; send the version you edited
        ---
        put:
          description: >-
            Changes only the fields sent. Status changes follow the workflow;
            a stale version is refused with 409 and nothing is written.
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
              description: The changed case
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
              description: The user only holds a task on the case (or may not change cases)
            404:
              $ref: '#/components/responses/404'
            409:
              description: The case changed since the client loaded it
        """
        case = self.datamodel.get(pk, self._base_filters) if self.id_in_range(pk) else None
        if case is None:
            return self.response_404()
        if case_access(case, _api_user()) != "full":  # they hold a task on it: /api/v1/task/ is theirs
            return self.response(403, message=gettext("Only the case's department changes this case; work your task through /api/v1/task/."))
        body, error = self.json_object()
        if error:
            return error
        try:
            data = CaseUpdateSchema().load(body)
            check_version(case, data.pop("version"))
            assignee = self._check_update(case, data)
            self._apply(case, data, assignee)
        except ValidationError as exc:
            return self.response_fields(exc.messages)
        except CaseError as exc:
            self.datamodel.session.rollback()
            return self.response_fields(exc.errors)
        except ConflictError as exc:
            return self.response(409, message=str(exc))
        except StaleDataError:  # someone saved between our check and our write
            session = self.datamodel.session
            session.rollback()
            return self.response(409, message=str(ConflictError(session.get(Case, pk), _version_sent(body))))
        return self.response(200, id=case.id, result=self.dump(case))

    def _check_update(self, case: Case, data: dict[str, Any]):
        """Everything that could refuse the change, checked before anything is written."""
        errors: dict[str, list[str]] = {}
        status = data.get("status")
        if status and status != case.status and status not in TRANSITIONS[case.status]:
            errors["status"] = [gettext("cannot go from %(old)s to %(new)s; allowed: %(allowed)s", old=case.status, new=status, allowed=", ".join(TRANSITIONS[case.status]))]
        assignee = None
        if data.get("assignee"):
            assignee = current_app.appbuilder.sm.find_user(username=data["assignee"])
            if assignee is None or not assignee.is_active:
                errors["assignee"] = [gettext("no active staff user '%(name)s'", name=data["assignee"])]
            elif case_access(case, assignee) != "full":
                errors["assignee"] = [gettext("%(name)s does not work for department %(dept)s", name=data["assignee"], dept=case.department.code)]
        if errors:
            raise CaseError(errors)
        if status:
            check_open_tasks(self.datamodel.session, case, status, data.get("confirm_open_tasks", False))
        return assignee

    def _apply(self, case: Case, data: dict[str, Any], assignee) -> None:
        session = self.datamodel.session
        actor = Actor.of(_api_user())
        for name in _FIELD_EDITS:
            if name in data:
                value = data[name]
                if isinstance(value, str):
                    value = value.strip() or (None if name != "description" else "")
                setattr(case, name, value)
        changes = record_edit(session, case, actor)
        if changes:
            session.commit()
            current_app.extensions["civic"].pm.hook.case_updated(case=case, changes=changes)
        if "tags" in data:
            set_tags(session, case, data["tags"], actor)
        if "assignee" in data:
            assign(session, case, assignee, actor)
        if "status" in data:
            change_status(session, case, data["status"], actor, confirm_open_tasks=data.get("confirm_open_tasks", False))

    # -- timeline ----------------------------------------------------------------------------

    @expose("/<int:pk>/events", methods=["GET"])
    @protect()
    @safe
    @permission_name("get")
    def events(self, pk: int) -> Response:
        """The case's timeline, oldest first
        ---
        get:
          description: >-
            Every entry of the append-only timeline: creation, routing, status changes,
            assignments, edits, notes and attachments.
          parameters:
          - in: path
            schema:
              type: integer
            name: pk
          responses:
            200:
              description: The timeline
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      id:
                        type: integer
                      count:
                        type: integer
                      result:
                        type: array
                        items:
                          $ref: '#/components/schemas/CaseEventSchema'
            401:
              $ref: '#/components/responses/401'
            404:
              $ref: '#/components/responses/404'
        """
        case = self.datamodel.get(pk, self._base_filters) if self.id_in_range(pk) else None
        if case is None:
            return self.response_404()
        stmt = select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.created_at, CaseEvent.id)
        events = self.datamodel.session.scalars(stmt).all()
        return self.response(200, id=case.id, count=len(events), result=CaseEventSchema(many=True).dump(events))


def _version_sent(body: dict[str, Any]) -> int:
    try:
        return int(body.get("version"))
    except (TypeError, ValueError):
        return 0
