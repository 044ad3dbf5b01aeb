"""FEMA cost records at a big disaster's scale, fast: ``civic fema bench-data --rows 50000``.

For the export benchmark (issue 11: 50,000 cost rows as CSV under 2 s, XLSX under 10 s, under 200 MB), never for
a real city's records.  It adds, on a sample disaster (``bench-storm``, number ``DR-9990``: not a real
declaration) or on the one given, ``rows`` labor, ``rows`` equipment and ``rows`` material records: a crew of employees
and units of equipment that each work about a hundred consecutive days on two sites, so that the person x week
grouping of the labor form and the unit x operator x week grouping of the equipment form have real work to do;
materials are one row each (purchases from a few vendors, some from stock).  The sample rate schedule is loaded when missing, so every unit has a rate.

Rows go in with multi-row INSERTs in batches (no ORM objects): a few seconds for 50,000 of each.  Running it
again adds more records to the same disaster, with the same crew.
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import date, datetime, time as day_time, timedelta
from decimal import Decimal

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from plugins.fema.models import Disaster, Employee, Equipment, EquipmentEntry, LaborEntry, MaterialEntry, Site

BENCH_TAG = "bench-storm"
BENCH_NUMBER = "DR-9990"
BATCH = 5_000
DAYS_PER_PERSON = 100  # about three months of recovery work per employee and unit
FIRST_DAY = date(2025, 10, 1)
EMPLOYEE_PREFIX = "BENCH-E-"
UNIT_PREFIX = "BENCH-U-"
# Units of the sample schedule (plugins/fema/data): description, size, HP, make and model, FEMA code.
UNITS = (
    ("Front end loader, wheel", "2.5 CY", "150", "CAT 930M", "8160"),
    ("Chipper, brush", "", "85", "Vermeer BC1200XL", "8100"),
    ("Pickup truck", "1 ton", "200", "Ford F-350", "8240"),
    ("Chain saw", "25 in", "", "Stihl MS 462", "8091"),
    ("Dump truck, off highway", "28 CY", "300", "Mack GR64F", "8141"),
)
VENDORS = ("Ace Hardware", "Home Depot Pro", "Flagler Supply Co.", "Gulf Coast Lumber")
ITEMS = (("Sandbags", "0.45"), ("Tarp 20x30", "38.90"), ("Chain saw chain", "24.75"), ("Road barricade", "112.00"),
         ("Fuel, diesel (gal)", "3.89"), ("Plywood sheet", "42.10"))
JOBS = ("Equipment operator II", "Maintenance worker", "Crew leader", "Utility technician", "Laborer")


@dataclass
class FemaBenchReport:
    disaster: str = ""
    labor: int = 0
    equipment: int = 0
    materials: int = 0
    seconds: float = 0.0


def bench_disaster(session: Session) -> Disaster:
    """The sample disaster of the benchmarks, made on first use (declared after the sample rate schedule starts)."""
    disaster = session.scalar(select(Disaster).where(Disaster.tag == BENCH_TAG))
    if disaster is None:
        disaster = Disaster(tag=BENCH_TAG, number=BENCH_NUMBER, declaration_type="DR", state="FL",
                            title="Benchmark storm (sample data: not a real declaration)",
                            declaration_date=FIRST_DAY + timedelta(days=10), incident_begin=FIRST_DAY - timedelta(days=2),
                            incident_end=FIRST_DAY + timedelta(days=3), designated_areas=["Flagler (County)"],
                            applicant_pa_id="035-53150-00", active=False,
                            started_at=datetime.combine(FIRST_DAY - timedelta(days=2), day_time(12)))
        session.add(disaster)
        session.flush()
    return disaster


def _crew(session: Session, count: int) -> list[Employee]:
    """``count`` bench employees, the existing ones first (a second run reuses them)."""
    found = {e.employee_number: e for e in session.scalars(select(Employee).where(Employee.employee_number.like(EMPLOYEE_PREFIX + "%")))}
    rng = random.Random(9990)
    crew = []
    for n in range(1, count + 1):
        number = f"{EMPLOYEE_PREFIX}{n:05d}"
        person = found.get(number)
        if person is None:
            rate = Decimal(rng.randrange(1500, 4200)) / 100
            person = Employee(employee_number=number, name=f"Bench Worker {n:05d}", job_title=JOBS[n % len(JOBS)],
                              hourly_rate=rate, overtime_multiplier=Decimal("1.5"), fringe_regular_pct=Decimal("32.5"),
                              fringe_overtime_pct=Decimal("7.65"), budgeted=n % 4 != 0)
            session.add(person)
        crew.append(person)
    return crew


def _fleet(session: Session, count: int) -> list[Equipment]:
    found = {u.unit_number: u for u in session.scalars(select(Equipment).where(Equipment.unit_number.like(UNIT_PREFIX + "%")))}
    fleet = []
    for n in range(1, count + 1):
        number = f"{UNIT_PREFIX}{n:05d}"
        unit = found.get(number)
        if unit is None:
            description, size, hp, make, code = UNITS[n % len(UNITS)]
            unit = Equipment(unit_number=number, description=description, size_capacity=size, horsepower=hp,
                             make_model=make, fema_code=code)
            session.add(unit)
        fleet.append(unit)
    return fleet


def _sites(session: Session, disaster: Disaster) -> list[Site]:
    sites = list(session.scalars(select(Site).where(Site.disaster_id == disaster.id).order_by(Site.id).limit(2)))
    if len(sites) < 2:
        sites = [Site(disaster_id=disaster.id, name="Citywide debris removal (bench)", category="A", address="citywide"),
                 Site(disaster_id=disaster.id, name="Emergency road clearing (bench)", category="B", address="citywide")]
        session.add_all(sites)
        session.flush()
    return sites


def _days(rng: random.Random, people: int, rows: int):
    """(person index, work date, a random number) for ``rows`` records: each person works consecutive days."""
    for n in range(rows):
        person = n % people
        day = FIRST_DAY + timedelta(days=(n // people) % 365)
        yield person, day, rng.random()


def _write(session: Session, model, rows) -> int:
    count, batch = 0, []
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            session.execute(insert(model), batch)
            count, batch = count + len(batch), []
    if batch:
        session.execute(insert(model), batch)
        count += len(batch)
    return count


def generate(session: Session, rows: int, disaster: Disaster | None = None) -> FemaBenchReport:
    """Add ``rows`` labor, equipment and material records each to ``disaster`` (the bench disaster when None); committed."""
    from plugins.fema.rates import load_sample_rates

    started = time.monotonic()
    load_sample_rates(session)
    disaster = disaster or bench_disaster(session)
    people = max(1, -(-rows // DAYS_PER_PERSON))
    crew, fleet = _crew(session, people), _fleet(session, people)
    session.flush()
    sites = _sites(session, disaster)
    rng = random.Random(rows)
    crew_rates = [(p.id, p.hourly_rate, (Decimal(p.hourly_rate) * Decimal("1.5")).quantize(Decimal("0.0001"))) for p in crew]
    created = datetime.combine(FIRST_DAY, day_time(18))

    def labor():
        for person, day, r in _days(rng, people, rows):
            site = sites[0] if r < 0.7 else sites[1]
            employee_id, rate, ot_rate = crew_rates[person]
            yield {"disaster_id": disaster.id, "site_id": site.id, "category": site.category, "work_date": day,
                   "employee_id": employee_id, "regular_hours": Decimal("8"), "overtime_hours": Decimal(rng.choice(("0", "2", "3", "4.5"))),
                   "hourly_rate": rate, "overtime_rate": ot_rate, "fringe_regular_pct": Decimal("32.5"),
                   "fringe_overtime_pct": Decimal("7.65"), "description": "Debris removal", "created_at": created}

    def equipment():
        for unit, day, r in _days(rng, people, rows):
            site = sites[0] if r < 0.7 else sites[1]
            yield {"disaster_id": disaster.id, "site_id": site.id, "category": site.category, "work_date": day,
                   "equipment_id": fleet[unit].id, "operator_id": crew_rates[unit][0],
                   "hours_used": Decimal(rng.choice(("6", "7.5", "8", "9"))), "standby_hours": Decimal("0"),
                   "description": "Debris loading and hauling", "created_at": created}

    def materials():
        for n in range(rows):
            site = sites[0] if n % 3 else sites[1]
            item, price = ITEMS[n % len(ITEMS)]
            day = FIRST_DAY + timedelta(days=n * 120 // rows)  # spread over four months
            yield {"disaster_id": disaster.id, "site_id": site.id, "category": site.category, "work_date": day,
                   "vendor": VENDORS[n % len(VENDORS)], "item": item, "quantity": Decimal(1 + n % 40),
                   "unit_price": Decimal(price), "date_purchased": day, "from_stock": n % 5 == 0,
                   "invoice_number": f"INV-{n // 25:06d}", "description": "Emergency protective measures", "created_at": created}

    report = FemaBenchReport(disaster=disaster.number or disaster.tag)
    report.labor = _write(session, LaborEntry, labor())
    report.equipment = _write(session, EquipmentEntry, equipment())
    report.materials = _write(session, MaterialEntry, materials())
    session.commit()
    report.seconds = time.monotonic() - started
    return report
