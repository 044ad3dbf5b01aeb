"""Reports on the phone desk's calls, and resident satisfaction as measures of the cases subject.

A dispatcher takes calls at the desk (the real screens, through the test client); a manager then asks the
report engine how many calls there were, how long they took and how many became cases.  Satisfaction
answers go through the survey's own service.  Both database backends; the database is shared by the run,
so each test makes its own agent (calls) or tag (cases) and reports only on those.
"""
from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import PASSWORD, csrf_token, login
from tests.reports import by_label, every_combination, report, tag, user

DESK = "/calls/new/"


# ---------------------------------------------------------------- calls

@pytest.fixture
def agent(app):
    """A dispatcher of our own who answers the phone (their calls are the only ones with their name)."""
    from core.extensions import db
    from core.services.users import create_user

    t = tag()
    username = f"agent_{t}"
    with app.app_context():
        created = create_user(username, PASSWORD, "Dispatcher", first_name="Ada", last_name=f"Agent{t}", email=f"{username}@city.example")
        found = {"username": username, "id": created.id, "name": f"Ada Agent{t}"}
        db.session.remove()
    return found


def take_call(client, endpoint: str, minutes: int, data: dict):
    """End a call that started ``minutes`` ago at the desk (the desk's hidden "started" field)."""
    from core.models.base import utcnow

    html = client.get(DESK).get_data(as_text=True)
    started = (utcnow() - timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S")
    response = client.post(f"{DESK}{endpoint}", data={"csrf_token": csrf_token(html), "started": started, **data})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]


def three_calls(app, agent):
    """Two calls that became cases (2 and 10 minutes) and one billing question (4 minutes)."""
    client = login(app.test_client(), agent["username"])
    take_call(client, "case", 2, {"service": "TRAIL", "description": "Cracked slab", "contact_name": "Bea"})
    take_call(client, "information", 4, {"wrap_up": "billing", "caller_name": "Cy"})
    take_call(client, "case", 10, {"service": "TRAIL", "description": "Root lifted the slab", "contact_name": "Di"})


def test_a_manager_counts_an_agents_calls_how_long_they_took_and_how_many_became_cases(app, agent):
    three_calls(app, agent)
    spec = {"subject": "calls", "period": "last_7_days", "filters": {"agent": [str(agent["id"])]}, "group": "outcome",
            "measures": ["count", "case_rate", "length_median", "length_p90"]}
    result = report(app, "dispatcher", spec)

    count, rate, median, p90 = result.totals
    assert count == 3
    assert rate == pytest.approx(200 / 3)  # 2 of 3 calls became a case: 66.7 %
    assert median == pytest.approx(4 * 60, abs=5)  # 2, 4 and 10 minutes
    assert p90 == pytest.approx((4 + 0.8 * 6) * 60, abs=5)  # between the 4 and the 10 minute calls
    rows = by_label(result)
    assert rows["New case"][:2] == [2, 100.0]
    assert rows["Information only"][:2] == [1, 0.0]


def test_calls_by_wrap_up_reason_and_agent_have_readable_labels_in_the_readers_language(app, agent):
    three_calls(app, agent)
    base = {"subject": "calls", "period": "last_7_days", "filters": {"agent": [str(agent["id"])]}, "measures": ["count"]}

    assert by_label(report(app, "dispatcher", {**base, "group": "wrap_up"})) == {"(none)": [2], "Billing question answered": [1]}
    assert by_label(report(app, "admin", {**base, "group": "agent"})) == {f"{agent['name']} ({agent['username']})": [3]}
    french = by_label(report(app, "dispatcher", {**base, "group": "wrap_up"}, locale="fr"))
    assert french["Question de facturation répondue"] == [1]
    assert by_label(report(app, "dispatcher", {**base, "group": "outcome", "filters": {**base["filters"], "wrap_up": ["billing"]}})) == {
        "Information only": [1]}


def test_only_the_phone_desk_reports_on_calls(app, agent):
    from core.extensions import db
    from core.reports.engine import ReportDenied
    from core.reports.subjects import subjects_for

    three_calls(app, agent)
    spec = {"subject": "calls", "period": "all", "filters": {"agent": [str(agent["id"])]}}
    assert report(app, "admin", spec).totals == [3, pytest.approx(200 / 3)]  # calls, % that became a case (the defaults)
    for username in ("crew", "pw_staff"):
        with pytest.raises(ReportDenied):
            report(app, username, spec)
    with app.test_request_context():
        assert "calls" not in [s.code for s in subjects_for(user(db.session, "crew"))]
        assert "calls" in [s.code for s in subjects_for(user(db.session, "dispatcher"))]
        db.session.remove()


def test_every_grouping_and_measure_of_calls_runs(app, agent):
    three_calls(app, agent)
    assert every_combination(app, "dispatcher", "calls") >= 6


# ---------------------------------------------------------------- satisfaction on cases

@pytest.fixture
def answered_cases(app):
    """Three resolved cases with a tag of our own: the first answered by two residents (5 and 3, both
    "resolved"), the second by one (1, "not resolved"), the third not at all."""
    from core.extensions import db
    from core.services.cases import SYSTEM, change_status, create_case
    from plugins.intake.satisfaction import record_answer

    t = f"survey-{tag()}"
    with app.test_request_context():
        cases = [create_case(db.session, service_code="TRAIL", description=f"Slab {i}", tags=[t]) for i in range(3)]
        for case in cases:
            change_status(db.session, case, "resolved", SYSTEM)
        record_answer(cases[0], "resident-a", resolved=True, rating=5, comment="")
        record_answer(cases[0], "resident-b", resolved=True, rating=3, comment="Quick")
        record_answer(cases[1], "resident-c", resolved=False, rating=1, comment="Still broken")
        db.session.remove()
    return t


def test_satisfaction_averages_each_case_first_and_the_resolved_share_counts_answers(app, answered_cases):
    spec = {"subject": "cases", "period": "all", "filters": {"tag": [answered_cases]},
            "measures": ["count", "satisfaction", "satisfied_rate"]}
    count, satisfaction, satisfied = report(app, "dispatcher", spec).totals
    assert count == 3
    assert float(satisfaction) == pytest.approx(2.5)  # (average of 5 and 3) and 1, over the two rated cases
    assert satisfied == pytest.approx(200 / 3)  # 2 of 3 answers said "resolved"


def test_satisfaction_measures_never_change_the_case_count(app, answered_cases):
    base = {"subject": "cases", "period": "all", "filters": {"tag": [answered_cases]}}
    for group in ("", "status", "service", "day"):
        plain = report(app, "dispatcher", {**base, "group": group, "measures": ["count", "closed"]})
        with_answers = report(app, "dispatcher",
                              {**base, "group": group, "measures": ["count", "closed", "satisfaction", "satisfied_rate"]})
        assert with_answers.totals[:2] == plain.totals == [3, 2]  # the "not resolved" answer reopened one
        assert [(r.key, r.values[:2]) for r in with_answers.rows] == [(r.key, r.values) for r in plain.rows]


def test_satisfaction_follows_the_department_scope_of_cases(app, answered_cases):
    spec = {"subject": "cases", "period": "all", "filters": {"tag": [answered_cases]}, "measures": ["count", "satisfaction"]}
    # TRAIL cases belong to Parks (not Utilities): utility staff count none of them, and no average.
    assert report(app, "util_staff", spec).totals == [0, None]
