"""The EOC board: what the big screen shows is what the database holds, counted by SQL; hot spots per grid cell
inside the map's box; the sweep progress per zone; nobody's name, e-mail or phone in any answer.

Both database backends.  The database is shared by the session, so the hot-spot tests put their cases and
streets at a spot of their own, far from everyone else's, and look only inside its box.
"""
from __future__ import annotations

import math
import random
import uuid
from contextlib import contextmanager
from datetime import timedelta

import pytest
import sqlalchemy as sa

from core.models.base import utcnow

POTHOLE = {"service_code": "POTHOLE", "attributes": {"SIZE": "small"}}


def tag() -> str:
    return uuid.uuid4().hex[:8]


@contextmanager
def setup(app):
    """Database work in an app context of its own, closed before the requests (each client keeps its user)."""
    from core.extensions import db

    with app.app_context():
        yield db.session
        db.session.remove()


def lonely_spot() -> tuple[float, float]:
    """A point nobody else's test uses (the middle of a 400 m cell far from the city)."""
    from plugins.fieldservice.geo import metres_to_degrees

    rng = random.Random(uuid.uuid4().int)
    cell = metres_to_degrees(400)  # hotspot_cell_m: the cell at street zooms
    lat, long = rng.uniform(40.0, 60.0), rng.uniform(-120.0, -90.0)
    # the middle of its cell, so the few metres a test spreads its points over never cross into the next one
    lat = (math.floor((lat + 90.0) / cell) + 0.5) * cell - 90.0
    long = (math.floor((long + 180.0) / cell) + 0.5) * cell - 180.0
    return lat, long


def box(lat: float, long: float, half: float = 0.01) -> str:
    return f"{long - half},{lat - half},{long + half},{lat + half}"


def new_case(session, **kwargs):
    from core.services.cases import create_case

    return create_case(session, description="Tree across the road", **{**POTHOLE, **kwargs})


@contextmanager
def active_sweep(session, statuses: dict[str, str], at: tuple[float, float] | None = None, started_hours_ago: float = 2):
    """An active debris sweep over a zone of its own: one street per entry of ``statuses`` (name -> status),
    checked now; closed again when the test ends (the "since the storm" window of other tests)."""
    from plugins.fieldservice.models import StreetSegment, SweepCampaign, SweepCheck, SweepSegment, Zone

    lat, long = at or lonely_spot()
    code = f"eoc-{tag()}"
    session.add(Zone(code=code, name=f"Zone {code}", geometry={"type": "Polygon", "coordinates": [[[long, lat], [long + .01, lat], [long, lat + .01], [long, lat]]]},
                     min_lat=lat, min_long=long, max_lat=lat + .01, max_long=long + .01, mid_lat=lat + .005, mid_long=long + .005))
    now = utcnow()
    sweep = SweepCampaign(name=f"Pass {code}", sweep_type="debris", state="active", started_at=now - timedelta(hours=started_hours_ago))
    session.add(sweep)
    session.flush()
    for i, (street, status) in enumerate(statuses.items()):
        y = lat + 0.0001 * i  # every street in the same hot-spot cell
        segment = StreetSegment(segment_key=f"{code}-{i}", street_name=street, zone_code=code, length_m=100.0,
                                geometry={"type": "LineString", "coordinates": [[long, y], [long + .0005, y]]},
                                min_lat=y, max_lat=y, min_long=long, max_long=long + .0005, mid_lat=y, mid_long=long + .00025)
        session.add(segment)
        session.flush()
        row = SweepSegment(sweep_id=sweep.id, segment_id=segment.id, zone_code=code, status=status,
                           checked_at=now if status != "not_checked" else None, updated_at=now)
        session.add(row)
        session.flush()
        if status != "not_checked":
            session.add(SweepCheck(sweep_segment_id=row.id, status=status, checked_at=now, received_at=now, actor_label="crew",
                                   note="Mrs Example said hello"))
    session.commit()
    try:
        yield sweep, code, (lat, long)
    finally:
        session.rollback()
        session.execute(sa.update(SweepCampaign).where(SweepCampaign.id == sweep.id).values(state="closed", version=SweepCampaign.version + 1))
        session.commit()


def expected_counts(session, since):
    from core.models import OPEN_STATUSES, Case, ServiceType

    recent_open = sa.and_(Case.status.in_(OPEN_STATUSES), Case.created_at >= since)
    by_status = dict(session.execute(sa.select(Case.status, sa.func.count()).where(recent_open).group_by(Case.status)).all())
    by_service = dict(session.execute(sa.select(ServiceType.code, sa.func.count()).join(Case.service_type).where(recent_open)
                                      .group_by(ServiceType.code)).all())
    return by_status, by_service


# ---------------------------------------------------------------- the summary


