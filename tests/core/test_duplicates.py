"""Possible duplicates: the nearby search, the suggestion on the timeline, merging on the case page,
"Who else reported this?", and closing a parent telling the duplicates' reporters."""
from __future__ import annotations

import random
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.conftest import DEMO_CONFIG
from tests.core.test_case_screens import act, load, make_case, text

POTHOLE = {"service_code": "POTHOLE", "attributes": {"SIZE": "large"}}  # Public Works (PW)
METRE = 1 / 111_320  # degrees of latitude in a metre


def spot() -> tuple[float, float]:
    """A point of its own (far from other tests' cases: the search is by place)."""
    return 28.0 + random.random() * 1.5, -82.5 + random.random() * 1.5


def new(app, where, metres_north: float = 0, **kwargs) -> tuple[int, str]:
    lat, long = where
    return make_case(app, **{**POTHOLE, "lat": lat + metres_north * METRE, "long": long, **kwargs})


def candidate_refs(app, case_id: int, **kwargs) -> list[str]:
    from core.duplicates import candidates
    from core.extensions import db
    from core.models import Case

    with app.app_context():
        found = [c.reference for c in candidates(db.session, db.session.get(Case, case_id), **kwargs)]
        db.session.remove()
        return found


def suggestions(app, case_id: int) -> list[tuple[str, bool]]:
    return [(e[4].get("suggested_duplicate"), e[2]) for e in load(app, case_id)["events"] if e[0] == "duplicate_suggested"]


def test_candidates_are_open_same_service_nearby_and_recent(app):
    from core.extensions import db
    from core.models import Case
    from core.models.base import utcnow

    here = spot()
    old_id, old_ref = new(app, here, created_at=utcnow() - timedelta(hours=100))  # outside the 72 h window
    closed_id, closed_ref = new(app, here, 20)
    far_id, far_ref = new(app, here, 400)  # outside 150 m
    other_id, other_ref = new(app, here, 10, service_code="STREETLIGHT", attributes={})
    first_id, first_ref = new(app, here, 50)
    second_id, second_ref = new(app, here, -30)
    with app.app_context():
        from core.services.cases import SYSTEM, change_status

        change_status(db.session, db.session.get(Case, closed_id), "closed", SYSTEM)
        db.session.remove()
    latest_id, _ = new(app, here, 100)

    found = candidate_refs(app, latest_id)
    assert found == [second_ref, first_ref]  # newest first; not closed, far, old, other service, itself
    assert candidate_refs(app, latest_id, radius_m=1000)[:3] == [second_ref, first_ref, far_ref]
    assert old_ref in candidate_refs(app, latest_id, window_h=200)
    assert candidate_refs(app, latest_id, limit=1) == [second_ref]
    assert candidate_refs(app, first_id) == []


def test_candidates_need_a_location(app):
    here = spot()
    new(app, here)
    case_id, _ = make_case(app, **POTHOLE)
    assert candidate_refs(app, case_id) == []


def test_create_case_suggests_the_best_candidate_on_the_timeline_only(app):
    here = spot()
    first_id, first_ref = new(app, here)
    second_id, second_ref = new(app, here, 30)
    third_id, _ = new(app, here, 60)
    assert suggestions(app, first_id) == []
    assert suggestions(app, second_id) == [(first_ref, False)]  # internal: staff only
    assert suggestions(app, third_id) == [(second_ref, False)]  # the newest
    assert load(app, third_id)["status"] == "new"  # suggested, never merged


def test_merge_from_the_case_page_links_both_cases(app, client_for):
    here = spot()
    parent_id, parent_ref = new(app, here, channel="phone")
    dup_id, dup_ref = new(app, here, 40, channel="web", contact_email=f"dup-{uuid.uuid4().hex[:8]}@example.org")
    client = client_for("pw_staff")

    page = text(client.get(f"/caseview/show/{dup_id}"))
    assert "Possible duplicates" in page and f'data-reference="{parent_ref}"' in page
    r = act(client, dup_id, "merge", parent=parent_ref)
    assert r.status_code == 200
    assert f"Merged into {parent_ref} as a duplicate." in text(r)

    dup, parent = load(app, dup_id), load(app, parent_id)
    assert dup["status"] == "duplicate" and parent["status"] == "new"
    assert ("status_changed", "pw_staff", True, "", {"old": "new", "new": "duplicate", "parent": parent_ref}) in dup["events"]
    assert ("merged", "pw_staff", False, "", {"duplicate": dup_ref}) in parent["events"]
    from core.extensions import db
    from core.models import Case

    with app.app_context():
        case = db.session.get(Case, dup_id)
        assert case.duplicate_of.reference == parent_ref and case.closed_at is not None
        assert db.session.get(Case, parent_id).contact_email is None  # nothing personal copied
        db.session.remove()

    shown = text(client.get(f"/caseview/show/{parent_id}"))
    assert "Who else reported this?" in shown
    other = shown.split('id="other-reports"')[1]
    assert f'data-reference="{dup_ref}"' in other and "Web" in other
    assert "Duplicate merged" in shown
    dup_page = text(client.get(f"/caseview/show/{dup_id}"))
    assert 'id="possible-duplicates"' not in dup_page  # no more suggestions once merged


