"""Cost capture screens (menu FEMA): the damage inventory (sites), the reference data (employees, the equipment
register, certified trucks) and every cost record (labor, equipment use, materials, rentals, contracts and
mutual aid, load tickets), with the pre-export checklist of a disaster.

Who does what (``role_specs``): the FEMA coordinator everything; dispatchers read; department staff read the
reference data and enter labor and equipment use for the employees and units of their departments (the lists,
the forms' selects and the saves are all scoped).  Every save is checked by ``check_record`` (category A-G,
hours 0..24, load call 0..100, no date in the future), its messages naming the field.
"""
from __future__ import annotations

from datetime import date
from pathlib import Path
from decimal import Decimal
from typing import Any, Callable

from flask import abort, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.fieldwidgets import BS3TextFieldWidget, Select2Widget
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.security.decorators import has_access
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from wtforms import DecimalField, SelectField, StringField
from wtforms.validators import Optional as OptionalValue

from core.extensions import db
from core.formats import city_today
from core.models import department_staff
from core.records import RoleSpec, ViewSpec
from core.security import role_names, user_department_ids
from core.views.base import CivicModelView
from plugins.fema import costs
from plugins.fema.models import (CATEGORIES, DEBRIS_TYPES, LABOR_TYPES, ContractEntry, Disaster, Employee, Equipment,
                                 EquipmentEntry, LaborEntry, LoadTicket, MaterialEntry, RentalEntry, Site,
                                 TruckCertification)
from plugins.fema.timesheets import fill_rates, new_labor_entry

SEES_ALL_COSTS = frozenset({"Admin", "Dispatcher", "FEMA coordinator"})
PRIORITIES = {"low": _l("Low"), "medium": _l("Medium"), "high": _l("High")}
HOUR_FIELDS = ("regular_hours", "overtime_hours", "hours_used", "standby_hours")
DATE_FIELDS = ("work_date", "date_purchased", "date_paid", "date_to", "measured_on")
NON_NEGATIVE = ("quantity", "unit_price", "rate", "cost_billed", "amount_paid", "cost_estimate", "miles", "capacity_cy",
                "hourly_rate", "overtime_rate")

LABELS = {
    "disaster": _l("Disaster"), "site": _l("Site"), "category": _l("Category"), "work_date": _l("Date"),
    "description": _l("Description"), "case_reference": _l("Case reference"), "sweep_id": _l("Sweep number"),
    "name": _l("Name"), "address": _l("Address"), "lat": _l("Latitude"), "long": _l("Longitude"),
    "damage_description": _l("Damage description"), "cause": _l("Cause of damage"), "cost_estimate": _l("Approximate cost"),
    "percent_complete": _l("Percent complete"), "labor_type": _l("Labor type"), "environmental_issues": _l("Environmental or historic issues"),
    "insured": _l("Insured"), "priority": _l("Priority"),
    "employee_number": _l("Employee number"), "job_title": _l("Job title"), "department": _l("Department"),
    "hourly_rate": _l("Hourly rate"), "overtime_multiplier": _l("Overtime multiplier"),
    "fringe_regular_pct": _l("Benefits on regular pay (%)"), "fringe_overtime_pct": _l("Benefits on overtime pay (%)"),
    "budgeted": _l("Budgeted position"), "active": _l("In service"),
    "unit_number": _l("Unit number"), "size_capacity": _l("Size or capacity"), "horsepower": _l("Horsepower"),
    "make_model": _l("Make and model"), "fema_code": _l("FEMA cost code"),
    "employee": _l("Employee"), "regular_hours": _l("Regular hours"), "overtime_hours": _l("Overtime hours"),
    "overtime_rate": _l("Overtime rate"), "equipment": _l("Equipment"), "hours_used": _l("Hours used"),
    "standby_hours": _l("Standby hours"), "miles": _l("Miles"), "operator": _l("Operator"),
    "vendor": _l("Vendor"), "item": _l("Item"), "quantity": _l("Quantity"), "unit_price": _l("Unit price"),
    "date_purchased": _l("Date purchased"), "from_stock": _l("Taken from stock"), "invoice_number": _l("Invoice number"),
    "equipment_type": _l("Type of equipment"), "rate": _l("Rate"), "with_operator": _l("With operator"),
    "date_paid": _l("Date paid"), "amount_paid": _l("Amount paid"), "check_number": _l("Check number"),
    "contractor": _l("Contractor"), "contract_number": _l("Contract number"), "date_to": _l("Last date worked"),
    "cost_billed": _l("Cost billed"), "mutual_aid": _l("Mutual aid"),
    "truck_number": _l("Truck number"), "plate": _l("Plate"), "capacity_cy": _l("Certified capacity (cubic yards)"),
    "measured_by": _l("Measured by"), "measured_on": _l("Measured on"),
    "ticket_number": _l("Ticket number"), "truck": _l("Truck"), "driver": _l("Driver"),
    "loading_location": _l("Loading location"), "loaded_at": _l("Loaded at"), "debris_type": _l("Debris type"),
    "load_call_pct": _l("Load call (%)"), "disposal_site": _l("Disposal site"), "arrived_at": _l("Arrived at"),
    "loading_monitor": _l("Loading monitor"), "disposal_monitor": _l("Disposal monitor"),
    "cost": _l("Cost"), "quantity_cy": _l("Quantity (cubic yards)"),
}


