"""Resident accounts on the portal: sign up and confirm, sign in, reset a password, link a utility
account, "My city", download my data and close my account.

Every request goes through the real app over HTTP (the Flask test client); e-mails are checked in
the outbox table, where the portal leaves them for the notification worker.
"""
from __future__ import annotations

import json
import os
import random
import re
import uuid

import pytest
import sqlalchemy as sa

from tests.conftest import DEMO_CONFIG, PASSWORD, csrf_token
from tests.core.test_french_screens import english_interface_strings, visible_texts
from tests.fixtures import run_civic

NEW_PASSWORD = "a-brand-new-passphrase"


# ---------------------------------------------------------------- helpers

def portal_client(app, language: str = "en"):
    """A browser of its own: its own address (rate limits are per client) and language."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = f"10.{random.randint(0, 255)}.{random.randint(0, 255)}.{random.randint(1, 254)}"
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
    return client


def unique_email(prefix: str = "res") -> str:
    return f"{prefix}.{uuid.uuid4().hex[:10]}@example.org"


def submit(client, url: str, data: dict, page: str | None = None):
    """Open the form page (for its CSRF token) and post the form."""
    html = client.get(page or url).get_data(as_text=True)
    return client.post(url, data={"csrf_token": csrf_token(html), **data})


def text_of(response) -> str:
    return " ".join(visible_texts(response.get_data(as_text=True)))


def outbox(app, recipient: str) -> list[dict]:
    from core.extensions import db
    from core.models import OutboxMessage

    with app.app_context():
        rows = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.recipient == recipient).order_by(OutboxMessage.id)).all()
        found = [{c: getattr(r, c) for c in ("kind", "locale", "subject", "body_text", "body_html", "status")} for r in rows]
        db.session.remove()
    return found


def link_in(message: dict, endpoint_path: str) -> str:
    """The path of the link to ``/portal/<endpoint_path>/<token>`` in an e-mail."""
    m = re.search(rf"https?://[^/\s]+(/portal/{endpoint_path}/[A-Za-z0-9_.\-]+)", message["body_text"])
    assert m, f"no /portal/{endpoint_path}/ link in: {message['body_text']}"
    assert m.group(1) in message["body_html"]
    return m.group(1)


def user_row(app, email: str):
    from core.extensions import db
    from core.models import Account, User

    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.username == email.lower()))
        found = None
        if user is not None:
            account = db.session.scalar(sa.select(Account).where(Account.user_id == user.id))
            found = {"active": user.active, "roles": [r.name for r in user.roles], "id": user.id,
                     "account_id": account.id if account else None, "language": account.preferred_language if account else None}
        db.session.remove()
    return found


def sign_up(client, email: str, *, name: str = "Camille Tremblay", password: str = PASSWORD, language: str = "en"):
    return submit(client, "/portal/sign-up", {"name": name, "email": email, "password": password, "language": language})


def sign_in(client, email: str, password: str = PASSWORD):
    return submit(client, "/portal/sign-in", {"email": email, "password": password})


def new_resident(app, *, language: str = "en", name: str = "Camille Tremblay"):
    """A confirmed resident signed in on a client of their own: (client, e-mail, account id)."""
    client = portal_client(app, language)
    email = unique_email()
    assert sign_up(client, email, name=name, language=language).status_code == 200
    confirm = link_in(outbox(app, email)[-1], "confirm")
    assert client.get(confirm).status_code == 302
    return client, email, user_row(app, email)["account_id"]


def new_case(app, *, account_id=None, lat=None, long=None, description="Deep pothole", contact_email=None, status=None):
    from core.extensions import db
    from core.models import Account
    from core.services.cases import SYSTEM, change_status, create_case

    with app.app_context():
        account = db.session.get(Account, account_id) if account_id else None
        case = create_case(db.session, service_code="POTHOLE", description=description, attributes={"SIZE": "large"},
                           lat=lat, long=long, account=account, contact_email=contact_email, contact_phone="386-555-0199" if account else None)
        if status:
            change_status(db.session, case, status, SYSTEM)
        reference = case.reference
        db.session.remove()
    return reference


def import_rows(app, text: str):
    from core.extensions import db
    from plugins.intake.utility_import import import_utility_accounts

    with app.app_context():
        report = import_utility_accounts(db.session, text.encode("utf-8"))
        db.session.remove()
    return report


def somewhere() -> tuple[float, float]:
    """A spot of our own, far from other tests' cases (nearby searches must only find ours)."""
    return round(random.uniform(40, 48), 5), round(random.uniform(-120, -80), 5)


