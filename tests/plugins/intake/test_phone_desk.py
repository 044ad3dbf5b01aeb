"""The call-centre agent's desk (Calls › New call): find the caller, see their cases and the open cases
near them, and end the call with a phone case, information only, or a note on an existing case.

Every request goes through the real app (Flask test client) on both database backends.  The database
is shared by the whole run, so each test makes its own caller (a unique phone, e-mail, utility account
and address, at a point of its own) and looks only at its own rows.
"""
from __future__ import annotations

import random
import re
import uuid
from pathlib import Path
from urllib.parse import urlparse

import pytest
import sqlalchemy as sa

from tests.conftest import DEMO_CONFIG, build_app, csrf_token, login, recorded_sql

DESK = "/calls/new/"


def tag() -> str:
    return uuid.uuid4().hex[:8]


def page(response) -> str:
    return response.get_data(as_text=True)


# ---------------------------------------------------------------- a caller of our own

@pytest.fixture
def caller(app):
    """A resident with an account (phone written "386-7xx-xxxx"), their utility account at an address of
    the city's list, one case of theirs, one case left by phone without the account, and around their
    address: an open case 40 m away, a closed one 60 m away, an open one 2 km away."""
    from core.extensions import db
    from core.models import Account
    from core.services.cases import change_status, create_case, SYSTEM
    from plugins.intake.models import UtilityAccount, address_key

    t = tag()
    rng = random.Random(t)
    exchange, line = rng.randint(700, 799), rng.randint(0, 9999)
    digits = f"386{exchange}{line:04d}"
    lat, long = 29.45 + rng.random() * 0.2, -81.30 + rng.random() * 0.2
    number = f"{rng.randint(3000000, 3999999)}-{rng.randint(10, 99)}"
    address = f"{rng.randint(1, 999)} {t.upper()} Trail"
    with app.app_context():
        utility = UtilityAccount(account_number=number, service_address=address, address_key=address_key(address), lat=lat, long=long,
                                 holder_last_name="HOLDERNAME", zipcode="32164", zone="Zone C")
        account = Account(name=f"Ann Caller{t}", email=f"ann.{t}@example.org", phone=f"386-{exchange}-{line:04d}",
                          utility_account_number=number, contact_by_email=True)
        db.session.add_all([utility, account])
        db.session.commit()
        own = create_case(db.session, service_code="STREETLIGHT", description="Light out", account=account)
        by_phone = create_case(db.session, service_code="TRAIL", description="Cracked slab",
                               contact_name="Ann", contact_phone=f"({digits[:3]}) {digits[3:6]}-{digits[6:]}")
        near = create_case(db.session, service_code="POTHOLE", attributes={"SIZE": "large"}, description="Hole by the mailbox",
                           lat=lat + 40 / 111_320, long=long, address=f"2 {t.upper()} Trail")
        closed = create_case(db.session, service_code="POTHOLE", attributes={"SIZE": "small"}, lat=lat, long=long + 0.0006)
        change_status(db.session, closed, "closed", SYSTEM)
        far = create_case(db.session, service_code="POTHOLE", attributes={"SIZE": "small"}, lat=lat + 0.018, long=long)
        found = {
            "tag": t, "digits": digits, "phone": account.phone, "email": account.email, "name": account.name, "number": number,
            "address": address, "lat": lat, "long": long, "account_id": account.id, "utility_id": utility.id,
            "own": own.reference, "by_phone": by_phone.reference, "near": near.reference, "closed": closed.reference, "far": far.reference,
        }
        db.session.remove()
    return found


def search(client, query: str):
    html = page(client.get(DESK))
    return client.post(DESK, data={"csrf_token": csrf_token(html), "q": query})


def pick_link(account_id: int) -> re.Pattern:
    return re.compile(rf'href="/calls/new/\?[^"]*account={account_id}\b')


def post_form(client, endpoint: str, data: dict, desk_url: str = DESK):
    html = page(client.get(desk_url))
    return client.post(f"/calls/new/{endpoint}", data={"csrf_token": csrf_token(html), **data})


def rows(app, model, **equals):
    from core.extensions import db

    with app.app_context():
        stmt = sa.select(model).filter_by(**equals).order_by(model.id)
        found = db.session.scalars(stmt).all()
        db.session.expunge_all()
        db.session.remove()
    return found


