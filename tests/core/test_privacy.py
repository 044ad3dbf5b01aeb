"""Retention: `civic privacy anonymise` forgets residents who stopped using the city's services and the
contact details of anonymous reporters' old closed cases, and never deletes a case.

Each backend gets a database of its own (retention sweeps the whole database: the shared test database's
other cases must not be touched), the demo city with every plugin, and real cases made by the service
function every channel uses.  Dates are moved back in the database, as years would.
"""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.conftest import DEMO_CONFIG, PASSWORD, build_app, prepare_database
from tests.fixtures import BACKENDS, city_config, close_app, fresh_database, run_civic

YEARS_AGO = timedelta(days=4 * 365)


class City:
    def __init__(self, app, url, directory, config):
        self.app, self.url, self.directory, self.config = app, url, directory, config

    def civic(self, *args: str):
        return run_civic(*args, config=self.config, database_url=self.url, data_dir=self.directory)


@pytest.fixture(scope="module", params=BACKENDS)
def city(request, tmp_path_factory):
    directory = tmp_path_factory.mktemp("privacy-city")
    config = city_config(directory, ["i18n", "intake", "knowledge", "fieldservice", "fema"])
    with fresh_database(request.param, directory) as url:
        app = build_app(url, config)
        prepare_database(app)
        yield City(app, url, directory, config)
        close_app(app)


@pytest.fixture
def session(city):
    from core.extensions import db

    with city.app.app_context():
        yield db.session
        db.session.rollback()
        db.session.remove()


def resident(session, name: str, *, role: str = "Resident"):
    """A resident with a portal login and a linked account; returns the account."""
    from core.models import Account
    from core.services.users import create_user

    email = f"{name.split()[0].lower()}.{uuid.uuid4().hex[:8]}@example.org"
    user = create_user(email, PASSWORD, role, first_name=name, last_name="-", email=email)
    account = Account(name=name, email=email, phone="386-555-0142", utility_account_number=f"UA-{uuid.uuid4().hex[:8]}",
                      preferred_language="en", user_id=user.id, preferences={"topics": ["water"]})
    session.add(account)
    session.commit()
    return account


def report(session, *, account=None, name=None, email=None, phone=None, tags=None, status=None):
    from core.services.cases import SYSTEM, change_status, create_case

    case = create_case(session, service_code="POTHOLE", description="Deep pothole by the mailbox", attributes={"SIZE": "large"},
                       account=account, contact_name=name or (account.name if account else None),
                       contact_email=email or (account.email if account else None),
                       contact_phone=phone or (account.phone if account else None), tags=tags)
    if status:
        change_status(session, case, status, SYSTEM)
    return case


def age(session, account=None, cases=(), by: timedelta = YEARS_AGO) -> None:
    """Move an account's and some cases' dates back (the login's last sign-in too)."""
    from core.models import User
    from core.models.base import utcnow

    if account is not None:
        account.created_at -= by
        if account.user_id:  # signed in once, long ago
            session.get(User, account.user_id).last_login = utcnow() - by
    for case in cases:
        case.created_at -= by
        case.updated_at -= by
        if case.closed_at is not None:
            case.closed_at -= by
    session.commit()


def events_of(session, case_id: int) -> list[tuple]:
    from core.models import CaseEvent

    return [(e.id, e.kind, e.body, e.data) for e in session.scalars(sa.select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id))]


