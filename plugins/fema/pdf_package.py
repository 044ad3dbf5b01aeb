"""The FEMA PDF package: a cover (applicant, PA id, disaster, period, profile and rate edition), a summary of
totals per form and category A-G, one page per damage inventory site with its photos, and the certification block.

Totals come from SQL (GROUP BY category; each record to the cent, as in the exports: ``cost_sql``), sites and their photos are read in batches: no table is loaded whole.
The summary shows amounts only (no names).  The bytes are deterministic: the PDF's creation date is the export
record's ``created_at``, so ``reproduce`` gives the same sha256 while the data are unchanged.
"""
from __future__ import annotations

import io
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from flask_babel import gettext
from sqlalchemy import case, false, func, literal, null, select

from core.services import attachments
from plugins.fema import cost_sql, costs
from plugins.fema.models import (CATEGORIES, LABOR_TYPES, ContractEntry, EquipmentEntry, Equipment, LaborEntry, LoadTicket,
                                 MaterialEntry, RentalEntry, Site, SitePhoto, TruckCertification)

LINES = ("labor_regular", "labor_overtime", "equipment", "materials", "rentals", "contracts", "load_tickets_cy")
MONEY_LINES = LINES[:-1]  # dollars; the load tickets line is cubic yards
LETTERS = "ABCDEFG"
SITE_BATCH = 100
PHOTO_W, PHOTO_H = 90.0, 68.0  # mm: two photos a row


def _line_labels() -> dict[str, str]:
    return {"labor_regular": gettext("Labor, regular time ($)"), "labor_overtime": gettext("Labor, overtime ($)"),
            "equipment": gettext("Force account equipment ($)"), "materials": gettext("Materials ($)"),
            "rentals": gettext("Rented equipment ($)"), "contracts": gettext("Contract work and mutual aid ($)"),
            "load_tickets_cy": gettext("Debris load tickets (cubic yards)"), "all_costs": gettext("Total cost ($)")}


def _filtered(stmt, model, params):
    if params.category:
        stmt = stmt.where(model.category == params.category)
    if params.date_from:
        stmt = stmt.where(model.work_date >= params.date_from)
    if params.date_to:
        stmt = stmt.where(model.work_date <= params.date_to)
    return stmt


def _by_category(session, model, amount, params, disaster_id, join=None) -> dict[str, Decimal]:
    stmt = select(model.category, func.sum(amount)).where(model.disaster_id == disaster_id)
    if join is not None:
        stmt = stmt.join(*join)
    stmt = _filtered(stmt, model, params).group_by(model.category)
    return {cat: costs.dec(total) for cat, total in session.execute(stmt) if total is not None}