def case_by_reference(app, reference: str):
    from core.models import Case

    found = rows(app, Case, reference=reference)
    return found[0] if found else None


# ---------------------------------------------------------------- finding the caller

def test_dispatcher_finds_a_caller_by_their_phone_however_it_is_written(app, caller, client_for):
    client = client_for("dispatcher")
    d = caller["digits"]
    for typed in (f"({d[:3]}) {d[3:6]}-{d[6:]}", d, f"+1 {d[:3]} {d[3:6]} {d[6:]}", f"{d[:3]}.{d[3:6]}.{d[6:]}", f"{d[:3]} {d[3:]}"):
        response = search(client, typed)
        assert response.status_code == 200, typed
        html = page(response)
        assert caller["name"] in html, typed
        assert pick_link(caller["account_id"]).search(html), typed


def test_dispatcher_finds_a_caller_by_utility_account_address_email_and_name(app, caller, client_for):
    client = client_for("dispatcher")
    for typed in (caller["number"], caller["address"].lower(), caller["address"].split(" Trail")[0], caller["email"].upper(),
                  caller["name"], f"caller{caller['tag']}"):
        html = page(search(client, typed))
        assert pick_link(caller["account_id"]).search(html), typed
        assert "HOLDERNAME" not in html  # a utility account's holder name is never shown


def test_every_search_query_is_bounded(app, caller, client_for):
    client = client_for("dispatcher")
    for typed in (caller["phone"], caller["name"], caller["address"], caller["email"], caller["number"]):
        with recorded_sql(app) as statements:
            assert search(client, typed).status_code == 200
        lookups = [q for q in statements if q.startswith("SELECT") and re.search(r"FROM (account|intake_utility_account|\"case\")\b", q)]
        assert lookups, typed
        # Each is bounded, or reads rows by a unique key (an id, the account numbers of the matches, the signed-in user).
        unique = re.compile(r"\b(id|account_number|utility_account_number|user_id) (= |IN \()")
        unbounded = [q for q in lookups if " LIMIT " not in q and not unique.search(q)]
        assert unbounded == [], typed


def test_a_search_that_finds_nobody_says_so_and_the_box_needs_two_characters(app, client_for):
    client = client_for("dispatcher")
    html = page(search(client, f"Nobody{tag()}"))
    assert 'id="no-caller"' in html
    response = search(client, "x")
    assert response.status_code == 400
    assert "Phone, name, e-mail, utility account or address" in page(response)


def test_control_characters_in_the_search_box_are_refused_not_crashed_on(app, client_for):
    client = client_for("dispatcher")
    # A NUL character is refused before the desk's own checks, naming the field (core.security.bad_field).
    response = search(client, "Ann\x00Smith")
    assert response.status_code == 400 and "must not contain NUL characters" in page(response)
    assert post_form(client, "case", {"service": "TR\x00AIL", "description": "x\x00y"}).status_code == 400
    assert client.get(DESK + "?service=POT%00HOLE").status_code == 400


def test_a_caller_without_an_account_is_found_by_the_phone_of_an_earlier_case(app, client_for):
    from core.extensions import db
    from core.services.cases import create_case

    number = f"904{random.randint(2000000, 2999999)}"
    with app.app_context():
        case = create_case(db.session, service_code="TRAIL", contact_name=f"Guest {tag()}", contact_phone=f"904-{number[3:6]}-{number[6:]}")
        case_id, name = case.id, case.contact_name
        db.session.remove()
    client = client_for("dispatcher")
    html = page(search(client, f"({number[:3]}) {number[3:6]}-{number[6:]}"))
    assert name in html and f"contact={case_id}" in html
    html = page(client.get(f"{DESK}?contact={case_id}"))
    assert re.search(r'id="caller-cases".*?' + re.escape(case_by_reference_id(app, case_id)), html, re.S)


def case_by_reference_id(app, case_id: int) -> str:
    from core.models import Case

    return rows(app, Case, id=case_id)[0].reference