def field_label(name: str) -> str:
    return str(LABELS.get(name, name))


def sees_all_costs(user=None) -> bool:
    return bool(role_names(user) & SEES_ALL_COSTS)


def _money(value: Decimal | None) -> str:
    return "" if value is None else f"${value:,.2f}"


def check_record(item: Any, today: date | None = None) -> dict[str, list[str]]:
    """What is wrong with a record about to be saved: {field: [messages]} (empty when fine)."""
    today = today or city_today()
    errors: dict[str, list[str]] = {}

    def add(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    if hasattr(item, "category") and (item.category or "") not in CATEGORIES:
        add("category", gettext("must be one of A to G"))
    for name in HOUR_FIELDS:
        value = getattr(item, name, None)
        if value is not None and not 0 <= Decimal(str(value)) <= 24:
            add(name, gettext("must be between 0 and 24"))
    if isinstance(item, LaborEntry) and "regular_hours" not in errors and "overtime_hours" not in errors:
        if Decimal(str(item.regular_hours or 0)) + Decimal(str(item.overtime_hours or 0)) > 24:
            add("overtime_hours", gettext("regular and overtime hours add up to more than 24"))
    for name in ("load_call_pct", "percent_complete"):
        value = getattr(item, name, None)
        if value is not None and not 0 <= int(value) <= 100:
            add(name, gettext("must be between 0 and 100"))
    for name in DATE_FIELDS:
        value = getattr(item, name, None)
        if isinstance(value, date) and value > today:
            add(name, gettext("cannot be in the future"))
    for name in NON_NEGATIVE:
        value = getattr(item, name, None)
        if value is not None and Decimal(str(value)) < 0:
            add(name, gettext("cannot be negative"))
    site, disaster_id = getattr(item, "site", None), getattr(item, "disaster_id", None) or getattr(getattr(item, "disaster", None), "id", None)
    if site is not None and hasattr(item, "disaster") and disaster_id is not None and site.disaster_id != disaster_id:
        add("site", gettext("belongs to another disaster"))
    return errors


def refuse(errors: dict[str, list[str]]) -> ValueError:
    """FAB flashes the text of an exception raised in pre_add/pre_update: one sentence naming each field."""
    return ValueError(" ".join(gettext("%(field)s: %(message)s", field=field_label(k), message=m)
                               for k, ms in errors.items() for m in ms))


# ---------------------------------------------------------------- department scope


class EmployeeScopeFilter(BaseFilter):
    """Employees (or rows whose ``employee_id`` points to one) of the user's departments, unless they see all."""

    name = "Department scope"
    arg_name = "fema_scope"

    def apply(self, query, value):
        if sees_all_costs():
            return query
        model = self.datamodel.obj
        mine = select(Employee.id).where(Employee.department_id.in_(user_department_ids()))
        return query.filter((model.id if model is Employee else model.employee_id).in_(mine))


class EquipmentScopeFilter(BaseFilter):
    name = "Department scope"
    arg_name = "fema_scope"

    def apply(self, query, value):
        if sees_all_costs():
            return query
        model = self.datamodel.obj
        mine = select(Equipment.id).where(Equipment.department_id.in_(user_department_ids()))
        return query.filter((model.id if model is Equipment else model.equipment_id).in_(mine))


def _in_my_departments(department_id: int | None) -> bool:
    if sees_all_costs():
        return True
    return department_id is not None and db.session.scalar(
        select(department_staff.c.department_id).where(department_staff.c.user_id == current_user.id,
                                                       department_staff.c.department_id == department_id)) is not None


# ---------------------------------------------------------------- computed columns


class CostInterface(SQLAInterface):
    """SQLAInterface whose list can show computed columns: ``computed`` maps a name to fn(items) -> {id: text},
    called once for the rows of the page (so a cost column costs no query per row).

    A column with a default is optional in the forms (FAB requires every NOT NULL column, even an unchecked
    box): left empty, it gets its default (``apply_defaults``)."""

    def __init__(self, obj, computed: dict[str, Callable[[list], dict]] | None = None, **kwargs):
        super().__init__(obj, **kwargs)
        self.computed = computed or {}

    def is_nullable(self, col_name):
        column = self.list_columns.get(col_name)
        if column is not None and column.default is not None and column.default.is_scalar:
            return True
        return super().is_nullable(col_name)

    def apply_defaults(self, item) -> None:
        for name, column in self.list_columns.items():
            if getattr(item, name, None) is None and column.default is not None and column.default.is_scalar and not column.primary_key:
                setattr(item, name, column.default.arg)

    def get_values(self, lst, list_columns):
        lst = list(lst)
        values = {name: fn(lst) for name, fn in self.computed.items() if name in list_columns}
        for item in lst:
            yield {col: values[col].get(item.id, "") if col in values else self._get_attr_value(item, col) for col in list_columns}


def _each(fn) -> Callable[[list], dict]:
    return lambda items: {item.id: _money(fn(item)) for item in items}


def _equipment_costs(items: list) -> dict:
    """Each row's cost at the rate of its disaster's schedule: one schedule and one rate query per disaster."""
    from plugins.fema import rates

    out = {}
    by_disaster: dict[int, list] = {}
    for item in items:
        by_disaster.setdefault(item.disaster_id, []).append(item)
    for disaster_id, rows in by_disaster.items():
        schedule = rates.schedule_for(db.session, db.session.get(Disaster, disaster_id))
        found = rates.rates_by_code(db.session, schedule, [r.equipment.fema_code for r in rows if r.equipment])
        for row in rows:
            rate, unit = found.get((row.equipment.fema_code or "").strip(), (None, "hour")) if row.equipment else (None, "hour")
            cost = costs.equipment_cost(row, rate, unit)
            out[row.id] = _money(cost) if cost is not None else gettext("no rate")
    return out


def _load_quantities(items: list) -> dict:
    return {t.id: f"{costs.load_quantity_cy(t.truck.capacity_cy, t.load_call_pct)}" if t.truck else "" for t in items}


# ---------------------------------------------------------------- the views


def _select(choices: dict, label) -> SelectField:
    return SelectField(label, choices=[(k, v) for k, v in choices.items()], widget=Select2Widget())


def _category_field() -> SelectField:
    return _select(CATEGORIES, LABELS["category"])


class FemaModelView(CivicModelView):
    """Shared by every screen: labels, category select, validation, who entered the record."""

    label_columns = LABELS
    base_permissions = ["can_list", "can_show", "can_add", "can_edit", "can_delete"]
    page_size = 50
    formatters_columns = {"category": lambda v: CATEGORIES.get(v, v) if v else ""}

    def _check(self, item) -> None:
        errors = check_record(item)
        if errors:
            raise refuse(errors)

    def pre_add(self, item):
        self.datamodel.apply_defaults(item)
        self._check(item)

    def pre_update(self, item):
        self.datamodel.apply_defaults(item)
        self._check(item)


class CostRecordView(FemaModelView):
    """A cost record: disaster, site, category, date, description, the case it documents (by reference)."""

    record_columns = ["disaster", "site", "category", "work_date"]
    link_columns = ["description", "case_reference", "sweep_id"]
    add_form_extra_fields = edit_form_extra_fields = {
        "category": _category_field(),
        "case_reference": StringField(LABELS["case_reference"], validators=[OptionalValue()],
                                      description=_l("The case this work answers, such as PC-2024-000123 (optional).")),
    }
    base_order = ("work_date", "desc")

    def _link_case(self, item) -> None:
        from core.models import Case

        reference = (getattr(item, "case_reference", None) or "").strip()
        if not reference:
            item.case_id = None
            return
        case_id = db.session.scalar(select(Case.id).where(Case.reference == reference))
        if case_id is None:
            raise refuse({"case_reference": [gettext("no case has the reference “%(value)s”", value=reference[:40])]})
        item.case_id = case_id

    def prefill_form(self, form, pk):
        from core.models import Case

        item = self.datamodel.get(pk)
        if item is not None and item.case_id and "case_reference" in form:
            form.case_reference.data = db.session.scalar(select(Case.reference).where(Case.id == item.case_id))

    def pre_add(self, item):
        super().pre_add(item)
        self._link_case(item)
        item.created_by_id = current_user.id

    def pre_update(self, item):
        super().pre_update(item)
        self._link_case(item)


class SiteView(FemaModelView):
    datamodel = CostInterface(Site)
    list_title = _l("Damage inventory")
    show_template = "fema/site_show.html"  # the show page plus a link to the site's photos (plugins/fema/site_photos.py)
    list_columns = ["name", "disaster", "category", "cause", "cost_estimate", "percent_complete", "labor_type", "priority"]
    search_columns = ["disaster", "name", "category", "cause", "labor_type", "priority"]
    order_columns = ["name", "category", "cost_estimate", "percent_complete", "priority"]
    add_columns = edit_columns = ["disaster", "name", "category", "address", "lat", "long", "damage_description", "cause",
                                  "cost_estimate", "percent_complete", "labor_type", "environmental_issues", "insured", "priority"]
    show_columns = add_columns
    base_order = ("name", "asc")
    add_form_extra_fields = edit_form_extra_fields = {
        "category": _category_field(),
        "labor_type": _select(LABOR_TYPES, LABELS["labor_type"]),
        "priority": _select(PRIORITIES, LABELS["priority"]),
    }
    formatters_columns = {
        **FemaModelView.formatters_columns,
        "labor_type": lambda v: LABOR_TYPES.get(v, v), "priority": lambda v: PRIORITIES.get(v, v),
        "cost_estimate": lambda v: _money(v),
    }


class EmployeeView(FemaModelView):
    datamodel = CostInterface(Employee)
    list_title = _l("Employees")
    list_columns = ["employee_number", "name", "job_title", "department", "hourly_rate", "overtime_multiplier", "budgeted", "active"]
    search_columns = ["employee_number", "name", "job_title", "department", "budgeted", "active"]
    order_columns = ["employee_number", "name", "job_title", "hourly_rate"]
    add_columns = edit_columns = show_columns = ["employee_number", "name", "job_title", "department", "hourly_rate",
                                                 "overtime_multiplier", "fringe_regular_pct", "fringe_overtime_pct",
                                                 "budgeted", "active"]
    base_order = ("employee_number", "asc")
    base_filters = [["id", EmployeeScopeFilter, None]]


class EquipmentRegisterView(FemaModelView):
    datamodel = CostInterface(Equipment)
    list_title = _l("Equipment register")
    list_columns = ["unit_number", "description", "size_capacity", "horsepower", "make_model", "fema_code", "active"]
    search_columns = ["unit_number", "description", "fema_code", "active"]
    order_columns = ["unit_number", "description", "fema_code"]
    add_columns = edit_columns = show_columns = ["unit_number", "description", "size_capacity", "horsepower", "make_model",
                                                 "fema_code", "active"]
    base_order = ("unit_number", "asc")
    base_filters = [["id", EquipmentScopeFilter, None]]


class LaborView(CostRecordView):
    datamodel = CostInterface(LaborEntry, {"cost": _each(lambda e: costs.labor_cost(e).total)})
    list_title = _l("Force account labor")
    list_columns = ["work_date", "employee", "site", "category", "regular_hours", "overtime_hours", "cost"]
    search_columns = ["disaster", "site", "category", "employee", "work_date"]
    order_columns = ["work_date", "category", "regular_hours", "overtime_hours"]
    add_columns = edit_columns = CostRecordView.record_columns + ["employee", "regular_hours", "overtime_hours", "hourly_rate",
                                                                  "overtime_rate", "fringe_regular_pct", "fringe_overtime_pct"] + CostRecordView.link_columns
    show_columns = add_columns
    base_filters = [["id", EmployeeScopeFilter, None]]
    add_form_query_rel_fields = edit_form_query_rel_fields = {"employee": [["id", EmployeeScopeFilter, None]]}
    add_form_extra_fields = edit_form_extra_fields = {
        **CostRecordView.add_form_extra_fields,
        **{name: DecimalField(LABELS[name], places=None, validators=[OptionalValue()], widget=BS3TextFieldWidget())
           for name in ("hourly_rate", "overtime_rate", "fringe_regular_pct", "fringe_overtime_pct")},
    }
    description_columns = {"hourly_rate": _l("Left empty: the employee's rate (overtime: the rate x their multiplier).")}

    def _scope(self, item) -> None:
        employee = item.employee or (db.session.get(Employee, item.employee_id) if item.employee_id else None)
        if employee is None:
            raise refuse({"employee": [gettext("is required")]})
        if not _in_my_departments(employee.department_id):
            raise refuse({"employee": [gettext("is not in one of your departments")]})
        fill_rates(item, employee)

    def pre_add(self, item):
        self._scope(item)
        super().pre_add(item)

    def pre_update(self, item):
        self._scope(item)
        super().pre_update(item)


class EquipmentUseView(CostRecordView):
    datamodel = CostInterface(EquipmentEntry, {"cost": _equipment_costs})
    list_title = _l("Force account equipment")
    list_columns = ["work_date", "equipment", "site", "category", "hours_used", "standby_hours", "operator", "cost"]
    search_columns = ["disaster", "site", "category", "equipment", "work_date"]
    order_columns = ["work_date", "category", "hours_used"]
    add_columns = edit_columns = CostRecordView.record_columns + ["equipment", "hours_used", "standby_hours", "miles",
                                                                  "operator"] + CostRecordView.link_columns
    show_columns = add_columns
    base_filters = [["id", EquipmentScopeFilter, None]]
    add_form_query_rel_fields = edit_form_query_rel_fields = {"equipment": [["id", EquipmentScopeFilter, None]]}
    description_columns = {"standby_hours": _l("Standby time is kept apart: FEMA does not pay for it.")}

    def _scope(self, item) -> None:
        unit = item.equipment or (db.session.get(Equipment, item.equipment_id) if item.equipment_id else None)
        if unit is None:
            raise refuse({"equipment": [gettext("is required")]})
        if not _in_my_departments(unit.department_id):
            raise refuse({"equipment": [gettext("is not in one of your departments")]})

    def pre_add(self, item):
        self._scope(item)
        super().pre_add(item)

    def pre_update(self, item):
        self._scope(item)
        super().pre_update(item)


class MaterialView(CostRecordView):
    datamodel = CostInterface(MaterialEntry, {"cost": _each(costs.material_cost)})
    list_title = _l("Materials")
    list_columns = ["work_date", "item", "vendor", "site", "category", "quantity", "unit_price", "cost"]
    search_columns = ["disaster", "site", "category", "vendor", "item", "work_date"]
    order_columns = ["work_date", "category", "vendor", "item"]
    add_columns = edit_columns = CostRecordView.record_columns + ["vendor", "item", "quantity", "unit_price", "date_purchased",
                                                                  "from_stock", "invoice_number"] + CostRecordView.link_columns
    show_columns = add_columns


class RentalView(CostRecordView):
    datamodel = CostInterface(RentalEntry, {"cost": _each(costs.rental_cost)})
    list_title = _l("Rented equipment")
    list_columns = ["work_date", "equipment_type", "vendor", "site", "category", "hours_used", "rate", "cost"]
    search_columns = ["disaster", "site", "category", "vendor", "work_date"]
    order_columns = ["work_date", "category", "vendor"]
    add_columns = edit_columns = CostRecordView.record_columns + ["vendor", "equipment_type", "hours_used", "rate", "with_operator",
                                                                  "invoice_number", "date_paid", "amount_paid", "check_number"] + CostRecordView.link_columns
    show_columns = add_columns


class ContractView(CostRecordView):
    datamodel = CostInterface(ContractEntry, {"cost": _each(costs.contract_cost)})
    list_title = _l("Contract work and mutual aid")
    list_columns = ["work_date", "contractor", "contract_number", "site", "category", "mutual_aid", "cost"]
    search_columns = ["disaster", "site", "category", "contractor", "mutual_aid", "work_date"]
    order_columns = ["work_date", "category", "contractor"]
    add_columns = edit_columns = CostRecordView.record_columns + ["contractor", "contract_number", "mutual_aid", "date_to", "cost_billed",
                                                                  "invoice_number", "date_paid", "amount_paid", "check_number"] + CostRecordView.link_columns
    show_columns = add_columns


def _disaster_choices() -> list[tuple[int, str]]:
    """Disasters for a select (a small table: one row per event)."""
    return [(d.id, str(d)) for d in db.session.scalars(select(Disaster).order_by(Disaster.started_at.desc()).limit(500))]


def _disaster_names(items: list) -> dict:
    ids = {item.disaster_id for item in items}
    names = {d.id: str(d) for d in db.session.scalars(select(Disaster).where(Disaster.id.in_(ids)))} if ids else {}
    return {item.id: names.get(item.disaster_id, "") for item in items}


class TruckView(FemaModelView):
    datamodel = CostInterface(TruckCertification, {"disaster": _disaster_names})
    list_title = _l("Certified trucks")
    list_columns = ["truck_number", "plate", "contractor", "capacity_cy", "measured_by", "measured_on", "disaster"]
    search_columns = ["truck_number", "plate", "contractor"]
    order_columns = ["truck_number", "plate", "contractor", "capacity_cy"]
    add_columns = edit_columns = ["disaster_id", "truck_number", "plate", "contractor", "capacity_cy", "measured_by", "measured_on"]
    show_columns = ["truck_number", "plate", "contractor", "capacity_cy", "measured_by", "measured_on"]
    add_form_extra_fields = edit_form_extra_fields = {
        "disaster_id": SelectField(LABELS["disaster"], coerce=int, choices=_disaster_choices, widget=Select2Widget()),
    }
    label_columns = {**LABELS, "disaster_id": LABELS["disaster"]}
    base_order = ("truck_number", "asc")


class LoadTicketView(CostRecordView):
    datamodel = CostInterface(LoadTicket, {"quantity_cy": _load_quantities})
    list_title = _l("Debris load tickets")
    list_columns = ["ticket_number", "work_date", "truck", "debris_type", "load_call_pct", "quantity_cy", "disposal_site",
                    "loading_monitor", "disposal_monitor"]
    search_columns = ["disaster", "site", "ticket_number", "truck", "debris_type", "work_date"]
    order_columns = ["ticket_number", "work_date", "load_call_pct"]
    add_columns = edit_columns = CostRecordView.record_columns + [
        "ticket_number", "contract_number", "truck", "driver", "loading_location", "lat", "long", "loaded_at", "debris_type",
        "load_call_pct", "disposal_site", "arrived_at", "loading_monitor", "disposal_monitor"] + CostRecordView.link_columns
    show_columns = add_columns
    add_form_extra_fields = edit_form_extra_fields = {**CostRecordView.add_form_extra_fields,
                                                      "debris_type": _select(DEBRIS_TYPES, LABELS["debris_type"])}
    formatters_columns = {**FemaModelView.formatters_columns, "debris_type": lambda v: DEBRIS_TYPES.get(v, v)}
    description_columns = {"load_call_pct": _l("How full the truck was, judged by the loading monitor: it lowers the certified capacity, never raises it.")}


# ---------------------------------------------------------------- the checklist


class ChecklistView(BaseView):
    """FEMA › Checklist: the disasters, and for one of them what to fix before exporting."""

    route_base = "/fema/checklist"
    default_view = "index"
    template_folder = str(Path(__file__).resolve().parent / "templates")  # fema/checklist_*.html, whatever else is registered

    @expose("/")
    @has_access
    def index(self):
        disasters = db.session.scalars(select(Disaster).order_by(Disaster.started_at.desc()).limit(200)).all()
        return self.render_template("fema/checklist_index.html", disasters=disasters, title=gettext("Checklist before exporting"))

    @expose("/<disaster_id>")
    @has_access
    def show(self, disaster_id):
        from plugins.fema import checklist

        disaster = db.session.get(Disaster, int(disaster_id)) if disaster_id.isdigit() and len(disaster_id) < 10 else None
        if disaster is None:
            abort(404, description=gettext("%(field)s: %(message)s", field=gettext("Disaster"), message=gettext("no such disaster")))
        found = checklist.problems(db.session, disaster)
        grouped = {kind: [p for p in found if p.kind == kind] for kind in checklist.KINDS}
        return self.render_template("fema/checklist_page.html", disaster=disaster, grouped=grouped, kinds=checklist.KINDS,
                                    counts=checklist.counts(found), title=gettext("Checklist: %(disaster)s", disaster=str(disaster)))


# ---------------------------------------------------------------- field entry: my hours (phone)


def open_disasters() -> list[Disaster]:
    """Where hours may be entered from the field: the active event first, then the others not ended."""
    query = (select(Disaster).where(Disaster.ended_at.is_(None))
             .order_by(Disaster.active.desc(), Disaster.started_at.desc()).limit(20))
    return list(db.session.scalars(query))


def my_employees() -> list[Employee]:
    """The active employees of the user's departments (everyone's for those who see all costs)."""
    query = select(Employee).where(Employee.active.is_(True)).order_by(Employee.name).limit(500)
    if not sees_all_costs():
        query = query.where(Employee.department_id.in_(user_department_ids()))
    return list(db.session.scalars(query))


def _number(form, name: str, errors: dict) -> Decimal:
    text = (form.get(name) or "0").strip() or "0"
    try:
        value = Decimal(text)
        if not value.is_finite():
            raise ValueError(text)
    except (ArithmeticError, ValueError):
        errors.setdefault(name, []).append(gettext("must be a number"))
        return Decimal("0")
    return value


def my_units() -> list[Equipment]:
    """The units in service of the user's departments' equipment register (every unit for those who see all)."""
    query = select(Equipment).where(Equipment.active.is_(True)).order_by(Equipment.unit_number).limit(500)
    if not sees_all_costs():
        query = query.where(Equipment.department_id.in_(user_department_ids()))
    return list(db.session.scalars(query))


def _pick(values: dict, name: str, options: dict, errors: dict):
    """The option chosen in a select (by id), or an error on the field."""
    key = values.get(name) or ""
    found = options.get(int(key)) if key.isdigit() and len(key) < 10 else None
    if found is None:
        errors.setdefault(name, []).append(gettext("choose one from the list"))
    return found


def _disaster_and_site(values: dict, errors: dict) -> tuple[Disaster | None, Site | None]:
    """An open disaster and one of its sites, as chosen on the phone (errors name the field)."""
    key = values["disaster"]
    disaster = db.session.get(Disaster, int(key)) if key.isdigit() and len(key) < 10 else None
    if disaster is None or disaster.ended_at is not None:
        errors.setdefault("disaster", []).append(gettext("choose one from the list"))
        return None, None
    site_id = values["site"]
    site = db.session.get(Site, int(site_id)) if site_id.isdigit() and len(site_id) < 10 else None
    if site is None or site.disaster_id != disaster.id:
        errors.setdefault("site", []).append(gettext("choose one from the list"))
        site = None
    return disaster, site


class MyHoursView(BaseView):
    """FEMA › My hours: a phone page where a crew member or department staff records today's hours of an
    employee of their department, and the equipment of their department they ran (hours used, standby hours
    kept apart), on a site of an open disaster."""

    route_base = "/fema/my-hours"
    default_view = "index"
    template_folder = ChecklistView.template_folder

    def _page(self, status: int = 200, errors: dict | None = None, values: dict | None = None, failed: str = ""):
        disasters = open_disasters()
        chosen = (values or {}).get("disaster") or (str(disasters[0].id) if disasters else "")
        sites = []
        if chosen.isdigit() and len(chosen) < 10:
            sites = db.session.scalars(select(Site).where(Site.disaster_id == int(chosen)).order_by(Site.name).limit(500)).all()
        today = city_today()
        mine = db.session.scalars(select(LaborEntry).where(LaborEntry.created_by_id == current_user.id, LaborEntry.work_date == today)
                                  .order_by(LaborEntry.id.desc()).limit(50)).all()
        mine_equipment = db.session.scalars(
            select(EquipmentEntry).where(EquipmentEntry.created_by_id == current_user.id, EquipmentEntry.work_date == today)
            .order_by(EquipmentEntry.id.desc()).limit(50)).all()
        forms = {"labor": ({}, {}), "equipment": ({}, {})}
        if failed in forms:
            forms[failed] = (errors or {}, values or {})
        body = self.render_template("fema/cost_my_hours.html", disasters=disasters, sites=sites, employees=my_employees(),
                                    units=my_units(), categories=CATEGORIES, errors=forms["labor"][0], values=forms["labor"][1],
                                    equipment_errors=forms["equipment"][0], equipment_values=forms["equipment"][1],
                                    chosen=chosen, today=today, mine=mine, mine_equipment=mine_equipment, labels=LABELS,
                                    title=gettext("My hours"))
        return body, status

    def _refuse(self, errors: dict, values: dict, failed: str):
        for name, messages in errors.items():
            for message in messages:
                flash(gettext("%(field)s: %(message)s", field=field_label(name), message=message), "danger")
        return self._page(400, errors, values, failed)

    @expose("/", methods=["GET"])
    @has_access
    def index(self):
        return self._page(values={"disaster": request.args.get("disaster", "")})

    @expose("/", methods=["POST"])
    @has_access
    def save(self):
        form = request.form
        errors: dict[str, list[str]] = {}
        values = {k: form.get(k, "") for k in ("disaster", "site", "employee", "category", "regular_hours", "overtime_hours", "description")}
        disaster, site = _disaster_and_site(values, errors)
        employee = _pick(values, "employee", {e.id: e for e in my_employees()}, errors)
        regular = _number(form, "regular_hours", errors)
        overtime = _number(form, "overtime_hours", errors)
        description = values["description"].strip()
        if len(description) > 2000:
            errors.setdefault("description", []).append(gettext("is too long"))
        if not errors and regular + overtime <= 0:
            errors.setdefault("regular_hours", []).append(gettext("enter the hours worked"))
        entry = None
        if not errors:
            entry = new_labor_entry(employee, disaster_id=disaster.id, site_id=site.id, work_date=city_today(),
                                    category=values["category"].strip().upper(), regular_hours=regular, overtime_hours=overtime,
                                    description=description, created_by_id=current_user.id)
            errors = check_record(entry)
        if errors:
            return self._refuse(errors, values, "labor")
        db.session.add(entry)
        db.session.commit()
        flash(gettext("%(hours)s hours recorded for %(employee)s.", hours=f"{(regular + overtime).normalize():f}", employee=employee.name), "success")
        return redirect(url_for(".index", disaster=disaster.id))

    @expose("/equipment", methods=["POST"])
    @has_access
    def save_equipment(self):
        """Today's use of one unit of the user's departments: hours used and standby hours (not billed)."""
        form = request.form
        errors: dict[str, list[str]] = {}
        values = {k: form.get(k, "") for k in ("disaster", "site", "equipment", "operator", "category", "hours_used",
                                               "standby_hours", "description")}
        disaster, site = _disaster_and_site(values, errors)
        unit = _pick(values, "equipment", {u.id: u for u in my_units()}, errors)
        operator = _pick(values, "operator", {e.id: e for e in my_employees()}, errors) if values["operator"] else None
        used = _number(form, "hours_used", errors)
        standby = _number(form, "standby_hours", errors)
        description = values["description"].strip()
        if len(description) > 2000:
            errors.setdefault("description", []).append(gettext("is too long"))
        if not errors and used + standby <= 0:
            errors.setdefault("hours_used", []).append(gettext("enter the hours the equipment ran or stood by"))
        entry = None
        if not errors:
            entry = EquipmentEntry(disaster_id=disaster.id, site_id=site.id, work_date=city_today(),
                                   category=values["category"].strip().upper(), equipment_id=unit.id, hours_used=used,
                                   standby_hours=standby, operator_id=operator.id if operator else None,
                                   description=description, created_by_id=current_user.id)
            errors = check_record(entry)
            if not errors and used + standby > 24:
                errors.setdefault("standby_hours", []).append(gettext("hours used and standby hours add up to more than 24"))
        if errors:
            return self._refuse(errors, values, "equipment")
        db.session.add(entry)
        db.session.commit()
        flash(gettext("%(hours)s hours recorded for %(unit)s.", hours=f"{(used + standby).normalize():f}",
                      unit=f"{unit.unit_number} {unit.description}"), "success")
        return redirect(url_for(".index", disaster=disaster.id))


# ---------------------------------------------------------------- registration (plugin.py via screens.py)

_SCREENS = (
    ("Damage inventory", SiteView, _l("Damage inventory"), "fa-map-marker"),
    ("Employees", EmployeeView, _l("Employees"), "fa-users"),
    ("Equipment register", EquipmentRegisterView, _l("Equipment register"), "fa-truck"),
    ("Labor", LaborView, _l("Labor"), "fa-clock-o"),
    ("Equipment use", EquipmentUseView, _l("Equipment use"), "fa-cogs"),
    ("Materials", MaterialView, _l("Materials"), "fa-cubes"),
    ("Rented equipment", RentalView, _l("Rented equipment"), "fa-key"),
    ("Contracts", ContractView, _l("Contracts and mutual aid"), "fa-file-text-o"),
    ("Trucks", TruckView, _l("Trucks"), "fa-truck"),
    ("Load tickets", LoadTicketView, _l("Load tickets"), "fa-ticket"),
    ("Checklist", ChecklistView, _l("Checklist"), "fa-check-square-o"),
    ("My hours", MyHoursView, _l("My hours"), "fa-mobile"),
)
_READ = "can_list|can_show"
_ENTER = "can_list|can_show|can_add|can_edit"


def view_specs() -> list[ViewSpec]:
    return [ViewSpec(name, view, label, "FEMA", _l("FEMA"), icon) for name, view, label, icon in _SCREENS]


def role_specs() -> list[RoleSpec]:
    views = "|".join(view.__name__ for _, view, _, _ in _SCREENS if view not in (ChecklistView, MyHoursView))
    menus = "|".join(name for name, *_ in _SCREENS)
    return [
        RoleSpec("FEMA coordinator", ((views, _ENTER + "|can_delete"), ("ChecklistView", "can_index|can_show"),
                                      ("MyHoursView", "can_index|can_save|can_save_equipment"), ("FEMA|" + menus, "menu_access"))),
        RoleSpec("Dispatcher", ((views, _READ), ("ChecklistView", "can_index|can_show"),
                                ("FEMA|" + menus.replace("|My hours", ""), "menu_access"))),
        RoleSpec("Department staff", (("LaborView|EquipmentUseView", _ENTER), ("SiteView|EmployeeView|EquipmentRegisterView", _READ),
                                      ("MyHoursView", "can_index|can_save|can_save_equipment"),
                                      ("FEMA|Damage inventory|Employees|Equipment register|Labor|Equipment use|My hours", "menu_access"))),
        RoleSpec("Field crew", (("MyHoursView", "can_index|can_save|can_save_equipment"), ("FEMA|My hours", "menu_access"))),
    ]
