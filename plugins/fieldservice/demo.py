"""The demo city's field service (``civic fieldservice demo``, run by ``make run`` after ``civic demo``):
a generated street network and zones labelled as sample data, two crews, a storm sweep in progress and a
few work orders.  A second run adds nothing.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from core.models import Department
from core.models.coordination import Crew

# name -> (department, members' usernames): the demo staff of core/demo.py
DEMO_CREWS = {
    "PW Crew 1": ("PW", ("pw_crew",)),
    "PW Crew 2": ("PW", ("pw_crew2",)),
    "UTIL Crew 1": ("UTIL", ("util_crew",)),
}


@dataclass
class FieldDemoReport:
    network: dict[str, int] = field(default_factory=dict)
    crews: list[str] = field(default_factory=list)
    sweep: str = ""
    work_orders: int = 0


def ensure_crews(session: Session) -> dict[str, Crew]:
    """The demo crews and their members (the members must exist: run ``civic demo`` first)."""
    sm = current_app.appbuilder.sm
    crews: dict[str, Crew] = {}
    for name, (code, usernames) in DEMO_CREWS.items():
        crew = session.scalar(sa.select(Crew).where(Crew.name == name))
        if crew is None:
            department = session.scalar(sa.select(Department).where(Department.code == code))
            if department is None:
                continue
            crew = Crew(name=name, department=department, active=True)
            session.add(crew)
        for username in usernames:
            user = sm.find_user(username=username)
            if user is not None and user not in crew.members:
                crew.members.append(user)
        crews[name] = crew
    session.commit()
    return crews


def load_demo(session: Session) -> FieldDemoReport:
    from plugins.fieldservice import sample, sweeps, workorders

    report = FieldDemoReport()
    report.network = sample.load_sample_network(session)
    crews = ensure_crews(session)
    report.crews = sorted(crews)
    sweep = sweeps.load_demo_sweep(session, list(crews.values()))
    report.sweep = sweep.name if sweep is not None else ""
    report.work_orders = len(workorders.load_demo_work_orders(session, list(crews.values())) or [])
    return report
