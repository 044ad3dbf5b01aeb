"""The core's tables.  Importing this package registers them on FAB's ``Model.metadata``."""
from flask_appbuilder.security.sqla.models import User  # noqa: F401  (ab_user, for relationships)

from core.models.account import Account
from core.models.attachment import Attachment
from core.models.audit import AUDIT_ACTIONS, AUDIT_SOURCES, AuditEntry
from core.models.case import (
    CHANNELS,
    CLOSED_STATUSES,
    EVENT_KINDS,
    OPEN_STATUSES,
    PRIORITIES,
    STATUSES,
    TRANSITIONS,
    Case,
    CaseEvent,
    CaseSequence,
    open311_status,
)
from core.models.coordination import (
    INCIDENT_STATUSES,
    OPEN_TASK_STATUSES,
    TASK_STATUSES,
    Crew,
    DepartmentStint,
    Incident,
    Mention,
    Task,
    crew_member,
)
from core.models.department import Department, department_staff
from core.models.outbox import OUTBOX_STATUSES, OutboxMessage
from core.models.report import SCHEDULES, Report, ReportShare, ReportSubscription
from core.models.service import ServiceType
from core.models.tag import Tag, case_tag, normalise_tag

__all__ = [
    "AUDIT_ACTIONS", "AUDIT_SOURCES", "AuditEntry",
    "Account", "Attachment", "OutboxMessage", "OUTBOX_STATUSES", "Case", "CaseEvent", "CaseSequence", "Department", "ServiceType", "Tag",
    "CHANNELS", "CLOSED_STATUSES", "EVENT_KINDS", "OPEN_STATUSES", "PRIORITIES", "STATUSES", "TRANSITIONS",
    "Crew", "DepartmentStint", "Incident", "Mention", "Task", "crew_member",
    "INCIDENT_STATUSES", "OPEN_TASK_STATUSES", "TASK_STATUSES",
    "Report", "ReportShare", "ReportSubscription", "SCHEDULES",
    "case_tag", "department_staff", "normalise_tag", "open311_status", "User",
]
