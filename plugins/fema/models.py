"""FEMA Public Assistance records: disasters (and the active event), sites, cost records of every kind,
equipment rate schedules, load tickets, and the log of exports.  Money is Numeric, never float."""
from __future__ import annotations

from decimal import Decimal

from flask_appbuilder import Model
from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, Boolean, Column, Date, DateTime, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import declared_attr, relationship

from core.models.base import BigId, utcnow

CATEGORIES = {
    "A": _l("A - Debris removal"),
    "B": _l("B - Emergency protective measures"),
    "C": _l("C - Roads and bridges"),
    "D": _l("D - Water control facilities"),
    "E": _l("E - Buildings and equipment"),
    "F": _l("F - Utilities"),
    "G": _l("G - Parks, recreational and other"),
}
EMERGENCY_CATEGORIES = frozenset({"A", "B"})
DEBRIS_TYPES = {"vegetative": _l("Vegetative"), "cd": _l("Construction and demolition"), "mixed": _l("Mixed"),
                "white_goods": _l("White goods"), "other": _l("Other")}
LABOR_TYPES = {"FA": _l("Force account"), "C": _l("Contract"), "FA/C": _l("Force account and contract"), "MAA": _l("Mutual aid"),
               "MOU": _l("Memorandum of understanding"), "DR": _l("Donated resources")}
MONEY = Numeric(14, 2)
RATE = Numeric(12, 4)
HOURS = Numeric(7, 2)


class Disaster(Model):
    """A disaster or emergency: declared (DR-4468, EM-3419) or an event not declared yet (number empty).

    One may be ``active``: new cases, work orders and sweep results are tagged with its ``tag``."""

    __tablename__ = "fema_disaster"
    id = Column(Integer, primary_key=True)
    tag = Column(String(50), nullable=False, unique=True)  # "hurricane-milton": the tag cases and work get
    title = Column(String(200), nullable=False)
    number = Column(String(20), unique=True)  # "DR-4468" (None before a declaration)
    declaration_type = Column(String(2))  # DR | EM
    state = Column(String(2))
    declaration_date = Column(Date)
    incident_begin = Column(Date)
    incident_end = Column(Date)
    designated_areas = Column(JSON, nullable=False, default=list)  # ["Flagler (County)"]
    applicant_pa_id = Column(String(20))  # XXX-XXXXX-XX
    rate_edition = Column(String(10))  # override of the rate schedule chosen by the declaration date
    profile_editions = Column(JSON, nullable=False, default=dict)  # {"labor": "2009"}: overrides per form
    active = Column(Boolean, nullable=False, default=False)
    started_at = Column(DateTime, nullable=False, default=utcnow)  # when the event began for the city
    ended_at = Column(DateTime)
    created_at = Column(DateTime, nullable=False, default=utcnow)

    def __repr__(self) -> str:
        return f"{self.number} {self.title}" if self.number else self.title or ""

    @property
    def pappg(self) -> str | None:
        """The PAPPG edition that applies (from the declaration date; None before 2017-08-23 or when undeclared)."""
        from plugins.fema.events import pappg_edition

        return pappg_edition(self.declaration_date)


class Site(Model):
    """A damaged site or facility (a Damage Inventory line): every cost record belongs to one."""

    __tablename__ = "fema_site"
    id = Column(Integer, primary_key=True)
    disaster_id = Column(Integer, ForeignKey("fema_disaster.id", ondelete="CASCADE"), nullable=False, index=True)
    disaster = relationship("Disaster")
    name = Column(String(200), nullable=False)
    category = Column(String(1), nullable=False)
    address = Column(String(300), nullable=False, default="")
    lat = Column(Numeric(9, 6))
    long = Column(Numeric(9, 6))
    damage_description = Column(Text, nullable=False, default="")
    cause = Column(String(50), nullable=False, default="")  # wind, flood, ...
    cost_estimate = Column(MONEY)
    percent_complete = Column(Integer, nullable=False, default=0)
    labor_type = Column(String(5), nullable=False, default="FA")
    environmental_issues = Column(Boolean, nullable=False, default=False)
    insured = Column(Boolean, nullable=False, default=False)
    priority = Column(String(10), nullable=False, default="medium")  # low | medium | high
    created_at = Column(DateTime, nullable=False, default=utcnow)

    def __repr__(self) -> str:
        return self.name or ""