def utility_account(app, *, last_name="Núñez", zipcode="32137", zone=None, lat=None, long=None) -> str:
    number = f"T{uuid.uuid4().hex[:8].upper()}-01"
    lat, long = (lat, long) if lat is not None else somewhere()
    report = import_rows(app, f"Account Number,Service Address,Lat,Long,Holder Last Name,ZIP,Zone\n{number},12 Palm Harbor Pkwy,{lat},{long},{last_name},{zipcode},{zone or ''}\n")
    assert report.imported == 1, report.rejected
    return number


def account_values(app, account_id: int) -> dict:
    from core.extensions import db
    from core.models import Account

    with app.app_context():
        account = db.session.get(Account, account_id)
        values = {c: getattr(account, c) for c in ("name", "email", "phone", "utility_account_number", "contact_by_email", "preferences", "preferred_language", "user_id")}
        db.session.remove()
    return values


# ---------------------------------------------------------------- sign up, confirm, sign in

def test_resident_signs_up_in_french_confirms_and_is_signed_in(app):
    client = portal_client(app, "fr-CA,fr;q=0.9")
    email = unique_email("Camille")
    form = client.get("/portal/sign-up")
    assert form.status_code == 200 and 'lang="fr"' in form.get_data(as_text=True)
    assert "Créer un compte" in text_of(form)

    answer = sign_up(client, email, language="fr")
    assert answer.status_code == 200
    assert "Vérifiez vos courriels" in text_of(answer)
    assert user_row(app, email)["active"] is False and user_row(app, email)["roles"] == ["Resident"]
    assert user_row(app, email)["language"] == "fr"

    [mail] = outbox(app, email.lower())
    assert mail["kind"] == "account_confirm" and mail["locale"] == "fr" and mail["status"] == "pending"
    assert mail["subject"].startswith("Confirmez votre compte")
    assert "Bonjour Camille Tremblay" in mail["body_text"] and "3\u00a0jours" in mail["body_text"]
    assert "Confirmer mon compte" in mail["body_html"]

    assert sign_in(portal_client(app), email).status_code == 400  # not confirmed yet

    confirmed = client.get(link_in(mail, "confirm"))
    assert confirmed.status_code == 302 and confirmed.headers["Location"].endswith("/portal/my-city")
    page = client.get("/portal/my-city")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'lang="fr"' in html and "Ma ville" in text_of(page) and "Camille Tremblay" in html
    assert user_row(app, email)["active"] is True

    again = portal_client(app).get(link_in(mail, "confirm"))  # a confirmation link signs in once only
    assert again.status_code == 302 and again.headers["Location"].endswith("/portal/sign-in")
    assert portal_client(app).get("/portal/confirm/not-a-token").status_code == 400

    client.post("/portal/sign-out", data={"csrf_token": csrf_token(html)})
    assert client.get("/portal/my-city").status_code == 302
    fresh = portal_client(app)
    signed_in = sign_in(fresh, email.upper())
    assert signed_in.status_code == 302 and signed_in.headers["Location"].endswith("/portal/my-city")
    assert fresh.get("/portal/my-city").status_code == 200


