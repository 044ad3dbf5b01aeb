"""Sweeps and work orders tagged with the active event: during a storm the EOC's sweep, every check-off a crew sends,
the case made from a flagged street and a work order on an older case all carry the event's tag (FEMA asks for it);
once the event ends nothing new does.  Fieldservice learns the tag through the core hook ``active_event_tag``."""
from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from tests.conftest import login
from tests.plugins.fieldservice.conftest import make_network


def new_disaster(session, title: str):
    from plugins.fema.models import Disaster

    key = uuid.uuid4().hex[:6]
    disaster = Disaster(tag=f"storm-{key}", title=f"{title} {key}", designated_areas=[], profile_editions={})
    session.add(disaster)
    session.commit()
    return disaster


@pytest.fixture
def staff(session):
    """The dispatcher and the crew member of the demo city, as actors."""
    from core.models import User
    from core.services.cases import Actor

    def actor(username: str):
        return Actor.of(session.scalar(sa.select(User).where(User.username == username)))

    return actor("dispatcher"), actor("crew")


@pytest.fixture
def storm(session):
    """An active event for one test; it always ends (a finally), as the session's app is shared with other tests."""
    from plugins.fema import events

    disaster = new_disaster(session, "Hurricane Sweep")
    try:
        events.activate(session, disaster)
        yield disaster
    finally:
        session.rollback()
        events.deactivate(session)


def started_sweep(session, dispatcher, label: str):
    from plugins.fieldservice import sweeps

    net = make_network(session, streets_per_zone=2)
    sweep = sweeps.create_sweep(session, name=f"{label} {net.tag}", sweep_type="debris", zone_codes=net.zones, actor=dispatcher)
    sweeps.start_sweep(session, sweep, dispatcher)
    return net, sweep


def sweep_segment(session, sweep, net, index: int = 0):
    from plugins.fieldservice.models import SweepSegment

    segment_id = list(net.segments.values())[index]
    return session.scalar(sa.select(SweepSegment).where(SweepSegment.sweep_id == sweep.id, SweepSegment.segment_id == segment_id))


def tag_names(session, case) -> list[str]:
    session.refresh(case)
    return [t.name for t in case.tags]


def test_the_core_hook_answers_the_active_event_tag_and_none_after_it_ends(app, session):
    from plugins.fema import events

    hook = app.extensions["civic"].pm.hook
    disaster = new_disaster(session, "Hurricane Hook")
    try:
        events.activate(session, disaster)
        assert hook.active_event_tag() == disaster.tag
    finally:
        events.deactivate(session)
    assert hook.active_event_tag() is None


def test_during_a_storm_the_sweep_and_each_check_off_carry_the_event_tag(app, session, staff, storm):
    from plugins.fieldservice import sweeps
    from plugins.fieldservice.models import SweepCheck

    dispatcher, crew = staff
    net, sweep = started_sweep(session, dispatcher, "Storm pass")
    assert sweep.event_tag == storm.tag
    check, created = sweeps.check_off(session, sweep_segment(session, sweep, net), status="debris", actor=crew,
                                      client_id=str(uuid.uuid4()))
    assert created and check.event_tag == storm.tag
    tagged = session.scalar(sa.select(sa.func.count()).select_from(SweepCheck).where(SweepCheck.event_tag == storm.tag))
    assert tagged == 1

    html = login(app.test_client(), "dispatcher").get(f"/fieldservice/sweeps/{sweep.id}").get_data(as_text=True)
    assert f"Event: {storm.tag}" in html


def test_a_case_made_from_a_flagged_street_during_the_storm_carries_the_tag(session, staff, storm):
    from plugins.fieldservice import sweeps

    dispatcher, crew = staff
    net, sweep = started_sweep(session, dispatcher, "Flag pass")
    segment = sweep_segment(session, sweep, net)
    sweeps.check_off(session, segment, status="blocked", actor=crew, note="Oak across both lanes")
    case, task = sweeps.case_from_segment(session, segment, dispatcher)
    assert task is None
    assert set(tag_names(session, case)) >= {"sweep", storm.tag}


def test_a_work_order_made_during_the_storm_on_an_older_case_tags_the_case(session, staff):
    from plugins.fema import events
    from plugins.fieldservice import sweeps

    dispatcher, crew = staff
    net, sweep = started_sweep(session, dispatcher, "Before the storm")
    segment = sweep_segment(session, sweep, net)
    sweeps.check_off(session, segment, status="blocked", actor=crew)
    case, _ = sweeps.case_from_segment(session, segment, dispatcher)
    disaster = new_disaster(session, "Hurricane Work Order")
    assert disaster.tag not in tag_names(session, case)
    try:
        events.activate(session, disaster)
        same, work_order = sweeps.case_from_segment(session, segment, dispatcher, work_order=True)
        assert same.id == case.id and work_order is not None
        assert disaster.tag in tag_names(session, case)
        assert sweep.event_tag is None  # the sweep began before the event
    finally:
        session.rollback()
        events.deactivate(session)


def test_once_the_event_ends_nothing_new_is_tagged(session, staff):
    from plugins.fema import events
    from plugins.fieldservice import sweeps

    dispatcher, crew = staff
    disaster = new_disaster(session, "Hurricane Over")
    try:
        events.activate(session, disaster)
        net, during = started_sweep(session, dispatcher, "During")
    finally:
        session.rollback()
        events.deactivate(session)
    assert during.event_tag == disaster.tag
    check, _ = sweeps.check_off(session, sweep_segment(session, during, net), status="blocked", actor=crew)
    assert check.event_tag is None  # received after the event ended, though the sweep began during it
    case, _ = sweeps.case_from_segment(session, sweep_segment(session, during, net), dispatcher)
    assert disaster.tag not in tag_names(session, case)
    _, after = started_sweep(session, dispatcher, "After")
    assert after.event_tag is None
