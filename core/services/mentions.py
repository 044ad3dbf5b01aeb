"""Mentions in internal comments: ``@UTIL`` names a department, ``@jdoe`` a staff member.

Rules:

- Only internal notes (case and task notes, ``CaseEvent.public`` false) are read; a public note
  never mentions anyone (the resident reads it).  ``add_note`` calls ``record_mentions``.
- ``@`` then a department code (case-insensitive) or a staff username (case-insensitive); a code
  wins over a username spelt the same.  Department names are not matched ("@Public Works" is
  text).  An unknown name, an inactive one, a resident's username, and the ``@`` inside an e-mail
  address (``jdoe@city.gov``) stay plain text: never an error.  At most ``MAX_MENTIONS`` per note.
- Each name becomes a ``Mention`` row: the person's, or the department's (one row, read once by
  any of its members).  Authors do not mention themselves.
- Each mention sends one e-mail through the outbox, in the recipient's language
  (``core.mail.staff_locale``): to the person; for a department, to its own address when it has one
  (a shared inbox, in the city's default language), else to each active member but the author.
  An address gets one e-mail per note.  The e-mail carries the case reference, the service, the
  author, the comment (staff text) and a link to the case: no resident contact details.
- A mention grants nothing: opening the case follows the usual department scope.  To bring a
  department in, give it a task on the case; the "For me" list shows the mention either way, and
  says when its case cannot be opened.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from flask import current_app
from flask_babel import gettext
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.i18n_content import localized
from core.models import CaseEvent, Department, Mention, Task, User
from core.notify import enqueue

MENTION = re.compile(r"(?<![\w@])@([A-Za-z0-9][A-Za-z0-9_.-]{0,63})")
MAX_MENTIONS = 20
NOT_STAFF_ROLES = frozenset({"Resident", "Public"})


@dataclass
class Named:
    """Who a text names: active departments and active staff users, in the order written."""

    departments: list[Department] = field(default_factory=list)
    users: list[User] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.departments or self.users)


def mentioned_names(text: str) -> list[str]:
    """The names after each ``@`` (lower case, without a trailing "." or "-"), first occurrence first."""
    names: list[str] = []
    for match in MENTION.finditer(text or ""):
        name = match.group(1).rstrip(".-").lower()
        if name and name not in names:
            names.append(name)
    return names[:MAX_MENTIONS]


def is_staff(user: User) -> bool:
    return any(role.name not in NOT_STAFF_ROLES for role in user.roles)


def find_named(session: Session, text: str) -> Named:
    """The departments and staff users a text mentions (two queries at most)."""
    names = mentioned_names(text)
    if not names:
        return Named()
    departments = session.scalars(
        select(Department).where(func.lower(Department.code).in_(names), Department.active.is_(True))
    ).all()
    codes = {d.code.lower() for d in departments}
    rest = [n for n in names if n not in codes]
    users = []
    if rest:
        users = [u for u in session.scalars(select(User).where(func.lower(User.username).in_(rest), User.active.is_(True))) if is_staff(u)]
    order = {name: i for i, name in enumerate(names)}
    return Named(
        departments=sorted(departments, key=lambda d: order[d.code.lower()]),
        users=sorted(users, key=lambda u: order[u.username.lower()]),
    )


def record_mentions(session: Session, event: CaseEvent, author_id: int | None) -> list[Mention]:
    """The mentions of an internal note: a row each and their e-mails, in the caller's transaction."""
    if event.public:
        return []
    named = find_named(session, event.body)
    named.users = [u for u in named.users if u.id != author_id]
    if not named:
        return []
    session.flush()  # the event's id
    rows = [Mention(case_id=event.case.id, event_id=event.id, department_id=d.id, created_at=event.created_at) for d in named.departments]
    rows += [Mention(case_id=event.case.id, event_id=event.id, user_id=u.id, created_at=event.created_at) for u in named.users]
    session.add_all(rows)
    _send_mails(session, event, named, author_id)
    return rows


# ---------------------------------------------------------------- e-mails

def _send_mails(session: Session, event: CaseEvent, named: Named, author_id: int | None) -> None:
    from core.mail import render_mail, staff_link, staff_locale

    case = event.case
    task = session.get(Task, event.task_id) if event.task_id else None
    link = staff_link("CaseView.show", pk=case.id)
    default = current_app.extensions["civic"].config.city["default_locale"]
    sent: set[str] = set()

    def send(address: str | None, locale: str, department: Department | None) -> None:
        if not address or address.lower() in sent:
            return
        sent.add(address.lower())
        context = dict(
            reference=case.reference, service=localized(case.service_type, "name", locale), author=event.actor_label,
            comment=event.body, task=task.title if task is not None else None, link=link,
            department=localized(department, "name", locale) if department is not None else None,
        )
        if department is None:
            subject = lambda: gettext("%(author)s mentioned you on case %(reference)s", author=event.actor_label, reference=case.reference)  # noqa: E731
        else:
            subject = lambda: gettext(  # noqa: E731
                "%(author)s mentioned %(department)s on case %(reference)s",
                author=event.actor_label, department=department.code, reference=case.reference,
            )
        mail = render_mail("mention", locale, subject, **context)
        enqueue(session, recipient=address, subject=mail.subject, body_text=mail.text, body_html=mail.html,
                locale=locale, kind="mention", related=f"case:{case.id}")

    for user in named.users:  # personal mentions first: someone named and in a named department gets the personal one
        send(user.email, staff_locale(user.id), None)
    for department in named.departments:
        if department.email:
            send(department.email, default, department)
            continue
        for member in sorted(department.staff, key=lambda u: u.id):
            if member.active and member.id != author_id:
                send(member.email, staff_locale(member.id), department)


def mention_labels(session: Session, event: CaseEvent) -> list[str]:
    """``["@UTIL", "@util_staff"]``: who a note mentioned, as written back to its author."""
    rows = session.execute(
        select(Department.code, User.username)
        .select_from(Mention)
        .outerjoin(Department, Department.id == Mention.department_id)
        .outerjoin(User, User.id == Mention.user_id)
        .where(Mention.event_id == event.id)
        .order_by(Mention.id)
    ).all()
    return [f"@{code or username}" for code, username in rows]