def test_signing_up_with_a_known_e_mail_gives_the_same_answer_and_mails_a_reminder(app):
    email = unique_email()
    first = sign_up(portal_client(app), email)
    second = sign_up(portal_client(app), email.upper(), name="Someone Else", password="another-password-1")
    assert first.status_code == second.status_code == 200
    assert text_of(first) == text_of(second)
    mails = outbox(app, email)
    assert [m["kind"] for m in mails] == ["account_confirm", "account_exists"]
    assert "/portal/sign-in" in mails[1]["body_text"]
    reset = link_in(mails[1], "reset")  # the reminder lets the owner take the account back
    assert portal_client(app).get(reset).status_code == 200

    staff = sign_up(portal_client(app), "pw_staff@palmcoast.example.gov")  # a staff address: same answer, no reset link
    assert staff.status_code == 200 and text_of(staff) == text_of(first).replace(email, "pw_staff@palmcoast.example.gov")
    [reminder] = outbox(app, "pw_staff@palmcoast.example.gov")
    assert reminder["kind"] == "account_exists" and "/portal/reset/" not in reminder["body_text"]
    assert user_row(app, "pw_staff@palmcoast.example.gov") is None  # nothing was created


def test_sign_up_refuses_weak_passwords_and_keeps_what_was_typed(app):
    client = portal_client(app)
    email = unique_email()
    for password, problem in (("short-pw-11", "at least 12 characters"), ("12345678901234", "not only digits")):
        answer = sign_up(client, email, name="Jo Weak", password=password)
        assert answer.status_code == 400
        html = answer.get_data(as_text=True)
        assert problem in html and 'value="Jo Weak"' in html and f'value="{email}"' in html
        assert 'aria-invalid="true"' in html and f'value="{password}"' not in html
    bad_email = sign_up(client, "not-an-address", name="Jo")
    assert bad_email.status_code == 400 and "name@example.com" in bad_email.get_data(as_text=True)
    assert user_row(app, email) is None and outbox(app, email) == []


def test_sign_ups_from_one_client_are_rate_limited(app):
    client = portal_client(app)
    answers = [sign_up(client, unique_email(), password="x" * 12).status_code for _ in range(11)]
    assert answers == [200] * 10 + [429]


def test_wrong_passwords_are_rate_limited_per_e_mail_and_per_client(app):
    _client, email, _ = new_resident(app)
    attacker = portal_client(app)
    for _ in range(5):
        wrong = sign_in(attacker, email, "not-the-password")
        assert wrong.status_code == 400
        assert "The e-mail or the password is not right" in text_of(wrong)
    blocked = sign_in(portal_client(app), email)  # even the right password, from anywhere, for a while
    assert blocked.status_code == 429 and "Too many attempts" in text_of(blocked)

    spray = portal_client(app)  # one client trying many addresses is stopped too
    codes = [sign_in(spray, unique_email(), "guess-guess-guess").status_code for _ in range(31)]
    assert codes[:30] == [400] * 30 and codes[30] == 429


def test_staff_cannot_sign_in_on_the_portal_and_residents_cannot_open_staff_screens(app, client_for):
    staff_try = sign_in(portal_client(app), "pw_staff", PASSWORD)
    assert staff_try.status_code == 400 and "The e-mail or the password is not right" in text_of(staff_try)
    assert sign_in(portal_client(app), "pw_staff@palmcoast.example.gov", PASSWORD).status_code == 400

    resident, _email, _ = new_resident(app)
    for url in ("/caseview/list/", "/dashboard/", "/accountview/list/", "/users/list/"):
        response = resident.get(url)
        assert response.status_code in (302, 403, 404), f"{url}: {response.status_code}"
        assert response.status_code != 302 or "/login" in response.headers["Location"]
    assert resident.get("/api/v1/case/").status_code in (401, 403)

    staff = client_for("pw_staff")
    for url in ("/portal/my-city", "/portal/my-city/preferences", "/portal/my-city/data", "/portal/my-city/close", "/portal/my-city/utility"):
        assert staff.get(url).status_code == 403, url
    assert portal_client(app).get("/portal/my-city").headers["Location"].endswith("/portal/sign-in?next=/portal/my-city")


