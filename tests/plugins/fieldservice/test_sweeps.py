"""Storm sweeps, the service: a dispatcher creates a sweep over zones, crews check streets off (from phones that
re-send and send late), the sweep goes to 100 %, and a flagged street becomes one case."""
from __future__ import annotations

import io
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from PIL import Image

from tests.plugins.fieldservice.conftest import make_network


@pytest.fixture
def dispatcher(session):
    from core.models import User
    from core.services.cases import Actor

    return Actor.of(session.scalar(sa.select(User).where(User.username == "dispatcher")))


@pytest.fixture
def crew_actor(session):
    from core.models import User
    from core.services.cases import Actor

    return Actor.of(session.scalar(sa.select(User).where(User.username == "crew")))


def new_sweep(session, net, actor, start=True, zones=None):
    from plugins.fieldservice import sweeps

    sweep = sweeps.create_sweep(session, name=f"Debris pass {net.tag}", sweep_type="debris", zone_codes=zones or net.zones, actor=actor)
    if start:
        sweeps.start_sweep(session, sweep, actor)
    return sweep


def segment_of(session, sweep, key, net):
    from plugins.fieldservice.models import SweepSegment

    return session.scalar(sa.select(SweepSegment).where(SweepSegment.sweep_id == sweep.id, SweepSegment.segment_id == net.segments[key]))


def test_dispatcher_creates_a_sweep_covering_every_street_of_its_zones(app, session, tiny_network, dispatcher):
    from plugins.fieldservice.models import SweepSegment
    from tests.conftest import recorded_sql

    other = make_network(session)  # streets of other zones stay out
    with recorded_sql(app) as sql:
        sweep = new_sweep(session, tiny_network, dispatcher, start=False)
    rows = session.execute(sa.select(SweepSegment.segment_id, SweepSegment.status, SweepSegment.zone_code)
                           .where(SweepSegment.sweep_id == sweep.id)).all()
    assert {r.segment_id for r in rows} == set(tiny_network.segments.values())
    assert {r.status for r in rows} == {"not_checked"}
    assert {r.zone_code for r in rows} == set(tiny_network.zones)
    assert not set(other.segments.values()) & {r.segment_id for r in rows}
    inserts = [s for s in sql if s.upper().startswith("INSERT INTO FIELDSERVICE_SWEEP_SEGMENT")]
    assert len(inserts) == 1 and "SELECT" in inserts[0].upper()  # one INSERT ... SELECT, not a row per street
    assert sweep.state == "planned" and sorted(sz.zone.code for sz in sweep.zones) == sorted(tiny_network.zones)


def test_a_sweep_needs_a_name_a_known_type_and_known_zones(session, dispatcher):
    from core.services.cases import CaseError
    from plugins.fieldservice import sweeps

    with pytest.raises(CaseError) as err:
        sweeps.create_sweep(session, name=" ", sweep_type="nope", zone_codes=["no-such-zone"], actor=dispatcher)
    assert set(err.value.errors) == {"name", "sweep_type", "zones"}
    assert "no-such-zone" in err.value.errors["zones"][0]
    with pytest.raises(CaseError) as err:
        sweeps.create_sweep(session, name="x" * 201, sweep_type="debris", zone_codes=[], actor=dispatcher)
    assert set(err.value.errors) == {"name", "zones"}


def test_crew_checks_off_a_street_and_the_sweep_shows_it(session, tiny_network, dispatcher, crew_actor):
    from plugins.fieldservice import sweeps
    from plugins.fieldservice.models import SweepCheck
    from plugins.fieldservice.progress import total_progress, zone_progress

    sweep = new_sweep(session, tiny_network, dispatcher)
    key = next(iter(tiny_network.segments))
    segment = segment_of(session, sweep, key, tiny_network)
    check, created = sweeps.check_off(session, segment, status="debris", actor=crew_actor, note="Branches at the curb",
                                      client_id=str(uuid.uuid4()), lat=29.561, long=-81.225)
    assert created
    session.refresh(segment)
    assert (segment.status, segment.note, segment.checked_by_id) == ("debris", "Branches at the curb", crew_actor.user_id)
    assert session.scalar(sa.select(sa.func.count()).select_from(SweepCheck).where(SweepCheck.sweep_segment_id == segment.id)) == 1
    total = total_progress(zone_progress(session, sweep))
    assert (total.total, total.checked, total.flagged, total.cleared) == (6, 1, 1, 0)


