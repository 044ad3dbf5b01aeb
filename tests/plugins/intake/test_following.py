"""Following a case on the portal: its public page, following it by e-mail, "Was this resolved?",
and the satisfaction numbers on the staff dashboard."""
from __future__ import annotations

import io
import itertools
import re
import time
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from PIL import Image

from tests.conftest import PASSWORD, csrf_token, login, recorded_sql

POTHOLE = {"service_code": "POTHOLE", "attributes": {"SIZE": "small"}}  # Public Works (PW)
METER = {"service_code": "METER", "attributes": {}}  # Utilities (UTIL)
_addresses = itertools.count(1)


def guest(app):
    """A visitor from an address of their own (rate limits count per client address)."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = f"10.{next(_addresses) % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    return client


def new_case(app, kind=POTHOLE, status: str | None = None, **kwargs) -> tuple[int, str]:
    from core.extensions import db
    from core.services.cases import SYSTEM, change_status, create_case

    with app.app_context():
        case = create_case(db.session, **{**kind, **kwargs})
        if status:
            change_status(db.session, case, status, SYSTEM)
        return case.id, case.reference


def jpeg(color=(200, 30, 30)) -> io.BytesIO:
    out = io.BytesIO()
    Image.new("RGB", (640, 480), color).save(out, "JPEG")
    out.seek(0)
    return out


def followers_of(app, case_id: int) -> list[str]:
    from core.extensions import db
    from plugins.intake.models import Follower

    with app.app_context():
        return list(db.session.scalars(sa.select(Follower.email).where(Follower.case_id == case_id).order_by(Follower.email)))


def case_status(app, case_id: int) -> str:
    from core.extensions import db
    from core.models import Case

    with app.app_context():
        return db.session.get(Case, case_id).status


def url_of(app, make, case_id: int, email: str) -> str:
    """The path of a link an e-mail would carry (built by ``survey_url`` / ``unfollow_url``)."""
    from core.extensions import db
    from core.models import Case

    with app.app_context():
        link = make(db.session.get(Case, case_id), email)
        db.session.remove()
    assert link.startswith("http://127.0.0.1:8080/portal/"), link
    return link.removeprefix("http://127.0.0.1:8080")


def expired_token(app, purpose: str, data: dict, age_days: int) -> str:
    """A genuinely signed token of ``purpose``, dated ``age_days`` ago."""

    class Backdated(TimestampSigner):
        def get_timestamp(self):
            return int(time.time()) - age_days * 24 * 3600

    return URLSafeTimedSerializer(app.config["SECRET_KEY"], salt=f"civic-intake-{purpose}", signer=Backdated).dumps(data)


def flashes(html: str) -> list[str]:
    return [re.sub(r"\s+", " ", m).strip() for m in re.findall(r'<div class="flash[^"]*"[^>]*>(.*?)</div>', html, re.S)]


# ------------------------------------------------------------------ the public case page

@pytest.fixture
def reported_case(app):
    """A pothole with distinctive personal data, staff work, notes and photos (public and private)."""
    from core.extensions import db
    from core.models import Account
    from core.services.attachments import store_attachment
    from core.services.cases import Actor, add_note, assign, change_status, create_case
    from core.services.users import create_user

    tag = uuid.uuid4().hex[:6]
    with app.app_context():
        staff = create_user(f"pw_worker_{tag}", PASSWORD, "Department staff", first_name="Ottoline", last_name=f"Staffworker{tag}")
        account = Account(name=f"Xanthippe Holder{tag}", email=f"xanthippe.{tag}@private.example", phone="+1 386 555 0142")
        db.session.add(account)
        db.session.commit()
        case = create_case(
            db.session, **POTHOLE, description="Deep hole", address="4 Florida Park Dr, Palm Coast", account=account,
            contact_name=f"Zebulon Quixote{tag}", contact_email=f"zebulon.{tag}@private.example", contact_phone="+1 386 555 0199",
        )
        actor = Actor(staff.id, staff.username)
        assign(db.session, case, staff, actor)
        add_note(db.session, case, f"INTERNAL gate code 4417-{tag}", actor, public=False)
        change_status(db.session, case, "in_progress", actor, note=f"A crew is scheduled {tag}.")
        add_note(db.session, case, f"Asphalt ordered {tag}.", actor, public=True)
        public_photo = store_attachment(db.session, case, jpeg(), "hole.jpg", actor, public=True)
        private_photo = store_attachment(db.session, case, jpeg((0, 0, 200)), f"zebulon-{tag}-house.jpg", actor, public=False)
        info = {
            "id": case.id, "reference": case.reference, "tag": tag, "public_photo": public_photo.id, "private_photo": private_photo.id,
            "staff": staff.username,
            "personal": [f"Zebulon Quixote{tag}", f"zebulon.{tag}@private.example", "555 0199", "555-0199", f"Xanthippe Holder{tag}",
                         f"xanthippe.{tag}@private.example", "555 0142", f"Staffworker{tag}", "Ottoline", staff.username,
                         f"INTERNAL gate code 4417-{tag}", f"zebulon-{tag}-house", "private.example"],
        }
        db.session.remove()
    return info


def test_public_case_page_shows_status_notes_photos_and_dates(app, reported_case):
    r = guest(app).get(f"/portal/cases/{reported_case['reference']}")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    tag = reported_case["tag"]
    assert f"Case {reported_case['reference']}" in html and "Pothole" in html
    assert "Work is under way" in html
    assert f"A crew is scheduled {tag}." in html and f"Asphalt ordered {tag}." in html
    assert "4 Florida Park Dr, Palm Coast" in html  # the reported place
    assert "Reported" in html and "Expected by" in html
    assert "Report received" in html and "Status: Work is under way" in html and "Photo added" in html
    assert f"/portal/photos/{reported_case['public_photo']}/thumbnail" in html
    assert f"/portal/photos/{reported_case['private_photo']}" not in html


def test_public_case_page_never_shows_the_reporters_personal_data_or_internal_notes(app, reported_case):
    html = guest(app).get(f"/portal/cases/{reported_case['reference']}").get_data(as_text=True)
    leaked = [text for text in reported_case["personal"] if text in html]
    assert not leaked, leaked
    assert "Deep hole" not in html  # the description is the reporter's own words: not published


def test_unknown_case_number_is_a_404_page_in_the_portal_layout(app):
    r = guest(app).get("/portal/cases/PC-1999-999999")
    assert r.status_code == 404
    html = r.get_data(as_text=True)
    assert 'class="portal-header"' in html and "Case not found" in html


def test_closed_case_shows_its_closing_date_and_resident_wording(app):
    _, reference = new_case(app, status="closed")
    html = guest(app).get(f"/portal/cases/{reference}").get_data(as_text=True)
    assert "Closed" in html and "Expected by" not in html and "This case is closed." in html


def test_case_page_is_in_french_for_a_french_browser(app):
    _, reference = new_case(app)
    client = guest(app)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "fr-CA,fr;q=0.9"
    html = client.get(f"/portal/cases/{reference}").get_data(as_text=True)
    assert re.search(r'<html[^>]*lang="fr"', html)
    assert "Nous avons bien reçu votre signalement" in html and f"Dossier {reference}" in html
    assert "Nid-de-poule" in html or "nid-de-poule" in html.lower()
    assert "We have received your report" not in html and "Follow this case" not in html


# ------------------------------------------------------------------ photos

def test_public_photo_and_its_thumbnail_are_served_a_private_one_is_a_404(app, reported_case):
    client = guest(app)
    with client.get(f"/portal/photos/{reported_case['public_photo']}") as full:
        assert full.status_code == 200 and full.mimetype == "image/jpeg" and full.data[:3] == b"\xff\xd8\xff"
        assert full.headers["X-Content-Type-Options"] == "nosniff"
    with client.get(f"/portal/photos/{reported_case['public_photo']}/thumbnail") as thumb:
        assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
        with Image.open(io.BytesIO(thumb.data)) as img:
            assert max(img.size) <= 320
    assert client.get(f"/portal/photos/{reported_case['private_photo']}").status_code == 404
    assert client.get(f"/portal/photos/{reported_case['private_photo']}/thumbnail").status_code == 404
    assert client.get("/portal/photos/987654321").status_code == 404


# ------------------------------------------------------------------ follow and unfollow

def test_guest_follows_a_case_and_the_answer_never_says_whether_the_address_already_followed(app):
    case_id, reference = new_case(app)
    client = guest(app)
    page = client.get(f"/portal/cases/{reference}").get_data(as_text=True)
    email = f"follower.{uuid.uuid4().hex[:6]}@example.org"
    answers = []
    for typed in (email, email.upper()):
        r = client.post(f"/portal/cases/{reference}/follow", data={"csrf_token": csrf_token(page), "email": typed})
        assert r.status_code == 302 and r.headers["Location"].endswith(f"/portal/cases/{reference}#follow")
        answers.append(flashes(client.get(f"/portal/cases/{reference}").get_data(as_text=True)))
    assert answers[0] == answers[1] and answers[0]
    assert followers_of(app, case_id) == [email]


def test_follow_with_a_bad_address_shows_the_form_again_with_what_was_typed(app):
    case_id, reference = new_case(app)
    client = guest(app)
    page = client.get(f"/portal/cases/{reference}").get_data(as_text=True)
    r = client.post(f"/portal/cases/{reference}/follow", data={"csrf_token": csrf_token(page), "email": "not-an-address"})
    assert r.status_code == 400
    html = r.get_data(as_text=True)
    assert 'value="not-an-address"' in html and 'aria-invalid="true"' in html and "name@example.com" in html
    assert followers_of(app, case_id) == []


def test_follow_needs_the_csrf_token(app):
    case_id, reference = new_case(app)
    r = guest(app).post(f"/portal/cases/{reference}/follow", data={"email": "someone@example.org"})
    assert r.status_code == 400
    assert followers_of(app, case_id) == []


def test_follows_are_rate_limited_per_client(app):
    from plugins.intake.portal.following import FOLLOW_LIMIT

    case_id, reference = new_case(app)
    client = guest(app)
    token = csrf_token(client.get(f"/portal/cases/{reference}").get_data(as_text=True))
    for n in range(FOLLOW_LIMIT):
        assert client.post(f"/portal/cases/{reference}/follow", data={"csrf_token": token, "email": f"f{n}@example.org"}).status_code == 302
    r = client.post(f"/portal/cases/{reference}/follow", data={"csrf_token": token, "email": "one-too-many@example.org"})
    assert r.status_code == 429 and "try again in an hour" in r.get_data(as_text=True)
    assert "one-too-many@example.org" not in followers_of(app, case_id)


def test_signed_in_resident_follows_in_one_click_with_their_account_address(app):
    from core.extensions import db
    from core.models import Account
    from core.services.users import create_user

    tag = uuid.uuid4().hex[:6]
    with app.app_context():
        user = create_user(f"res_{tag}", PASSWORD, "Resident", email=f"res_{tag}@example.org")
        db.session.add(Account(name="Resident", email=f"Res.{tag}@Example.org", user_id=user.id, preferred_language="fr"))
        db.session.commit()
        db.session.remove()
    case_id, reference = new_case(app)
    client = login(guest(app), f"res_{tag}")
    page = client.get(f"/portal/cases/{reference}").get_data(as_text=True)
    assert 'name="email"' not in page
    r = client.post(f"/portal/cases/{reference}/follow", data={"csrf_token": csrf_token(page)})
    assert r.status_code == 302
    assert followers_of(app, case_id) == [f"res.{tag}@example.org"]
    page = client.get(f"/portal/cases/{reference}").get_data(as_text=True)
    assert "/portal/unfollow/" in page  # "you follow this case", with a way to stop
    from plugins.intake.models import Follower

    with app.app_context():
        assert db.session.scalar(sa.select(Follower.locale).where(Follower.case_id == case_id)) == "fr"


def test_unfollow_link_asks_for_confirmation_then_stops_the_updates(app):
    from plugins.intake.following import follow, unfollow_url
    from core.extensions import db
    from core.models import Case

    case_id, reference = new_case(app)
    with app.app_context():
        follow(db.session.get(Case, case_id), "leaving@example.org")
        follow(db.session.get(Case, case_id), "staying@example.org")
        db.session.remove()
    link = url_of(app, unfollow_url, case_id, "Leaving@Example.org")
    assert "leaving" not in link.lower()  # the address is not in the URL (server logs)
    client = guest(app)
    page = client.get(link)
    assert page.status_code == 200
    assert followers_of(app, case_id) == ["leaving@example.org", "staying@example.org"]  # GET changes nothing
    r = client.post(link, data={"csrf_token": csrf_token(page.get_data(as_text=True))})
    assert r.status_code == 200 and reference in r.get_data(as_text=True)
    assert followers_of(app, case_id) == ["staying@example.org"]
    again = client.get(link)
    assert again.status_code == 200 and "does not follow" in again.get_data(as_text=True)


def test_forged_expired_or_misused_tokens_are_refused_with_a_clear_page(app):
    from plugins.intake.following import email_key, unfollow_url
    from plugins.intake.satisfaction import survey_url

    case_id, _ = new_case(app, status="closed")
    with app.app_context():
        who = email_key("x@example.org")
    unfollow = url_of(app, unfollow_url, case_id, "x@example.org")
    survey = url_of(app, survey_url, case_id, "x@example.org")
    client = guest(app)
    forged = [
        unfollow[:-3] + ("AAA" if not unfollow.endswith("AAA") else "BBB"),
        "/portal/unfollow/not-a-token",
        "/portal/unfollow/" + expired_token(app, "unfollow", {"case": case_id, "who": who}, age_days=366),
        "/portal/unfollow/" + survey.rsplit("/", 1)[1],  # a survey token is no unfollow token
        survey[:-3] + ("AAA" if not survey.endswith("AAA") else "BBB"),
        "/portal/survey/" + expired_token(app, "survey", {"case": case_id, "who": who}, age_days=61),
        "/portal/survey/" + unfollow.rsplit("/", 1)[1],
        "/portal/survey/" + expired_token(app, "survey", {"case": "1; drop", "who": who}, age_days=0),
    ]
    for url in forged:
        r = client.get(url)
        assert r.status_code == 400, url
        assert "This link does not work" in r.get_data(as_text=True)
        assert client.post(url, data={"resolved": "no"}).status_code == 400, url
    # Still valid at 59 days (survey) and 364 days (unfollow).
    assert client.get("/portal/survey/" + expired_token(app, "survey", {"case": case_id, "who": who}, age_days=59)).status_code == 200
    assert client.get("/portal/unfollow/" + expired_token(app, "unfollow", {"case": case_id, "who": who}, age_days=364)).status_code == 200
    # A genuine token for a case that no longer exists: 404, not 500.
    assert client.get("/portal/survey/" + expired_token(app, "survey", {"case": 2_000_000_000, "who": who}, age_days=0)).status_code == 404


# ------------------------------------------------------------------ "Was this resolved?"

def answer_survey(client, link: str, **data):
    page = client.get(link)
    assert page.status_code == 200
    return client.post(link, data={"csrf_token": csrf_token(page.get_data(as_text=True)), **data})


def satisfaction_rows(app, case_id: int):
    from core.extensions import db
    from plugins.intake.models import Satisfaction

    with app.app_context():
        return [(s.resolved, s.rating, s.comment) for s in db.session.scalars(sa.select(Satisfaction).where(Satisfaction.case_id == case_id))]


def test_survey_no_reopens_a_closed_case_for_staff_review(app):
    from core.extensions import db
    from core.models import CaseEvent
    from plugins.intake.satisfaction import survey_url

    case_id, reference = new_case(app, status="closed")
    link = url_of(app, survey_url, case_id, "reporter@example.org")
    page = guest(app).get(link).get_data(as_text=True)
    assert "Was this resolved?" in page and reference in page
    assert re.search(r'<fieldset[^>]*>\s*<legend>[^<]*How would you rate', page)
    assert '<label for="rating-5">5 – Excellent</label>' in page and 'id="rating-5" name="rating" value="5"' in page

    r = answer_survey(guest(app), link, resolved="no", rating="2", comment="Still a hole, secret-comment-7781")
    assert r.status_code == 200 and "reopened" in r.get_data(as_text=True)
    assert case_status(app, case_id) == "reopened"
    assert satisfaction_rows(app, case_id) == [(False, 2, "Still a hole, secret-comment-7781")]
    with app.app_context():
        events = list(db.session.scalars(sa.select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)))
        reopen = [e for e in events if e.kind == "status_changed" and e.data.get("new") == "reopened"]
        notes = [e for e in events if e.kind == "internal_note"]
        assert len(reopen) == 1 and reopen[0].actor_label == "resident survey" and reopen[0].public
        assert len(notes) == 1 and not notes[0].public and notes[0].actor_label == "resident survey"
        assert "secret-comment-7781" in notes[0].body and "2" in notes[0].body
        assert "secret-comment-7781" not in reopen[0].body
    public_page = guest(app).get(f"/portal/cases/{reference}").get_data(as_text=True)
    assert "Reopened" in public_page and "secret-comment-7781" not in public_page


def test_survey_yes_with_rating_5_is_recorded_and_a_second_answer_updates_it(app):
    from plugins.intake.satisfaction import survey_url

    case_id, _ = new_case(app, status="resolved")
    link = url_of(app, survey_url, case_id, "happy@example.org")
    r = answer_survey(guest(app), link, resolved="yes", rating="5", comment="")
    assert r.status_code == 200 and "Thank you" in r.get_data(as_text=True)
    assert satisfaction_rows(app, case_id) == [(True, 5, "")]
    assert case_status(app, case_id) == "resolved"

    page = guest(app).get(link).get_data(as_text=True)  # the form shows the answer given
    assert re.search(r'id="resolved-yes"[^>]*checked', page) and re.search(r'id="rating-5"[^>]*checked', page)
    answer_survey(guest(app), link, resolved="yes", rating="4", comment="Quick work")
    assert satisfaction_rows(app, case_id) == [(True, 4, "Quick work")]
    # Another person's answer on the same case is a second answer.
    answer_survey(guest(app), url_of(app, survey_url, case_id, "neighbour@example.org"), resolved="yes", rating="3")
    assert sorted(satisfaction_rows(app, case_id)) == [(True, 3, ""), (True, 4, "Quick work")]


def test_survey_with_bad_input_shows_the_form_again_with_what_was_typed(app):
    from plugins.intake.satisfaction import survey_url

    case_id, _ = new_case(app, status="closed")
    link = url_of(app, survey_url, case_id, "typo@example.org")
    r = answer_survey(guest(app), link, rating="9", comment="Kept text")
    assert r.status_code == 400
    html = r.get_data(as_text=True)
    assert "Choose yes or no." in html and "Choose a rating from 1 to 5." in html and ">Kept text</textarea>" in html
    r = answer_survey(guest(app), link, resolved="no", comment="x" * 2001)
    assert r.status_code == 400 and "2001" in r.get_data(as_text=True)
    assert satisfaction_rows(app, case_id) == [] and case_status(app, case_id) == "closed"


def test_survey_page_is_in_french(app):
    from plugins.intake.satisfaction import survey_url

    case_id, _ = new_case(app, status="closed")
    client = guest(app)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "fr"
    html = client.get(url_of(app, survey_url, case_id, "fr@example.org")).get_data(as_text=True)
    assert "Le problème a-t-il été résolu\u00a0?" in html and "5 – Excellent" in html


# ------------------------------------------------------------------ the staff dashboard

class Widget:
    """The satisfaction block of one rendering of the dashboard."""

    def __init__(self, client):
        response = client.get("/dashboard/")
        assert response.status_code == 200
        html = response.get_data(as_text=True)
        self.html = html.split("data-satisfaction", 1)[1].split("</div></div>", 1)[0]

    def value(self, name: str) -> str:
        m = re.search(rf"data-{name}>(.*?)</dd>", self.html, re.S)
        return m.group(1).strip() if m else ""

    @property
    def answers(self) -> int:
        return int(self.value("answers").replace(",", "") or 0)


def expected_numbers(app, department_code: str | None):
    """The numbers computed row by row in Python (the widget uses SQL aggregates)."""
    from core.extensions import db
    from core.models import Case, Department
    from core.models.base import utcnow
    from plugins.intake.models import Satisfaction

    with app.app_context():
        stmt = sa.select(Satisfaction.resolved, Satisfaction.rating).join(Case, Case.id == Satisfaction.case_id).where(
            Satisfaction.created_at >= utcnow() - timedelta(days=90)
        )
        if department_code:
            stmt = stmt.join(Department, Department.id == Case.department_id).where(Department.code == department_code)
        rows = db.session.execute(stmt).all()
    ratings = [r for _, r in rows if r]
    return len(rows), round(100 * sum(1 for y, _ in rows if y) / len(rows)), round(sum(ratings) / len(ratings), 1)


def test_dashboard_shows_satisfaction_to_admin_and_scoped_numbers_to_department_staff(app, client_for):
    from plugins.intake.satisfaction import survey_url

    admin, pw_staff = client_for("admin"), client_for("pw_staff")
    before_admin, before_pw = Widget(admin).answers, Widget(pw_staff).answers
    pw_case, pw_ref = new_case(app, POTHOLE, status="resolved")
    util_case, util_ref = new_case(app, METER, status="closed")
    answer_survey(guest(app), url_of(app, survey_url, pw_case, "a@example.org"), resolved="yes", rating="5", comment="pw-comment-good")
    answer_survey(guest(app), url_of(app, survey_url, util_case, "b@example.org"), resolved="no", rating="1", comment="util-comment-bad")

    seen_by_admin = Widget(admin)
    assert seen_by_admin.answers == before_admin + 2
    answers, percent, average = expected_numbers(app, None)
    assert seen_by_admin.answers == answers
    assert seen_by_admin.value("resolved-percent") == f"{percent}%"
    assert seen_by_admin.value("average-rating") == f"{average:g} out of 5"
    assert "pw-comment-good" in seen_by_admin.html and "util-comment-bad" in seen_by_admin.html
    assert seen_by_admin.html.index("util-comment-bad") < seen_by_admin.html.index("pw-comment-good")  # newest first

    seen_by_pw = Widget(pw_staff)
    assert seen_by_pw.answers == before_pw + 1
    answers, percent, average = expected_numbers(app, "PW")
    assert seen_by_pw.answers == answers and seen_by_pw.value("resolved-percent") == f"{percent}%"
    assert seen_by_pw.value("average-rating") == f"{average:g} out of 5"
    assert "pw-comment-good" in seen_by_pw.html and pw_ref in seen_by_pw.html
    assert "util-comment-bad" not in seen_by_pw.html and util_ref not in seen_by_pw.html


def test_satisfaction_widget_uses_aggregate_queries_only(app, client_for):
    client = client_for("pw_staff")
    with recorded_sql(app) as statements:
        Widget(client)
    ours = [s for s in statements if "intake_satisfaction" in s]
    assert len(ours) == 3, ours  # the summary, the latest comments, the weekly rating trend
    assert all("count(" in s.lower() or "LIMIT" in s or "GROUP BY" in s for s in ours), ours


def test_satisfaction_widget_is_in_french(app):
    from core.services.users import create_user

    tag = uuid.uuid4().hex[:6]
    with app.app_context():
        create_user(f"disp_fr_{tag}", PASSWORD, "Dispatcher", email=f"disp_fr_{tag}@palmcoast.example.gov")
    client = login(app.test_client(), f"disp_fr_{tag}")
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "fr"
    html = client.get("/dashboard/").get_data(as_text=True)
    assert "Satisfaction des résidents" in html and "Resident satisfaction" not in html