def test_signing_in_goes_back_only_to_a_page_of_this_site(app):
    _client, email, _ = new_resident(app)
    for target, expected in (("/portal/my-city/preferences", "/portal/my-city/preferences"), ("//evil.example/x", "/portal/my-city"),
                             ("https://evil.example/", "/portal/my-city"), ("/\t/evil.example", "/portal/my-city")):
        client = portal_client(app)
        page = client.get("/portal/sign-in", query_string={"next": target}).get_data(as_text=True)
        answer = client.post("/portal/sign-in", data={"csrf_token": csrf_token(page), "email": email, "password": PASSWORD, "next": target})
        assert answer.status_code == 302 and answer.headers["Location"] == expected, target


def test_password_reset_works_once(app):
    client, email, _ = new_resident(app, language="fr")
    stranger = portal_client(app)
    asked = submit(stranger, "/portal/reset", {"email": email})
    unknown = submit(portal_client(app), "/portal/reset", {"email": unique_email()})
    assert asked.status_code == unknown.status_code == 200
    assert text_of(asked).replace(email, "X") == text_of(unknown).replace(re.search(r"\S+@example\.org", text_of(unknown)).group(0), "X")

    mail = outbox(app, email)[-1]
    assert mail["kind"] == "account_reset" and mail["locale"] == "fr" and "nouveau mot de passe" in mail["subject"]
    reset = link_in(mail, "reset")
    assert stranger.get(reset).status_code == 200
    weak = submit(stranger, reset, {"password": "123"})
    assert weak.status_code == 400
    done = submit(stranger, reset, {"password": NEW_PASSWORD})
    assert done.status_code == 302 and done.headers["Location"].endswith("/portal/my-city")

    used = portal_client(app).get(reset)
    assert used.status_code == 400 and "already used" in text_of(used)
    assert sign_in(portal_client(app), email, PASSWORD).status_code == 400
    assert sign_in(portal_client(app), email, NEW_PASSWORD).status_code == 302
    assert portal_client(app).get("/portal/reset/forged.token.value").status_code == 400


# ---------------------------------------------------------------- utility accounts

CSV = """\ufeffACCT_NO;Service Address;Latitude;Longitude;Last Name;Zip Code;Zone
{a};  12   palm harbor pkwy ;29.591;-81.173;Núñez-García;32137-1234;east
{b};7 Cimmaron Dr;29.561;-81.201;O'Brien;32164;
;9 Nowhere Ln;29.5;-81.2;Smith;32137;
{c};10 Other St;north;-81.2;Doe;32137;
{d};11 Other St;29.5;-81.2;;32137;
{a};12 Palm Harbor Pkwy;29.591;-81.173;Lopez;32137;
{e};13 Far Ln;95;-81.2;Roe;32137;
"""


def test_civic_intake_import_utility_accounts_reports_each_refused_row(app, database_url, tmp_path):
    a, b, c, d, e = (f"U{uuid.uuid4().hex[:8].upper()}" for _ in range(5))
    path = tmp_path / "billing-export.csv"
    path.write_text(CSV.format(a=a, b=b, c=c, d=d, e=e), encoding="utf-8")
    data_dir = os.environ["CIVIC_DATA_DIR"]
    result = run_civic("intake", "import-utility-accounts", str(path), config=DEMO_CONFIG, data_dir=data_dir, database_url=database_url, site=False)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines == [
        "2 imported, 0 updated, 5 rejected",
        "line 4: account number is empty",
        "line 5: lat is not a number",
        "line 6: holder last name is empty",
        "line 7: account number repeated (first on line 2)",
        "line 8: lat is out of range (-90 to 90)",
    ]
    for name in ("Núñez", "NUNEZ", "Brien", "BRIEN", "Smith", "Lopez", "Roe", "Doe"):
        assert name.lower() not in result.stdout.lower()

    again = run_civic("intake", "import-utility-accounts", str(path), config=DEMO_CONFIG, data_dir=data_dir, database_url=database_url, site=False)
    assert again.stdout.splitlines()[0] == "0 imported, 2 updated, 5 rejected"

    from core.extensions import db
    from plugins.intake.models import UtilityAccount

    with app.app_context():
        row = db.session.scalar(sa.select(UtilityAccount).where(UtilityAccount.account_number == a))
        assert (row.service_address, row.address_key, row.holder_last_name, row.zipcode, row.zone) == (
            "12 palm harbor pkwy", "12 PALM HARBOR PKWY", "NUNEZ GARCIA", "32137", "east")
        assert (row.lat, row.long) == (29.591, -81.173)
        db.session.remove()

    missing = tmp_path / "wrong.csv"
    missing.write_text("Account,Address\n1,2\n", encoding="utf-8")
    refused = run_civic("intake", "import-utility-accounts", str(missing), config=DEMO_CONFIG, data_dir=data_dir, database_url=database_url, site=False)
    assert refused.returncode != 0 and "no column for: lat, long, holder last name, ZIP" in refused.stderr


