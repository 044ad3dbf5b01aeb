"""Calls › New call: the agent finds the caller, sees their cases and the open cases near their address,
then ends the call one of three ways -- a new phone case, information only (a wrap-up reason), or
"about an existing case".  Each ends as one ``Call`` row; a phone case and its Call are one commit.

Personal data never travels in a URL: the search box posts, links name callers by id only.
"""
from __future__ import annotations

import re
from itertools import groupby

from flask import abort, current_app, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import force_locale, gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from core.extensions import db
from core.forms import apply_case_errors, attribute_values
from core.i18n_content import current_locale, default_locale, localized
from core.models import Case, ServiceType
from core.models.base import utcnow
from core.security import can_see_case
from core.services import cases as case_service
from core.services.cases import Actor, CaseError
from core.views.cases import channel_label, status_label
from plugins.intake.models import Call, address_key
from plugins.intake.phone import reasons, search
from plugins.intake.phone.forms import (
    STARTED_FORMAT,
    CallForm,
    ExistingCaseForm,
    InformationForm,
    PhoneCaseForm,
    SearchForm,
    phone_case_form_class,
)
from plugins.intake.reporting import match_address

SERVICE_CODE = re.compile(r"[A-Za-z0-9_.\-]+")
# Why a caller matched the search, as the results table says it.
MATCHED_ON = {
    "phone": _l("phone"), "email": _l("e-mail"), "account_number": _l("utility account"),
    "name": _l("name"), "address": _l("address"), "earlier_case": _l("an earlier case"),
}


# ---------------------------------------------------------------- helpers

def active_services() -> list[ServiceType]:
    return list(db.session.scalars(select(ServiceType).where(ServiceType.active.is_(True))))


def service_choices(services: list[ServiceType]) -> list[tuple[str, str]]:
    """("", "—") then every active service as "Group › Name", sorted in the request's language."""
    rows = sorted(services, key=lambda s: (s.localized_group.lower(), s.localized_name.lower()))
    choices = [("", "—")]
    for group, items in groupby(rows, key=lambda s: s.localized_group):
        choices.extend((s.code, f"{group} › {s.localized_name}" if group else s.localized_name) for s in items)
    return choices


def active_service(code: str | None) -> ServiceType | None:
    if not code or len(code) > 100 or not SERVICE_CODE.fullmatch(code):
        return None
    return db.session.scalar(select(ServiceType).where(ServiceType.code == code, ServiceType.active.is_(True)))


def call_suggestions(service: ServiceType | None) -> list:
    """Help articles for the chosen service (``suggest_articles``: staff see internal ones too); none without a plugin."""
    if service is None:
        return []
    return current_app.extensions["civic"].pm.flatten(
        "suggest_articles", service_code=service.code, text="", tags=[], locale=current_locale(), audience="all"
    )


def nearby_radius() -> float:
    return float(current_app.extensions["civic"].plugin_config["intake"].get("nearby_radius") or 200)


def started_text(form: CallForm | None = None) -> str:
    """The hidden "call started" value: carried over from the form, else now."""
    return (form.started_at() if form is not None else utcnow()).strftime(STARTED_FORMAT)


def field_errors(form) -> list[str]:
    """"Label: message" for every field in error (flashed above the form, so the field is named twice)."""
    return [gettext("%(field)s: %(message)s", field=form[name].label.text or name, message=message)
            for name, messages in form.errors.items() if name in form for message in messages]


def location_of(address: str | None, caller: search.Caller | None) -> dict:
    """Where the case is: a known address of the city's list gives its point; the caller's own address their
    utility account's point; any other address is kept as typed, without a point."""
    address = (address or "").strip()
    if not address:
        return {"address": None}
    known = match_address(db.session, address)
    if known is not None:
        return {"address": known.address, "lat": known.lat, "long": known.long, "zipcode": known.zipcode, "zone": known.zone}
    if caller is not None and caller.has_location and address_key(address) == address_key(caller.address):
        return {"address": caller.address, "lat": caller.lat, "long": caller.long, "zipcode": caller.zipcode, "zone": caller.zone}
    return {"address": address}


def caller_of(form: CallForm) -> tuple[search.Caller | None, bool]:
    """The caller the form's hidden fields name, and whether it was found (no caller named is fine too)."""
    key = form.caller_key()
    if not any(key.values()):
        return None, True
    caller = search.resolve(db.session, **key)
    return caller, caller is not None


def valid(form: CallForm, caller_found: bool) -> bool:
    """Validate the form; a caller that was not found is an error on it too."""
    ok = form.validate()
    if not caller_found:
        form.account.errors = list(form.account.errors or []) + [gettext("the caller was not found: search again")]
    return ok and caller_found


