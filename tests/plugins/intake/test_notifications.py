"""Residents are told about their cases, and staff send notices, by e-mail through the outbox.

Every e-mail is queued (``outbox_message``) by the change that causes it, in its recipient's
language, and only the worker (``core.notify.deliver_due``) talks to the SMTP server; here a real
one (aiosmtpd, tests/smtp.py).  Both database backends; the database is shared, so each test
looks only at its own cases, notices and addresses.
"""
from __future__ import annotations

import re
import threading
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from core.models.base import utcnow
from tests.conftest import csrf_token
from tests.smtp import parts, smtp, smtp_server  # noqa: F401  (fixtures)

POTHOLE = {"service_code": "POTHOLE", "attributes": {"SIZE": "small"}}


def tag() -> str:
    return uuid.uuid4().hex[:8]


def mails(app, related: str, kind: str | None = None) -> list[dict]:
    """The queued messages of a case (``case:ID``) or a notice (``notice:ID``), oldest first."""
    from core.extensions import db
    from core.models import OutboxMessage

    with app.app_context():
        stmt = sa.select(OutboxMessage).where(OutboxMessage.related == related).order_by(OutboxMessage.id)
        if kind:
            stmt = stmt.where(OutboxMessage.kind == kind)
        rows = [{c: getattr(m, c) for c in ("recipient", "locale", "kind", "subject", "body_text", "body_html", "status", "unsubscribe_url")}
                for m in db.session.scalars(stmt)]
        db.session.remove()
    return rows


def by_recipient(rows: list[dict]) -> dict[str, dict]:
    return {r["recipient"]: r for r in rows}


def new_account(session, *, language="en", contact_by_email=True, topics=(), utility=None, email=None):
    from core.models import Account

    account = Account(name=f"Resident {tag()}", email=email or f"resident.{tag()}@example.org", preferred_language=language,
                      contact_by_email=contact_by_email, preferences={"topics": list(topics)}, utility_account_number=utility)
    session.add(account)
    session.commit()
    return account


def new_case(session, **kwargs):
    from core.services.cases import create_case

    return create_case(session, description="Deep hole by the curb", **{**POTHOLE, **kwargs})



def staff_actor(session):
    from core.models import User
    from core.services.cases import Actor

    user = session.scalar(sa.select(User).where(User.username == "pw_staff"))
    return Actor(user.id, user.username)


# ------------------------------------------------------------------ case received


def test_case_received_is_queued_in_french_for_an_account_that_reads_french(app, session):
    from plugins.intake.models import Follower

    account = new_account(session, language="fr")
    case = new_case(session, account=account, address="12 Pine Lakes Pkwy")
    [mail] = mails(app, f"case:{case.id}")
    assert (mail["recipient"], mail["locale"], mail["kind"], mail["status"]) == (account.email, "fr", "case_received", "pending")
    assert mail["subject"] == f"Nous avons reçu votre signalement {case.reference}"
    text = mail["body_text"]
    assert f"Numéro de dossier\u00a0: {case.reference}" in text and "Nid-de-poule" in text
    assert "La suite" in text and "Travaux publics" in text
    from core.formats import format_date
    from flask_babel import force_locale

    with app.test_request_context(), force_locale("fr"):
        expected = format_date(case.expected_at)
    assert expected in text
    assert f"/portal/cases/{case.reference}" in text
    assert "/portal/unfollow/" in text and mail["unsubscribe_url"] in text
    assert '<html lang="fr">' in mail["body_html"] and case.reference in mail["body_html"] and expected in mail["body_html"]
    followers = session.scalars(sa.select(Follower).where(Follower.case_id == case.id)).all()
    assert [(f.email, f.reason, f.locale) for f in followers] == [(account.email, "reporter", "fr")]


def test_a_guest_gets_the_case_received_in_the_language_they_reported_in(app, session):
    email = f"guest.{tag()}@example.org"
    with app.test_request_context(headers={"Accept-Language": "fr-CA,fr;q=0.9"}):
        case = new_case(session, contact_email=email, channel="web")
    [mail] = mails(app, f"case:{case.id}")
    assert (mail["recipient"], mail["locale"]) == (email, "fr")

    phoned = new_case(session, contact_email=f"caller.{tag()}@example.org", channel="phone")
    [mail] = mails(app, f"case:{phoned.id}")
    assert mail["locale"] == "en"  # a clerk's language is not the caller's: the city's default
    assert mail["subject"] == f"We received your report {phoned.reference}"
    assert "What happens next" in mail["body_text"] and "Public Works" in mail["body_text"]


