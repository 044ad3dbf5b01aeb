"""The admin audit log: who changed the city's set-up (catalog, roles, users' roles, API keys, routing rules).

Append-only like the case timeline: the database refuses UPDATE and DELETE on ``audit_log`` (triggers made by
migration 0009) and the ORM refuses them too.  ``actor_id`` is a plain number, not a foreign key: the entry keeps
who it was (``actor_label``) after their user is gone, and deleting a user never has to touch the log.
"""
from __future__ import annotations

from flask_appbuilder import Model
from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, Column, DateTime, Index, Integer, String
from sqlalchemy import event as sa_event

from core.models.base import BigId, utcnow

AUDIT_ACTIONS = {"created": _l("Created"), "changed": _l("Changed"), "deleted": _l("Deleted")}
AUDIT_SOURCES = {
    "screen": _l("Screen"),
    "api": _l("REST API"),
    "cli": _l("Command line"),
    "config sync": _l("Config sync"),
}


class AuditEntry(Model):
    """One change an administrator (or the config sync, or a command) made to the city's set-up."""

    __tablename__ = "audit_log"
    id = Column(BigId, primary_key=True)
    at = Column(DateTime, nullable=False, default=utcnow)
    actor_id = Column(Integer)  # ab_user.id at the time; no foreign key (see the module's docstring)
    actor_label = Column(String(120), nullable=False, default="system")
    action = Column(String(16), nullable=False)  # created | changed | deleted
    object_kind = Column(String(40), nullable=False)  # service, department, role, user, api key, routing rule ...
    object_id = Column(String(64))
    object_label = Column(String(200), nullable=False, default="")
    changes = Column(JSON, nullable=False, default=dict)  # {field: [old, new]}; never passwords, hashes or secrets
    source = Column(String(20), nullable=False, default="screen")  # screen | api | cli | config sync

    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_object", "object_kind", "object_id"),
        Index("ix_audit_log_actor", "actor_id"),
    )

    def __repr__(self) -> str:
        return f"{self.action} {self.object_kind} {self.object_label}"

    @property
    def action_label(self):
        return AUDIT_ACTIONS.get(self.action, self.action)

    @property
    def source_label(self):
        return AUDIT_SOURCES.get(self.source, self.source)


def _refuse_change(mapper, connection, target):
    raise PermissionError("the audit log is append-only: its entries are never updated or deleted")


sa_event.listen(AuditEntry, "before_update", _refuse_change)
sa_event.listen(AuditEntry, "before_delete", _refuse_change)
