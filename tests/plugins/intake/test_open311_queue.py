"""During a surge an Open311 POST is accepted into a queue and answered with a token (GeoReport v2 allows either a
``service_request_id`` or a ``token``); the background worker (``civic notify run``) turns each queued request
into the case it would have been, dated when it came in, and ``tokens/{token}`` then gives its id.

``[intake] open311_queue``: "off", "busy" (the default: while connections wait for a gunicorn worker) or "always".
Both backends; the surge itself is a real gunicorn whose only worker is stopped while requests queue up.
"""
from __future__ import annotations

import io
import os
import signal
import socket
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa

from core.models.base import utcnow

from bench.server import Server
from tests.conftest import DEMO_CONFIG
from tests.plugins.intake.open311_helpers import (
    POTHOLE,
    case_by_reference,
    error_texts,
    key,  # noqa: F401  (fixture)
    new_key,
    png_bytes,
    post,
    run_cli,
    tag,
)

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def queue_mode(app, monkeypatch):
    """Set ``[intake] open311_queue`` for one test."""
    def set_mode(mode: str) -> None:
        monkeypatch.setitem(app.extensions["civic"].plugin_config["intake"], "open311_queue", mode)
    return set_mode


def queued(app, token: str) -> dict:
    from core.extensions import db
    from plugins.intake.models import BatchSubmission

    with app.app_context():
        row = db.session.scalar(sa.select(BatchSubmission).where(BatchSubmission.token == token))
        values = None if row is None else {"created_at": row.created_at, "processed_at": row.processed_at, "case_id": row.case_id,
                                            "error": row.error, "payload": row.payload}
        db.session.remove()
    return values


def submissions_since(app, since: int) -> int:
    from core.extensions import db
    from plugins.intake.models import BatchSubmission

    with app.app_context():
        count = db.session.scalar(sa.select(sa.func.count()).select_from(BatchSubmission).where(BatchSubmission.id > since))
        db.session.remove()
    return count


def last_submission(app) -> int:
    from core.extensions import db
    from plugins.intake.models import BatchSubmission

    with app.app_context():
        last = db.session.scalar(sa.select(sa.func.coalesce(sa.func.max(BatchSubmission.id), 0)))
        db.session.remove()
    return last


def worker_round(app):
    """One round of the background worker, as `civic notify run --once` does it."""
    result = run_cli(app, "notify", "run", "--once")
    assert result.exit_code == 0, result.output
    return result


def token_answer(client, token: str) -> dict:
    response = client.get(f"/open311/v2/tokens/{token}.json")
    assert response.status_code == 200, response.get_data(as_text=True)
    (answer,) = response.json
    return answer


# ---------------------------------------------------------------- accepted now, a case a moment later

def test_a_queued_report_gets_a_token_then_becomes_the_case_it_would_have_been(app, key, queue_mode):
    from core.extensions import db
    from plugins.intake.models import Follower

    queue_mode("always")
    name, plain = key
    client = app.test_client()
    email = f"surge.{tag()}@example.org"
    (answer,) = post(client, "requests", {**POTHOLE, "api_key": plain, "description": "Tree <b>down</b> on the road",
                                          "address_string": "4 Palm Harbor Pkwy", "email": email, "first_name": "Zoé", "last_name": "Martin",
                                          "phone": "386-555-0101", "locale": "fr", "media_url": "https://photos.example.org/tree.jpg"}, 201)
    assert list(answer) == ["token", "service_notice", "account_id"] and "service_request_id" not in answer
    token = answer["token"]
    assert f"tokens/{token}" in answer["service_notice"]
    assert token_answer(client, token) == {"service_request_id": "", "token": token}
    received = queued(app, token)
    assert received["processed_at"] is None and received["payload"]["fields"]["description"] == "Tree down on the road"

    worker_round(app)

    reference = token_answer(client, token)["service_request_id"]
    assert reference.startswith("PC-")
    case, events = case_by_reference(app, reference)
    assert case.channel == "open311" and case.status == "new" and case.description == "Tree down on the road"
    assert (case.address, case.lat, case.long, case.attributes) == ("4 Palm Harbor Pkwy", 29.58, -81.2, {"SIZE": "small"})
    assert (case.contact_name, case.contact_email, case.contact_phone) == ("Zoé Martin", email, "386-555-0101")
    assert case.created_at == received["created_at"]  # dated when the city received it (its SLA started then)
    assert case.department.code == "PW" and case.expected_at is not None
    assert {e.kind for e in events} >= {"created", "routed", "attachment_added"}
    assert {e.actor_label for e in events} == {f"open311:{name}"}
    assert [e.data for e in events if e.kind == "attachment_added"] == [{"media_url": "https://photos.example.org/tree.jpg"}]
    with app.app_context():
        follower = db.session.scalar(sa.select(Follower).where(Follower.case_id == case.id))
        assert (follower.email, follower.locale) == (email, "fr")
        db.session.remove()
    after = queued(app, token)
    assert after["case_id"] == case.id and after["error"] == ""
    assert after["payload"]["email"] is None and "contact_email" not in after["payload"]["fields"]  # the contact lives on the case only
    # The case can be followed like any other.
    (public,) = client.get(f"/open311/v2/requests/{reference}.json").json
    assert public["status"] == "open" and public["service_code"] == "POTHOLE"


