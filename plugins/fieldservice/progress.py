"""How far a sweep has got, per zone: one GROUP BY over the sweep's segments (never a Python loop over them).

Used by the sweep screens, the crew view and the EOC board.  "Checked" is every status but the sweep type's
first ("not checked"); "cleared" is a status marked ``cleared = true``; "flagged" one with a severity.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import Session

from plugins.fieldservice.models import StreetSegment, SweepCampaign, SweepSegment, Zone
from plugins.fieldservice.settings import SweepType, sweep_type


@dataclass
class ZoneProgress:
    zone_code: str | None
    zone_name: str
    total: int = 0
    checked: int = 0
    cleared: int = 0
    flagged: int = 0
    length_m: float = 0.0
    checked_m: float = 0.0
    by_status: dict[str, int] = field(default_factory=dict)

    @property
    def percent_checked(self) -> int:
        return round(100 * self.checked / self.total) if self.total else 0

    @property
    def percent_cleared(self) -> int:
        return round(100 * self.cleared / self.total) if self.total else 0

    def as_json(self) -> dict:
        return {"zone": self.zone_code, "name": self.zone_name, "total": self.total, "checked": self.checked,
                "cleared": self.cleared, "flagged": self.flagged, "percent_checked": self.percent_checked,
                "percent_cleared": self.percent_cleared, "by_status": self.by_status}


def add_counts(into: ZoneProgress, status: str, count: int, length: float, kind: SweepType | None) -> None:
    """Add one (status, count, length) row of a grouped query to ``into`` by the sweep type's rules."""
    into.total += count
    into.length_m += length
    into.by_status[status] = into.by_status.get(status, 0) + count
    info = kind.status(status) if kind else None
    if kind is None or status != kind.initial.code:
        into.checked += count
        into.checked_m += length
    if info is not None and info.cleared:
        into.cleared += count
    if info is not None and info.flagged:
        into.flagged += count


def zone_progress(session: Session, sweep: SweepCampaign) -> list[ZoneProgress]:
    """One row per zone of the sweep (zone order by name), from a single grouped query."""
    kind = sweep_type(sweep.sweep_type)
    rows = session.execute(
        sa.select(SweepSegment.zone_code, SweepSegment.status, sa.func.count(), sa.func.coalesce(sa.func.sum(StreetSegment.length_m), 0.0))
        .join(StreetSegment, StreetSegment.id == SweepSegment.segment_id)
        .where(SweepSegment.sweep_id == sweep.id)
        .group_by(SweepSegment.zone_code, SweepSegment.status)
    ).all()
    names = dict(session.execute(sa.select(Zone.code, Zone.name).where(Zone.code.in_({r[0] for r in rows if r[0]}))).all())
    zones: dict[str | None, ZoneProgress] = {}
    for code, status, count, length in rows:
        progress = zones.setdefault(code, ZoneProgress(code, names.get(code, code or "")))
        add_counts(progress, status, int(count), float(length or 0), kind)
    return sorted(zones.values(), key=lambda z: (z.zone_name or "").lower())


def total_progress(rows: list[ZoneProgress]) -> ZoneProgress:
    """The whole sweep: the zones' rows added up."""
    total = ZoneProgress(None, "")
    for row in rows:
        total.total += row.total
        total.checked += row.checked
        total.cleared += row.cleared
        total.flagged += row.flagged
        total.length_m += row.length_m
        total.checked_m += row.checked_m
        for status, count in row.by_status.items():
            total.by_status[status] = total.by_status.get(status, 0) + count
    return total