class SitePhoto(Model):
    """A photo of a site, stored like case attachments (``core.services.attachments.store_file``)."""

    __tablename__ = "fema_site_photo"
    id = Column(BigId, primary_key=True)
    site_id = Column(Integer, ForeignKey("fema_site.id", ondelete="CASCADE"), nullable=False, index=True)
    stored_name = Column(String(80), nullable=False, unique=True)
    content_type = Column(String(100), nullable=False)
    size = Column(Integer, nullable=False)
    sha256 = Column(String(64), nullable=False)
    caption = Column(String(300), nullable=False, default="")
    uploaded_by_id = Column(Integer, ForeignKey("ab_user.id"))
    created_at = Column(DateTime, nullable=False, default=utcnow)


class Employee(Model):
    """A city employee whose hours are claimed as force-account labor, with pay and benefit rates."""

    __tablename__ = "fema_employee"
    id = Column(Integer, primary_key=True)
    employee_number = Column(String(30), nullable=False, unique=True)
    name = Column(String(200), nullable=False)
    job_title = Column(String(120), nullable=False, default="")
    department_id = Column(Integer, ForeignKey("department.id"))
    department = relationship("Department")
    hourly_rate = Column(RATE, nullable=False)
    overtime_multiplier = Column(Numeric(4, 2), nullable=False, default=Decimal("1.5"))
    fringe_regular_pct = Column(Numeric(6, 2), nullable=False, default=0)  # benefits as % of regular pay (form 128)
    fringe_overtime_pct = Column(Numeric(6, 2), nullable=False, default=0)
    budgeted = Column(Boolean, nullable=False, default=True)  # straight time of budgeted staff: not eligible on A/B
    active = Column(Boolean, nullable=False, default=True)

    def __repr__(self) -> str:
        return f"{self.name} ({self.employee_number})"


class Equipment(Model):
    """An item of the city's equipment register, with its FEMA cost code."""

    __tablename__ = "fema_equipment"
    id = Column(Integer, primary_key=True)
    unit_number = Column(String(30), nullable=False, unique=True)
    description = Column(String(200), nullable=False)  # type of equipment
    size_capacity = Column(String(100), nullable=False, default="")
    horsepower = Column(String(20), nullable=False, default="")
    make_model = Column(String(120), nullable=False, default="")
    fema_code = Column(String(10))  # "8010"
    department_id = Column(Integer, ForeignKey("department.id"))
    active = Column(Boolean, nullable=False, default=True)

    def __repr__(self) -> str:
        return f"{self.unit_number} {self.description}"


class RateSchedule(Model):
    """One edition of FEMA's Schedule of Equipment Rates, as imported (its file's hash kept for audits)."""

    __tablename__ = "fema_rate_schedule"
    id = Column(Integer, primary_key=True)
    edition = Column(String(10), nullable=False, unique=True)  # "2019"
    effective_from = Column(Date, nullable=False)
    source_name = Column(String(255), nullable=False, default="")
    sha256 = Column(String(64), nullable=False)
    imported_at = Column(DateTime, nullable=False, default=utcnow)

    def __repr__(self) -> str:
        return self.edition or ""


class EquipmentRate(Model):
    __tablename__ = "fema_equipment_rate"
    id = Column(Integer, primary_key=True)
    schedule_id = Column(Integer, ForeignKey("fema_rate_schedule.id", ondelete="CASCADE"), nullable=False)
    code = Column(String(10), nullable=False)
    equipment = Column(String(200), nullable=False, default="")
    specification = Column(String(200), nullable=False, default="")
    capacity = Column(String(100), nullable=False, default="")
    horsepower = Column(String(30), nullable=False, default="")
    notes = Column(Text, nullable=False, default="")
    unit = Column(String(10), nullable=False, default="hour")  # hour | mile (lower case)
    rate = Column(RATE)  # None: "see note"

    __table_args__ = (UniqueConstraint("schedule_id", "code", name="uq_fema_equipment_rate_code"),)