def test_the_summary_counts_open_cases_by_status_and_service_like_the_database(app, client_for):
    from core.services.cases import SYSTEM, change_status

    with setup(app) as session:
        for service in (POTHOLE, {"service_code": "STREETLIGHT", "attributes": {}}):
            new_case(session, **service)
        acknowledged = new_case(session)
        change_status(session, acknowledged, "acknowledged", SYSTEM)
        new_case(session, created_at=utcnow() - timedelta(hours=10))  # in the last 24 h, not the last 6 h
    client = client_for("dispatcher")
    for window, hours in (("6h", 6), ("24h", 24)):
        answer = client.get(f"/fieldservice/eoc/api/summary?window={window}")
        assert answer.status_code == 200, answer.get_data(as_text=True)
        data = answer.json
        since = utcnow() - timedelta(hours=hours)
        with setup(app) as session:
            by_status, by_service = expected_counts(session, since - timedelta(seconds=5))
        assert {r["status"]: r["count"] for r in data["cases"]["by_status"] if r["count"]} == by_status
        assert {r["service"]: r["count"] for r in data["cases"]["by_service"]} == by_service
        assert data["cases"]["open_in_window"] == sum(by_status.values())
        assert data["window"] == window and data["updated_time"]
    assert client.get("/fieldservice/eoc/api/summary?window=24h").json["cases"]["new"] >= 4


def test_the_summary_gives_each_zone_s_sweep_progress_and_the_last_hour(app, client_for):
    with setup(app) as session:
        statuses = {f"Elm {tag()}": "clear", f"Oak {tag()}": "debris", f"Ash {tag()}": "not_checked", f"Bay {tag()}": "blocked"}
        with active_sweep(session, statuses) as (sweep, zone, _):
            data = client_for("dispatcher").get("/fieldservice/eoc/api/summary?window=storm").json
            [mine] = [s for s in data["sweeps"] if s["id"] == sweep.id]
            [row] = mine["zones"]
            assert (row["zone"], row["total"], row["checked"], row["cleared"], row["flagged"]) == (zone, 4, 3, 1, 2)
            assert (row["percent_checked"], row["percent_cleared"]) == (75, 25)
            assert mine["total"]["percent_checked"] == 75
            checks = [a for a in data["activity"] if a["kind"] == "check" and a.get("zone") == f"Zone {zone}"]
            assert sorted(a["street"] for a in checks) == sorted(s for s, st in statuses.items() if st != "not_checked")
            assert {a["label"] for a in checks} == {"Clear", "Debris", "Blocked"}
            assert data["since"] <= sweep.started_at.isoformat() or data["window"] == "storm"


def test_since_the_storm_falls_back_to_seven_days_without_an_active_sweep(app, session):
    from plugins.fieldservice.eoc import parse_window
    from plugins.fieldservice.models import SweepCampaign

    now = utcnow()
    window = parse_window("storm", session, now)
    if session.scalar(sa.select(sa.func.count()).select_from(SweepCampaign).where(SweepCampaign.state == "active")):
        assert not window.storm_fallback
    else:
        assert window.storm_fallback and window.since == now - timedelta(days=7)


# ---------------------------------------------------------------- hot spots


def test_cases_at_one_spot_make_one_cell_counting_them(app, client_for):
    with setup(app) as session:
        lat, long = lonely_spot()
        for _ in range(5):
            new_case(session, lat=lat, long=long)
        new_case(session, lat=lat, long=long, priority="urgent")
        new_case(session, lat=lat + 0.0001, long=long, created_at=utcnow() - timedelta(hours=10))
    client = client_for("dispatcher")
    six = client.get(f"/fieldservice/eoc/api/hotspots.geojson?bbox={box(lat, long)}&zoom=15&window=6h")
    assert six.status_code == 200 and six.mimetype == "application/geo+json"
    [cell] = six.json["features"]
    assert cell["properties"]["count"] == 6 and cell["properties"]["score"] == 5 + 3 and cell["properties"]["level"] == 1
    assert cell["geometry"]["type"] == "Polygon"
    (west, south), (east, _), (_, north) = cell["geometry"]["coordinates"][0][:3]
    assert west <= long <= east and south <= lat <= north
    assert (north - south) * 111_320 == pytest.approx(400, rel=0.01)  # hotspot_cell_m at a street zoom
    [day] = client.get(f"/fieldservice/eoc/api/hotspots.geojson?bbox={box(lat, long)}&zoom=15&window=24h").json["features"]
    assert day["properties"]["count"] == 7
    zoomed_out = client.get(f"/fieldservice/eoc/api/hotspots.geojson?bbox={box(lat, long, 1)}&zoom=8&window=24h").json
    assert zoomed_out["properties"]["cell_degrees"] > six.json["properties"]["cell_degrees"]
    assert sum(f["properties"]["count"] for f in zoomed_out["features"]) >= 7


