"""Numbers for reports: the time closed cases spent with each department, and the time tasks took.

Both are one SQL ``GROUP BY`` (no loop over cases in Python) and count calendar time, not
business hours.  Both look at closed cases only (``Case.closed_at`` set), optionally those closed
in ``[closed_from, closed_to)`` and of some services; ``time_per_department`` sums the case's
department stints (see ``core.services.handoffs``), ``task_time`` the tasks' ``completed_at -
created_at`` (done tasks by default).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Float, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement

from core.models import Case, Department, DepartmentStint, ServiceType, Task


class seconds_between(FunctionElement):  # noqa: N801 -- an SQL function, named like one
    """``seconds_between(start, end)``: the seconds from one timestamp column to another, in SQL."""

    type = Float()
    name = "seconds_between"
    inherit_cache = True


@compiles(seconds_between)
def _seconds_between_postgresql(element, compiler, **kw):
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(EXTRACT(EPOCH FROM ({end} - {start})) AS DOUBLE PRECISION)"


@compiles(seconds_between, "sqlite")
def _seconds_between_sqlite(element, compiler, **kw):
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"((julianday({end}) - julianday({start})) * 86400.0)"


@dataclass(frozen=True)
class TimeSpent:
    """Time one department spent: on how many cases (or tasks), in how many stretches, in total."""

    department: str  # code
    template: str | None  # task_time(by_template=True): the task template, None for a task made by hand
    cases: int
    count: int  # stints, or tasks
    total_seconds: int
    average_seconds: int


def _closed_cases(stmt, closed_from: datetime | None, closed_to: datetime | None, service_codes: Iterable[str] | None):
    stmt = stmt.where(Case.closed_at.is_not(None))
    if closed_from is not None:
        stmt = stmt.where(Case.closed_at >= closed_from)
    if closed_to is not None:
        stmt = stmt.where(Case.closed_at < closed_to)
    if service_codes is not None:
        stmt = stmt.where(Case.service_type_id.in_(select(ServiceType.id).where(ServiceType.code.in_(list(service_codes)))))
    return stmt


def _rows(session: Session, stmt, with_template: bool) -> list[TimeSpent]:
    out = []
    for row in session.execute(stmt):
        total = float(row.total or 0)
        out.append(TimeSpent(row.code, row.template if with_template else None, row.cases, row.count,
                             round(total), round(total / row.count) if row.count else 0))
    return out


def time_per_department(
    session: Session,
    *,
    closed_from: datetime | None = None,
    closed_to: datetime | None = None,
    department_codes: Iterable[str] | None = None,
    service_codes: Iterable[str] | None = None,
) -> list[TimeSpent]:
    """How long closed cases stayed with each department, most time first (one query)."""
    seconds = seconds_between(DepartmentStint.started_at, DepartmentStint.ended_at)
    stmt = (
        select(
            Department.code.label("code"), func.count(func.distinct(DepartmentStint.case_id)).label("cases"),
            func.count(DepartmentStint.id).label("count"), func.sum(seconds).label("total"),
        )
        .join(Case, Case.id == DepartmentStint.case_id)
        .join(Department, Department.id == DepartmentStint.department_id)
        .where(DepartmentStint.ended_at.is_not(None))
        .group_by(Department.code)
        .order_by(func.sum(seconds).desc(), Department.code)
    )
    if department_codes is not None:
        stmt = stmt.where(Department.code.in_(list(department_codes)))
    return _rows(session, _closed_cases(stmt, closed_from, closed_to, service_codes), False)


def task_time(
    session: Session,
    *,
    closed_from: datetime | None = None,
    closed_to: datetime | None = None,
    department_codes: Iterable[str] | None = None,
    service_codes: Iterable[str] | None = None,
    statuses: Iterable[str] = ("done",),
    by_template: bool = False,
) -> list[TimeSpent]:
    """How long the tasks of closed cases took (created to completed), per department, and per
    template with ``by_template``; most time first (one query)."""
    seconds = seconds_between(Task.created_at, Task.completed_at)
    keys = [Department.code] + ([Task.template] if by_template else [])
    columns = [Department.code.label("code")] + ([Task.template.label("template")] if by_template else [])
    stmt = (
        select(
            *columns, func.count(func.distinct(Task.case_id)).label("cases"),
            func.count(Task.id).label("count"), func.sum(seconds).label("total"),
        )
        .join(Case, Case.id == Task.case_id)
        .join(Department, Department.id == Task.department_id)
        .where(Task.completed_at.is_not(None), Task.status.in_(list(statuses)))
        .group_by(*keys)
        .order_by(func.sum(seconds).desc(), Department.code)
    )
    if department_codes is not None:
        stmt = stmt.where(Department.code.in_(list(department_codes)))
    return _rows(session, _closed_cases(stmt, closed_from, closed_to, service_codes), by_template)
