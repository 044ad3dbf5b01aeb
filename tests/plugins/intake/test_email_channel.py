"""Residents write to the city's mailbox: `civic intake poll-email` reads it over IMAP (a real Dovecot,
tests/imap.py) and `civic intake email` takes a message from an MTA pipe; each message becomes a case, a
note on the case it answers, or is ignored when a machine sent it.  Both database backends.
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
import sqlalchemy as sa

from tests.conftest import DEMO_CONFIG
from tests.fixtures import civic_env, run_civic
from tests.imap import imap_server, mailbox  # noqa: F401  (fixtures)
from tests.plugins.intake.email_helpers import (
    CITY_ADDRESS,
    PASSWORD_ENV,
    address,
    case_of,
    inbound,
    ingest,
    jpeg,
    message,
    outbox_to,
    poll,
    run_cli,
    settings_table,
    tag,
)
from tests.smtp import smtp, smtp_server  # noqa: F401  (fixtures)

SUMMARY = "E-mail INBOX: new cases {}, notes {}, ignored {}, failed {}"


def new_account(app, *, email: str, language: str = "en") -> int:
    from core.extensions import db
    from core.models import Account

    with app.app_context():
        account = Account(name=f"Resident {tag()}", email=email.upper(), preferred_language=language)
        db.session.add(account)
        db.session.commit()
        account_id = account.id
        db.session.remove()
    return account_id


# ---------------------------------------------------------------- new cases


def test_resident_emails_a_streetlight_report_over_imaps_and_is_acknowledged_with_the_case_number(app, mailbox):
    sender = address("jane")
    raw, mid = message(sender=f"Jane Doe <{sender}>", text="Hi,\nthe streetlight in front of 12 Palm Coast Pkwy is dark.\n\n-- \nJane Doe\n386-555-0100")
    mailbox.append(raw)

    result = poll(app, mailbox)  # security "ssl", the fixture's certificate as ca_file
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == SUMMARY.format(1, 0, 0, 0)

    case = case_of(app, mid)
    assert (case["service"], case["department"], case["channel"]) == ("STREETLIGHT", "PW", "email")
    assert case["description"] == "Streetlight out on Palm Coast Pkwy\n\nHi,\nthe streetlight in front of 12 Palm Coast Pkwy is dark."
    assert (case["contact_email"], case["contact_name"], case["account_id"]) == (sender, "Jane Doe", None)
    assert case["followers"] == {sender: ("reporter", "en")}
    [ack] = case["outbox"]
    assert (ack["recipient"], ack["kind"], ack["locale"]) == (sender, "case_received", "en")
    assert case["reference"] in ack["subject"]  # a reply to it finds the case
    # Marked only after the commit: seen, still in the INBOX (no processed_folder).
    assert mailbox.uids(unseen=True) == [] and len(mailbox.uids()) == 1


def test_french_email_in_latin1_is_routed_by_french_keywords_and_acknowledged_in_french(app, mailbox):
    sender = address("luc")
    raw, mid = message(sender=f"Luc Tremblay <{sender}>", subject="Puisard bouché",
                       text="Bonjour,\nle puisard devant chez moi est bouché depuis la tempête. Merci de votre aide.", charset="iso-8859-1")
    assert b"bouch=E9" in raw  # really Latin-1, quoted-printable
    mailbox.append(raw)
    assert poll(app, mailbox, port=mailbox.port, security="starttls").exit_code == 0  # STARTTLS on the plain port

    case = case_of(app, mid)
    assert (case["service"], case["department"]) == ("DRAIN", "SW")
    assert "le puisard devant chez moi est bouché" in case["description"]
    assert case["followers"] == {sender: ("reporter", "fr")}
    [ack] = case["outbox"]
    assert ack["locale"] == "fr"
    assert ack["subject"] == f"Nous avons reçu votre signalement {case['reference']}"


def test_a_mailbox_without_tls_works_when_the_city_says_so(app, mailbox):
    raw, mid = message(sender=address())
    mailbox.append(raw)
    assert poll(app, mailbox, port=mailbox.port, security="none", ca_file=None).stdout.strip() == SUMMARY.format(1, 0, 0, 0)
    assert inbound(app, mid)["outcome"] == "case"


def test_content_language_header_sets_the_acknowledgement_language(app):
    sender = address("marie")
    raw, mid = message(sender=sender, subject="Lampadaire", text="Street light broken.", headers={"Content-Language": "fr-CA"})
    assert ingest(app, raw).kind == "case"
    case = case_of(app, mid)
    assert case["service"] == "STREETLIGHT"
    assert [m["locale"] for m in case["outbox"]] == ["fr"]


def test_email_that_names_no_service_goes_to_the_triage_queue(app):
    raw, mid = message(sender=address(), subject="A question", text="When is the next council meeting?")
    outcome = ingest(app, raw)
    assert (outcome.kind, outcome.reason) == ("case", "GENERAL")
    case = case_of(app, mid)
    assert (case["service"], case["department"]) == ("GENERAL", "CM")


def test_pothole_email_goes_to_triage_with_a_note_because_pothole_needs_a_size(app):
    raw, mid = message(sender=address(), subject="Pothole", text="There is a deep pothole on Belle Terre Pkwy.")
    ingest(app, raw)
    case = case_of(app, mid)
    assert case["service"] == "GENERAL"
    [note] = [e for e in case["events"] if e[0] == "internal_note"]
    assert "looks like a report for Pothole" in note[2] and "How large is the pothole?" in note[2] and not note[1]


def test_email_from_a_known_account_is_linked_to_it_and_answered_in_its_language(app):
    sender = address("account")
    account_id = new_account(app, email=sender, language="fr")
    raw, mid = message(sender=sender, subject="Fallen limb", text="A tree branch is down.")
    ingest(app, raw)
    case = case_of(app, mid)
    assert case["account_id"] == account_id
    assert [m["locale"] for m in case["outbox"]] == ["fr"]


def test_photo_is_kept_and_a_bad_attachment_is_refused_without_losing_the_case(app, mailbox):
    sender = address()
    raw, mid = message(sender=sender, attachments=[("light.jpg", "image/jpeg", jpeg()), ("virus.jpg", "image/jpeg", b"MZ\x90\x00 not a photo"),
                                                   ("notes.docx", "application/octet-stream", b"PK\x03\x04 word")])
    mailbox.append(raw)
    assert poll(app, mailbox).stdout.strip() == SUMMARY.format(1, 0, 0, 0)
    case = case_of(app, mid)
    assert case["files"] == [("light.jpg", "image/jpeg", False)]
    [note] = [e for e in case["events"] if e[0] == "internal_note"]
    assert "virus.jpg from the e-mail was not added" in note[2] and "notes.docx from the e-mail was not added" in note[2]
    assert ("attachment_added", False, "light.jpg", "email") in case["events"]


def test_html_only_email_becomes_safe_plain_text(app):
    html = (
        "<html><head><style>p {color: red}</style><script>alert('x')</script></head><body>"
        "<p>The streetlight at <b>Palm&nbsp;Coast</b> &amp; Belle Terre is out &#8212; since Monday.</p>"
        "<ul><li>pole 42</li></ul><img src='https://tracker.example/pixel.gif'>"
        "<div class='gmail_quote'>On Mon, someone wrote: old text</div></body></html>"
    )
    raw, mid = message(sender=address(), subject="Dark corner", text=None, html=html)
    ingest(app, raw)
    case = case_of(app, mid)
    assert case["service"] == "STREETLIGHT"
    assert case["description"] == "Dark corner\n\nThe streetlight at Palm Coast & Belle Terre is out — since Monday.\n\n- pole 42"
    for unsafe in ("<", "alert", "color: red", "old text", "tracker"):
        assert unsafe not in case["description"]


def test_a_very_long_email_is_cut_with_a_marker_never_refused(app):
    raw, mid = message(sender=address(), subject="Long story", text="The trail is blocked. " * 400)
    assert ingest(app, raw).kind == "case"
    description = case_of(app, mid)["description"]
    assert len(description) <= 4000 and description.endswith("\n[…]")


def test_a_huge_message_is_read_only_up_to_max_bytes(app, mailbox):
    raw, mid = message(sender=address(), subject="Streetlight photos", attachments=[("big.pdf", "application/pdf", b"%PDF-1.4\n" + b"0" * 300_000)])
    mailbox.append(raw)
    assert poll(app, mailbox, max_bytes=64 * 1024).stdout.strip() == SUMMARY.format(1, 0, 0, 0)
    case = case_of(app, mid)
    assert case["service"] == "STREETLIGHT"
    assert any(kind == "internal_note" and "only its beginning was read" in body for kind, _, body, _ in case["events"])


# ---------------------------------------------------------------- replies


def _reported_case(app, sender: str) -> tuple[str, str]:
    """A case reported by e-mail by ``sender``: its Message-ID and number."""
    raw, mid = message(sender=sender, subject="Streetlight out", text="The streetlight is dark.")
    outcome = ingest(app, raw)
    return mid, outcome.reference


REPLY_TEXT = (
    "It is still dark tonight, please call me at jane.backup@example.net.\n\n"
    "On Tue, Mar 3, 2026 at 9:00 AM City of Palm Coast <no-reply@localhost> wrote:\n"
    "> Thank you for your report to City of Palm Coast.\n> Case number: {reference}\n"
)


def test_reporter_replying_with_the_case_number_in_the_subject_adds_their_public_note(app, mailbox):
    sender = address("reporter")
    _, reference = _reported_case(app, sender)
    raw, mid = message(sender=sender.upper(), subject=f"Re: We received your report {reference}", text=REPLY_TEXT.format(reference=reference),
                       attachments=[("tonight.jpg", "image/jpeg", jpeg())])
    mailbox.append(raw)
    assert poll(app, mailbox).stdout.strip() == SUMMARY.format(0, 1, 0, 0)

    assert inbound(app, mid)["outcome"] == "reply"
    case = case_of(app, mid)
    assert case["reference"] == reference
    [note] = [e for e in case["events"] if e[0] == "resident_note"]
    assert note[1] is True  # shown on the public case page, as the resident's words
    assert note[2] == "It is still dark tonight, please call me at […@…]."  # no quoted history, no address
    assert ("attachment_added", False, "tonight.jpg", "email") in case["events"]
    assert [m["kind"] for m in case["outbox"]] == ["case_received"]  # their own words are not mailed back to them


def test_a_stranger_replying_by_in_reply_to_adds_an_internal_note_only(app, mailbox):
    first_mid, reference = _reported_case(app, address("reporter"))
    stranger = address("stranger")
    raw, mid = message(sender=f"Someone Else <{stranger}>", subject="Re: my report", text="I saw it too, it's on Palm Coast Pkwy.",
                       headers={"In-Reply-To": f"<{first_mid}>", "References": f"<{first_mid}>"})
    mailbox.append(raw)
    assert poll(app, mailbox).stdout.strip() == SUMMARY.format(0, 1, 0, 0)
    case = case_of(app, mid)
    assert case["reference"] == reference
    assert not [e for e in case["events"] if e[0] in ("public_note", "resident_note")]
    [note] = [e for e in case["events"] if e[0] == "internal_note"]
    assert note[2].startswith(f"E-mail from an unrecognised sender (Someone Else <{stranger}>), not shown to the public:")
    assert "I saw it too" in note[2]


def test_a_reply_whose_from_the_receiving_server_found_forged_stays_internal(app):
    sender = address("reporter")
    _, reference = _reported_case(app, sender)
    raw, mid = message(sender=sender, subject=f"Re: {reference}", text="Spam spam spam.",
                       headers={"Authentication-Results": "mx.palmcoast.example.gov; spf=fail smtp.mailfrom=example.org; dmarc=fail header.from=example.org"})
    assert ingest(app, raw).reason == "internal"
    case = case_of(app, mid)
    assert not [e for e in case["events"] if e[0] in ("public_note", "resident_note")]


def test_a_follower_replying_to_the_acknowledgement_it_received_threads_by_our_message_id(app, smtp):
    from core.notify import deliver_due

    sender = address("follower")
    first_mid, reference = _reported_case(app, sender)
    with app.app_context():
        deliver_due()
    [ack] = smtp.to(sender)
    assert ack["Auto-Submitted"] == "auto-replied"  # RFC 3834: it answers the resident's e-mail
    assert reference in ack["Subject"]

    raw, mid = message(sender=sender, subject="Re: thanks", text="The pole number is 4711.", headers={"In-Reply-To": ack["Message-ID"]})
    assert ingest(app, raw).kind == "reply"
    case = case_of(app, mid)
    assert case["reference"] == reference
    assert ("resident_note", True, "The pole number is 4711.", "email") in case["events"]


def test_a_reply_to_a_closed_case_is_still_a_note_for_staff_to_decide(app):
    from core.extensions import db
    from core.models import Case
    from core.services.cases import SYSTEM, change_status

    sender = address()
    first_mid, reference = _reported_case(app, sender)
    with app.app_context():
        case = db.session.scalar(sa.select(Case).where(Case.reference == reference))
        change_status(db.session, case, "closed", SYSTEM)
        db.session.remove()
    raw, mid = message(sender=sender, subject=f"Re: {reference}", text="It broke again.")
    assert ingest(app, raw).kind == "reply"
    case = case_of(app, mid)
    assert case["status"] == "closed"
    assert ("resident_note", True, "It broke again.", "email") in case["events"]


def test_a_reply_that_only_quotes_adds_no_note(app):
    sender = address()
    _, reference = _reported_case(app, sender)
    raw, mid = message(sender=sender, subject=f"RE: {reference}", text=f"On Mon, Mar 2, 2026, City <x@localhost> wrote:\n> Case number: {reference}\n")
    assert ingest(app, raw).kind == "reply"
    assert not [e for e in case_of(app, mid)["events"] if e[0] in ("public_note", "resident_note", "internal_note")]


# ---------------------------------------------------------------- once only, crash safety


def test_the_same_message_twice_makes_one_case(app, mailbox):
    raw, mid = message(sender=address())
    mailbox.append(raw)
    mailbox.append(raw)
    assert poll(app, mailbox).stdout.strip() == SUMMARY.format(1, 0, 1, 0)
    assert ingest(app, raw).kind == "duplicate"
    case = case_of(app, mid)
    assert len(case["outbox"]) == 1


def test_a_crash_between_the_commit_and_the_mark_still_makes_one_case(app, mailbox):
    raw, mid = message(sender=address())
    mailbox.append(raw)
    # The first run took the message in and committed, then "crashed" before marking it: it is still unseen.
    assert ingest(app, raw).kind == "case"
    assert len(mailbox.uids(unseen=True)) == 1

    assert poll(app, mailbox).stdout.strip() == SUMMARY.format(0, 0, 1, 0)  # found, recognised, just marked
    assert mailbox.uids(unseen=True) == []
    assert len(case_of(app, mid)["outbox"]) == 1


def test_a_message_without_message_id_is_known_by_its_bytes(app):
    raw, mid = message(sender=address(), message_id="")
    assert mid == "" and b"Message-ID" not in raw
    first = ingest(app, raw)
    assert first.kind == "case"
    assert (ingest(app, raw).kind, ingest(app, raw).reference) == ("duplicate", first.reference)


def test_a_message_that_cannot_be_taken_in_stays_unseen_for_the_next_poll(app, mailbox):
    raw, mid = message(sender=address())
    mailbox.append(raw)
    failed = poll(app, mailbox, triage_service="NO_SUCH_SERVICE")
    assert failed.exit_code == 1 and failed.stdout.strip() == SUMMARY.format(0, 0, 0, 1)
    assert inbound(app, mid) is None and len(mailbox.uids(unseen=True)) == 1

    assert poll(app, mailbox).stdout.strip() == SUMMARY.format(1, 0, 0, 0)  # the settings fixed, the next poll takes it
    assert mailbox.uids(unseen=True) == []


def test_processed_messages_are_moved_to_the_processed_folder(app, mailbox):
    raw, mid = message(sender=address())
    mailbox.append(raw)
    assert poll(app, mailbox, processed_folder="Processed").exit_code == 0
    assert mailbox.uids() == [] and len(mailbox.uids("Processed")) == 1
    assert inbound(app, mid)["outcome"] == "case"


# ---------------------------------------------------------------- machines are not residents

AUTOMATIC = {
    "auto-reply": ({"Auto-Submitted": "auto-replied"}, "auto-reply"),
    "x-autoreply": ({"X-Autoreply": "yes"}, "auto-reply"),
    "x-autorespond": ({"X-Autorespond": "vacation"}, "auto-reply"),
    "precedence-bulk": ({"Precedence": "bulk"}, "bulk"),
    "mailing-list": ({"List-Id": "<neighbours.lists.example.org>", "List-Unsubscribe": "<mailto:leave@lists.example.org>"}, "list"),
    "precedence-list": ({"Precedence": "list", "List-Unsubscribe": "<https://lists.example.org/leave>"}, "list"),
    "empty-return-path": ({"Return-Path": "<>"}, "bounce"),
    "x-loop": ({"X-Loop": "311@palmcoast.example.gov"}, "loop"),
}


@pytest.mark.parametrize("kind", AUTOMATIC, ids=AUTOMATIC)
def test_automatic_mail_is_ignored_and_never_answered(app, kind):
    headers, reason = AUTOMATIC[kind]
    sender = address("robot")
    raw, mid = message(sender=sender, subject="Out of office: streetlight", headers=headers)
    outcome = ingest(app, raw)
    assert (outcome.kind, outcome.reason) == ("ignored", reason)
    assert inbound(app, mid) == {"outcome": "ignored", "reason": reason, "case_id": None, "reference": None, "key": outcome.key}
    assert outbox_to(app, sender) == []


DELIVERY_REPORT = b"""From: Mail Delivery System <postmaster@mx.example.org>
To: 311@palmcoast.example.gov
Subject: Undelivered Mail Returned to Sender
Message-ID: <%s@mx.example.org>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b1"

