"""The demo city's FEMA records (``civic fema demo``, run by ``make run`` after ``civic demo``): the sample rate
schedule, the demo's September hurricane as a declared disaster (SAMPLE: its number is not a real one), a few
employees and units of equipment, sites, and a week of labor and equipment records on the hurricane's
storm-debris cases.  A second run adds nothing; no event is left active (a dispatcher turns one on).
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from core.demo import storm_landfall
from core.models import Case, Department, Tag
from core.models.base import utcnow
from plugins.fema.models import Disaster, Employee, Equipment, EquipmentEntry, LaborEntry, Site

SAMPLE_NUMBER = "DR-9901"
SAMPLE_TAG = "hurricane"  # the tag the demo's storm cases already carry
EMPLOYEES = (  # number, name, job title, department, hourly rate, budgeted
    ("E-1001", "Luis Ortega", "Equipment operator II", "PW", "24.50", True),
    ("E-1002", "Tom Becker", "Maintenance worker", "PW", "19.75", True),
    ("E-1003", "Ray Dawson", "Utility technician", "UTIL", "26.10", True),
    ("E-1004", "Ana Ruiz", "Crew leader", "PW", "29.80", True),
    ("E-1005", "Sam Patel", "Seasonal laborer", "PW", "16.00", False),
)
EQUIPMENT = (  # unit, description, size, HP, make/model, FEMA cost code (in the sample schedule)
    ("PW-L03", "Front end loader, wheel", "2.5 CY", "150", "CAT 930M", "8160"),
    ("PW-C01", "Chipper, brush", "", "85", "Vermeer BC1200XL", "8100"),
    ("PW-P07", "Pickup truck", "1 ton", "200", "Ford F-350", "8240"),
    ("PW-S02", "Chain saw", "25 in", "", "Stihl MS 462", "8091"),
    ("PW-T12", "Dump truck, off highway", "28 CY", "300", "Mack GR64F", "8141"),
)


@dataclass
class FemaDemoReport:
    disaster: str = ""
    rates: int = 0
    employees: int = 0
    equipment: int = 0
    labor: int = 0
    equipment_use: int = 0


def load_demo(session: Session) -> FemaDemoReport:
    from plugins.fema.rates import load_sample_rates

    report = FemaDemoReport()
    imported = load_sample_rates(session)
    report.rates = getattr(imported, "imported", 0) if imported is not None else 0
    landfall = storm_landfall(utcnow().date())
    disaster = session.scalar(sa.select(Disaster).where(Disaster.number == SAMPLE_NUMBER))
    if disaster is None:
        disaster = Disaster(
            tag=SAMPLE_TAG, number=SAMPLE_NUMBER, declaration_type="DR", state="FL",
            title="Hurricane (sample data: not a real declaration)", declaration_date=landfall + timedelta(days=12),
            incident_begin=landfall - timedelta(days=1), incident_end=landfall + timedelta(days=4),
            designated_areas=["Flagler (County)"], applicant_pa_id="035-53150-00", active=False,
            started_at=datetime.combine(landfall - timedelta(days=1), time(12)),
        )
        session.add(disaster)
        session.flush()
    report.disaster = f"{disaster.number} {disaster.title}"
    departments = {d.code: d for d in session.scalars(sa.select(Department))}
    employees = []
    for number, name, title, code, rate, budgeted in EMPLOYEES:
        employee = session.scalar(sa.select(Employee).where(Employee.employee_number == number))
        if employee is None:
            employee = Employee(employee_number=number, name=name, job_title=title, department=departments.get(code),
                                hourly_rate=Decimal(rate), overtime_multiplier=Decimal("1.5"), fringe_regular_pct=Decimal("32.5"), fringe_overtime_pct=Decimal("7.65"),
                                budgeted=budgeted)
            session.add(employee)
            report.employees += 1
        employees.append(employee)
    units = []
    for unit, description, size, hp, make, code in EQUIPMENT:
        item = session.scalar(sa.select(Equipment).where(Equipment.unit_number == unit))
        if item is None:
            item = Equipment(unit_number=unit, description=description, size_capacity=size, horsepower=hp, make_model=make,
                             fema_code=code, department_id=departments["PW"].id if "PW" in departments else None)
            session.add(item)
            report.equipment += 1
        units.append(item)
    session.flush()
    if session.scalar(sa.select(LaborEntry.id).where(LaborEntry.disaster_id == disaster.id).limit(1)) is None:
        report.labor, report.equipment_use = _week_of_work(session, disaster, employees, units, landfall)
    session.commit()
    return report


def _week_of_work(session: Session, disaster: Disaster, employees: list[Employee], units: list[Equipment], landfall) -> tuple[int, int]:
    """A week of debris work after landfall on two sites, linked to the storm's debris cases."""
    rng = random.Random(4468)
    sites = [
        Site(disaster=disaster, name="Citywide right-of-way debris (sample)", category="A", address="Palm Coast, citywide",
             damage_description="Vegetative debris on public rights-of-way after the hurricane.", cause="wind",
             cost_estimate=Decimal("850000"), percent_complete=60, labor_type="FA/C", priority="high"),
        Site(disaster=disaster, name="Emergency road clearing (sample)", category="B", address="Belle Terre Pkwy and Palm Coast Pkwy",
             damage_description="Cut-and-toss clearing of blocked roads in the first 72 hours.", cause="wind",
             cost_estimate=Decimal("120000"), percent_complete=100, labor_type="FA", priority="high"),
    ]
    session.add_all(sites)
    session.flush()
    cases = list(session.scalars(
        sa.select(Case.id).join(Case.tags).where(Tag.name == SAMPLE_TAG).order_by(Case.created_at).limit(40)))
    labor = equipment = 0
    for day in range(7):
        work_date = landfall + timedelta(days=day + 1)
        site = sites[1] if day < 3 else sites[0]
        for i, employee in enumerate(employees):
            overtime = Decimal(rng.choice(["2", "3", "4", "4.5"])) if day < 5 else Decimal("0")
            session.add(LaborEntry(
                disaster=disaster, site=site, category=site.category, work_date=work_date, employee=employee,
                regular_hours=Decimal("8"), overtime_hours=overtime, hourly_rate=employee.hourly_rate,
                overtime_rate=(Decimal(str(employee.hourly_rate)) * Decimal(str(employee.overtime_multiplier or "1.5"))).quantize(Decimal("0.0001")),
                fringe_regular_pct=employee.fringe_regular_pct, fringe_overtime_pct=employee.fringe_overtime_pct,
                description="Debris removal" if site.category == "A" else "Road clearing",
                case_id=cases[(day * len(employees) + i) % len(cases)] if cases else None,
            ))
            labor += 1
        for unit in units[:4]:
            session.add(EquipmentEntry(
                disaster=disaster, site=site, category=site.category, work_date=work_date, equipment=unit,
                hours_used=Decimal(rng.choice(["6", "7.5", "8", "9"])), standby_hours=Decimal("0"), operator=employees[0],
                description="Debris loading and hauling" if site.category == "A" else "Road clearing",
            ))
            equipment += 1
    return labor, equipment