def test_the_same_check_off_sent_twice_is_recorded_once(session, tiny_network, dispatcher, crew_actor):
    from plugins.fieldservice import sweeps
    from plugins.fieldservice.models import SweepCheck

    sweep = new_sweep(session, tiny_network, dispatcher)
    segment = segment_of(session, sweep, next(iter(tiny_network.segments)), tiny_network)
    client_id = str(uuid.uuid4())
    first, created = sweeps.check_off(session, segment.id, status="clear", actor=crew_actor, client_id=client_id)
    again, created_again = sweeps.check_off(session, segment.id, status="clear", actor=crew_actor, client_id=client_id)
    assert created and not created_again and again.id == first.id
    assert session.scalar(sa.select(sa.func.count()).select_from(SweepCheck).where(SweepCheck.client_id == client_id)) == 1


def test_a_late_check_off_is_kept_in_the_history_but_does_not_overwrite_a_newer_one(session, tiny_network, dispatcher, crew_actor):
    from core.models.base import utcnow
    from plugins.fieldservice import sweeps
    from plugins.fieldservice.models import SweepCheck

    sweep = new_sweep(session, tiny_network, dispatcher)
    segment = segment_of(session, sweep, next(iter(tiny_network.segments)), tiny_network)
    now = utcnow()
    sweeps.check_off(session, segment, status="clear", actor=dispatcher, client_id=str(uuid.uuid4()), checked_at=now - timedelta(minutes=1))
    # The phone was offline: its check-off from 10 minutes ago arrives now.
    late, created = sweeps.check_off(session, segment, status="blocked", actor=crew_actor, client_id=str(uuid.uuid4()),
                                     checked_at=(now - timedelta(minutes=10)).isoformat() + "Z")
    assert created
    session.refresh(segment)
    assert segment.status == "clear"
    assert [c.status for c in session.scalars(sa.select(SweepCheck).where(SweepCheck.sweep_segment_id == segment.id)
                                              .order_by(SweepCheck.id))] == ["clear", "blocked"]


def test_the_phone_clock_is_kept_between_the_sweep_start_and_now(session, tiny_network, dispatcher, crew_actor):
    from core.models.base import utcnow
    from plugins.fieldservice import sweeps

    sweep = new_sweep(session, tiny_network, dispatcher)
    segment = segment_of(session, sweep, next(iter(tiny_network.segments)), tiny_network)
    future, _ = sweeps.check_off(session, segment, status="clear", actor=crew_actor, checked_at=utcnow() + timedelta(days=3))
    assert future.checked_at <= utcnow()
    past, _ = sweeps.check_off(session, segment, status="clear", actor=crew_actor, checked_at="2001-01-01T00:00:00Z")
    assert past.checked_at >= sweep.started_at - timedelta(days=1)


def test_a_check_off_needs_an_active_sweep_and_a_known_status(session, tiny_network, dispatcher, crew_actor):
    from core.services.cases import CaseError
    from plugins.fieldservice import sweeps

    sweep = new_sweep(session, tiny_network, dispatcher, start=False)
    segment = segment_of(session, sweep, next(iter(tiny_network.segments)), tiny_network)
    with pytest.raises(CaseError) as err:
        sweeps.check_off(session, segment, status="clear", actor=crew_actor)
    assert "sweep" in err.value.errors
    sweeps.start_sweep(session, sweep, dispatcher)
    with pytest.raises(CaseError) as err:
        sweeps.check_off(session, segment, status="sunny", actor=crew_actor, lat="north")
    assert set(err.value.errors) == {"status", "lat"}
    sweeps.close_sweep(session, sweep, dispatcher)
    with pytest.raises(CaseError) as err:
        sweeps.check_off(session, segment, status="clear", actor=crew_actor)
    assert "closed" in err.value.errors["sweep"][0].lower()


def test_a_sweep_goes_planned_active_closed_and_refuses_a_stale_version(session, tiny_network, dispatcher):
    from core.services.cases import CaseError
    from plugins.fieldservice import sweeps

    sweep = new_sweep(session, tiny_network, dispatcher, start=False)
    with pytest.raises(CaseError) as err:
        sweeps.close_sweep(session, sweep, dispatcher)
    assert "state" in err.value.errors
    seen = sweep.version
    sweeps.start_sweep(session, sweep, dispatcher, expected_version=seen)
    assert sweep.state == "active" and sweep.started_at is not None
    with pytest.raises(CaseError) as err:
        sweeps.close_sweep(session, sweep, dispatcher, expected_version=seen)
    assert "version" in err.value.errors
    sweeps.close_sweep(session, sweep, dispatcher, expected_version=sweep.version)
    assert sweep.state == "closed"