def summary(session, plan) -> dict[str, Any]:
    """{line: {category: amount}} for every line of ``LINES`` (SQL sums), plus ``missing_rates`` (equipment hours
    whose FEMA code has no rate in the plan's schedule) and the grand total per line (key "total")."""
    d, p = plan.disaster.id, plan.params
    hundred = Decimal("100")
    out: dict[str, Any] = {
        "labor_regular": _by_category(session, LaborEntry, cost_sql.labor_regular(), p, d),
        "labor_overtime": _by_category(session, LaborEntry, cost_sql.labor_overtime(), p, d),
        "materials": _by_category(session, MaterialEntry, cost_sql.materials(), p, d),
        "rentals": _by_category(session, RentalEntry, cost_sql.rentals(), p, d),
        "contracts": _by_category(session, ContractEntry, cost_sql.contracts(), p, d),
    }
    call = case((LoadTicket.load_call_pct > 100, 100), (LoadTicket.load_call_pct < 0, 0), else_=LoadTicket.load_call_pct)
    out["load_tickets_cy"] = _by_category(session, LoadTicket, TruckCertification.capacity_cy * call / hundred, p, d,
                                          (TruckCertification, LoadTicket.truck_id == TruckCertification.id))
    from plugins.fema import rates

    used = select(Equipment.fema_code).distinct().join(EquipmentEntry, EquipmentEntry.equipment_id == Equipment.id)
    table = rates.rates_by_code(session, plan.schedule, session.scalars(used.where(EquipmentEntry.disaster_id == d)).all())
    priced = {code: value for code, value in table.items() if value[0] is not None}
    code = func.coalesce(func.trim(Equipment.fema_code), "")
    rate = case({c: r for c, (r, _) in priced.items()}, value=code) if priced else null()
    unit = case({c: u for c, (_, u) in priced.items()}, value=code, else_="hour") if priced else literal("hour")
    has_rate = code.in_(list(priced)) if priced else false()
    out["equipment"] = _by_category(session, EquipmentEntry, case((has_rate, cost_sql.equipment(rate, unit))), p, d,
                                    (Equipment, EquipmentEntry.equipment_id == Equipment.id))
    stmt = (select(func.sum(EquipmentEntry.hours_used)).join(Equipment, EquipmentEntry.equipment_id == Equipment.id)
            .where(EquipmentEntry.disaster_id == d, ~has_rate))
    missing = costs.dec(session.scalar(_filtered(stmt, EquipmentEntry, p)))
    for line in LINES:
        step = (lambda v: v.quantize(Decimal("0.1"))) if line == "load_tickets_cy" else costs.money
        out[line] = {cat: step(v) for cat, v in out[line].items() if step(v)}
        out[line]["total"] = step(sum(out[line].values(), Decimal("0")))
    out["all_costs"] = {key: sum((out[line].get(key, Decimal("0")) for line in MONEY_LINES), Decimal("0"))
                        for key in (*LETTERS, "total")}
    out["all_costs"] = {key: value for key, value in out["all_costs"].items() if value or key == "total"}
    out["missing_rates_hours"] = missing
    return out


# ---------------------------------------------------------------- drawing


def _t(value: Any) -> str:
    """Text for the PDF core fonts (Latin-1): anything else becomes '?'."""
    if value is None:
        return ""
    if isinstance(value, bool):
        value = gettext("Yes") if value else gettext("No")
    return str(value).encode("latin-1", "replace").decode("latin-1")


def _new_pdf(plan, created: datetime):
    from fpdf import FPDF

    pdf = FPDF(orientation="P", unit="mm", format="Letter")
    pdf.set_creation_date(created.replace(tzinfo=timezone.utc) if created.tzinfo is None else created)
    pdf.set_title(_t(gettext("FEMA Public Assistance package")))
    pdf.set_author("Civic Connect")
    pdf.set_creator("Civic Connect")
    pdf.set_auto_page_break(True, margin=15)
    pdf.set_margins(12, 12, 12)
    return pdf


def _pairs(pdf, pairs, label_w: float = 72) -> None:
    for label, value in pairs:
        pdf.set_font("Helvetica", "B", 10)
        pdf.cell(label_w, 6, _t(label))
        pdf.set_font("Helvetica", "", 10)
        pdf.multi_cell(0, 6, _t(value), new_x="LMARGIN", new_y="NEXT")


def records_period(session, plan):
    """The first and last work dates of the package's records of every kind (the dates asked for, if any)."""
    from plugins.fema.exporter import ENTRY_MODELS

    p = plan.params
    if p.date_from and p.date_to:
        return p.date_from, p.date_to
    firsts, lasts = [], []
    for model in ENTRY_MODELS.values():
        stmt = select(func.min(model.work_date), func.max(model.work_date)).where(model.disaster_id == plan.disaster.id)
        first, last = session.execute(_filtered(stmt, model, p)).one()
        firsts += [first] if first else []
        lasts += [last] if last else []
    return p.date_from or (min(firsts) if firsts else None), p.date_to or (max(lasts) if lasts else None)