def test_a_case_without_an_address_to_write_to_or_recorded_long_after_queues_nothing(app, session):
    anonymous = new_case(session)
    imported = new_case(session, contact_email=f"old.{tag()}@example.org", created_at=utcnow() - timedelta(days=3))
    assert mails(app, f"case:{anonymous.id}") == [] and mails(app, f"case:{imported.id}") == []


# ------------------------------------------------------------------ updates to the followers


@pytest.fixture
def followed_case(app, session):
    """A case reported in English, followed by a French speaker and by an account that reads French."""
    from plugins.intake.following import follow

    reporter = f"reporter.{tag()}@example.org"
    case = new_case(session, contact_email=reporter)
    french = f"voisine.{tag()}@example.org"
    follow(case, french, locale="fr", reason="me_too")
    account = new_account(session, language="fr")
    follow(case, account.email, account=account, locale="en")  # followed in English, the account now reads French
    return {"case": case, "reporter": reporter, "french": french, "account": account.email}


def test_work_under_way_is_sent_to_every_follower_in_their_language(app, session, followed_case):
    from core.services.cases import change_status

    case = followed_case["case"]
    change_status(session, case, "in_progress", staff_actor(session), note="A crew comes on Tuesday.")
    sent = by_recipient(mails(app, f"case:{case.id}", "case_status"))
    assert set(sent) == {followed_case["reporter"], followed_case["french"], followed_case["account"]}
    english, french = sent[followed_case["reporter"]], sent[followed_case["french"]]
    assert (english["locale"], french["locale"], sent[followed_case["account"]]["locale"]) == ("en", "fr", "fr")
    assert english["subject"] == f"Case {case.reference}: Work is under way"
    assert french["subject"] == f"Dossier {case.reference}\u00a0: Les travaux sont en cours"
    assert "A crew comes on Tuesday." in english["body_text"] and "A crew comes on Tuesday." in english["body_html"]
    for mail in sent.values():
        assert "pw_staff" not in mail["body_text"] + mail["body_html"]  # never a staff member's name
        assert mail["unsubscribe_url"] and "/portal/unfollow/" in mail["unsubscribe_url"]


def test_internal_work_queues_nothing(app, session, followed_case):
    from core.models import Department, User
    from core.services.cases import add_note, assign, reroute, set_tags

    case, actor = followed_case["case"], staff_actor(session)
    before = len(mails(app, f"case:{case.id}"))
    add_note(session, case, "Gate code 4417, dog in the yard", actor)
    assign(session, case, session.scalar(sa.select(User).where(User.username == "pw_staff")), actor)
    set_tags(session, case, ["sinkhole"], actor)
    reroute(session, case, session.scalar(sa.select(Department).where(Department.code == "SW")), actor, "It is a drain problem")
    assert len(mails(app, f"case:{case.id}")) == before


def test_a_public_note_is_sent_and_an_internal_one_never_appears(app, session, followed_case):
    from core.services.cases import add_note

    case, actor = followed_case["case"], staff_actor(session)
    add_note(session, case, "Gate code 4417, dog in the yard", actor)
    add_note(session, case, "The asphalt is ordered.", actor, public=True)
    notes = mails(app, f"case:{case.id}", "case_note")
    assert {m["recipient"] for m in notes} == {followed_case["reporter"], followed_case["french"], followed_case["account"]}
    for mail in notes:
        assert "The asphalt is ordered." in mail["body_text"] and "The asphalt is ordered." in mail["body_html"]
        assert "4417" not in mail["body_text"] + mail["body_html"]
    french = by_recipient(notes)[followed_case["french"]]
    assert french["subject"] == f"Dossier {case.reference}\u00a0: un message de la Ville"


def test_closure_asks_the_reporter_if_it_was_resolved_once(app, session, followed_case):
    from core.services.cases import change_status

    case, actor = followed_case["case"], staff_actor(session)
    change_status(session, case, "resolved", actor, note="Filled and compacted.")
    closed = by_recipient(mails(app, f"case:{case.id}", "case_closed"))
    assert set(closed) == {followed_case["reporter"], followed_case["french"], followed_case["account"]}
    reporter = closed[followed_case["reporter"]]
    assert reporter["subject"] == f"Case {case.reference}: Resolved"
    assert "Was this resolved?" in reporter["body_text"]
    survey = re.search(r"https?://\S+/portal/survey/\S+", reporter["body_text"])
    assert survey and survey.group(0) in reporter["body_html"]
    assert "/portal/survey/" not in closed[followed_case["french"]]["body_text"]  # the survey is the reporter's
    assert "Filled and compacted." in closed[followed_case["french"]]["body_text"]

    change_status(session, case, "closed", actor)  # resolved -> closed: they were already told
    assert len(mails(app, f"case:{case.id}", "case_closed")) == 3
    change_status(session, case, "reopened", actor)
    assert {m["recipient"] for m in mails(app, f"case:{case.id}", "case_status")} == set(closed)


