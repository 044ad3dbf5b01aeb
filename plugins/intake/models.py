"""The intake plugin's tables (prefix ``intake_``): followers, satisfaction, utility accounts,
notices and the counters behind its rate limits."""
from __future__ import annotations

from flask_appbuilder import Model
from sqlalchemy import JSON, BigInteger, Boolean, Column, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import relationship

from core.models.base import BigId, utcnow


class Follower(Model):
    """Someone who receives a case's updates by e-mail: its reporter, a "me too", or anyone who followed it."""

    __tablename__ = "intake_follower"
    id = Column(BigId, primary_key=True)
    case_id = Column(BigId, ForeignKey("case.id", ondelete="CASCADE"), nullable=False)
    case = relationship("Case")
    email = Column(String(254), nullable=False)
    account_id = Column(Integer, ForeignKey("account.id", ondelete="SET NULL"), index=True)
    locale = Column(String(10), nullable=False, default="en")
    reason = Column(String(20), nullable=False, default="follow")  # reporter | me_too | follow | duplicate (a merged duplicate's reporter)
    created_at = Column(DateTime, nullable=False, default=utcnow)

    __table_args__ = (UniqueConstraint("case_id", "email", name="uq_intake_follower_case_email"), Index("ix_intake_follower_email", "email"))


class Satisfaction(Model):
    """The reporter's answer to "Was this resolved?" after a case is closed."""

    __tablename__ = "intake_satisfaction"
    id = Column(BigId, primary_key=True)
    case_id = Column(BigId, ForeignKey("case.id", ondelete="CASCADE"), nullable=False, index=True)
    case = relationship("Case")
    resolved = Column(Boolean, nullable=False)
    rating = Column(Integer)  # 1..5
    comment = Column(Text, nullable=False, default="")
    created_at = Column(DateTime, nullable=False, default=utcnow)  # when the (latest) answer was given
    # Who answered: a keyed hash of the e-mail the survey link went to (one answer per case and e-mail;
    # a second answer updates the first).  No address in clear: see plugins/intake/satisfaction.py.
    respondent = Column(String(64))

    __table_args__ = (
        Index("uq_intake_satisfaction_case_respondent", "case_id", "respondent", unique=True),
        Index("ix_intake_satisfaction_created", "created_at"),
    )


def address_key(address: str | None) -> str:
    """How addresses are matched (``UtilityAccount.address_key``): upper case, single spaces."""
    return " ".join((address or "").upper().split())


class UtilityAccount(Model):
    """One row of the city's utility billing export (`civic intake import-utility-accounts FILE`).

    Its service addresses double as the city's address list for the report form; the holder's
    last name is kept only to check a resident's link request and is never shown."""

    __tablename__ = "intake_utility_account"
    id = Column(Integer, primary_key=True)
    account_number = Column(String(40), nullable=False, unique=True)
    service_address = Column(String(300), nullable=False)
    address_key = Column(String(300), nullable=False, index=True)  # upper-case, single-spaced, for matching
    lat = Column(Float)
    long = Column(Float)
    holder_last_name = Column(String(120), nullable=False)  # normalised: upper-case, no accents
    zipcode = Column(String(10), nullable=False)
    zone = Column(String(50))
    imported_at = Column(DateTime, nullable=False, default=utcnow)


class Notice(Model):
    """A city notice: shown on the portal (optionally for one zone) and sent to subscribers of its topic."""

    __tablename__ = "intake_notice"
    id = Column(Integer, primary_key=True)
    title = Column(String(200), nullable=False)
    body = Column(Text, nullable=False, default="")
    translations = Column(JSON, nullable=False, default=dict)  # {"fr": {"title": ..., "body": ...}}
    topic = Column(String(40), nullable=False, default="general")
    zone = Column(String(50))  # None: the whole city
    published_at = Column(DateTime, nullable=False, default=utcnow)
    expires_at = Column(DateTime)
    created_by_id = Column(Integer, ForeignKey("ab_user.id"))

    __table_args__ = (Index("ix_intake_notice_published", "published_at"),)

    def __repr__(self) -> str:
        return self.title


class NoticeSend(Model):
    """One sending of a notice to its subscribers: who sent it, when, to how many."""

    __tablename__ = "intake_notice_send"
    id = Column(Integer, primary_key=True)
    notice_id = Column(Integer, ForeignKey("intake_notice.id", ondelete="CASCADE"), nullable=False, index=True)
    notice = relationship("Notice", backref="sends")
    sent_by_id = Column(Integer, ForeignKey("ab_user.id"))
    sent_at = Column(DateTime, nullable=False, default=utcnow)
    recipients = Column(Integer, nullable=False, default=0)


class RateEvent(Model):
    """One counted action (a report, a link attempt, a sign-in) for the sliding-window rate limits."""

    __tablename__ = "intake_rate_event"
    id = Column(BigId, primary_key=True)
    bucket = Column(String(30), nullable=False)  # report | link | signin | signup | follow
    key = Column(String(128), nullable=False)  # a hash of the client address, or of the account
    created_at = Column(DateTime, nullable=False, default=utcnow)

    __table_args__ = (Index("ix_intake_rate_event_lookup", "bucket", "key", "created_at"),)