def test_a_queued_report_is_checked_at_once_every_bad_field_named_and_nothing_queued(app, key, queue_mode):
    queue_mode("always")
    _name, plain = key
    before = last_submission(app)
    body = post(app.test_client(), "requests", {"api_key": plain, "service_code": "POTHOLE", "lat": "95", "long": "-81.2",
                                                "attribute[SIZE]": "enormous", "email": "not-an-address", "description": "x" * 4001}, 400)
    texts = error_texts(body)
    assert any(t.startswith("lat: ") for t in texts) and any(t.startswith("attribute[SIZE]: ") for t in texts)
    assert any(t.startswith("email: ") for t in texts) and any(t.startswith("description: ") for t in texts)
    assert submissions_since(app, before) == 0
    body = post(app.test_client(), "requests", {"api_key": plain, "service_code": "NO_SUCH_THING", "lat": "29.5", "long": "-81.2"}, 404)
    assert error_texts(body) == ["service_code: unknown service 'NO_SUCH_THING'"]
    assert submissions_since(app, before) == 0


def test_queued_reports_count_against_the_keys_rate_and_the_one_too_many_is_not_kept(app, queue_mode):
    queue_mode("always")
    _name, plain = new_key(app, rate_limit=3)
    client = app.test_client()
    before = last_submission(app)
    for _ in range(2):
        post(client, "requests", {**POTHOLE, "api_key": plain}, 201)
    post(client, "requests", {**POTHOLE, "api_key": plain, "lat": "100"}, 400)  # a refused request counts too
    response = client.post("/open311/v2/requests.json", data={**POTHOLE, "api_key": plain})
    assert response.status_code == 429 and int(response.headers["Retry-After"]) >= 1
    assert response.json[0]["description"].startswith("api_key: more than 3 requests in a minute")
    assert submissions_since(app, before) == 2


def test_a_report_with_a_photo_file_is_made_at_once_even_when_queueing(app, key, queue_mode):
    queue_mode("always")
    _name, plain = key
    (answer,) = post(app.test_client(), "requests", {**POTHOLE, "api_key": plain, "media": (io.BytesIO(png_bytes()), "hole.png")},
                     201, content_type="multipart/form-data")
    assert answer["service_request_id"].startswith("PC-") and "token" not in answer


def test_with_the_queue_off_every_report_gets_its_id_at_once(app, key, queue_mode):
    queue_mode("off")
    (answer,) = post(app.test_client(), "requests", {**POTHOLE, "api_key": key[1]}, 201)
    assert answer["service_request_id"].startswith("PC-")


def test_a_queued_report_whose_service_was_withdrawn_meanwhile_keeps_its_error(app, key, queue_mode):
    from core.extensions import db
    from core.models import ServiceType

    queue_mode("always")
    client = app.test_client()
    (answer,) = post(client, "requests", {**POTHOLE, "api_key": key[1]}, 201)
    with app.app_context():
        service = db.session.scalar(sa.select(ServiceType).where(ServiceType.code == "POTHOLE"))
        service.public = False
        db.session.commit()
    try:
        worker_round(app)
    finally:
        with app.app_context():
            db.session.scalar(sa.select(ServiceType).where(ServiceType.code == "POTHOLE")).public = True
            db.session.commit()
            db.session.remove()
    after = queued(app, answer["token"])
    assert after["processed_at"] is not None and after["case_id"] is None and "service_code" in after["error"]
    assert token_answer(client, answer["token"])["service_request_id"] == ""