def test_crews_take_a_sweep_to_100_percent(session, tiny_network, dispatcher, crew_actor):
    from plugins.fieldservice import sweeps
    from plugins.fieldservice.progress import total_progress, zone_progress

    sweep = new_sweep(session, tiny_network, dispatcher)
    for i, key in enumerate(tiny_network.segments):
        sweeps.check_off(session, segment_of(session, sweep, key, tiny_network), status="clear" if i % 3 else "flooded",
                         actor=crew_actor, client_id=str(uuid.uuid4()))
    zones = zone_progress(session, sweep)
    assert [z.percent_checked for z in zones] == [100, 100]
    total = total_progress(zones)
    assert (total.percent_checked, total.checked, total.cleared, total.flagged) == (100, 6, 4, 2)


def test_zones_and_crews_can_be_added_to_a_sweep(session, tiny_network, dispatcher):
    from core.models import Crew, Department
    from plugins.fieldservice import sweeps
    from plugins.fieldservice.progress import total_progress, zone_progress

    west, east = tiny_network.zones
    sweep = new_sweep(session, tiny_network, dispatcher, start=False, zones=[west])
    assert total_progress(zone_progress(session, sweep)).total == 3
    assert sweeps.add_zones(session, sweep, [east, west], dispatcher) == 3
    assert total_progress(zone_progress(session, sweep)).total == 6
    pw = session.scalar(sa.select(Department).where(Department.code == "PW"))
    crew = Crew(name=f"Crew {tiny_network.tag}", department=pw)
    session.add(crew)
    session.commit()
    sweeps.assign_crew(session, sweep, east, crew)
    assert {sz.zone.code: sz.crew for sz in sweep.zones}[east] == crew


def test_crew_finds_the_nearest_streets_first(session, tiny_network, dispatcher):
    from plugins.fieldservice import sweeps
    from tests.plugins.fieldservice.conftest import BASE_LAT, BASE_LONG, STEP

    sweep = new_sweep(session, tiny_network, dispatcher)
    # Standing on the east zone's northernmost street.
    rows = sweeps.segments_near(session, sweep, tiny_network.zones, BASE_LAT + 0.001 + 2 * STEP, BASE_LONG + 0.015, limit=6)
    assert rows[0].segment_key == f"{tiny_network.tag}-e2"
    assert [r.distance_m for r in rows] == sorted(r.distance_m for r in rows)
    assert len(rows) == 6
    west_only = sweeps.segments_near(session, sweep, [tiny_network.zones[0]], None, None, limit=10)
    assert [r.street_name for r in west_only] == sorted(r.street_name for r in west_only)
    assert {r.zone_code for r in west_only} == {tiny_network.zones[0]}


def jpeg_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), "orange").save(out, "JPEG")
    return out.getvalue()


def test_a_debris_street_becomes_one_case_of_the_configured_service(session, tiny_network, dispatcher, crew_actor):
    from core.models import Attachment, Case
    from core.services.attachments import stored_path
    from core.services.cases import CaseError
    from plugins.fieldservice import sweeps
    from plugins.fieldservice.photos import save_photo

    sweep = new_sweep(session, tiny_network, dispatcher)
    key = next(iter(tiny_network.segments))
    segment = segment_of(session, sweep, key, tiny_network)
    photo = save_photo(session, io.BytesIO(jpeg_bytes()), crew_actor)
    sweeps.check_off(session, segment, status="debris", actor=crew_actor, note="Pile of branches", photo=photo)
    case, task = sweeps.case_from_segment(session, segment, dispatcher)
    assert task is None
    assert (case.service_type.code, case.channel, case.zone, case.address) == ("STORM_DEBRIS", "field", tiny_network.segment_zone[key],
                                                                              f"Test W0 Street")
    assert case.attributes == {"DEBRIS_TYPE": ["vegetative"]}
    assert case.description == "Pile of branches"
    assert [t.name for t in case.tags] == ["sweep"]
    attachments = list(session.scalars(sa.select(Attachment).where(Attachment.case_id == case.id)))
    assert len(attachments) == 1 and attachments[0].sha256 == photo.sha256
    assert stored_path(attachments[0].stored_name).read_bytes() == stored_path(photo.stored_name).read_bytes()
    again, _ = sweeps.case_from_segment(session, segment, dispatcher)
    assert again.id == case.id
    assert session.scalar(sa.select(sa.func.count()).select_from(Case).where(Case.id == case.id)) == 1
    session.refresh(segment)
    assert segment.case_id == case.id
    clear = segment_of(session, sweep, list(tiny_network.segments)[1], tiny_network)
    sweeps.check_off(session, clear, status="clear", actor=crew_actor)
    with pytest.raises(CaseError) as err:
        sweeps.case_from_segment(session, clear, dispatcher)
    assert "status" in err.value.errors


