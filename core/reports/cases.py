"""The core's report subject: cases.  Dimensions and filters are columns of ``case`` (indexed ones first);
times are SQL differences between its timestamps; each department counts its own cases."""
from __future__ import annotations

import time

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import Float, and_, case, cast, func, select

from core.i18n_content import localized
from core.metrics import seconds_between
from core.models import CHANNELS, OPEN_STATUSES, PRIORITIES, STATUSES, Case, Department, ServiceType, Tag, case_tag
from core.reports.sql import percentile
from core.reports.subjects import Choice, Dimension, Filter, Measure, Subject
from core.security import department_case_scope


def catalog_labels(model):
    """``labels(session, ids)`` for a catalog table (Department, ServiceType): names in the reader's language."""

    def labels(session, ids):
        rows = session.execute(select(model.id, model.name, model.translations).where(model.id.in_(ids))).all() if ids else []
        return {r.id: localized(r, "name") for r in rows}

    return labels


def catalog_choices(model):
    def choices(session):
        rows = session.execute(select(model.code, model.name, model.translations).order_by(model.name)).all()
        return [Choice(r.code, localized(r, "name")) for r in rows]

    return choices


def fixed_labels(mapping):
    return lambda session, keys: {k: str(mapping[k][0] if isinstance(mapping.get(k), tuple) else mapping.get(k, k)) for k in keys}


def fixed_choices(mapping):
    return lambda session: [Choice(k, str(v[0] if isinstance(v, tuple) else v)) for k, v in mapping.items()]


def code_in(column, model):
    """``column`` (an id) is one of the catalog rows whose code is among the values."""
    return lambda values: column.in_(select(model.id).where(model.code.in_(values)))


def tagged(id_column):
    """Rows of cases carrying one of the tags (by name, as typed or normalised)."""
    from core.models import normalise_tag

    return lambda values: id_column.in_(
        select(case_tag.c.case_id).join(Tag, Tag.id == case_tag.c.tag_id).where(Tag.name.in_({normalise_tag(v) for v in values}))
    )


ZONE_CHOICES_SECONDS = 600


def _zone_choices(session):
    """The zones cases carry.  A DISTINCT over every case costs ~0.4 s at a million cases and zones hardly
    change, so the list is kept for ten minutes per process (every report page and the builder show it)."""
    cache = current_app.extensions.setdefault("civic_report_zones", {})
    if cache.get("until", 0) < time.monotonic():
        rows = session.scalars(select(Case.zone).where(Case.zone.is_not(None)).distinct().order_by(Case.zone).limit(200))
        cache.update(zones=list(rows), until=time.monotonic() + ZONE_CHOICES_SECONDS)
    return [Choice(z, z) for z in cache["zones"]]


def percent_of(condition, among):
    """The share (0-100) of rows meeting ``condition`` among rows meeting ``among``."""
    hits = func.sum(case((and_(among, condition), 1), else_=0))
    total = func.sum(case((among, 1), else_=0))
    return 100.0 * cast(hits, Float) / func.nullif(total, 0)


def case_subject() -> Subject:
    ack = lambda: seconds_between(Case.created_at, Case.acknowledged_at)  # noqa: E731
    close = lambda: seconds_between(Case.created_at, Case.closed_at)  # noqa: E731
    closed = Case.closed_at.is_not(None)
    return Subject(
        code="cases",
        label=_l("Cases"),
        source=lambda: Case.__table__,
        date=lambda: Case.created_at,
        date_label=_l("Received"),
        scope=department_case_scope,
        order=10,
        dimensions=[
            Dimension("department", _l("Department"), lambda: Case.department_id, catalog_labels(Department)),
            Dimension("service", _l("Service"), lambda: Case.service_type_id, catalog_labels(ServiceType)),
            Dimension("status", _l("Status"), lambda: Case.status, fixed_labels(STATUSES)),
            Dimension("channel", _l("Channel"), lambda: Case.channel, fixed_labels(CHANNELS)),
            Dimension("priority", _l("Priority"), lambda: Case.priority, fixed_labels(PRIORITIES)),
            Dimension("zone", _l("Zone"), lambda: Case.zone),
        ],
        filters=[
            Filter("department", _l("Department"), code_in(Case.department_id, Department), catalog_choices(Department), closed=True),
            Filter("service", _l("Service"), code_in(Case.service_type_id, ServiceType), catalog_choices(ServiceType), closed=True),
            Filter("status", _l("Status"), lambda values: Case.status.in_(values), fixed_choices(STATUSES), closed=True),
            Filter("channel", _l("Channel"), lambda values: Case.channel.in_(values), fixed_choices(CHANNELS), closed=True),
            Filter("tag", _l("Tag"), tagged(Case.id)),
            Filter("zone", _l("Zone"), lambda values: Case.zone.in_(values), _zone_choices),
        ],
        measures=[
            Measure("count", _l("Cases"), lambda: func.count(Case.id)),
            Measure("open", _l("Still open"), lambda: func.sum(case((Case.status.in_(OPEN_STATUSES), 1), else_=0))),
            Measure("closed", _l("Closed"), lambda: func.sum(case((closed, 1), else_=0))),
            Measure("ack_median", _l("Median time to acknowledge"), lambda: percentile(ack(), 0.5), "duration"),
            Measure("ack_p90", _l("90th percentile time to acknowledge"), lambda: percentile(ack(), 0.9), "duration"),
            Measure("close_median", _l("Median time to close"), lambda: percentile(close(), 0.5), "duration"),
            Measure("close_p90", _l("90th percentile time to close"), lambda: percentile(close(), 0.9), "duration"),
            Measure("within_sla", _l("Closed within SLA (%)"),
                    lambda: percent_of(Case.closed_at <= Case.expected_at, and_(closed, Case.expected_at.is_not(None))), "percent"),
            Measure("reopen_rate", _l("Reopen rate"), lambda: percent_of(Case.reopen_count > 0, Case.id.is_not(None)), "percent"),
        ],
        default_measures=("count", "close_median"),
    )