def test_utility_export_headers_are_matched_loosely(app):
    number = f"H{uuid.uuid4().hex[:8].upper()}"
    report = import_rows(app, f"Acct #,PREMISE ADDRESS,LAT,LNG,Customer Last Name,Postal Code\n{number},1 A St,29.5,-81.2,Smith,32137\n")
    assert (report.imported, report.updated, report.rejected) == (1, 0, [])
    from plugins.intake.utility_import import ImportFileError

    with pytest.raises(ImportFileError):
        import_rows(app, "")


def test_resident_links_a_utility_account_only_with_all_three_right(app):
    number = utility_account(app, last_name="Núñez", zipcode="32137")
    client, _email, account_id = new_resident(app)
    failures = []
    for data in (
        {"account_number": number, "last_name": "Smith", "zipcode": "32137"},
        {"account_number": number, "last_name": "Nunez", "zipcode": "32164"},
        {"account_number": "NO-SUCH-NUMBER", "last_name": "Nunez", "zipcode": "32137"},
    ):
        answer = submit(client, "/portal/my-city/utility", data)
        assert answer.status_code == 400
        failures.append(text_of(answer).replace(data["account_number"], "N").replace(data["last_name"], "L").replace(data["zipcode"], "Z"))
    assert failures[0] == failures[1] == failures[2] and "We could not link this account" in failures[0]
    assert account_values(app, account_id)["utility_account_number"] is None

    linked = submit(client, "/portal/my-city/utility", {"account_number": f" {number.lower()} ", "last_name": "nuñez", "zipcode": "32137-0001"})
    assert linked.status_code == 302
    assert account_values(app, account_id)["utility_account_number"] == number

    other, _e, other_id = new_resident(app)  # someone else with the bill in hand cannot take it over
    taken = submit(other, "/portal/my-city/utility", {"account_number": number, "last_name": "Nunez", "zipcode": "32137"})
    assert taken.status_code == 400 and "We could not link this account" in text_of(taken)
    assert account_values(app, other_id)["utility_account_number"] is None


def test_wrong_utility_guesses_are_rate_limited(app):
    number = utility_account(app, last_name="Baker")
    client, _email, account_id = new_resident(app)
    codes = [submit(client, "/portal/my-city/utility", {"account_number": number, "last_name": f"Guess{i}", "zipcode": "32137"}).status_code for i in range(5)]
    assert codes == [400] * 5
    blocked = submit(client, "/portal/my-city/utility", {"account_number": number, "last_name": "Baker", "zipcode": "32137"})
    assert blocked.status_code == 429 and "Too many attempts" in text_of(blocked)
    assert account_values(app, account_id)["utility_account_number"] is None


# ---------------------------------------------------------------- My city, my data, closing

