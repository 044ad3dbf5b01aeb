"""Versioned export profiles: the layout of each FEMA summary record, as data (TOML files).

Ours live in ``plugins/fema/profiles/``; a city adds or overrides them (same ``id``) in the folder named by
``[fema] profiles_dir`` (relative to the city config file).  A profile's columns and header fields name their
values with a *source* from a small fixed vocabulary per form (``SOURCES``): there is no ``eval``.

The profile for a disaster is chosen by its declaration date (``effective_from`` <= date <= ``effective_to``),
unless an edition is asked for (argument, or ``Disaster.profile_editions[form]``).
"""
from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
BUILTIN_DIR = HERE / "profiles"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEKLY = {f"week.hours[{d}]": "hours" for d in DAYS} | {f"week.date[{d}]": "date" for d in DAYS} | {
    "week.start": "date", "week.end": "date", "hours.total": "hours"}
COMMON = {"work_date": "date", "category": "text", "site.name": "text", "description": "text", "empty": "text"}

#: Every source a column may name, by form, with its kind (text | date | hours | money | number | bool).
SOURCES: dict[str, dict[str, str]] = {
    "labor": WEEKLY | {"empty": "text",
        "employee.name": "text", "employee.number": "text", "employee.job_title": "text", "row.kind": "text",
        "rate.hourly": "money", "rate.benefit": "money", "rate.total": "money", "cost.total": "money"},
    "equipment": WEEKLY | {"empty": "text",
        "equipment.unit_number": "text", "equipment.description": "text", "equipment.size": "text",
        "equipment.hp": "text", "equipment.make_model": "text", "equipment.code": "text", "operator.name": "text",
        "rate.equipment": "money", "rate.unit": "text", "cost.total": "money"},
    "materials": COMMON | {
        "material.vendor": "text", "material.item": "text", "material.quantity": "number", "material.unit_price": "money",
        "material.date_purchased": "date", "material.from_stock": "bool", "material.invoice": "text", "cost.total": "money"},
    "rentals": COMMON | {
        "rental.vendor": "text", "rental.equipment_type": "text", "rental.hours": "hours", "rental.rate": "money",
        "rental.with_operator": "bool", "rental.invoice": "text", "rental.date_paid": "date",
        "rental.amount_paid": "money", "rental.check_number": "text", "cost.total": "money"},
    "contracts": COMMON | {
        "contract.contractor": "text", "contract.number": "text", "contract.date_to": "date", "contract.invoice": "text",
        "contract.date_paid": "date", "contract.amount_paid": "money", "contract.check_number": "text",
        "contract.mutual_aid": "bool", "cost.total": "money"},
    "damage_inventory": {
        "empty": "text", "site.category": "text", "site.name": "text", "site.address": "text", "site.lat": "number",
        "site.long": "number", "site.damage_description": "text", "site.cause": "text", "site.cost_estimate": "money",
        "site.percent_complete": "number", "site.labor_type": "text", "site.environmental_issues": "bool",
        "site.insured": "bool", "site.priority": "text"},
    "load_tickets": COMMON | {
        "ticket.number": "text", "ticket.contract_number": "text", "truck.contractor": "text", "truck.number": "text",
        "truck.plate": "text", "truck.capacity_cy": "number", "ticket.driver": "text", "ticket.loading_location": "text",
        "ticket.lat": "number", "ticket.long": "number", "ticket.loaded_at": "text", "ticket.debris_type": "text",
        "ticket.load_call_pct": "number", "ticket.quantity_cy": "number", "ticket.disposal_site": "text",
        "ticket.arrived_at": "text", "ticket.loading_monitor": "text", "ticket.disposal_monitor": "text"},
}
#: What a header field or a certification line may show.
HEADER_SOURCES = frozenset({
    "applicant", "pa_id", "disaster.number", "disaster.title", "disaster.declaration_date", "project_number", "site",
    "category", "period.from", "period.to", "description", "form_number", "profile.id", "profile.edition", "empty"})
CERTIFICATION_SOURCES = frozenset({"certifier.name", "certifier.title", "certifier.date", "empty"})
GROUPINGS = {"labor": ("person_week",), "equipment": ("equipment_week",)}  # other forms: one row per record ("none")


class ProfileError(ValueError):
    """A profile file that cannot be used: the message names the file and the key."""


@dataclass(frozen=True)
class Field:
    label: str
    source: str


@dataclass(frozen=True)
class Profile:
    id: str
    form: str
    form_numbers: tuple[str, ...]
    edition: str
    effective_from: date
    effective_to: date | None
    title: str
    header: tuple[Field, ...]
    columns: tuple[Field, ...]
    grouping: str
    row_labels: dict[str, str]
    totals: tuple[str, ...]
    totals_by_kind: bool
    total_labels: dict[str, str]
    certification: tuple[Field, ...]
    certification_text: str
    path: str
    sha256: str
    text: str

    def kind_of(self, source: str) -> str:
        return SOURCES[self.form][source]

    def applies_on(self, day: date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day <= self.effective_to)


def _need(data: dict, key: str, name: str, kind: type | tuple[type, ...] = str) -> Any:
    if key not in data:
        raise ProfileError(f"{name}: missing key '{key}'")
    if not isinstance(data[key], kind):
        raise ProfileError(f"{name}: key '{key}' has the wrong type")
    return data[key]


def _fields(items: Any, key: str, name: str, allowed) -> tuple[Field, ...]:
    if not isinstance(items, list) or not items:
        raise ProfileError(f"{name}: key '{key}' must be a non-empty list of {{label, source}} tables")
    out = []
    for i, item in enumerate(items):
        where = f"{key}[{i}]"
        if not isinstance(item, dict):
            raise ProfileError(f"{name}: key '{where}' must be a table with label and source")
        label = _need(item, "label", f"{name}: {where}")
        source = _need(item, "source", f"{name}: {where}")
        if source not in allowed:
            raise ProfileError(f"{name}: key '{where}.source': unknown source '{source}'")
        out.append(Field(label, source))
    return tuple(out)