def test_the_demo_sweep_is_active_partly_checked_and_loaded_once(session):
    from plugins.fieldservice import sweeps
    from plugins.fieldservice.models import SweepCampaign
    from plugins.fieldservice.progress import total_progress, zone_progress

    existing = session.scalar(sa.select(SweepCampaign).where(SweepCampaign.name == sweeps.DEMO_NAME))
    if existing is None:
        make_network(session)
    sweep = sweeps.load_demo_sweep(session, [])
    assert sweep is not None and sweep.state == "active"
    total = total_progress(zone_progress(session, sweep))
    if existing is None:
        assert 30 <= total.percent_checked <= 50
    assert sweeps.load_demo_sweep(session, []).id == sweep.id


def test_a_power_line_down_street_becomes_a_case_and_a_work_order_in_one_action(session, tiny_network, dispatcher, crew_actor):
    from core.models import Crew, Department
    from plugins.fieldservice import sweeps
    from plugins.fieldservice.models import WorkOrder

    sweep = new_sweep(session, tiny_network, dispatcher)
    key = list(tiny_network.segments)[2]
    segment = segment_of(session, sweep, key, tiny_network)
    sweeps.check_off(session, segment, status="power_line_down", actor=crew_actor, note="Line down across the road")
    pw = session.scalar(sa.select(Department).where(Department.code == "PW"))
    crew = Crew(name=f"WO crew {tiny_network.tag}", department=pw)
    session.add(crew)
    session.commit()
    case, task = sweeps.case_from_segment(session, segment, dispatcher, work_order=True, crew=crew)
    assert case.service_type.code == "TREE_DOWN" and case.attributes == {"BLOCKING": ["power"]}
    assert task is not None and task.crew_id == crew.id
    order = session.get(WorkOrder, task.id)
    assert order.sweep_segment_id == segment.id and order.segment_id == tiny_network.segments[key]
    session.refresh(segment)
    assert (segment.case_id, segment.task_id) == (case.id, task.id)
    again_case, again_task = sweeps.case_from_segment(session, segment, dispatcher, work_order=True, crew=crew)
    assert (again_case.id, again_task.id) == (case.id, task.id)
    assert session.scalar(sa.select(sa.func.count()).select_from(WorkOrder).where(WorkOrder.sweep_segment_id == segment.id)) == 1


def test_two_copies_of_one_check_off_racing_make_one_check(app, session, tiny_network, dispatcher, crew_actor):
    """The other copy is written between our look-up and our insert: the unique client_id decides."""
    from core.extensions import db
    from core.models.base import utcnow
    from plugins.fieldservice import sweeps
    from plugins.fieldservice.models import SweepCheck

    sweep = new_sweep(session, tiny_network, dispatcher)
    segment = segment_of(session, sweep, next(iter(tiny_network.segments)), tiny_network)
    client_id = str(uuid.uuid4())
    engine = db.engine
    raced = []

    def other_copy(conn, cursor, statement, parameters, context, executemany):
        if not raced and statement.lstrip().upper().startswith("SELECT") and "fieldservice_sweep_check" in statement:
            raced.append(True)
            with engine.connect() as other:  # another request, another connection
                other.execute(sa.insert(SweepCheck.__table__).values(
                    sweep_segment_id=segment.id, client_id=client_id, status="clear", note="", actor_id=crew_actor.user_id,
                    actor_label=crew_actor.label, checked_at=utcnow(), received_at=utcnow()))
                other.commit()

    sa.event.listen(engine, "after_cursor_execute", other_copy)
    try:
        check, created = sweeps.check_off(session, segment, status="clear", actor=crew_actor, client_id=client_id)
    finally:
        sa.event.remove(engine, "after_cursor_execute", other_copy)
    assert raced and not created and check.client_id == client_id
    assert session.scalar(sa.select(sa.func.count()).select_from(SweepCheck).where(SweepCheck.client_id == client_id)) == 1