def test_picking_the_caller_shows_their_cases_and_the_open_cases_near_their_address(app, caller, client_for):
    client = client_for("dispatcher")
    html = page(client.get(f"{DESK}?account={caller['account_id']}"))
    theirs = html.split('id="caller-cases"')[1].split('id="nearby-cases"')[0]
    nearby = html.split('id="nearby-cases"')[1].split('id="call-suggestions"')[0]
    assert caller["own"] in theirs and caller["by_phone"] in theirs  # the account's, and one left with the same phone
    assert f'href="/cases/show/' in theirs or "CaseView" not in theirs
    assert caller["near"] in nearby
    assert caller["closed"] not in nearby and caller["far"] not in nearby
    assert "40 m" in nearby
    # The forms are pre-filled with the caller: address, name, phone, e-mail, and "send updates" ticked.
    assert f'value="{caller["address"]}"' in html and f'value="{caller["email"]}"' in html
    assert re.search(r'id="email_updates"[^>]*checked|checked[^>]*id="email_updates"', html)


def test_a_utility_account_without_a_resident_account_is_a_caller_too(app, client_for):
    from core.extensions import db
    from plugins.intake.models import UtilityAccount, address_key

    t = tag()
    with app.app_context():
        utility = UtilityAccount(account_number=f"U-{t.upper()}", service_address=f"9 {t} Court", address_key=address_key(f"9 {t} Court"),
                                 lat=29.6, long=-81.2, holder_last_name="SECRETNAME", zipcode="32137")
        db.session.add(utility)
        db.session.commit()
        utility_id = utility.id
        db.session.remove()
    client = client_for("dispatcher")
    html = page(search(client, f"u-{t}"))
    assert f"utility={utility_id}" in html and "SECRETNAME" not in html
    html = page(client.get(f"{DESK}?utility={utility_id}"))
    assert f"9 {t} Court" in html and "SECRETNAME" not in html


def test_an_unknown_or_malformed_caller_link_shows_the_desk_with_a_message(app, client_for):
    client = client_for("dispatcher")
    assert client.get(f"{DESK}?account=999999999").status_code == 200
    response = client.get(f"{DESK}?account=abc")
    assert response.status_code == 400
    assert "The caller was not found" in page(response)


# ---------------------------------------------------------------- a phone case