def parse_profile(text: str, name: str) -> Profile:
    """A Profile from the text of a TOML file (``name`` is how errors call the file)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{name}: not valid TOML ({exc})") from None
    form = _need(data, "form", name)
    if form not in SOURCES:
        raise ProfileError(f"{name}: key 'form': unknown form '{form}' (known: {', '.join(sorted(SOURCES))})")
    effective_to = data.get("effective_to")
    if effective_to is not None and not isinstance(effective_to, date):
        raise ProfileError(f"{name}: key 'effective_to' must be a date (2019-12-31)")
    grouping = data.get("grouping", {})
    kind = grouping.get("kind", "none") if isinstance(grouping, dict) else None
    if kind not in ("none", *GROUPINGS.get(form, ())):
        raise ProfileError(f"{name}: key 'grouping.kind': '{kind}' is not a grouping of the {form} form")
    totals = data.get("totals", {})
    total_columns = tuple(totals.get("columns", ())) if isinstance(totals, dict) else ()
    columns = _fields(data.get("columns"), "columns", name, SOURCES[form])
    for source in total_columns:
        if source not in {c.source for c in columns} or SOURCES[form][source] not in ("money", "hours", "number"):
            raise ProfileError(f"{name}: key 'totals.columns': '{source}' is not a numeric column of this profile")
    certification = data.get("certification", {})
    if not isinstance(certification, dict):
        raise ProfileError(f"{name}: key 'certification' must be a table")
    return Profile(
        id=_need(data, "id", name),
        form=form,
        form_numbers=tuple(_need(data, "form_numbers", name, list)),
        edition=str(_need(data, "edition", name, (str, int))),
        effective_from=_need(data, "effective_from", name, date),
        effective_to=effective_to,
        title=_need(data, "title", name),
        header=_fields(data.get("header"), "header", name, HEADER_SOURCES),
        columns=columns,
        grouping=kind,
        row_labels=dict(grouping.get("row_labels", {})),
        totals=total_columns,
        totals_by_kind=bool(totals.get("by_kind", False)),
        total_labels={"grand": "TOTAL", **dict(totals.get("labels", {}))},
        certification=_fields(certification.get("lines", [{"label": "", "source": "empty"}]), "certification.lines",
                              name, CERTIFICATION_SOURCES),
        certification_text=str(certification.get("text", "")),
        path=name,
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        text=text,
    )


def load_dir(folder: Path) -> dict[str, Profile]:
    found: dict[str, Profile] = {}
    for path in sorted(Path(folder).glob("*.toml")):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ProfileError(f"{path}: cannot be read as UTF-8 text ({exc})") from None
        try:
            profile = parse_profile(text, str(path))
        except ProfileError:
            raise
        except (TypeError, ValueError, AttributeError, KeyError) as exc:  # a table where a list belongs, etc.
            raise ProfileError(f"{path}: not a valid export profile ({type(exc).__name__}: {exc})") from None
        if profile.id in found:
            raise ProfileError(f"{path}: key 'id': '{profile.id}' is also the id of {found[profile.id].path}")
        found[profile.id] = profile
    return found


def city_profiles_dir() -> Path | None:
    """``[fema] profiles_dir`` of the running app, relative to the city config file (None when not set)."""
    from flask import current_app

    state = current_app.extensions["civic"]
    folder = (state.plugin_config.get("fema") or {}).get("profiles_dir") or ""
    if not folder:
        return None
    return (Path(state.config.path).resolve().parent / folder).resolve()


def load_profiles(city_dir: Path | None = None) -> dict[str, Profile]:
    """Our profiles, overridden and extended by the city's (same id: the city's wins)."""
    profiles = load_dir(BUILTIN_DIR)
    if city_dir is not None:
        if not Path(city_dir).is_dir():
            raise ProfileError(f"[fema] profiles_dir: {city_dir} is not a folder")
        profiles.update(load_dir(Path(city_dir)))
    return profiles


def reference_date(disaster) -> date:
    """The date that picks the edition: the declaration date; before a declaration, the day the event began for
    the city (as ``rates.schedule_for`` does for the rate schedule)."""
    if disaster.declaration_date:
        return disaster.declaration_date
    started = disaster.started_at or disaster.created_at
    return started.date() if isinstance(started, datetime) else started


def choose_profile(profiles: dict[str, Profile], form: str, disaster, edition: str | None = None) -> Profile:
    """The profile of ``form`` for the disaster: the edition asked for, or the disaster's override for the form, or
    the one in effect on its declaration date (the latest ``effective_from`` wins).  ProfileError when none."""
    of_form = [p for p in profiles.values() if p.form == form]
    if not of_form:
        raise ProfileError(f"form '{form}': no export profile (known forms: {', '.join(sorted({p.form for p in profiles.values()}))})")
    wanted = edition or (disaster.profile_editions or {}).get(form)
    if wanted:
        match = [p for p in of_form if p.edition == str(wanted)]
        if not match:
            editions = ", ".join(sorted(p.edition for p in of_form))
            raise ProfileError(f"form '{form}': no profile of edition {wanted} (editions: {editions})")
        return match[0]
    day = reference_date(disaster)
    match = sorted((p for p in of_form if p.applies_on(day)), key=lambda p: p.effective_from)
    if not match:
        raise ProfileError(f"form '{form}': no profile in effect on {day.isoformat()}; choose an edition")
    return match[-1]