class _CostRecord:
    """What every cost record has: its disaster, site, category A-G, date, and the case / work order / sweep it
    documents (any of them may be empty)."""

    id = Column(BigId, primary_key=True)
    work_date = Column(Date, nullable=False)
    category = Column(String(1), nullable=False)
    description = Column(Text, nullable=False, default="")
    created_at = Column(DateTime, nullable=False, default=utcnow)
    sweep_id = Column(Integer)  # fieldservice_sweep.id when that plugin is on (no FK: plugins stay separable)

    @declared_attr
    def disaster_id(cls):
        return Column(Integer, ForeignKey("fema_disaster.id", ondelete="CASCADE"), nullable=False, index=True)

    @declared_attr
    def site_id(cls):
        return Column(Integer, ForeignKey("fema_site.id", ondelete="SET NULL"), index=True)

    @declared_attr
    def case_id(cls):
        return Column(BigId, ForeignKey("case.id", ondelete="SET NULL"))

    @declared_attr
    def task_id(cls):
        return Column(BigId, ForeignKey("case_task.id", ondelete="SET NULL"))

    @declared_attr
    def created_by_id(cls):
        return Column(Integer, ForeignKey("ab_user.id"))

    @declared_attr
    def disaster(cls):
        return relationship("Disaster")

    @declared_attr
    def site(cls):
        return relationship("Site")


class LaborEntry(_CostRecord, Model):
    """Force-account labor: one person, one day, regular and overtime hours, rates as they were that day."""

    __tablename__ = "fema_labor"
    employee_id = Column(Integer, ForeignKey("fema_employee.id"), nullable=False, index=True)
    employee = relationship("Employee", lazy="joined")
    regular_hours = Column(HOURS, nullable=False, default=0)
    overtime_hours = Column(HOURS, nullable=False, default=0)
    hourly_rate = Column(RATE, nullable=False)  # copied from the employee when entered
    overtime_rate = Column(RATE, nullable=False)
    fringe_regular_pct = Column(Numeric(6, 2), nullable=False, default=0)
    fringe_overtime_pct = Column(Numeric(6, 2), nullable=False, default=0)

    __table_args__ = (Index("ix_fema_labor_disaster_date", "disaster_id", "work_date"),)


class EquipmentEntry(_CostRecord, Model):
    """Force-account equipment: one unit, one day, hours actually used (standby kept apart: not eligible)."""

    __tablename__ = "fema_equipment_use"
    equipment_id = Column(Integer, ForeignKey("fema_equipment.id"), nullable=False, index=True)
    equipment = relationship("Equipment", lazy="joined")
    hours_used = Column(HOURS, nullable=False, default=0)
    standby_hours = Column(HOURS, nullable=False, default=0)
    miles = Column(Numeric(9, 1))
    operator_id = Column(Integer, ForeignKey("fema_employee.id"))
    operator = relationship("Employee")

    __table_args__ = (Index("ix_fema_equipment_use_disaster_date", "disaster_id", "work_date"),)


class MaterialEntry(_CostRecord, Model):
    __tablename__ = "fema_material"
    vendor = Column(String(200), nullable=False, default="")
    item = Column(String(200), nullable=False)
    quantity = Column(Numeric(12, 3), nullable=False)
    unit_price = Column(RATE, nullable=False)
    date_purchased = Column(Date)
    from_stock = Column(Boolean, nullable=False, default=False)
    invoice_number = Column(String(60), nullable=False, default="")


