"""``/api/v1/task/``: the tasks of cases, scoped and ruled like the Tasks panel of the case page.

Reading: the tasks of every case the user may open.  Writing goes through
core.services.tasks (never a raw model write), so every change is on the
case's timeline: those with full access to the case add tasks and change
everything; staff of the task's department, its assignee and its crew change
its status, assignee and crew and add notes and photos.
"""
from __future__ import annotations

from typing import Any

from flask import current_app, request
from flask_appbuilder.api import expose, safe
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.security.decorators import permission_name, protect
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError, fields, validate
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.wrappers import Response

from core.api.base import MAX_ID, CivicModelApi
from core.models import TASK_STATUSES, Case, Crew, Department, Task
from core.security import RelatedCaseScopeFilter, acting_user, can_work_task, case_access
from core.services import tasks as task_service
from core.services.cases import MAX_DESCRIPTION, Actor, CaseError
from core.services.tasks import MAX_TITLE, TaskConflictError

# What only those with the whole case may change; a task's own department changes the rest.
OWNER_FIELDS = ("title", "instructions", "due_at", "department")
_DUE = "Naive times are UTC; a time with an offset is converted to UTC."


class TaskCreateSchema(Schema):
    """The body of ``POST /api/v1/task/``."""

    case_id = fields.Integer(required=True, validate=validate.Range(1, MAX_ID), metadata={"description": "The case the task is for"})
    department = fields.String(required=True, validate=validate.Length(max=64), metadata={"description": "A department code"})
    title = fields.String(required=True, validate=validate.Length(min=1, max=MAX_TITLE))
    instructions = fields.String(validate=validate.Length(max=MAX_DESCRIPTION))
    due_at = fields.DateTime(allow_none=True, metadata={"description": _DUE})
    assignee = fields.String(allow_none=True, validate=validate.Length(max=256), metadata={"description": "A staff username"})
    crew = fields.String(allow_none=True, validate=validate.Length(max=100), metadata={"description": "A crew name"})


class TaskUpdateSchema(Schema):
    """The body of ``PUT /api/v1/task/<id>``: the fields to change and the version edited."""

    version = fields.Integer(
        required=True,
        error_messages={"required": _l("is required: send the version of the task you edited")},
        metadata={"description": "The task's version when you loaded it; a stale version is refused with 409"},
    )
    status = fields.String(validate=validate.OneOf(list(TASK_STATUSES)))
    note = fields.String(validate=validate.Length(max=MAX_DESCRIPTION),
                         metadata={"description": "Goes with the status change (required to block), or alone as a note"})
    assignee = fields.String(allow_none=True, validate=validate.Length(max=256), metadata={"description": "A staff username, or null"})
    crew = fields.String(allow_none=True, validate=validate.Length(max=100), metadata={"description": "A crew name, or null"})
    title = fields.String(validate=validate.Length(min=1, max=MAX_TITLE))
    instructions = fields.String(validate=validate.Length(max=MAX_DESCRIPTION))
    due_at = fields.DateTime(allow_none=True, metadata={"description": _DUE})
    department = fields.String(validate=validate.Length(max=64), metadata={"description": "A department code"})


class TaskNoteSchema(Schema):
    """The body of ``POST /api/v1/task/<id>/note``."""

    body = fields.String(required=True, validate=validate.Length(min=1, max=MAX_DESCRIPTION))


_COLUMNS = [
    "id", "case.id", "case.reference", "department.code", "title", "instructions", "status", "status_label",
    "assignee.username", "crew.name", "due_at", "template", "created_at", "updated_at", "started_at", "completed_at", "version",
]