def test_my_city_shows_my_cases_follows_nearby_cases_and_zone_notices(app):
    from core.extensions import db
    from core.models import Case
    from plugins.intake.following import follow
    from plugins.intake.models import Notice

    lat, long = somewhere()
    zone = f"zone-{uuid.uuid4().hex[:6]}"
    number = utility_account(app, last_name="Garcia", zipcode="32164", zone=zone, lat=lat, long=long)
    client, email, account_id = new_resident(app)
    assert submit(client, "/portal/my-city/utility", {"account_number": number, "last_name": "Garcia", "zipcode": "32164"}).status_code == 302

    mine = new_case(app, account_id=account_id, description="Hole in front of my drive")
    followed = new_case(app, description="Broken sign on the corner")
    near = new_case(app, lat=lat + 0.002, long=long)  # about 220 m north
    far = new_case(app, lat=lat + 0.05, long=long)  # about 5.5 km
    near_closed = new_case(app, lat=lat, long=long + 0.001, status="closed")
    tag = uuid.uuid4().hex[:6]
    with app.app_context():
        follow(db.session.scalar(sa.select(Case).where(Case.reference == followed)), email)
        db.session.add_all([
            Notice(title=f"Citywide notice {tag}", body="Hurricane season starts.", translations={"fr": {"title": f"Avis à toute la ville {tag}", "body": "La saison des ouragans commence."}}),
            Notice(title=f"Zone notice {tag}", body="Water main work on your street.", zone=zone),
            Notice(title=f"ZIP notice {tag}", body="Debris pick-up on Monday.", zone="32164"),
            Notice(title=f"Other zone notice {tag}", body="Not for you.", zone="elsewhere"),
        ])
        db.session.commit()
        db.session.remove()

    page = client.get("/portal/my-city")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for reference in (mine, followed, near):
        assert reference in html
    assert far not in html and near_closed not in html
    assert f"Citywide notice {tag}" in html and f"Zone notice {tag}" in html and f"ZIP notice {tag}" in html
    assert f"Other zone notice {tag}" not in html
    assert "386-555-0199" not in html  # no contact details on the page
    if "portal.case" in app.view_functions:
        assert f'href="/portal/cases/{near}"' in html

    saved = submit(client, "/portal/my-city/preferences", {"topics": ["storm-alerts", "water"], "language": "fr"})  # e-mail unticked
    assert saved.status_code == 302
    values = account_values(app, account_id)
    assert values["preferences"]["topics"] == ["storm-alerts", "water"] and values["contact_by_email"] is False
    assert values["preferred_language"] == "fr"
    french = client.get("/portal/my-city")
    french_html = french.get_data(as_text=True)
    assert 'lang="fr"' in french_html and "Vos préférences sont enregistrées." in french_html
    assert f"Avis à toute la ville {tag}" in french_html and "Alertes de tempête" in french_html
    form = client.get("/portal/my-city/preferences").get_data(as_text=True)
    assert re.search(r'<input[^>]*checked[^>]*value="water"|<input[^>]*value="water"[^>]*checked', form)
    assert submit(client, "/portal/my-city/preferences", {"topics": ["not-a-topic"], "language": "fr"}).status_code == 400


def test_my_data_download_contains_my_case_and_what_i_wrote(app):
    from core.extensions import db
    from core.models import Case
    from plugins.intake.following import email_key, follow
    from plugins.intake.models import Satisfaction

    client, email, account_id = new_resident(app, name="Data Owner")
    reference = new_case(app, account_id=account_id, description="Water bubbling up from the road")
    followed = new_case(app)
    with app.app_context():
        case = db.session.scalar(sa.select(Case).where(Case.reference == reference))
        db.session.add(Satisfaction(case_id=case.id, resolved=True, rating=5, comment="Fixed in a day, thanks", respondent=email_key(email)))
        db.session.commit()
        follow(db.session.scalar(sa.select(Case).where(Case.reference == followed)), email)
        db.session.remove()
    response = client.get("/portal/my-city/data")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert "attachment" in response.headers["Content-Disposition"] and response.headers["Cache-Control"] == "no-store"
    data = json.loads(response.get_data(as_text=True))
    assert data["account"]["email"] == email and data["account"]["name"] == "Data Owner"
    [case] = data["cases"]
    assert case["reference"] == reference and case["description"] == "Water bubbling up from the road"
    assert case["contact_email"] == email and case["timeline"][0]["kind"] == "created"
    assert followed in [f["reference"] for f in data["follows"]]
    assert [(a["reference"], a["rating"], a["comment"]) for a in data["satisfaction"]] == [(reference, 5, "Fixed in a day, thanks")]
    assert portal_client(app).get("/portal/my-city/data").status_code == 302  # nobody else's download