class RentalEntry(_CostRecord, Model):
    __tablename__ = "fema_rental"
    vendor = Column(String(200), nullable=False)
    equipment_type = Column(String(200), nullable=False)
    hours_used = Column(HOURS, nullable=False, default=0)
    rate = Column(RATE, nullable=False)
    with_operator = Column(Boolean, nullable=False, default=False)
    invoice_number = Column(String(60), nullable=False, default="")
    date_paid = Column(Date)
    amount_paid = Column(MONEY)
    check_number = Column(String(30), nullable=False, default="")


class ContractEntry(_CostRecord, Model):
    __tablename__ = "fema_contract"
    contractor = Column(String(200), nullable=False)
    contract_number = Column(String(60), nullable=False, default="")
    date_to = Column(Date)
    cost_billed = Column(MONEY, nullable=False)
    invoice_number = Column(String(60), nullable=False, default="")
    date_paid = Column(Date)
    amount_paid = Column(MONEY)
    check_number = Column(String(30), nullable=False, default="")
    mutual_aid = Column(Boolean, nullable=False, default=False)  # mutual aid is billed like a contract


class TruckCertification(Model):
    """A debris truck measured and certified: its bed capacity caps every load ticket."""

    __tablename__ = "fema_truck"
    id = Column(Integer, primary_key=True)
    disaster_id = Column(Integer, ForeignKey("fema_disaster.id", ondelete="CASCADE"), nullable=False, index=True)
    truck_number = Column(String(30), nullable=False)
    plate = Column(String(20), nullable=False)
    contractor = Column(String(200), nullable=False, default="")
    capacity_cy = Column(Numeric(7, 1), nullable=False)
    measured_by = Column(String(120), nullable=False, default="")
    measured_on = Column(Date)

    __table_args__ = (UniqueConstraint("disaster_id", "truck_number", name="uq_fema_truck_number"),)

    def __repr__(self) -> str:
        return f"{self.truck_number} ({self.plate})"


class LoadTicket(_CostRecord, Model):
    """A debris load: loaded on a street, dumped at a disposal site, judged by monitors."""

    __tablename__ = "fema_load_ticket"
    ticket_number = Column(String(40), nullable=False)
    contract_number = Column(String(60), nullable=False, default="")
    truck_id = Column(Integer, ForeignKey("fema_truck.id"), nullable=False)
    truck = relationship("TruckCertification", lazy="joined")
    driver = Column(String(120), nullable=False, default="")
    loading_location = Column(String(300), nullable=False, default="")
    lat = Column(Numeric(9, 6))
    long = Column(Numeric(9, 6))
    loaded_at = Column(DateTime)
    debris_type = Column(String(20), nullable=False, default="vegetative")
    load_call_pct = Column(Integer, nullable=False)  # 0..100: lowers the certified capacity, never raises it
    disposal_site = Column(String(200), nullable=False, default="")
    arrived_at = Column(DateTime)
    loading_monitor = Column(String(120), nullable=False, default="")
    disposal_monitor = Column(String(120), nullable=False, default="")

    __table_args__ = (UniqueConstraint("disaster_id", "ticket_number", name="uq_fema_load_ticket_number"),)


class ExportRecord(Model):
    """Every export made: enough to reproduce it for an auditor years later."""

    __tablename__ = "fema_export"
    id = Column(Integer, primary_key=True)
    disaster_id = Column(Integer, ForeignKey("fema_disaster.id", ondelete="CASCADE"), nullable=False, index=True)
    disaster = relationship("Disaster")
    form = Column(String(30), nullable=False)  # labor | equipment | ...
    profile = Column(String(60), nullable=False)  # the profile's id, e.g. "labor-123-2009"
    profile_sha256 = Column(String(64), nullable=False)
    rate_edition = Column(String(10))
    rate_sha256 = Column(String(64))
    file_format = Column(String(5), nullable=False)  # csv | xlsx | pdf
    parameters = Column(JSON, nullable=False, default=dict)  # filters: sites, categories, period
    row_count = Column(Integer, nullable=False, default=0)
    file_sha256 = Column(String(64), nullable=False)
    created_by = Column(String(120), nullable=False, default="system")
    created_at = Column(DateTime, nullable=False, default=utcnow)