def case_form(caller: dict, **changes) -> dict:
    data = {
        "account": str(caller["account_id"]), "service": "POTHOLE", "attr_SIZE": "medium", "attr_LANE": "yes",
        "description": "Deep hole in front of the house", "priority": "normal", "address": caller["address"],
        "contact_name": caller["name"], "contact_phone": caller["phone"], "contact_email": caller["email"], "email_updates": "y",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_dispatcher_creates_a_phone_case_in_one_post_and_reads_its_number_to_the_caller(app, caller, client_for):
    from core.models import CaseEvent, User
    from plugins.intake.models import Call, Follower

    client = client_for("dispatcher")
    response = post_form(client, "case", case_form(caller), f"{DESK}?account={caller['account_id']}")
    assert response.status_code == 302, page(response)
    assert re.fullmatch(r".*/calls/done/\d+", response.headers["Location"])
    done = page(client.get(response.headers["Location"]))
    reference = re.search(r'id="case-reference">([^<]+)<', done).group(1)
    assert "Updates will be sent by e-mail" in done

    case = case_by_reference(app, reference)
    assert case.channel == "phone" and case.account_id == caller["account_id"]
    assert case.attributes == {"SIZE": "medium", "LANE": "yes"}
    assert (case.lat, case.long) == (caller["lat"], caller["long"])  # from the utility account's address
    assert case.address == caller["address"] and case.zipcode == "32164"
    assert case.contact_email == caller["email"]
    assert f'href="/cases/show/{case.id}"' in done or f"/show/{case.id}" in done
    dispatcher = rows(app, User, username="dispatcher")[0]
    events = {e.kind: e for e in rows(app, CaseEvent, case_id=case.id)}
    assert events["created"].actor_label == "dispatcher" and events["routed"].data["department"] == "PW"
    assert [f.email for f in rows(app, Follower, case_id=case.id)] == [caller["email"]]
    [call] = rows(app, Call, case_id=case.id)
    assert (call.outcome, call.agent_id, call.account_id, call.utility_account_id) == ("case", dispatcher.id, caller["account_id"], caller["utility_id"])
    assert call.caller_phone == caller["phone"] and call.started_at <= call.ended_at


def test_a_caller_who_declines_e_mail_updates_is_not_followed(app, caller, client_for):
    from core.models import OutboxMessage
    from plugins.intake.models import Follower

    client = client_for("dispatcher")
    response = post_form(client, "case", case_form(caller, email_updates=None))
    assert response.status_code == 302
    done = page(client.get(response.headers["Location"]))
    assert "No e-mail updates" in done
    case = case_by_reference(app, re.search(r'id="case-reference">([^<]+)<', done).group(1))
    assert case.account_id == caller["account_id"]
    assert rows(app, Follower, case_id=case.id) == []
    assert rows(app, OutboxMessage, related=f"case:{case.id}") == []


def test_send_updates_needs_an_e_mail_address(app, client_for):
    client = client_for("dispatcher")
    response = post_form(client, "case", {"service": "TRAIL", "description": "Trip hazard", "contact_name": "Walk-up", "email_updates": "y"})
    assert response.status_code == 400
    assert "Send updates by e-mail: give the caller" in page(response)


def test_a_bad_attribute_keeps_everything_that_was_typed(app, caller, client_for):
    from core.models import Case

    client = client_for("dispatcher")
    before = len(rows(app, Case, account_id=caller["account_id"]))
    description = f"Hole {tag()} near the drain & curb"
    response = post_form(client, "case", case_form(caller, attr_SIZE="enormous", description=description))
    assert response.status_code == 400
    html = page(response)
    assert "How large is the pothole?" in html and "Not a valid choice" in html  # the field is named
    assert description.replace("&", "&amp;") in html
    assert f'value="{caller["address"]}"' in html and f'value="{caller["email"]}"' in html
    assert re.search(r'<option selected value="POTHOLE">|<option value="POTHOLE" selected>', html)
    assert len(rows(app, Case, account_id=caller["account_id"])) == before

    response = post_form(client, "case", case_form(caller, attr_SIZE=None, service="NO_SUCH_SERVICE"))
    assert response.status_code == 400 and "Service: " in page(response)


def test_choosing_a_service_shows_its_questions_and_keeps_the_text(app, caller, client_for):
    from core.models import Case

    client = client_for("dispatcher")
    response = post_form(client, "case", case_form(caller, service="TREE_DOWN", attr_SIZE=None, attr_LANE=None,
                                                   description="Oak across the road", show_questions="1"))
    assert response.status_code == 200
    html = page(response)
    assert 'name="attr_BLOCKING"' in html and "Oak across the road" in html
    assert "Not a valid choice" not in html and "This field is required" not in html
    assert not [c for c in rows(app, Case, account_id=caller["account_id"]) if c.description == "Oak across the road"]


def test_a_phone_case_at_an_address_outside_the_list_has_no_map_point(app, client_for):
    from plugins.intake.models import Call

    client = client_for("dispatcher")
    address = f"Behind the {tag()} store"
    response = post_form(client, "case", {"service": "TRAIL", "description": "Broken slab", "address": address,
                                          "contact_name": "Passer-by", "contact_phone": "386 555 0000"})
    assert response.status_code == 302
    [call] = rows(app, Call, address=address)
    case = case_by_reference(app, re.search(r'id="case-reference">([^<]+)<', page(client.get(response.headers["Location"]))).group(1))
    assert case.lat is None and case.account_id is None and call.account_id is None and case.contact_name == "Passer-by"


# ---------------------------------------------------------------- calls that make no case

def test_an_information_only_call_is_logged_with_its_wrap_up_reason(app, caller, client_for):
    from plugins.intake.models import Call

    client = client_for("dispatcher")
    notes = f"Asked about the bill {tag()}"
    response = post_form(client, "information", {"account": str(caller["account_id"]), "wrap_up": "billing", "notes": notes})
    assert response.status_code == 302 and response.headers["Location"].endswith(DESK)
    assert "Call logged: Billing question answered." in page(client.get(DESK))
    [call] = rows(app, Call, notes=notes)
    assert (call.outcome, call.wrap_up, call.case_id, call.account_id) == ("information", "billing", None, caller["account_id"])
    assert call.caller_name == caller["name"] and call.caller_phone == caller["phone"]


def test_an_information_call_needs_a_known_reason(app, client_for):
    client = client_for("dispatcher")
    response = post_form(client, "information", {"wrap_up": "gossip", "caller_name": "Bob"})
    assert response.status_code == 400
    html = page(response)
    assert "Wrap-up reason: Not a valid choice" in html and 'value="Bob"' in html
    for bad in ("12x", "99999999999999999999", "\u00b2"):
        response = post_form(client, "information", {"wrap_up": "billing", "account": bad})
        assert response.status_code == 400 and "Caller: must be the number of a caller" in page(response), bad
    assert post_form(client, "case", {"service": "TRAIL", "utility": "99999999999999999999"}).status_code == 400


def test_a_call_about_an_existing_case_is_logged_on_it_with_a_note(app, caller, client_for):
    from core.models import CaseEvent
    from plugins.intake.models import Call

    client = client_for("dispatcher")
    case = case_by_reference(app, caller["near"])
    note = f"Neighbour called too {tag()}"
    response = post_form(client, "existing", {"account": str(caller["account_id"]), "reference": caller["near"].lower(), "note": note})
    assert response.status_code == 302
    [call] = rows(app, Call, notes=note)
    assert (call.outcome, call.wrap_up, call.case_id) == ("information", "existing_case", case.id)
    [event] = [e for e in rows(app, CaseEvent, case_id=case.id) if note in e.body]
    assert event.kind == "internal_note" and not event.public and event.actor_label == "dispatcher"

    response = post_form(client, "existing", {"reference": "PC-1999-000000"})
    assert response.status_code == 400 and "Case number: unknown case" in page(response)


# ---------------------------------------------------------------- the call log and the dashboard

def test_the_call_log_lists_cases_and_information_calls(app, caller, client_for):
    client = client_for("dispatcher")
    name = f"Logged {tag()}"
    assert post_form(client, "information", {"wrap_up": "trash_schedule", "caller_name": name}).status_code == 302
    assert post_form(client, "case", {"service": "TRAIL", "contact_name": name, "description": "Loose slab"}).status_code == 302
    from core.models import User

    log = "/calls/log/list/?_flt_2_caller_name=" + name.split()[1]
    html = page(client.get(log))
    assert html.count(name) == 2
    assert "Trash or recycling schedule given" in html and "Information only" in html and "New case" in html
    # Filters: outcome, wrap-up reason, agent.
    assert page(client.get(log + "&_flt_3_outcome=information")).count(name) == 1
    assert page(client.get(log + "&_flt_3_wrap_up=trash_schedule")).count(name) == 1
    dispatcher, admin = (rows(app, User, username=u)[0].id for u in ("dispatcher", "admin"))
    assert page(client.get(log + f"&_flt_0_agent={dispatcher}")).count(name) == 2
    assert page(client.get(log + f"&_flt_0_agent={admin}")).count(name) == 0
    assert client.get("/calls/log/list/?_od_CallLogView=sideways").status_code == 400
    # Read-only: no add, edit or delete.
    assert all(client.get(url).status_code in (302, 403, 404, 405) for url in ("/calls/log/add", "/calls/log/edit/1", "/calls/log/delete/1"))


def test_the_dashboard_counts_todays_calls(app, caller, client_for):
    from core.extensions import db
    from plugins.intake.phone.panel import calls_today

    def counts():
        with app.test_request_context():
            data = calls_today(db.session, scope=None)
            db.session.remove()
        return data

    client = client_for("dispatcher")
    before = counts()
    assert post_form(client, "information", {"wrap_up": "wrong_number"}).status_code == 302
    assert post_form(client, "information", {"wrap_up": "wrong_number"}).status_code == 302
    assert post_form(client, "case", {"service": "TRAIL", "description": "Counted"}).status_code == 302
    after = counts()
    assert (after.total - before.total, after.cases - before.cases, after.information - before.information) == (3, 1, 2)
    assert after.by_reason["wrong_number"] - before.by_reason.get("wrong_number", 0) == 2
    assert after.phone_cases - before.phone_cases == 1 and 0 < after.phone_share <= 1

    with recorded_sql(app) as statements:
        html = page(client.get("/dashboard/"))
    call_queries = [q for q in statements if "FROM intake_call" in q]
    assert len(call_queries) == 1 and "GROUP BY" in call_queries[0]  # counted in SQL, not row by row
    block = html.split('id="calls-today"')[1]
    assert f'data-count="total">{after.total}<' in block.replace(",", "")
    assert "Wrong number" in block and "Share of today" in block
    assert 'id="calls-today"' not in page(client_for("pw_staff").get("/dashboard/"))


# ---------------------------------------------------------------- who may take calls

@pytest.mark.parametrize("who", ["pw_staff", "resident", None])
def test_department_staff_residents_and_strangers_cannot_use_the_desk(app, client_for, who):
    from plugins.intake.models import Call

    client = app.test_client()
    token = csrf_token(page(client.get("/login/")))  # a valid token of this browser: what is refused is the person
    if who:
        login(client, who)
    for url in (DESK, "/calls/log/list/", "/calls/done/1"):
        response = client.get(url)
        assert response.status_code in (302, 403), url
        assert not urlparse(response.headers.get("Location", "")).path.startswith("/calls/"), url
    marker = f"intruder {tag()}"
    for endpoint, data in (("information", {"wrap_up": "billing", "notes": marker}), ("case", {"service": "TRAIL", "description": marker}),
                           ("existing", {"reference": "PC-2026-000001", "note": marker})):
        response = client.post(f"/calls/new/{endpoint}", data={"csrf_token": token, **data})
        assert response.status_code in (302, 403), endpoint
    assert rows(app, Call, notes=marker) == []


def test_the_desk_is_in_the_menu_of_dispatchers_only(app, client_for):
    assert "/calls/new/" in page(client_for("dispatcher").get("/dashboard/"))
    assert "/calls/new/" in page(client_for("admin").get("/dashboard/"))
    assert "/calls/new/" not in page(client_for("pw_staff").get("/dashboard/"))


def test_a_post_without_its_csrf_token_is_refused(app, client_for):
    from plugins.intake.models import Call

    client = client_for("dispatcher")
    marker = f"forged {tag()}"
    for endpoint, data in (("information", {"wrap_up": "billing", "notes": marker}), ("case", {"service": "TRAIL", "description": marker})):
        assert client.post(f"/calls/new/{endpoint}", data=data).status_code == 400
    assert client.post(DESK, data={"q": "Ann"}).status_code == 400
    assert rows(app, Call, notes=marker) == []


# ---------------------------------------------------------------- the wrap-up reasons in the city config

def test_wrap_up_reasons_are_checked_one_line_per_problem(tmp_path):
    from core.config import CityConfig
    from plugins.intake.calls import config_problems

    def problems(reasons) -> list[tuple[str, str]]:
        config = CityConfig(path=Path("city.toml"), city={"default_locale": "en", "locales": ["en", "fr"]}, enabled_plugins=["intake"],
                            departments=[], services=[], routing=[], sections={"intake": {"call_wrap_up_reasons": reasons}})
        return [(p.key, p.message) for p in config_problems(config)]

    assert problems({"billing": {"en": "Billing", "fr": "Facturation"}, "other": "Other"}) == []
    found = problems({"Bad Code": "x", "nolabel": {"fr": "Sans anglais"}, "german": {"en": "German", "de": "Deutsch"},
                      "empty": "", "number": 3})
    keys = [k for k, _ in found]
    assert keys == ["intake.call_wrap_up_reasons.Bad Code", "intake.call_wrap_up_reasons.nolabel", "intake.call_wrap_up_reasons.german",
                    "intake.call_wrap_up_reasons.empty", "intake.call_wrap_up_reasons.number"]
    messages = dict(found)
    assert "lower-case letters, digits and _" in messages["intake.call_wrap_up_reasons.Bad Code"]
    assert "default locale 'en' is required" in messages["intake.call_wrap_up_reasons.nolabel"]
    assert "unknown locale 'de'" in messages["intake.call_wrap_up_reasons.german"]
    assert problems("billing, other") == [("intake.call_wrap_up_reasons", 'must be a table of code = "label" or code = { en = "...", fr = "..." }')]

    # The same lines stop the app from starting, naming the file and the key.
    from core.config import ConfigError

    text = DEMO_CONFIG.read_text(encoding="utf-8")
    line = next(x for x in text.splitlines() if x.startswith("call_wrap_up_reasons.billing"))
    bad = tmp_path / "city.toml"
    bad.write_text(text.replace(line, 'call_wrap_up_reasons.Billing = { en = "Billing" }'), encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        build_app(f"sqlite:///{tmp_path / 'x.db'}", config=bad)
    assert "intake.call_wrap_up_reasons.Billing: a code is at most 40 lower-case letters" in str(exc.value)
