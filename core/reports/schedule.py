"""Reports by e-mail: each subscription is due once a day (or once a week) at the city's send hour.

``civic reports send`` (run it from cron every hour, or once a morning) finds the subscriptions whose last
sending (or creation) is before the latest send moment, runs each report *as the subscriber* (their
permissions, their language), and queues one e-mail per subscription in the outbox; the notification
worker delivers it.  Each subscription is committed on its own, so a crash halfway sends nobody twice.
A subscriber who may no longer see the report (sharing removed, account disabled) is skipped.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

from flask import current_app
from flask_babel import force_locale, gettext
from sqlalchemy import and_, func, or_, select

from core.formats import city_timezone, format_date
from core.mail import render_mail, staff_link, staff_locale
from core.models import Report, ReportSubscription
from core.models.base import utcnow
from core.notify import enqueue
from core.reports.engine import ReportDenied, run
from core.reports.formatting import format_value
from core.reports.spec import SpecError, parse
from core.reports.subjects import registry

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CHUNK = 50


@dataclass
class SendReport:
    sent: list[str] = field(default_factory=list)  # "report name -> user"
    skipped: list[str] = field(default_factory=list)  # with the reason


def settings() -> tuple[int, int]:
    """(send hour, weekday of the weekly sending) from ``[reports]``."""
    section = getattr(current_app.extensions["civic"].config, "reports", None) or {}
    return int(section.get("send_hour", 7)), WEEKDAYS.index(section.get("weekly_day", "mon"))


def latest_moments(now: datetime, hour: int, weekday: int) -> tuple[datetime, datetime]:
    """The latest daily and weekly send moments at or before ``now`` (all naive UTC)."""
    tz = city_timezone()
    local = now.replace(tzinfo=timezone.utc).astimezone(tz)

    def moment(day: date) -> datetime:
        return datetime.combine(day, time(hour), tzinfo=tz).astimezone(timezone.utc).replace(tzinfo=None)

    day = local.date()
    daily = moment(day) if moment(day) <= now else moment(day - timedelta(days=1))
    back = (day.weekday() - weekday) % 7
    weekly = moment(day - timedelta(days=back))
    if weekly > now:
        weekly = moment(day - timedelta(days=back + 7))
    return daily, weekly


def due(session, now: datetime) -> list[int]:
    hour, weekday = settings()
    daily, weekly = latest_moments(now, hour, weekday)
    since = func.coalesce(ReportSubscription.last_sent_at, ReportSubscription.created_at)
    return list(session.scalars(
        select(ReportSubscription.id).where(or_(
            and_(ReportSubscription.frequency == "daily", since < daily),
            and_(ReportSubscription.frequency == "weekly", since < weekly),
        )).order_by(ReportSubscription.id)
    ))


def send_due(session, now: datetime | None = None) -> SendReport:
    from core.reports.views import can_view

    now = now or utcnow()
    out = SendReport()
    for sub_id in due(session, now):
        sub = session.get(ReportSubscription, sub_id)
        user, report = sub.user, sub.report
        who = f"{report.name} -> {user.username}"
        reason = None
        if not user.active or not user.email:
            reason = "no active account with an e-mail address"
        elif not can_view(report, user):
            reason = "the report is no longer shared with this user"
        if reason is None:
            try:
                _queue(session, report, user)
            except (SpecError, ReportDenied, KeyError) as exc:
                reason = f"cannot run: {exc or type(exc).__name__}"
        sub.last_sent_at = now
        session.commit()
        (out.skipped if reason else out.sent).append(f"{who}: {reason}" if reason else who)
    return out


def _queue(session, report: Report, user) -> None:
    locale = staff_locale(user.id)
    with force_locale(locale):
        spec = parse(report.spec, registry())
        result = run(session, spec, user)
        from core.reports.views import describe

        lines = describe(result)
        rows = [(r.label, [format_value(m.kind, v) for m, v in zip(result.measures, r.values)]) for r in result.rows]
        totals = [format_value(m.kind, v) for m, v in zip(result.measures, result.totals)]
        today = format_date(datetime.now(timezone.utc))
    mail = render_mail(
        "report", locale, lambda: gettext("Report: %(name)s, %(day)s", name=report.name, day=today),
        report_name=report.name, lines=lines, headers=[str(m.label) for m in result.measures], group=result.group_label,
        rows=rows, totals=totals, truncated=result.truncated, link=staff_link("ReportView.show", pk=report.id),
    )
    enqueue(session, recipient=user.email, subject=mail.subject, body_text=mail.text, body_html=mail.html,
            locale=locale, kind="report", related=f"report:{report.id}")
