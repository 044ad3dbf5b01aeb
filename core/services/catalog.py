"""`civic config sync`: the city config's departments and services into the database.

Texts in other languages go with them: ``translations`` on each row (keywords
comma-separated, like the ``keywords`` column), attribute definitions with
their ``*_i18n`` tables inline.  A translation the file no longer has is removed.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit import as_config_sync, record_config_setup
from core.config import CityConfig
from core.models import Department, ServiceType


@dataclass
class SyncReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deactivated: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return f"{len(self.created)} created, {len(self.updated)} updated, {len(self.deactivated)} deactivated"


def _apply(obj, values: dict, report: SyncReport, label: str, is_new: bool) -> None:
    changed = False
    for key, value in values.items():
        if getattr(obj, key) != value:
            setattr(obj, key, value)
            changed = True
    if is_new:
        report.created.append(label)
    elif changed:
        report.updated.append(label)


def _ordered_attributes(attrs: list[dict]) -> list[dict]:
    out = []
    for i, a in enumerate(attrs, start=1):
        a = dict(a)
        a["order"] = a.get("order") or i
        out.append(a)
    return sorted(out, key=lambda a: a["order"])


def stored_translations(translations: dict[str, dict]) -> dict[str, dict]:
    """The config's translations as the ``translations`` column holds them (keywords as one string)."""
    out = {}
    for locale, texts in (translations or {}).items():
        texts = dict(texts)
        if isinstance(texts.get("keywords"), list):
            texts["keywords"] = ",".join(texts["keywords"])
        out[locale] = {k: v for k, v in texts.items() if v}
    return {locale: texts for locale, texts in out.items() if texts}


@as_config_sync
def sync_catalog(session: Session, config: CityConfig) -> SyncReport:
    """Upsert departments and services by code; what the file no longer lists is deactivated, never deleted.
    Every change goes to the audit log, with what the file-only set-up (routing rules, task templates, the SLA
    calendar) changed since the last sync."""
    report = SyncReport()
    depts = {d.code: d for d in session.scalars(select(Department))}
    for d in config.departments:
        obj = depts.get(d["code"])
        is_new = obj is None
        if is_new:
            obj = depts[d["code"]] = Department(code=d["code"])
            session.add(obj)
        values = {
            "name": d["name"], "email": d["email"], "phone": d["phone"], "active": d["active"],
            "translations": stored_translations(d.get("translations")),
        }
        _apply(obj, values, report, f"department {d['code']}", is_new)
    listed = {d["code"] for d in config.departments}
    for code, obj in depts.items():
        if code not in listed and obj.active:
            obj.active = False
            report.deactivated.append(f"department {code}")
    session.flush()

    services = {s.code: s for s in session.scalars(select(ServiceType))}
    for s in config.services:
        obj = services.get(s["code"])
        is_new = obj is None
        if is_new:
            obj = services[s["code"]] = ServiceType(code=s["code"])
            session.add(obj)
        values = {
            "name": s["name"],
            "description": s["description"],
            "group": s["group"],
            "keywords": ",".join(s["keywords"]),
            "department": depts[s["department"]],
            "sla_hours": s["sla_hours"],
            "public": s["public"],
            "type": s["type"],
            "active": s["active"],
            "attributes": _ordered_attributes(s["attributes"]),
            "translations": stored_translations(s.get("translations")),
        }
        _apply(obj, values, report, f"service {s['code']}", is_new)
    listed = {s["code"] for s in config.services}
    for code, obj in services.items():
        if code not in listed and obj.active:
            obj.active = False
            report.deactivated.append(f"service {code}")
    record_config_setup(session, config)  # routing rules, task templates, SLA calendar: file-only set-up
    session.commit()
    return report