def test_the_map_box_limits_the_cells(app, client_for):
    with setup(app) as session:
        lat, long = lonely_spot()
        new_case(session, lat=lat, long=long)
    beside = box(lat, long + 0.05)
    answer = client_for("dispatcher").get(f"/fieldservice/eoc/api/hotspots.geojson?bbox={beside}&zoom=15&window=6h")
    assert answer.status_code == 200 and answer.json["features"] == []


def test_flagged_streets_weigh_by_the_severity_of_their_status(app, client_for):
    with setup(app) as session:
        with active_sweep(session, {"A St": "debris", "B St": "blocked", "C St": "clear", "D St": "not_checked"}) as (_, _, (lat, long)):
            data = client_for("dispatcher").get(f"/fieldservice/eoc/api/hotspots.geojson?bbox={box(lat, long)}&zoom=16&window=storm").json
    [cell] = data["features"]
    assert cell["properties"]["flagged"] == 2 and cell["properties"]["count"] == 0
    assert cell["properties"]["score"] == 2 + 3  # debris 2, blocked 3 (config severities)


@pytest.mark.parametrize("query, field", [
    ("bbox=1,2,3&zoom=12&window=6h", "bbox"),
    ("bbox=10,50,0,40&zoom=12&window=6h", "bbox"),
    ("zoom=12&window=6h", "bbox"),
    ("bbox=0,0,1,1&zoom=99&window=6h", "zoom"),
    ("bbox=0,0,1,1&zoom=12&window=week", "window"),
])
def test_bad_map_parameters_are_400_naming_the_field(app, client_for, query, field):
    answer = client_for("dispatcher").get(f"/fieldservice/eoc/api/hotspots.geojson?{query}")
    assert answer.status_code == 400 and list(answer.json["errors"]) == [field]
    summary = client_for("dispatcher").get("/fieldservice/eoc/api/summary?window=yesterday")
    assert summary.status_code == 400 and list(summary.json["errors"]) == ["window"]


# ---------------------------------------------------------------- who sees it, and what it never shows


def test_residents_and_anonymous_visitors_are_refused(app, client_for):
    for url in ("/fieldservice/eoc/api/summary", "/fieldservice/eoc/api/hotspots.geojson?bbox=0,0,1,1"):
        assert client_for(None).get(url).status_code == 401
        assert client_for("resident").get(url).status_code == 403
        assert client_for("pw_staff").get(url).status_code == 403  # plain department staff: not an EOC role
    assert client_for(None).get("/fieldservice/eoc/").status_code == 302
    page = client_for("resident").get("/fieldservice/eoc/")
    assert page.status_code == 403


def test_an_eoc_viewer_and_a_supervisor_open_the_board(app, client_for):
    from core.services.users import create_user

    with setup(app) as session:
        from core.models import Department

        pw = session.scalar(sa.select(Department).where(Department.code == "PW"))
        viewer, boss = f"eoc{tag()}", f"sup{tag()}"
        create_user(viewer, "correct-horse-battery", "EOC viewer", email=f"{viewer}@palmcoast.example.gov")
        create_user(boss, "correct-horse-battery", "Supervisor", email=f"{boss}@palmcoast.example.gov", departments=[pw])
    for name in (viewer, boss):
        client = client_for(name)
        page = client.get("/fieldservice/eoc/")
        assert page.status_code == 200, name
        html = page.get_data(as_text=True)
        assert "/fieldservice/eoc/api/summary" in html and "https://" not in html and "http://" not in html.replace('http://www.w3.org', '')
        assert client.get("/fieldservice/eoc/api/summary?window=6h").status_code == 200


def test_no_resident_name_email_or_phone_in_any_eoc_answer(app, client_for):
    marker = tag()
    name, email, phone = f"Jane Marker{marker}", f"jane.{marker}@example.org", f"386-555-{marker[:4]}"
    with setup(app) as session:
        lat, long = lonely_spot()
        new_case(session, lat=lat, long=long, contact_name=name, contact_email=email, contact_phone=phone, address="9 Palm Harbor Pkwy")
        with active_sweep(session, {"Quiet Ln": "debris"}, at=(lat + 0.002, long)):
            client = client_for("dispatcher")
            answers = [
                client.get("/fieldservice/eoc/").get_data(as_text=True),
                client.get("/fieldservice/eoc/api/summary?window=6h").get_data(as_text=True),
                client.get(f"/fieldservice/eoc/api/hotspots.geojson?bbox={box(lat, long)}&zoom=14&window=6h").get_data(as_text=True),
            ]
    for text in answers:
        for secret in (name, email, phone, marker, "Mrs Example", "contact"):
            assert secret not in text


def test_the_dashboard_shows_the_active_sweeps_progress(app, client_for):
    with setup(app) as session:
        with active_sweep(session, {"E St": "clear", "F St": "not_checked"}) as (sweep, _, _):
            html = client_for("dispatcher").get("/dashboard/").get_data(as_text=True)
            assert sweep.name in html and "/fieldservice/eoc/" in html