def test_residents_who_turned_e_mail_off_get_nothing(app, session):
    from core.services.cases import change_status
    from plugins.intake.following import follow

    quiet = new_account(session, language="fr", contact_by_email=False)
    case = new_case(session, account=quiet)
    assert mails(app, f"case:{case.id}") == []
    same_address = new_account(session, contact_by_email=False)
    follow(case, same_address.email)  # followed with the address of an account that said no e-mail
    listener = f"listener.{tag()}@example.org"
    follow(case, listener)
    change_status(session, case, "in_progress", staff_actor(session))
    assert [m["recipient"] for m in mails(app, f"case:{case.id}")] == [listener]


def test_web_requests_only_queue_and_the_worker_delivers_the_e_mail(app, smtp, client_for):
    from core.extensions import db
    from core.notify import deliver_due

    reporter = f"web.{tag()}@example.org"
    with app.app_context():  # not held across the requests below
        case = new_case(db.session, contact_email=reporter)
        case_id, version, reference = case.id, case.version, case.reference
        db.session.remove()
    staff = client_for("dispatcher")
    page = staff.get(f"/caseview/show/{case_id}")
    r = staff.post(f"/caseview/act/{case_id}", data={
        "csrf_token": csrf_token(page.get_data(as_text=True)), "action": "status", "status": "in_progress", "version": version,
        "note": "Crew scheduled.",
    })
    assert r.status_code == 302
    queued = mails(app, f"case:{case_id}")
    assert [m["kind"] for m in queued] == ["case_received", "case_status"]
    assert smtp.to(reporter) == [] and all(m["status"] == "pending" for m in queued)  # the request sent nothing

    with app.app_context():
        deliver_due(limit=1000)
    received = smtp.to(reporter)
    assert [m["Subject"] for m in received] == [f"We received your report {reference}", f"Case {reference}: Work is under way"]
    mail = received[1]
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["List-Unsubscribe"].startswith("<http://127.0.0.1:8080/portal/unfollow/")
    text, html = parts(mail)
    assert "Crew scheduled." in text and "Crew scheduled." in html
    assert [m["status"] for m in mails(app, f"case:{case_id}")] == ["sent", "sent"]


def test_with_a_reply_to_mailbox_the_e_mails_invite_replies_that_reach_the_case(app, smtp):
    from core.extensions import db
    from core.notify import deliver_due

    reporter = f"replies.{tag()}@example.org"
    with app.app_context():
        deliver_due(limit=1000)  # what other tests left pending goes out first
        smtp.clear()
        saved = app.config["CIVIC_MAIL_REPLY_TO"]
        app.config["CIVIC_MAIL_REPLY_TO"] = "Palm Coast 311 <311@palmcoast.example.gov>"
        try:
            new_case(db.session, contact_email=reporter)
            deliver_due(limit=1000)
        finally:
            app.config["CIVIC_MAIL_REPLY_TO"] = saved
        db.session.remove()
    (mail,) = smtp.to(reporter)
    assert mail["Reply-To"] == "Palm Coast 311 <311@palmcoast.example.gov>"
    text, html = parts(mail)
    assert "Reply to it to add information to your case." in text and "Reply to it to add information" in html
    assert "do not reply" not in text


def test_without_a_reply_to_mailbox_the_e_mails_say_do_not_reply(app, smtp):
    from core.extensions import db
    from core.notify import deliver_due

    reporter = f"noreply.{tag()}@example.org"
    with app.app_context():
        new_case(db.session, contact_email=reporter)
        deliver_due(limit=1000)
        db.session.remove()
    (mail,) = smtp.to(reporter)
    assert mail["Reply-To"] is None and "Please do not reply to it." in parts(mail)[0]


# ------------------------------------------------------------------ staff notices


@pytest.fixture
def storm_zone(app):
    """Utility accounts in a zone of their own, residents subscribed (or not) in and out of it."""
    from core.extensions import db

    with app.app_context():  # not held during the test: requests must not share it
        zone = make_storm_zone(db.session)
        db.session.remove()
    return zone