def test_refused_merges_name_the_field_and_change_nothing(app, client_for):
    from core.extensions import db
    from core.models import Case
    from core.services.cases import SYSTEM, change_status

    here = spot()
    closed_id, closed_ref = new(app, here)
    with app.app_context():
        change_status(db.session, db.session.get(Case, closed_id), "closed", SYSTEM)
        db.session.remove()
    parent_id, parent_ref = new(app, here, 10)
    dup_id, dup_ref = new(app, here, 20)
    client = client_for("pw_staff")

    assert "Duplicate of: a case cannot be a duplicate of itself" in text(act(client, dup_id, "merge", parent=dup_ref))
    assert f"Duplicate of: case {closed_ref} is closed" in text(act(client, dup_id, "merge", parent=closed_ref))
    assert "Duplicate of: unknown case 'PC-NOPE'" in text(act(client, dup_id, "merge", parent="PC-NOPE"))
    assert "Duplicate of: choose the case this one duplicates" in text(act(client, dup_id, "merge", parent=""))
    assert load(app, dup_id)["status"] == "new"

    assert "Merged into" in text(act(client, dup_id, "merge", parent=parent_ref))
    r = client.post(f"/caseview/act/{dup_id}", data={"action": "merge", "parent": parent_ref, "version": "99"})
    assert r.status_code == 400  # no CSRF token
    again = text(act(client, dup_id, "merge", parent=parent_ref))
    assert "Status: this case is already a duplicate" in again
    third_id, _ = new(app, here, 30)
    assert f"Duplicate of: case {dup_ref} is closed" in text(act(client, third_id, "merge", parent=dup_ref))
    stale = text(act(client, third_id, "merge", version="1000", parent=parent_ref))
    assert "changed by someone else" in stale
    assert load(app, third_id)["status"] == "new"


def test_a_case_of_another_department_cannot_be_the_parent(app, client_for):
    here = spot()
    meter_id, meter_ref = make_case(app, service_code="METER", attributes={}, lat=here[0], long=here[1])
    dup_id, _ = new(app, here)
    r = act(client_for("pw_staff"), dup_id, "merge", parent=meter_ref)
    assert f"Duplicate of: unknown case '{meter_ref}'" in text(r)
    assert load(app, dup_id)["status"] == "new"


def test_merged_reporter_follows_the_parent_and_hears_its_closure(app, client_for):
    from core.extensions import db
    from core.models import OutboxMessage
    from plugins.intake.models import Follower

    here = spot()
    parent_id, parent_ref = new(app, here, contact_email=f"first-{uuid.uuid4().hex[:8]}@example.org")
    email = f"second-{uuid.uuid4().hex[:8]}@example.org"
    dup_id, dup_ref = new(app, here, 25, contact_email=email)

    def mails():
        with app.app_context():
            rows = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.recipient == email).order_by(OutboxMessage.id)).all()
            out = [(m.kind, m.related, m.subject, m.body_text) for m in rows]
            db.session.remove()
            return out

    before = mails()
    client = client_for("pw_staff")
    assert "Merged into" in text(act(client, dup_id, "merge", parent=parent_ref))
    merged = mails()[len(before):]
    assert [(k, rel) for k, rel, _, _ in merged] == [("case_merged", f"case:{dup_id}")]
    assert f"already reported as {parent_ref}" in merged[0][2] and f"under case {parent_ref}" in merged[0][3]
    with app.app_context():
        follower = db.session.scalar(sa.select(Follower).where(Follower.case_id == parent_id, Follower.email == email))
        assert follower is not None and follower.reason == "duplicate"
        db.session.remove()

    before = mails()
    assert "Status changed to Resolved." in text(act(client, parent_id, "status", status="resolved", note="Filled"))
    added = mails()[len(before):]
    # One e-mail: the parent's closure (with its survey, as a reporter); the note on the duplicate is not sent twice.
    assert [(k, rel) for k, rel, _, _ in added] == [("case_closed", f"case:{parent_id}")]
    assert "Filled" in added[0][3] and "/survey/" in added[0][3]
    dup = load(app, dup_id)
    assert dup["status"] == "duplicate"
    assert ("public_note", "pw_staff", True, f"Resolved together with {parent_ref}.", {}) in dup["events"]

    # resolved -> closed tells nobody twice
    assert "Status changed to Closed." in text(act(client, parent_id, "status", status="closed"))
    assert len(mails()) == len(before) + 1


@pytest.mark.parametrize("line, key", [
    ("duplicate_radius_m = -5", "city.duplicate_radius_m"),
    ('duplicate_window_hours = "soon"', "city.duplicate_window_hours"),
])
def test_config_refuses_bad_duplicate_settings(tmp_path, line, key):
    from core.config import ConfigError, load_city_config

    source = DEMO_CONFIG.read_text(encoding="utf-8")
    name = line.split(" ")[0]
    lines = [ln for ln in source.splitlines() if not ln.startswith(name + " ")]
    at = lines.index("[city]") + 1
    lines.insert(at, line)
    path = tmp_path / "city.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_city_config(path)
    assert any(f": {key}: " in problem for problem in exc.value.lines), exc.value.lines


def test_demo_config_has_the_duplicate_settings():
    from core.config import load_city_config

    city = load_city_config(DEMO_CONFIG).city
    assert city["duplicate_radius_m"] == 150 and city["duplicate_window_hours"] == 72