class RateCounter(Model):
    """Requests of one key in one window-long slot (``slot`` = seconds since the epoch // window): the API keys'
    limits, counted with one upsert per request whatever the rate (``RateEvent`` rows would be counted one by one)."""

    __tablename__ = "intake_rate_counter"
    bucket = Column(String(30), primary_key=True)
    key = Column(String(128), primary_key=True)
    slot = Column(BigInteger, primary_key=True)
    count = Column(Integer, nullable=False, default=0)


class Escalation(Model):
    """A case that ``civic intake escalate`` reported overdue to its department (once: a cron run twice notifies once)."""

    __tablename__ = "intake_escalation"
    id = Column(BigId, primary_key=True)
    case_id = Column(BigId, ForeignKey("case.id", ondelete="CASCADE"), nullable=False)
    case = relationship("Case")
    escalated_at = Column(DateTime, nullable=False, default=utcnow)

    __table_args__ = (UniqueConstraint("case_id", name="uq_intake_escalation_case"),)


class ApiKey(Model):
    """An Open311 API key (``civic open311 create-key NAME`` or Residents › API keys).  The key itself is
    shown once; only its SHA-256 is stored, with an 8-character prefix to tell keys apart on screens."""

    __tablename__ = "intake_api_key"
    id = Column(Integer, primary_key=True)
    name = Column(String(100), nullable=False, unique=True)  # who uses it: "FixMyStreet", "SeeClickFix"
    prefix = Column(String(8), nullable=False)
    key_hash = Column(String(64), nullable=False, unique=True)
    rate_limit = Column(Integer)  # requests per minute; None: the [intake] open311_rate_limit default
    created_at = Column(DateTime, nullable=False, default=utcnow)
    created_by_id = Column(Integer, ForeignKey("ab_user.id"))
    revoked_at = Column(DateTime)
    last_used_at = Column(DateTime)

    def __repr__(self) -> str:
        return self.name


class BatchSubmission(Model):
    """An Open311 POST for a ``batch`` service: accepted and answered with a token, turned into a case
    later (``tokens/{token}`` then gives its service_request_id)."""

    __tablename__ = "intake_batch_submission"
    id = Column(BigId, primary_key=True)
    token = Column(String(40), nullable=False, unique=True)
    api_key_id = Column(Integer, ForeignKey("intake_api_key.id", ondelete="SET NULL"))
    payload = Column(JSON, nullable=False, default=dict)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    processed_at = Column(DateTime)
    case_id = Column(BigId, ForeignKey("case.id", ondelete="SET NULL"))
    case = relationship("Case")
    error = Column(Text, nullable=False, default="")

    __table_args__ = (Index("ix_intake_batch_submission_pending", "processed_at", "id"),)


class InboundEmail(Model):
    """Every message the e-mail channel took in, keyed by its Message-ID (the same message twice makes one
    case): what became of it (a new case, a note on a case, or ignored and why)."""

    __tablename__ = "intake_inbound_email"
    id = Column(BigId, primary_key=True)
    message_key = Column(String(64), nullable=False, unique=True)  # SHA-256 of the normalised Message-ID
    message_id = Column(String(500), nullable=False, default="")
    outcome = Column(String(20), nullable=False)  # case | reply | ignored
    reason = Column(String(200), nullable=False, default="")  # why ignored: auto-reply, bounce, loop...
    case_id = Column(BigId, ForeignKey("case.id", ondelete="SET NULL"), index=True)
    case = relationship("Case")
    received_at = Column(DateTime, nullable=False, default=utcnow)


class Call(Model):
    """A phone call taken at the agent's desk: who called, who answered, and what came of it -- a case,
    or information only with a wrap-up reason (most calls are not cases)."""

    __tablename__ = "intake_call"
    id = Column(BigId, primary_key=True)
    started_at = Column(DateTime, nullable=False, default=utcnow)
    ended_at = Column(DateTime)
    agent_id = Column(Integer, ForeignKey("ab_user.id"), index=True)
    agent = relationship("User")
    account_id = Column(Integer, ForeignKey("account.id", ondelete="SET NULL"), index=True)
    account = relationship("Account")
    utility_account_id = Column(Integer, ForeignKey("intake_utility_account.id", ondelete="SET NULL"))
    caller_name = Column(String(200), nullable=False, default="")
    caller_phone = Column(String(40), nullable=False, default="")
    caller_email = Column(String(254), nullable=False, default="")
    address = Column(String(300), nullable=False, default="")
    outcome = Column(String(20), nullable=False)  # case | information
    wrap_up = Column(String(40), nullable=False, default="")  # a code from [intake] call_wrap_up_reasons
    notes = Column(Text, nullable=False, default="")
    case_id = Column(BigId, ForeignKey("case.id", ondelete="SET NULL"), index=True)
    case = relationship("Case")

    __table_args__ = (Index("ix_intake_call_started", "started_at"),)


# Created and revoked keys go to the admin audit log (never the key nor its hash).
from core.audit import audit_model  # noqa: E402

audit_model(ApiKey, "api key", label=lambda k: k.name, skip=("key_hash", "prefix"))