def make_storm_zone(session) -> dict:
    from plugins.intake.models import Notice, UtilityAccount

    zone, other, zipcode = f"Zone {tag()}", f"Elsewhere {tag()}", f"9{uuid.uuid4().int % 10000:04d}"
    numbers = {}
    for key, place, z in (("in_fr", zone, zipcode), ("in_no_topic", zone, zipcode), ("in_quiet", zone, zipcode),
                          ("in_en", zone, zipcode), ("out", other, "32137")):
        numbers[key] = f"UA-{tag()}"
        session.add(UtilityAccount(account_number=numbers[key], service_address=f"{tag()} Palm Coast Pkwy", address_key=tag().upper(),
                                   holder_last_name="DOE", zipcode=z, zone=place))
    session.commit()
    people = {
        "in_fr": new_account(session, language="fr", topics=["storm-alerts", "water"], utility=numbers["in_fr"]),
        "in_en": new_account(session, language="en", topics=["storm-alerts"], utility=numbers["in_en"]),
        "in_no_topic": new_account(session, topics=["newsletter"], utility=numbers["in_no_topic"]),
        "in_quiet": new_account(session, topics=["storm-alerts"], contact_by_email=False, utility=numbers["in_quiet"]),
        "out": new_account(session, topics=["storm-alerts"], utility=numbers["out"]),
        "unlinked": new_account(session, topics=["storm-alerts"]),
    }
    notice = Notice(title="Tropical storm: secure loose items", body="Winds above 50 mph are expected tonight.",
                    translations={"fr": {"title": "Tempête tropicale : rangez les objets", "body": "Des vents de plus de 80 km/h sont attendus ce soir."}},
                    topic="storm-alerts", zone=zone)
    session.add(notice)
    session.commit()
    return {"zone": zone, "zipcode": zipcode, "notice": notice.id, **{k: a.email for k, a in people.items()}}