def _cover(pdf, session, plan, created: datetime) -> None:
    d, s, p = plan.disaster, plan.settings, plan.params
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 18)
    pdf.multi_cell(0, 10, _t(gettext("FEMA Public Assistance package")), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    start, end = records_period(session, plan)
    period = f"{start or ''} - {end or ''}" if (start or end) else ""
    incident = f"{d.incident_begin or ''} - {d.incident_end or ''}" if (d.incident_begin or d.incident_end) else ""
    _pairs(pdf, [
        (gettext("Applicant"), s.get("applicant", "")),
        (gettext("Applicant PA id"), d.applicant_pa_id or s.get("applicant_pa_id", "")),
        (gettext("Disaster"), f"{d.number or d.tag} {d.title}"),
        (gettext("Declaration date"), d.declaration_date or ""),
        (gettext("Incident period"), incident),
        (gettext("Period of the records"), period),
        (gettext("Category"), CATEGORIES.get(p.category, "") if p.category else gettext("All categories")),
        (gettext("Export profile"), f"{plan.profile.id} ({gettext('edition')} {plan.profile.edition})"),
        (gettext("Equipment rate schedule"), plan.schedule.edition if plan.schedule else gettext("none imported")),
        (gettext("Prepared"), created.strftime("%Y-%m-%d %H:%M UTC")),
    ])


def _summary_page(pdf, totals: dict[str, Any]) -> None:
    pdf.add_page(orientation="L")  # nine columns of amounts
    pdf.set_font("Helvetica", "B", 14)
    pdf.cell(0, 9, _t(gettext("Summary of costs by category")), new_x="LMARGIN", new_y="NEXT")
    label_w, col_w = 64.0, 23.0
    pdf.set_font("Helvetica", "B", 8)
    pdf.cell(label_w, 6, "", border=1)
    for letter in LETTERS:
        pdf.cell(col_w, 6, letter, border=1, align="C")
    pdf.cell(col_w, 6, _t(gettext("Total")), border=1, align="C", new_x="LMARGIN", new_y="NEXT")
    labels = _line_labels()
    for line in (*MONEY_LINES, "all_costs", "load_tickets_cy"):
        bold = line == "all_costs"  # the dollars of every kind of record, per category
        pdf.set_font("Helvetica", "B" if bold else "", 8)
        pdf.cell(label_w, 6, _t(labels[line]), border=1)
        for letter in LETTERS + "*":
            key = "total" if letter == "*" else letter
            value = totals[line].get(key)
            if letter == "*":
                pdf.set_font("Helvetica", "B", 8)
            pdf.cell(col_w, 6, f"{value:,}" if value else "", border=1, align="R",
                     **({"new_x": "LMARGIN", "new_y": "NEXT"} if letter == "*" else {}))
    if totals["missing_rates_hours"]:
        pdf.ln(3)
        pdf.set_font("Helvetica", "I", 9)
        pdf.multi_cell(0, 5, _t(gettext("%(hours)s equipment hours have no rate in the schedule and are not counted.",
                                        hours=totals["missing_rates_hours"])), new_x="LMARGIN", new_y="NEXT")
    categories = ", ".join(str(label) for label in CATEGORIES.values())
    pdf.ln(3)
    pdf.set_font("Helvetica", "", 8)
    pdf.multi_cell(0, 4, _t(categories), new_x="LMARGIN", new_y="NEXT")


def _site_page(pdf, site: Site, photos: list[SitePhoto]) -> int:
    """One site: its damage inventory fields, then its photos (two a row).  Returns the photos embedded."""
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 14)
    pdf.multi_cell(0, 8, _t(f"{gettext('Site')}: {site.name}"), new_x="LMARGIN", new_y="NEXT")
    where = f"{site.lat}, {site.long}" if site.lat is not None and site.long is not None else ""
    _pairs(pdf, [
        (gettext("Category"), CATEGORIES.get(site.category, site.category)),
        (gettext("Address"), site.address), (gettext("Location"), where),
        (gettext("Damage description"), site.damage_description), (gettext("Cause"), site.cause),
        (gettext("Cost estimate ($)"), f"{costs.money(site.cost_estimate):,}" if site.cost_estimate is not None else ""),
        (gettext("Percent complete"), f"{site.percent_complete} %"),
        (gettext("Labor type"), LABOR_TYPES.get(site.labor_type, site.labor_type)),
        (gettext("Environmental or historic issues"), bool(site.environmental_issues)),
        (gettext("Insured"), bool(site.insured)), (gettext("Priority"), site.priority),
    ])
    embedded = 0
    if not photos:
        pdf.ln(2)
        pdf.set_font("Helvetica", "I", 10)
        pdf.cell(0, 6, _t(gettext("No photos.")), new_x="LMARGIN", new_y="NEXT")
        return 0
    pdf.ln(3)
    row_y = pdf.get_y()
    for i, photo in enumerate(photos):
        column = i % 2
        if column == 0:
            if pdf.get_y() + PHOTO_H + 8 > pdf.h - pdf.b_margin:
                pdf.add_page()
            row_y = pdf.get_y()
        x = pdf.l_margin + column * (PHOTO_W + 4)
        try:
            stored = attachments.open_stored(photo.stored_name)
            if stored is None:
                raise FileNotFoundError(photo.stored_name)
            with stored:
                pdf.image(io.BytesIO(stored.read()), x=x, y=row_y, w=PHOTO_W, h=PHOTO_H, keep_aspect_ratio=True)
            embedded += 1
        except Exception:  # a file gone or unreadable: say so, keep the package
            pdf.set_xy(x, row_y)
            pdf.set_font("Helvetica", "I", 9)
            pdf.cell(PHOTO_W, 5, _t(gettext("Photo %(name)s is missing.", name=photo.stored_name)))
        pdf.set_xy(x, row_y + PHOTO_H + 1)
        pdf.set_font("Helvetica", "", 8)
        pdf.cell(PHOTO_W, 4, _t((photo.caption or "")[:90]))
        if column == 1 or i == len(photos) - 1:
            pdf.set_xy(pdf.l_margin, row_y + PHOTO_H + 7)
    return embedded


