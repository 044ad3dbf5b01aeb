"""Hand-offs: the departments a case passes through, and how long it stays with each.

A ``DepartmentStint`` is a stretch of time a case spends with one department.  The rule:

- creating a case opens its first stint (with the routed department, at the case's creation time);
- a re-route ends the open stint and opens one with the new department; ``reason`` is why it came;
- closing the case (resolved, closed, duplicate) ends the open stint: a closed case has none, so
  the days it sits closed count for nobody;
- reopening opens a stint with the department that holds the case;
- a re-route of a closed case moves the ownership only: its stint opens if the case is reopened.

So an open case has exactly one open stint, a closed case none.  Durations are calendar time
(``ended_at - started_at``), not business hours: nights and weekends with a department count for
it, as a resident waiting sees them.  The case page's "Hand-offs" panel shows the chain; the
numbers for reports come from ``core.metrics``.

The stint and the timeline entry that explains it (``routed``, ``department_changed``, or
``status_changed`` to reopened) carry the same timestamp, which is how the panel finds who did it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, joinedload

from core.models import Case, CaseEvent, Department, DepartmentStint
from core.models.base import utcnow

MAX_REASON = 1000
# Timeline entries that start a stint: the routing of a new case, a re-route, a reopening.
STARTING_KINDS = ("routed", "department_changed", "status_changed")


def open_stint(session: Session, case: Case, at: datetime, reason: str = "") -> DepartmentStint:
    """Start the case's time with its current department (the case is flushed first: id and department_id)."""
    session.flush()
    stint = DepartmentStint(case_id=case.id, department_id=case.department_id, started_at=at, reason=reason)
    session.add(stint)
    return stint


def end_stint(session: Session, case: Case, at: datetime) -> None:
    """End the case's open stint, if it has one."""
    if case.id is None:
        return
    session.execute(
        update(DepartmentStint)
        .where(DepartmentStint.case_id == case.id, DepartmentStint.ended_at.is_(None))
        .values(ended_at=at)
        .execution_options(synchronize_session="fetch")
    )


def hand_off(session: Session, case: Case, at: datetime, reason: str) -> None:
    """The case now belongs to ``case.department``: end the old stint, open the next while it is open."""
    end_stint(session, case, at)
    if case.is_open:
        open_stint(session, case, at, reason)


def status_moved(session: Session, case: Case, old: str, new: str, at: datetime, note: str = "") -> None:
    """Closing ends the stint; reopening starts one with the department that holds the case."""
    from core.models import CLOSED_STATUSES

    if new in CLOSED_STATUSES and old not in CLOSED_STATUSES:
        end_stint(session, case, at)
    elif old in CLOSED_STATUSES and new not in CLOSED_STATUSES:
        open_stint(session, case, at, note[:MAX_REASON])


# ---------------------------------------------------------------- the chain shown on the case page

@dataclass(frozen=True)
class Leg:
    """One department's stretch of the case, with what started it."""

    department: Department
    started_at: datetime
    ended_at: datetime | None
    reason: str
    how: str  # "routed", "rerouted", "reopened", "" when no timeline entry explains it
    who: str  # the actor's label on that entry
    from_department: str | None  # the code of the department before, for a re-route

    def duration(self, now: datetime | None = None) -> timedelta:
        return (self.ended_at or now or utcnow()) - self.started_at


def chain(session: Session, case: Case, events: list[CaseEvent] | None = None) -> list[Leg]:
    """The case's stints, oldest first, each with who started it and why (two queries; one when the caller
    already holds the case's ``events``, as the case page does)."""
    stints = session.scalars(
        select(DepartmentStint).where(DepartmentStint.case_id == case.id).order_by(DepartmentStint.started_at, DepartmentStint.id)
        .options(joinedload(DepartmentStint.department).lazyload(Department.staff))
    ).all()
    if not stints:
        return []
    starts = {s.started_at for s in stints}
    if events is not None:
        events = sorted((e for e in events if e.kind in STARTING_KINDS and e.created_at in starts), key=lambda e: e.id)
    else:
        events = session.scalars(
            select(CaseEvent)
            .where(CaseEvent.case_id == case.id, CaseEvent.kind.in_(STARTING_KINDS), CaseEvent.created_at.in_(starts))
            .order_by(CaseEvent.id)
        ).all()
    by_time: dict[datetime, CaseEvent] = {}
    for ev in events:
        if ev.kind == "status_changed" and (ev.data or {}).get("new") != "reopened":
            continue
        by_time.setdefault(ev.created_at, ev)
    legs = []
    for stint in stints:
        ev = by_time.get(stint.started_at)
        how, who, previous = "", "", None
        if ev is not None:
            who = ev.actor_label
            how = {"routed": "routed", "department_changed": "rerouted", "status_changed": "reopened"}[ev.kind]
            if ev.kind == "department_changed":
                previous = (ev.data or {}).get("old")
        legs.append(Leg(stint.department, stint.started_at, stint.ended_at, stint.reason, how, who, previous))
    return legs