def _call(form: CallForm, caller: search.Caller | None, outcome: str, **values) -> Call:
    now = utcnow()
    call = Call(
        started_at=form.started_at(now), ended_at=now, agent_id=current_user.id, outcome=outcome,
        account_id=caller.account.id if caller is not None and caller.account is not None else None,
        utility_account_id=caller.utility.id if caller is not None and caller.utility is not None else None,
        address=(caller.address if caller is not None else "")[:300],
    )
    for name, value in values.items():
        setattr(call, name, value)
    return call


def _caller_fields(form, caller: search.Caller | None) -> dict[str, str]:
    """The caller's name and phone as typed on the form, else as the city knows them."""
    known = caller or search.Caller()
    return {
        "caller_name": ((form.caller_name.data or "").strip() or known.name)[:200],
        "caller_phone": ((form.caller_phone.data or "").strip() or known.phone)[:40],
        "caller_email": known.email[:254],
    }


# ---------------------------------------------------------------- the view

class CallDeskView(BaseView):
    """Calls › New call (dispatchers and admins: department staff do not take calls)."""

    route_base = "/calls"
    default_view = "desk"
    base_permissions = ["can_take"]
    method_permission_name = {"desk": "take", "new_case": "take", "information": "take", "existing": "take", "done": "take"}

    # ---- building the page

    def _fresh_forms(self, caller: search.Caller | None, started: str, service: ServiceType | None) -> dict:
        key = {k: str(v) for k, v in (caller.key if caller is not None else {}).items()}
        hidden = {"started": started, **key}
        name, phone, email = (caller.name, caller.phone, caller.email) if caller is not None else ("", "", "")
        case_form = phone_case_form_class(service.attributes if service else None)(formdata=None, data={
            **hidden, "service": service.code if service else "", "address": caller.address if caller else "",
            "contact_name": name, "contact_phone": phone, "contact_email": email,
            "email_updates": bool(email) and (caller.account is None or caller.account.contact_by_email),
        })
        return {
            "search_form": SearchForm(formdata=None, data=hidden),
            "case_form": case_form,
            "info_form": InformationForm(formdata=None, data={**hidden, "caller_name": name, "caller_phone": phone}),
            "existing_form": ExistingCaseForm(formdata=None, data={**hidden, "caller_name": name, "caller_phone": phone}),
        }

    def _page(self, caller: search.Caller | None, started: str, *, service: ServiceType | None = None,
              matches: list[search.Caller] | None = None, searched: bool = False, status: int = 200, **forms):
        services = active_services()
        if service is None and forms.get("case_form") is not None:
            service = active_service(forms["case_form"].service.data)
        context = self._fresh_forms(caller, started, service)
        context.update({name: form for name, form in forms.items() if form is not None})
        context["case_form"].service.choices = service_choices(services)
        caller_cases = search.caller_cases(db.session, caller) if caller is not None else []
        radius = nearby_radius()
        nearby = search.open_cases_near(db.session, caller.lat, caller.long, radius) if caller is not None else []
        html = self.render_template(
            "calls/desk.html", title=gettext("New call"), caller=caller, caller_cases=caller_cases, nearby=nearby,
            radius=radius, matches=matches or [], searched=searched, service=service, started=started,
            matched_on=MATCHED_ON, status_label=status_label, channel_label=channel_label, localized=localized,
            suggestions=call_suggestions(service), **context,
        )
        return html, status

    # ---- GET: the desk; POST: the search box

    @expose("/new/", methods=["GET", "POST"])
    @has_access
    def desk(self):
        if request.method == "POST":
            form = SearchForm()
            started = started_text(form)
            if not form.validate():
                for message in field_errors(form):
                    flash(message, "danger")
                return self._page(None, started, status=400, search_form=form)
            matches = search.find_callers(db.session, form.q.data)
            return self._page(None, started, matches=matches, searched=True, search_form=form)
        args = CallForm(formdata=request.args, meta={"csrf": False})
        started = started_text(args)
        if not args.validate():
            flash(gettext("The caller was not found: search again."), "warning")
            return self._page(None, started, status=400)
        key = args.caller_key()
        caller = search.resolve(db.session, **key) if any(key.values()) else None
        if any(key.values()) and caller is None:
            flash(gettext("The caller was not found: search again."), "warning")
        return self._page(caller, started, service=active_service(request.args.get("service")))

    # ---- a new phone case

    @expose("/new/case", methods=["POST"])
    @has_access
    def new_case(self):
        service = active_service(request.form.get("service"))
        form = phone_case_form_class(service.attributes if service else None)()
        form.service.choices = service_choices(active_services())
        started = started_text(form)
        caller, found = caller_of(form)
        if "show_questions" in request.form:  # "Show the service's questions": the same form, nothing saved
            return self._page(caller, started, service=service, case_form=form)
        if not valid(form, found):
            for message in field_errors(form):
                flash(message, "danger")
            flash(gettext("The case was not created: correct the marked fields."), "danger")
            return self._page(caller, started, service=service, status=400, case_form=form)
        try:
            case = case_service.create_case(
                db.session,
                service_code=service.code,
                description=form.description.data or "",
                channel="phone",
                priority=form.priority.data,
                attributes=attribute_values(form, service.attributes or []),
                account=caller.account if caller is not None else None,
                actor=Actor.of(current_user),
                commit=False,
                **location_of(form.address.data, caller),
                **form.contact_values(),
            )
        except CaseError as exc:
            db.session.rollback()
            errors = {("service" if key == "service_code" else key): messages for key, messages in exc.errors.items()}
            for message in apply_case_errors(form, errors):
                flash(message, "danger")
            for message in field_errors(form):
                flash(message, "danger")
            return self._page(caller, started, service=service, status=400, case_form=form)
        if not form.email_updates.data:
            # Read by plugins.intake.notifications.case_received: the caller declined e-mail updates.
            case.reporter_declined_email = True
        call = _call(form, caller, "case", case=case, address=case.address or "", caller_name=case.contact_name or "",
                     caller_phone=case.contact_phone or "", caller_email=case.contact_email or "")
        db.session.add(call)
        try:
            db.session.commit()
        except SQLAlchemyError:
            db.session.rollback()
            flash(gettext("The case was not saved: the database refused it. Try again."), "danger")
            return self._page(caller, started, service=service, status=409, case_form=form)
        current_app.extensions["civic"].pm.hook.case_created(case=case)
        return redirect(url_for(".done", call_id=call.id))

    @expose("/done/<int:call_id>")
    @has_access
    def done(self, call_id: int):
        """The case number in big letters, to read out to the caller."""
        call = db.session.get(Call, call_id) if call_id < 2**63 else None
        if call is None or call.case is None:
            abort(404)
        case = call.case
        silenced = case.account is not None and not case.account.contact_by_email
        followed = bool(call.caller_email) and not silenced and is_following(case, call.caller_email)
        return self.render_template("calls/done.html", title=gettext("Case created"), call=call, case=case,
                                    can_open=can_see_case(case), followed=followed, localized=localized)

    # ---- information only

    @expose("/new/information", methods=["POST"])
    @has_access
    def information(self):
        form = InformationForm()
        started = started_text(form)
        caller, found = caller_of(form)
        if not valid(form, found):
            for message in field_errors(form):
                flash(message, "danger")
            return self._page(caller, started, status=400, info_form=form)
        call = _call(form, caller, "information", wrap_up=form.wrap_up.data, notes=(form.notes.data or "").strip(),
                     **_caller_fields(form, caller))
        db.session.add(call)
        db.session.commit()
        flash(gettext("Call logged: %(reason)s.", reason=reasons.label(call.wrap_up)), "success")
        return redirect(url_for(".desk"))

    # ---- about an existing case

    @expose("/new/existing", methods=["POST"])
    @has_access
    def existing(self):
        form = ExistingCaseForm()
        started = started_text(form)
        caller, found = caller_of(form)
        case = None
        if valid(form, found):
            wanted = form.reference.data.strip().upper()
            case = db.session.scalar(select(Case).where(Case.reference == wanted))
            if case is None or not can_see_case(case):
                case = None
                form.reference.errors = [gettext("unknown case '%(reference)s'", reference=wanted)]
        if case is None:
            for message in field_errors(form):
                flash(message, "danger")
            return self._page(caller, started, status=400, existing_form=form)
        note = (form.note.data or "").strip()
        call = _call(form, caller, "information", wrap_up=reasons.EXISTING_CASE, case_id=case.id, notes=note,
                     **_caller_fields(form, caller))
        db.session.add(call)
        if note:
            with force_locale(default_locale()):
                body = gettext("Phone call: %(note)s", note=note)
            try:
                case_service.add_note(db.session, case, body, Actor.of(current_user), public=False)  # commits the call too
            except CaseError as exc:
                db.session.rollback()
                form.note.errors = [str(m) for messages in exc.errors.values() for m in messages]
                return self._page(caller, started, status=400, existing_form=form)
        else:
            db.session.commit()
        flash(gettext("Call about %(reference)s logged.", reference=case.reference), "success")
        return redirect(url_for(".desk"))


def is_following(case: Case, email: str) -> bool:
    """Whether ``email`` gets the case's updates (the caller agreed to e-mail)."""
    from plugins.intake.models import Follower

    stmt = select(Follower.id).where(Follower.case_id == case.id, Follower.email == email.strip().lower())
    return db.session.scalar(stmt) is not None
