"""Fixtures of the field service tests: a small street network of their own in the session's database.

The session's app is shared by every test file of a worker, so each network gets unique zone codes
and segment keys: tests never see each other's streets.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import pytest

# A small grid north of Town Center: two zones side by side, three east-west streets in each.
BASE_LAT, BASE_LONG = 29.560, -81.230
STEP = 0.002  # about 220 m between streets


@dataclass
class Network:
    """What ``tiny_network`` made: zone codes, segment ids (by key) and their keys in order."""

    tag: str
    zones: list[str] = field(default_factory=list)
    zone_ids: dict[str, int] = field(default_factory=dict)
    segments: dict[str, int] = field(default_factory=dict)  # segment_key -> id
    segment_zone: dict[str, str] = field(default_factory=dict)


def square(min_lat: float, min_long: float, max_lat: float, max_long: float) -> dict:
    ring = [[min_long, min_lat], [max_long, min_lat], [max_long, max_lat], [min_long, max_lat], [min_long, min_lat]]
    return {"type": "Polygon", "coordinates": [ring]}


def make_network(session, streets_per_zone: int = 3) -> Network:
    """Two zones (``<tag>-w``, ``<tag>-e``), ``streets_per_zone`` segments each; committed."""
    from plugins.fieldservice.models import StreetSegment, Zone

    tag = uuid.uuid4().hex[:6]
    net = Network(tag)
    for i, side in enumerate(("w", "e")):
        code = f"{tag}-{side}"
        west = BASE_LONG + i * 0.01
        zone = Zone(code=code, name=f"Zone {side.upper()} {tag}", geometry=square(BASE_LAT, west, BASE_LAT + 0.01, west + 0.01),
                    min_lat=BASE_LAT, min_long=west, max_lat=BASE_LAT + 0.01, max_long=west + 0.01,
                    mid_lat=BASE_LAT + 0.005, mid_long=west + 0.005)
        session.add(zone)
        session.flush()
        net.zones.append(code)
        net.zone_ids[code] = zone.id
        for j in range(streets_per_zone):
            lat = BASE_LAT + 0.001 + j * STEP
            key = f"{tag}-{side}{j}"
            segment = StreetSegment(
                segment_key=key, street_name=f"Test {side.upper()}{j} Street", zone_code=code, length_m=960.0,
                geometry={"type": "LineString", "coordinates": [[west + 0.0005, lat], [west + 0.0095, lat]]},
                min_lat=lat, max_lat=lat, min_long=west + 0.0005, max_long=west + 0.0095, mid_lat=lat, mid_long=west + 0.005,
            )
            session.add(segment)
            session.flush()
            net.segments[key] = segment.id
            net.segment_zone[key] = code
    session.commit()
    return net


@pytest.fixture
def tiny_network(session):
    """A fresh two-zone network for one test (see ``make_network``)."""
    return make_network(session)