def _sites(session, plan):
    """(site, photos) pairs, sites in batches with one photo query per batch."""
    stmt = select(Site).where(Site.disaster_id == plan.disaster.id).order_by(Site.category, Site.name, Site.id)
    if plan.params.category:
        stmt = stmt.where(Site.category == plan.params.category)
    sites = session.scalars(stmt.execution_options(yield_per=SITE_BATCH))
    for batch in sites.partitions(SITE_BATCH):
        photos: dict[int, list[SitePhoto]] = {}
        for photo in session.scalars(select(SitePhoto).where(SitePhoto.site_id.in_([s.id for s in batch]))
                                     .order_by(SitePhoto.site_id, SitePhoto.id)):
            photos.setdefault(photo.site_id, []).append(photo)
        for site in batch:
            yield site, photos.get(site.id, [])


def _certification(pdf, plan) -> None:
    from plugins.fema import exporter

    pdf.add_page()
    pdf.set_font("Helvetica", "B", 14)
    pdf.cell(0, 9, _t(gettext("Certification")), new_x="LMARGIN", new_y="NEXT")
    statement = plan.profile.certification_text or gettext(
        "I certify that the information in this package was obtained from payroll records, invoices, or other "
        "documents that are available for audit.")
    pdf.set_font("Helvetica", "", 10)
    pdf.multi_cell(0, 5, _t(statement), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    _pairs(pdf, [(label, value if value != "" else "_" * 30) for label, value in exporter.certification_values(plan)])


def build_package(session, plan, created: datetime) -> tuple[bytes, dict[str, Any]]:
    """The package's bytes and what is in it: {"totals": summary(...), "sites": n, "photos": n, "pages": n}."""
    totals = summary(session, plan)
    pdf = _new_pdf(plan, created)
    _cover(pdf, session, plan, created)
    _summary_page(pdf, totals)
    sites = photos = 0
    for site, site_photos in _sites(session, plan):
        photos += _site_page(pdf, site, site_photos)
        sites += 1
    _certification(pdf, plan)
    return bytes(pdf.output()), {"totals": totals, "sites": sites, "photos": photos, "pages": pdf.page_no()}


def write_pdf(session, plan, path: Path, created: datetime) -> int:
    """Write the package to ``path``; returns the number of sites (the record's row count)."""
    data, info = build_package(session, plan, created)
    Path(path).write_bytes(data)
    return info["sites"]