def send_page(client, notice_id: int):
    page = client.get(f"/noticeview/send/{notice_id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    return html, {"csrf_token": csrf_token(html), "sends": re.search(r'name="sends" value="(\d+)"', html).group(1)}


def sendings(app, notice_id: int) -> list[tuple[str, int]]:
    from core.extensions import db
    from core.models import User
    from plugins.intake.models import NoticeSend

    with app.app_context():
        rows = db.session.execute(sa.select(User.username, NoticeSend.recipients).join(User, User.id == NoticeSend.sent_by_id)
                                  .where(NoticeSend.notice_id == notice_id).order_by(NoticeSend.id)).all()
        db.session.remove()
    return [tuple(r) for r in rows]


def test_a_dispatcher_sends_a_storm_notice_to_the_subscribers_of_the_zone_once(app, storm_zone, client_for):
    notice_id = storm_zone["notice"]
    dispatcher = client_for("dispatcher")
    html, form = send_page(dispatcher, notice_id)
    assert "Send to subscribers (2)" in html and storm_zone["zone"] in html
    r = dispatcher.post(f"/noticeview/send/{notice_id}", data=form)
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/noticeview/show/{notice_id}")
    sent = by_recipient(mails(app, f"notice:{notice_id}"))
    assert set(sent) == {storm_zone["in_fr"], storm_zone["in_en"]}
    french, english = sent[storm_zone["in_fr"]], sent[storm_zone["in_en"]]
    assert (french["locale"], french["subject"]) == ("fr", "Tempête tropicale : rangez les objets")
    assert "Des vents de plus de 80 km/h" in french["body_text"] and "Des vents de plus de 80 km/h" in french["body_html"]
    assert (english["locale"], english["subject"]) == ("en", "Tropical storm: secure loose items")
    assert "Storm alerts" in english["body_text"] and english["unsubscribe_url"]
    assert sendings(app, notice_id) == [("dispatcher", 2)]
    shown = dispatcher.get(f"/noticeview/show/{notice_id}").get_data(as_text=True)
    assert "Sendings to subscribers" in shown and "dispatcher" in shown

    # The same confirmation posted again (a double click, the back button): nothing more goes out.
    again = dispatcher.post(f"/noticeview/send/{notice_id}", data=form, follow_redirects=True)
    assert "it was not sent again" in again.get_data(as_text=True)
    assert len(mails(app, f"notice:{notice_id}")) == 2 and sendings(app, notice_id) == [("dispatcher", 2)]


def test_two_clicks_at_the_same_moment_send_the_notice_once(app, storm_zone, client_for):
    notice_id = storm_zone["notice"]
    clients = [client_for("dispatcher"), client_for("admin")]
    forms = [send_page(c, notice_id)[1] for c in clients]
    start = threading.Barrier(2)
    codes = []

    def click(client, form):
        start.wait()
        codes.append(client.post(f"/noticeview/send/{notice_id}", data=form).status_code)

    threads = [threading.Thread(target=click, args=pair) for pair in zip(clients, forms)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert codes == [302, 302]
    assert len(sendings(app, notice_id)) == 1
    assert len(mails(app, f"notice:{notice_id}")) == 2


def test_a_notice_for_a_zip_code_reaches_the_residents_of_that_zip_code(app, storm_zone, client_for):
    from core.extensions import db
    from plugins.intake.models import Notice

    with app.app_context():
        notice = Notice(title="Boil water notice", body="Boil tap water for one minute.", topic="storm-alerts", zone=storm_zone["zipcode"])
        db.session.add(notice)
        db.session.commit()
        notice_id = notice.id
        db.session.remove()
    dispatcher = client_for("dispatcher")
    assert dispatcher.post(f"/noticeview/send/{notice_id}", data=send_page(dispatcher, notice_id)[1]).status_code == 302
    assert {m["recipient"] for m in mails(app, f"notice:{notice_id}")} == {storm_zone["in_fr"], storm_zone["in_en"]}


def test_department_staff_read_notices_but_cannot_send_them(app, storm_zone, client_for):
    notice_id = storm_zone["notice"]
    staff = client_for("pw_staff")
    assert staff.get("/noticeview/list/").status_code == 200
    shown = staff.get(f"/noticeview/show/{notice_id}")
    assert shown.status_code == 200 and f"/noticeview/send/{notice_id}" not in shown.get_data(as_text=True)
    assert staff.get(f"/noticeview/send/{notice_id}").status_code in (302, 403)
    r = staff.post(f"/noticeview/send/{notice_id}", data={"csrf_token": csrf_token(staff.get("/noticeview/list/").get_data(as_text=True)), "sends": "0"})
    assert r.status_code in (302, 403)
    assert sendings(app, notice_id) == [] and mails(app, f"notice:{notice_id}") == []
    assert staff.get("/noticeview/add").status_code in (302, 403)


def test_sending_needs_the_csrf_token_and_the_confirmation(app, storm_zone, client_for):
    notice_id = storm_zone["notice"]
    dispatcher = client_for("dispatcher")
    _, form = send_page(dispatcher, notice_id)
    assert dispatcher.post(f"/noticeview/send/{notice_id}", data={"sends": "0"}).status_code == 400
    assert dispatcher.post(f"/noticeview/send/{notice_id}", data={"csrf_token": form["csrf_token"]}).status_code == 400
    assert sendings(app, notice_id) == []


def test_a_dispatcher_writes_a_notice_with_its_french_in_city_time(app, client_for):
    from plugins.intake.models import Notice

    title = f"Debris pick-up week {tag()}"
    dispatcher = client_for("dispatcher")
    form = dispatcher.get("/noticeview/add")
    assert form.status_code == 200
    r = dispatcher.post("/noticeview/add", data={
        "csrf_token": csrf_token(form.get_data(as_text=True)), "title": title, "body": "Put branches at the curb.",
        "title_fr": "Semaine de ramassage des débris", "body_fr": "Déposez les branches en bordure de rue.",
        "topic": "debris", "zone": "", "published_at": "2026-06-01 09:00:00", "expires_at": "2026-06-08 18:00:00",
    })
    assert r.status_code == 302
    with app.app_context():
        from core.extensions import db

        notice = db.session.scalar(sa.select(Notice).where(Notice.title == title))
        assert notice.translations == {"fr": {"title": "Semaine de ramassage des débris", "body": "Déposez les branches en bordure de rue."}}
        assert (notice.topic, notice.zone) == ("debris", None)
        assert notice.published_at.isoformat() == "2026-06-01T13:00:00"  # 9 a.m. in Palm Coast (EDT) is 13:00 UTC
        notice_id = notice.id
        db.session.remove()
    edit = dispatcher.get(f"/noticeview/edit/{notice_id}").get_data(as_text=True)
    assert "2026-06-01 09:00:00" in edit and "Semaine de ramassage des débris" in edit

    bad = dispatcher.post("/noticeview/add", data={
        "csrf_token": csrf_token(form.get_data(as_text=True)), "title": f"Backwards {title}", "body": "x", "topic": "debris",
        "published_at": "2026-06-08 09:00:00", "expires_at": "2026-06-01 09:00:00",
    })
    assert bad.status_code == 200 and "must be after the publication time" in bad.get_data(as_text=True)
    assert f'value="Backwards {title}"' in bad.get_data(as_text=True)