class TaskApi(CivicModelApi):
    """Tasks of cases: list, read, add, change, notes and photos; never delete (a task is cancelled)."""

    resource_name = "task"
    datamodel = SQLAInterface(Task)
    base_filters = [["id", RelatedCaseScopeFilter, None]]
    include_route_methods = {"get", "get_list", "info", "post", "put", "note", "photo"}
    openapi_spec_component_schemas = (TaskNoteSchema,)
    page_size = 25
    base_order = ("id", "desc")
    search_columns = ["status", "department", "case", "assignee", "crew", "due_at", "created_at", "updated_at"]
    order_columns = ["id", "due_at", "created_at", "updated_at", "status"]
    list_columns = show_columns = _COLUMNS
    add_model_schema = TaskCreateSchema()
    edit_model_schema = TaskUpdateSchema()
    add_columns = list(TaskCreateSchema._declared_fields)
    edit_columns = list(TaskUpdateSchema._declared_fields)
    list_title = _l("Tasks")
    show_title = _l("Task")
    add_title = _l("New task")
    edit_title = _l("Edit task")
    label_columns = {
        "case.id": _l("Case id"), "case.reference": _l("Case"), "department.code": _l("Department"), "title": _l("Title"),
        "instructions": _l("Instructions"), "status": _l("Status"), "status_label": _l("Status name"),
        "assignee.username": _l("Assignee"), "crew.name": _l("Crew"), "due_at": _l("Due"), "template": _l("Template"),
        "created_at": _l("Created"), "updated_at": _l("Updated"), "started_at": _l("Started"), "completed_at": _l("Finished"),
        "version": _l("Version"), "case_id": _l("Case id"), "department": _l("Department"), "assignee": _l("Assignee"),
        "crew": _l("Crew"), "note": _l("Note"),
    }

    # -- helpers -----------------------------------------------------------------------------

    def dump(self, task: Task) -> dict[str, Any]:
        return self.show_model_schema.dump(task)

    def _task(self, pk: int) -> Task | None:
        return self.datamodel.get(pk, self._base_filters) if self.id_in_range(pk) else None

    def _refused(self, task: Task) -> Response | None:
        """403 unless the user may work the task."""
        if not can_work_task(task, acting_user()):
            return self.response(403, message=gettext("This task belongs to another department."))
        return None

    def _lookups(self, data: dict[str, Any], errors: dict[str, list[str]]) -> dict[str, Any]:
        """Department code, username and crew name as rows (a name that matches none is a field error)."""
        session = self.datamodel.session
        out: dict[str, Any] = {}
        if "department" in data:
            out["department"] = session.scalar(select(Department).where(Department.code == data["department"]))
            if out["department"] is None:
                errors["department"] = [gettext("unknown department '%(code)s'", code=data["department"])]
        if "assignee" in data:
            out["assignee"] = current_app.appbuilder.sm.find_user(username=data["assignee"]) if data["assignee"] else None
            if data["assignee"] and (out["assignee"] is None or not out["assignee"].is_active):
                errors["assignee"] = [gettext("no active staff user '%(name)s'", name=data["assignee"])]
        if "crew" in data:
            out["crew"] = session.scalar(select(Crew).where(Crew.name == data["crew"])) if data["crew"] else None
            if data["crew"] and out["crew"] is None:
                errors["crew"] = [gettext("unknown crew '%(name)s'", name=data["crew"])]
        return out

    # -- add ---------------------------------------------------------------------------------

    @expose("/", methods=["POST"])
    @protect()
    @safe
    @permission_name("post")
    def post(self) -> Response:
        """Add a task to a case
        ---
        post:
          description: >-
            For those with the whole case (its department, dispatchers, admins). The task goes on the
            case's timeline. Errors name each field.
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  $ref: '#/components/schemas/{{self.__class__.__name__}}.post'
          responses:
            201:
              description: The new task
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
              description: The user only holds a task on the case (or may not add tasks)
        """
        body, error = self.json_object()
        if error:
            return error
        session = self.datamodel.session
        try:
            data = TaskCreateSchema().load(body)
        except ValidationError as exc:
            return self.response_fields(exc.messages)
        case = session.get(Case, data["case_id"])
        access = case_access(case, acting_user()) if case is not None else None
        if access is None:  # no hint whether it exists
            return self.response_fields({"case_id": [gettext("no case %(id)s among the cases you can open", id=data["case_id"])]})
        if access != "full":
            return self.response(403, message=gettext("Only the case's department adds tasks to it."))
        errors: dict[str, list[str]] = {}
        rows = self._lookups(data, errors)
        if errors:
            return self.response_fields(errors)
        try:
            task = task_service.add_task(
                session, case, department=rows["department"], title=data["title"], instructions=data.get("instructions", ""),
                due_at=data.get("due_at"), assignee=rows.get("assignee"), crew=rows.get("crew"), actor=Actor.of(acting_user()),
            )
        except CaseError as exc:
            session.rollback()
            return self.response_fields(exc.errors)
        return self.response(201, id=task.id, result=self.dump(task))

    # -- change ------------------------------------------------------------------------------

    @expose("/<int:pk>", methods=["PUT"])
    @protect()
    @safe
    @permission_name("put")
    def put(self, pk: int) -> Response:
        """Work or change a task; send the version you edited
        ---
        put:
          description: >-
            Changes only the fields sent. The task's own department (staff, assignee, crew) may change
            status, note, assignee and crew; title, instructions, due_at and department are for those
            with the whole case. A stale version is refused with 409 and nothing is written.
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
              description: The changed task
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
              description: The task belongs to another department, or a field is only for the case's department
            404:
              $ref: '#/components/responses/404'
            409:
              description: The task changed since the client loaded it
        """
        task = self._task(pk)
        if task is None:
            return self.response_404()
        refused = self._refused(task)
        if refused:
            return refused
        body, error = self.json_object()
        if error:
            return error
        session = self.datamodel.session
        try:
            data = TaskUpdateSchema().load(body)
        except ValidationError as exc:
            return self.response_fields(exc.messages)
        owner_only = sorted(set(OWNER_FIELDS) & set(data))
        if owner_only and case_access(task.case, acting_user()) != "full":
            message = gettext("only the case's department changes this")
            return self.response(403, message={name: [message] for name in owner_only})
        errors: dict[str, list[str]] = {}
        rows = self._lookups(data, errors)
        if errors:
            return self.response_fields(errors)
        actor = Actor.of(acting_user())
        try:
            task_service.check_task_version(task, data.pop("version"))
            if "status" in data:
                task_service.check_task_status(task, data["status"], data.get("note", ""))  # before anything is written
            fields_ = {k: rows.get(k, data.get(k)) for k in ("title", "instructions", "due_at", "department", "assignee", "crew") if k in data}
            if fields_:
                task_service.update_task(session, task, actor, **fields_)
            if "status" in data and data["status"] != task.status:
                task_service.change_task_status(session, task, data["status"], actor, note=data.get("note", ""))
            elif data.get("note", "").strip():
                task_service.add_task_note(session, task, data["note"], actor)
        except CaseError as exc:
            session.rollback()
            return self.response_fields(exc.errors)
        except TaskConflictError as exc:
            return self.response(409, message=str(exc))
        except StaleDataError:  # someone saved between our check and our write
            session.rollback()
            return self.response(409, message=gettext("the task or its case was changed by someone else at the same moment; reload it and apply your change again"))
        return self.response(200, id=task.id, result=self.dump(task))

    # -- notes and photos --------------------------------------------------------------------

    @expose("/<int:pk>/note", methods=["POST"])
    @protect()
    @safe
    @permission_name("put")
    def note(self, pk: int) -> Response:
        """Add an internal note to a task
        ---
        post:
          description: >-
            The note goes on the case's timeline (staff only, never shown to the resident).
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
                  $ref: '#/components/schemas/TaskNoteSchema'
          responses:
            201:
              description: The timeline entry
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      id:
                        type: integer
            400:
              $ref: '#/components/responses/400'
            401:
              $ref: '#/components/responses/401'
            403:
              description: The task belongs to another department
            404:
              $ref: '#/components/responses/404'
        """
        task = self._task(pk)
        if task is None:
            return self.response_404()
        refused = self._refused(task)
        if refused:
            return refused
        body, error = self.json_object()
        if error:
            return error
        try:
            data = TaskNoteSchema().load(body)
            event = task_service.add_task_note(self.datamodel.session, task, data["body"], Actor.of(acting_user()))
        except ValidationError as exc:
            return self.response_fields(exc.messages)
        except CaseError as exc:
            self.datamodel.session.rollback()
            return self.response_fields(exc.errors)
        return self.response(201, id=event.id)

    @expose("/<int:pk>/photo", methods=["POST"])
    @protect()
    @safe
    @permission_name("put")
    def photo(self, pk: int) -> Response:
        """Add a photo (or PDF) of a task's work
        ---
        post:
          description: >-
            Checked by content and cleaned (EXIF removed) like every attachment; staff only.
          parameters:
          - in: path
            schema:
              type: integer
            name: pk
          requestBody:
            required: true
            content:
              multipart/form-data:
                schema:
                  type: object
                  properties:
                    file:
                      type: string
                      format: binary
          responses:
            201:
              description: The stored attachment
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      id:
                        type: integer
                      name:
                        type: string
                      content_type:
                        type: string
            400:
              $ref: '#/components/responses/400'
            401:
              $ref: '#/components/responses/401'
            403:
              description: The task belongs to another department
            404:
              $ref: '#/components/responses/404'
        """
        task = self._task(pk)
        if task is None:
            return self.response_404()
        refused = self._refused(task)
        if refused:
            return refused
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            return self.response_fields({"file": [gettext("send the file as multipart/form-data field 'file'")]})
        try:
            attachment = task_service.add_task_photo(self.datamodel.session, task, upload, upload.filename, Actor.of(acting_user()))
        except CaseError as exc:
            return self.response_fields(exc.errors)
        except (OSError, SQLAlchemyError):
            self.datamodel.session.rollback()
            return self.response(503, message=gettext("the file could not be stored; try again later"))
        return self.response(201, id=attachment.id, name=attachment.original_name, content_type=attachment.content_type)


def task_apis() -> list[type]:
    return [TaskApi]