--b1
Content-Type: text/plain

Your message about the streetlight could not be delivered.
--b1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org
--b1--
"""


def test_bounces_and_our_own_mail_coming_back_are_ignored(app, mailbox):
    report_mid = f"report.{tag()}"
    report = DELIVERY_REPORT % report_mid.encode()
    daemon, daemon_mid = message(sender="MAILER-DAEMON@mx.example.org", subject="Undelivered Mail Returned to Sender")
    own, own_mid = message(sender=f"Palm Coast 311 <{CITY_ADDRESS.upper()}>")
    echo, echo_mid = message(sender=address("forwarder"), message_id=f"<1767225600.123.{tag()}.outbox42@localhost>")
    for raw in (report, daemon, own, echo):
        mailbox.append(raw)
    assert poll(app, mailbox).stdout.strip() == SUMMARY.format(0, 0, 4, 0)
    assert [inbound(app, m)["reason"] for m in (f"{report_mid}@mx.example.org", daemon_mid, own_mid, echo_mid)] == ["bounce", "bounce", "loop", "loop"]
    for robot in ("postmaster@mx.example.org", "mailer-daemon@mx.example.org", CITY_ADDRESS):
        assert outbox_to(app, robot) == []


def test_a_vacation_subject_alone_does_not_make_a_resident_a_robot(app):
    raw, mid = message(sender=address(), subject="Out of office? No: the streetlight is out")
    assert ingest(app, raw).kind == "case"


# ---------------------------------------------------------------- the MTA pipe: civic intake email


def test_civic_intake_email_takes_a_file_and_standard_input(app, database_url, tmp_path):
    raw, mid = message(sender=address(), subject="Streetlight out")
    path = tmp_path / "message.eml"
    path.write_bytes(raw)
    data_dir = os.environ["CIVIC_DATA_DIR"]
    result = run_civic("intake", "email", str(path), config=DEMO_CONFIG, data_dir=data_dir, database_url=database_url, site=False)
    assert result.returncode == 0, result.stderr
    reference = case_of(app, mid)["reference"]
    assert result.stdout.strip() == f"new case {reference}"

    again = run_cli(app, "intake", "email", input=raw)  # the same message on standard input
    assert again.exit_code == 0 and again.stdout.strip() == "already taken in before: nothing to do"

    reply, reply_mid = message(sender=address("someone"), subject=f"Re: {reference}", text="Thanks")
    piped = run_cli(app, "intake", "email", "-", input=reply)
    assert piped.exit_code == 0 and piped.stdout.strip() == f"note added to case {reference}"

    robot, _ = message(sender=address(), headers={"Auto-Submitted": "auto-replied"})
    assert run_cli(app, "intake", "email", input=robot).stdout.strip() == "ignored (auto-reply)"


def test_civic_intake_email_asks_the_mta_to_retry_when_it_cannot_take_the_message_now(app, tmp_path):
    raw, _ = message(sender=address())
    unreachable = "postgresql+psycopg://civic@127.0.0.1:9/nowhere?connect_timeout=2"
    env = civic_env(DEMO_CONFIG, unreachable, tmp_path, site=False)
    result = subprocess.run([sys.executable, "-m", "core.cli", "intake", "email"], input=raw, env=env, capture_output=True, timeout=120)
    assert result.returncode == 75, result.stderr
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("CIVIC_DATABASE_URL: cannot use postgresql+psycopg://civic@127.0.0.1:9/nowhere")

    empty = run_civic("intake", "email", input=b"", config=DEMO_CONFIG, database_url=unreachable, data_dir=tmp_path, site=False)
    assert empty.returncode == 65 and empty.stderr.strip() == "no message: the input is empty"

    missing_triage = run_cli(app, "intake", "email", input=raw, table={"triage_service": "NOPE"})
    assert missing_triage.exit_code == 75
    assert missing_triage.stderr.strip() == "intake.email.triage_service: no active service 'NOPE' in the catalog"


# ---------------------------------------------------------------- settings and the mailbox


def test_poll_email_without_a_mailbox_says_so_in_one_line(app):
    result = run_cli(app, "intake", "poll-email")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == ["intake.email.host: no mailbox is configured: set host, username and password_env in [intake.email]"]


def test_poll_email_names_the_unset_password_variable(app, imap_server):
    result = run_cli(app, "intake", "poll-email", table=settings_table(imap_server), env={PASSWORD_ENV: None})
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [f"intake.email.password_env: the environment variable {PASSWORD_ENV} is not set"]


def test_poll_email_reports_a_refused_login_and_an_unreachable_server_in_one_line(app, imap_server):
    table = settings_table(imap_server)
    wrong = run_cli(app, "intake", "poll-email", table=table, env={PASSWORD_ENV: "not-the-password"})
    assert wrong.exit_code == 1
    [line] = wrong.stderr.splitlines()
    assert line.startswith(f"cannot sign in to the mailbox 127.0.0.1:{imap_server.ssl_port} as city311:")

    from tests.smtp import free_port

    closed = run_cli(app, "intake", "poll-email", table={**table, "port": free_port()}, env={PASSWORD_ENV: imap_server.password})
    assert closed.exit_code == 1
    [line] = closed.stderr.splitlines()
    assert line.startswith("cannot connect to the mailbox 127.0.0.1:")

    untrusted = run_cli(app, "intake", "poll-email", table={k: v for k, v in table.items() if k != "ca_file"}, env={PASSWORD_ENV: imap_server.password})
    assert untrusted.exit_code == 1
    [line] = untrusted.stderr.splitlines()
    assert "certificate verify failed" in line


def test_poll_email_speaks_the_admins_language(app, mailbox):
    raw, _ = message(sender=address(), headers={"Precedence": "junk"})
    mailbox.append(raw)
    result = run_cli(app, "intake", "poll-email", table=settings_table(mailbox), env={PASSWORD_ENV: mailbox.password, "CIVIC_LOCALE": "fr_CA.UTF-8"})
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "Courriel INBOX\u00a0: nouveaux dossiers 0, notes 0, ignorés 1, échecs 0"


BAD_SETTINGS = {
    "unknown-key": ('password = "hunter2"', "intake.email.password", "unknown key"),
    "bad-security": ('host = "imap.example.org"\nusername = "u"\npassword_env = "P"\nsecurity = "tls"', "intake.email.security", "must be one of ssl, starttls, none"),
    "password-in-env-name": ('host = "imap.example.org"\nusername = "u"\npassword_env = "s3cret pass!"', "intake.email.password_env", "must be the NAME of an environment variable"),
    "missing-username": ('host = "imap.example.org"\npassword_env = "P"', "intake.email.username", "is required when host is set"),
    "bad-port": ("port = 0", "intake.email.port", "must be a whole number from 1 to 65535"),
    "unknown-triage-service": ('triage_service = "NOPE"', "intake.email.triage_service", "unknown service 'NOPE'"),
}


@pytest.mark.parametrize("case", BAD_SETTINGS.values(), ids=BAD_SETTINGS)
def test_config_check_names_each_bad_email_setting_in_one_line(case, tmp_path):
    from tests.fixtures import city_config

    table, key, message_text = case
    config = city_config(tmp_path, ["i18n", "intake"], append=f"\n[intake.email]\n{table}\n")
    result = run_civic("config", "check", config=config, data_dir=tmp_path, site=False)
    assert result.returncode == 2, result.stdout + result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith(f"{config}: {key}: ") and message_text in line, line


def test_the_demo_city_documents_an_email_table_and_checks_clean(tmp_path):
    text = DEMO_CONFIG.read_text()
    assert "# [intake.email]" in text and "EMAIL_SETTINGS" not in text
    result = run_civic("config", "check", config=DEMO_CONFIG, data_dir=tmp_path, site=False)
    assert result.returncode == 0, result.stderr