def test_closing_an_account_anonymises_it_and_keeps_the_cases(app):
    from core.extensions import db
    from core.models import Account, Case, User
    from plugins.intake.following import email_key, follow
    from plugins.intake.models import Follower, Satisfaction

    number = utility_account(app, last_name="Closer")
    client, email, account_id = new_resident(app, name="Leaving Resident")
    assert submit(client, "/portal/my-city/utility", {"account_number": number, "last_name": "Closer", "zipcode": "32137"}).status_code == 302
    reference = new_case(app, account_id=account_id)
    other = new_case(app)
    with app.app_context():
        follow(db.session.scalar(sa.select(Case).where(Case.reference == other)), email)
        user_id = db.session.get(Account, account_id).user_id
        answer = Satisfaction(case_id=db.session.scalar(sa.select(Case.id).where(Case.reference == reference)), resolved=False, rating=2, respondent=email_key(email))
        db.session.add(answer)
        db.session.commit()
        answer_id = answer.id
        db.session.remove()

    wrong = submit(client, "/portal/my-city/close", {"password": "not-my-password"})
    assert wrong.status_code == 400 and "This is not your password." in text_of(wrong)
    closed = submit(client, "/portal/my-city/close", {"password": PASSWORD})
    assert closed.status_code == 302

    with app.app_context():
        case = db.session.scalar(sa.select(Case).where(Case.reference == reference))
        assert (case.contact_name, case.contact_email, case.contact_phone, case.account_id) == (None, None, None, None)
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Follower).where(Follower.email == email)) == 0
        account = db.session.get(Account, account_id)
        assert (account.name, account.email, account.phone, account.utility_account_number, account.user_id) == ("Closed account", None, None, None, None)
        user = db.session.get(User, user_id)
        assert user.active is False and email not in (user.username, user.email) and "Leaving" not in user.first_name
        assert db.session.get(Satisfaction, answer_id).respondent is None  # the answer stays, no longer tied to the address
        db.session.remove()
    assert client.get("/portal/my-city").status_code == 302  # signed out
    assert sign_in(portal_client(app), email).status_code == 400
    again = sign_up(portal_client(app), email)  # the address is free again
    assert again.status_code == 200 and outbox(app, email)[-1]["kind"] == "account_confirm"


def test_account_pages_have_no_english_left_in_french(app):
    client, _email, _ = new_resident(app, language="fr")
    english = english_interface_strings()
    guest = portal_client(app, "fr")
    pages = {
        "/portal/sign-up": guest, "/portal/sign-in": guest, "/portal/reset": guest,
        "/portal/my-city": client, "/portal/my-city/preferences": client, "/portal/my-city/utility": client, "/portal/my-city/close": client,
    }
    for url, who in pages.items():
        response = who.get(url)
        assert response.status_code == 200, url
        html = response.get_data(as_text=True)
        assert 'lang="fr"' in html, url
        leaks = sorted({t for t in visible_texts(html) if t in english})
        assert not leaks, f"{url}: {leaks}"


def test_the_my_city_link_is_only_offered_to_residents(client_for):
    staff_page = client_for("pw_staff").get("/portal/").get_data(as_text=True)
    assert "/portal/my-city" not in staff_page
    resident_page = client_for("resident").get("/portal/").get_data(as_text=True)
    assert "/portal/my-city" in resident_page