def test_hook_background_work_the_worker_keeps_going_while_more_is_queued_than_one_round_takes(app, key, queue_mode):
    from core.extensions import db
    from plugins.intake.models import BatchSubmission
    from plugins.intake.open311.write import BACKGROUND_RUN

    queue_mode("always")
    client = app.test_client()
    tokens = [post(client, "requests", {**POTHOLE, "api_key": key[1], "description": f"Flooded {n}"}, 201)[0]["token"]
              for n in range(BACKGROUND_RUN + 5)]
    worker_round(app)  # --once: rounds until nothing more is waiting
    with app.app_context():
        pending = db.session.scalar(sa.select(sa.func.count()).select_from(BatchSubmission).where(
            BatchSubmission.token.in_(tokens), BatchSubmission.case_id.is_(None)))
        db.session.remove()
    assert pending == 0


def test_while_reports_are_still_being_queued_the_worker_makes_only_a_few_then_the_rest(app, key, queue_mode):
    """The surge's reports are taken first: while the newest queued report is under two seconds old, a round of the
    worker makes five cases; once the queue is quiet (or with --once) it makes the rest."""
    from core.extensions import db
    from plugins.intake.models import BatchSubmission
    from plugins.intake.open311.write import SURGE_TRICKLE, background_batch

    queue_mode("always")
    with app.app_context():
        while background_batch(db.session, drain=True):  # what earlier tests left
            pass
        db.session.remove()
    client = app.test_client()
    tokens = [post(client, "requests", {**POTHOLE, "api_key": key[1], "description": f"Storm {n}"}, 201)[0]["token"] for n in range(12)]

    def waiting() -> int:
        return db.session.scalar(sa.select(sa.func.count()).select_from(BatchSubmission).where(
            BatchSubmission.token.in_(tokens), BatchSubmission.processed_at.is_(None)))

    with app.app_context():
        assert background_batch(db.session) is False  # the worker pauses before its next round
        assert waiting() == 12 - SURGE_TRICKLE
        # A minute later nothing new has come: the surge is over, the rest is made in one round.
        db.session.execute(sa.update(BatchSubmission).where(BatchSubmission.token.in_(tokens))
                           .values(created_at=utcnow() - timedelta(minutes=1)))
        db.session.commit()
        background_batch(db.session)
        assert waiting() == 0
        db.session.remove()


# ---------------------------------------------------------------- a real surge

def _send_post(port: int, fields: dict) -> socket.socket:
    body = urlencode(fields).encode()
    client = socket.create_connection(("127.0.0.1", port), timeout=60)
    client.sendall(b"POST /open311/v2/requests.json HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                   b"Content-Type: application/x-www-form-urlencoded\r\n" + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    return client


def _answer(client: socket.socket) -> tuple[int, bytes]:
    data = b""
    while chunk := client.recv(65536):
        data += chunk
    client.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


@pytest.mark.skipif(not hasattr(socket, "TCP_INFO"), reason="the accept queue's length is read with TCP_INFO (Linux)")
def test_in_a_surge_the_server_queues_reports_and_the_worker_makes_every_one_a_case(app, database_url, tmp_path):
    import json

    _name, plain = new_key(app)
    env = {"CIVIC_DATABASE_URL": database_url, "CIVIC_DATA_DIR": str(tmp_path), "CIVIC_CONFIG": str(DEMO_CONFIG),
           "CIVIC_MAX_WAITING": "100"}  # no load shedding here: every request is served
    server = Server("core.wsgi:app", env, log=tmp_path / "gunicorn.log", workers=1, cwd=str(ROOT), config="python:core.gunicorn_conf",
                    ready_path="/open311/v2/services.json")
    with server:
        (worker,) = server.worker_pids()
        os.kill(worker, signal.SIGSTOP)  # the worker is busy: twelve reports queue up behind it
        try:
            clients = [_send_post(server.port, {**POTHOLE, "api_key": plain, "description": f"Surge {n}"}) for n in range(12)]
            time.sleep(0.3)
        finally:
            os.kill(worker, signal.SIGCONT)
        answers = [_answer(client) for client in clients]
    assert {status for status, _ in answers} == {201}, answers
    bodies = [json.loads(body)[0] for _, body in answers]
    tokens = [b["token"] for b in bodies if "token" in b]
    ids = [b["service_request_id"] for b in bodies if "service_request_id" in b]
    # While four or more wait behind a request it is queued; the last few find the server free again.
    assert len(tokens) >= 6 and len(ids) >= 2 and len(tokens) + len(ids) == 12, bodies

    worker_round(app)
    client = app.test_client()
    made = [token_answer(client, token)["service_request_id"] for token in tokens]
    assert all(reference.startswith("PC-") for reference in made) and len(set(made + ids)) == 12
    for reference in made:
        case, _ = case_by_reference(app, reference)
        assert case.channel == "open311" and case.description.startswith("Surge ")
        assert case.created_at > utcnow() - timedelta(minutes=5)