def test_resident_gone_for_years_is_anonymised_and_their_storm_cases_are_kept(city, session):
    from core.models import Account, Case, OutboxMessage, User
    from plugins.fema.models import Disaster
    from plugins.intake.following import follow
    from plugins.intake.models import Follower

    session.add(Disaster(tag="hurricane-zeta-dr-9990", title="Hurricane Zeta", number="DR-9990", declaration_type="DR", state="FL"))
    session.commit()
    gone = resident(session, "Zanzibar Quix")
    storm = report(session, account=gone, tags=["hurricane-zeta-dr-9990"], status="closed")
    older = report(session, account=gone, status="resolved")
    neighbour = report(session, email="neighbour@example.org", status="closed")
    follow(neighbour, gone.email, account=gone)
    from plugins.intake.models import Call

    call = Call(outcome="information", account_id=gone.id, caller_name=gone.name, caller_phone=gone.phone, caller_email=gone.email)
    session.add(call)
    # The worker sent the first e-mails; the last one is still waiting.
    mail = session.scalars(sa.select(OutboxMessage).where(OutboxMessage.recipient == gone.email).order_by(OutboxMessage.id)).all()
    for message in mail[:-1]:
        message.status = "sent"
    session.commit()
    pending_id, sent_ids = mail[-1].id, [m.id for m in mail[:-1]]
    call_id = call.id
    age(session, gone, [storm, older])
    account_id, user_id, email, storm_id = gone.id, gone.user_id, gone.email, storm.id
    timeline_before = events_of(session, storm_id)
    assert len(mail) >= 2
    session.remove()

    dry = city.civic("privacy", "anonymise", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "dry run: nothing was changed" in dry.stdout
    assert "accounts to anonymise (inactive for 1095 days): 1, with 2 cases" in dry.stdout
    assert f"account #{account_id}" in dry.stdout
    with city.app.app_context():
        from core.extensions import db

        assert db.session.get(Account, account_id).email == email  # the dry run changed nothing
        db.session.remove()

    run = city.civic("privacy", "anonymise")
    assert run.returncode == 0, run.stderr
    assert "accounts anonymised: 1 (their cases: 2)" in run.stdout

    with city.app.app_context():
        from core.extensions import db

        s = db.session
        account = s.get(Account, account_id)
        assert (account.name, account.email, account.phone, account.utility_account_number, account.user_id) == ("Closed account", None, None, None, None)
        assert account.anonymised_at is not None and account.preferences == {}
        user = s.get(User, user_id)
        assert user.active is False and email not in (user.username, user.email) and user.first_name == "Closed" and user.roles == []
        storm_case = s.get(Case, storm_id)  # kept: the FEMA claim still needs it
        assert storm_case is not None and "hurricane-zeta-dr-9990" in [t.name for t in storm_case.tags]
        assert (storm_case.contact_name, storm_case.contact_email, storm_case.contact_phone, storm_case.account_id) == (None, None, None, None)
        assert storm_case.description == "Deep pothole by the mailbox" and storm_case.status == "closed"
        timeline = events_of(s, storm_id)
        assert timeline[: len(timeline_before)] == timeline_before  # earlier entries untouched
        [added] = timeline[len(timeline_before):]
        assert added[1] == "updated" and added[3] == {"anonymised": ["contact_name", "contact_email", "contact_phone", "account"]}
        assert s.scalar(sa.select(sa.func.count()).select_from(Follower).where(Follower.email == email)) == 0
        call = s.get(Call, call_id)  # the phone desk forgets the caller too (intake's forget_contact)
        assert (call.caller_name, call.caller_phone, call.caller_email, call.account_id) == ("", "", "", None)
        assert s.get(OutboxMessage, pending_id) is None  # not sent: dropped
        sent = s.scalars(sa.select(OutboxMessage).where(OutboxMessage.id.in_(sent_ids))).all()
        assert len(sent) == len(sent_ids)  # sent: kept as a count of what went out, without the person
        assert all(m.recipient == "anonymised@invalid" and m.body_text == "" and m.body_html is None for m in sent)
        s.remove()

    again = city.civic("privacy", "anonymise")
    assert "accounts anonymised: 0 (their cases: 0); closed cases whose contact details were cleared: 0" in again.stdout


def test_signs_of_life_keep_an_account(city, session):
    """A recent sign-in, a recent report, a recent portal visit or an open case each keep an account;
    a staff login with an old resident account is never touched."""
    from core.models import Account, User
    from core.models.base import utcnow
    from core.privacy import inactive_accounts, run_retention

    signed_in = resident(session, "Signed In")
    reported = resident(session, "Reported Lately")
    visited = resident(session, "Visited Portal")
    waiting = resident(session, "Still Waiting")
    staff = resident(session, "Staff Member", role="Dispatcher")
    for account in (signed_in, reported, visited, waiting, staff):
        age(session, account)
    session.execute(sa.update(User).where(User.id == signed_in.user_id).values(last_login=utcnow() - timedelta(days=30)))
    session.execute(sa.update(Account).where(Account.id == visited.id).values(last_active_at=utcnow() - timedelta(days=200)))
    report(session, account=reported, status="closed")
    old_open = report(session, account=waiting)
    age(session, cases=[old_open])
    cutoff = utcnow() - timedelta(days=1095)
    candidates = {a.id for a in inactive_accounts(session, cutoff)}
    assert not candidates & {signed_in.id, reported.id, visited.id, waiting.id}
    assert staff.id in candidates  # inactive as a resident, but its login is staff: left alone
    kept = [signed_in.id, reported.id, visited.id, waiting.id, staff.id]
    result = run_retention(session, inactive_resident_days=1095, case_contact_days=730)
    assert not set(result.accounts) & set(kept) and result.skipped_staff >= 1
    session.expire_all()
    assert [session.get(Account, i).anonymised_at for i in kept] == [None] * 5
    assert session.get(User, staff.user_id).active is True


def test_anonymous_reporters_old_closed_cases_lose_their_contact_details(city, session):
    from core.models import Case

    old_closed = report(session, name="Quentin Zanzibar", email="q.zanzibar@example.org", phone="386-555-0177", status="closed")
    old_open = report(session, name="Open Reporter", email="open.reporter@example.org")
    recent_closed = report(session, name="Recent Reporter", email="recent.reporter@example.org", status="closed")
    age(session, cases=[old_closed, old_open])
    ids = old_closed.id, old_open.id, recent_closed.id
    before = events_of(session, old_closed.id)

    dry = city.civic("privacy", "anonymise", "--dry-run")
    assert old_closed.reference in dry.stdout and old_open.reference not in dry.stdout and recent_closed.reference not in dry.stdout
    run = city.civic("privacy", "anonymise")
    assert run.returncode == 0 and "closed cases whose contact details were cleared: 1" in run.stdout
    session.expire_all()
    cleared, still_open, recent = (session.get(Case, i) for i in ids)
    assert (cleared.contact_name, cleared.contact_email, cleared.contact_phone) == (None, None, None)
    assert events_of(session, cleared.id)[-1][3] == {"anonymised": ["contact_name", "contact_email", "contact_phone"]}
    assert events_of(session, cleared.id)[: len(before)] == before
    assert still_open.contact_email == "open.reporter@example.org"  # the city may still need to call back
    assert recent.contact_email == "recent.reporter@example.org"
    again = city.civic("privacy", "anonymise")
    assert "closed cases whose contact details were cleared: 0" in again.stdout


def test_phone_desk_callers_are_forgotten_after_the_contact_period(city, session):
    """Information-only calls and calls about closed cases lose who called; a call about a case still open keeps it."""
    from core.models.base import utcnow
    from plugins.intake.models import Call

    caller = {"caller_name": "Zanzibar Quix", "caller_phone": "904-555-0123", "caller_email": "zq@example.org", "address": "12 Home Lane"}
    open_case = report(session, name="Zanzibar Quix", phone="904-555-0123")
    old, about_open, recent = (Call(outcome="information", wrap_up="billing", started_at=utcnow() - YEARS_AGO, **caller),
                               Call(outcome="case", case_id=open_case.id, started_at=utcnow() - YEARS_AGO, **caller),
                               Call(outcome="information", wrap_up="billing", started_at=utcnow(), **caller))
    session.add_all([old, about_open, recent])
    session.commit()
    ids = old.id, about_open.id, recent.id

    dry = city.civic("privacy", "anonymise", "--dry-run")
    assert "other records whose contact details would be cleared (phone calls...): 1" in dry.stdout
    run = city.civic("privacy", "anonymise")
    assert "other records whose contact details were cleared (phone calls...): 1" in run.stdout, run.stdout + run.stderr
    session.expire_all()
    cleared, kept_open, kept_recent = (session.get(Call, i) for i in ids)
    assert (cleared.caller_name, cleared.caller_phone, cleared.caller_email, cleared.address) == ("", "", "", "")
    assert (cleared.outcome, cleared.wrap_up) == ("information", "billing")  # what the call was about stays
    assert kept_open.caller_phone == "904-555-0123" and kept_recent.caller_name == "Zanzibar Quix"
    assert "phone calls...): 0" in city.civic("privacy", "anonymise").stdout


@pytest.mark.parametrize("value, message", [
    ("inactive_resident_days = 5", "privacy.inactive_resident_days: must be greater than or equal to 30"),
    ('case_contact_days = "two years"', "privacy.case_contact_days: not a valid integer"),
    ("keep_forever = true", "privacy.keep_forever: unknown"),
])
def test_privacy_keys_are_checked_at_start_up(tmp_path, value, message):
    config = city_config(tmp_path, ["intake"], append=f"\n[privacy]\n{value}\n")
    checked = run_civic("config", "check", "--file", str(config), config=config, data_dir=tmp_path)
    assert checked.returncode == 2
    assert message in checked.stdout + checked.stderr


def test_privacy_defaults_are_three_and_two_years():
    from core.config import load_city_config

    assert load_city_config(DEMO_CONFIG).privacy == {"inactive_resident_days": 1095, "case_contact_days": 730}
