"""Portal routes: accounts (see plugins/intake/portal/__init__.py).

Sign up, confirm, sign in and out, reset a password; for a signed-in resident: "My city",
link a utility account, preferences, download my data, close my account.  The rules live in
``plugins.intake.accounts``; these views turn forms into calls and answers into pages.
"""
from __future__ import annotations

import functools
import json
from urllib.parse import urlsplit

from flask import Response, current_app, flash, redirect, render_template, request, url_for
from flask_babel import force_locale, gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, PasswordField, SelectField, SelectMultipleField, StringField
from wtforms.validators import Email, InputRequired, Length, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from core.i18n_content import localized
from plugins.intake import accounts
from plugins.intake.accounts import TOPICS, TooManyAttempts
from plugins.intake.portal import portal
from plugins.intake.ratelimit import allow, client_key
from plugins.intake.residents import current_account


# ---------------------------------------------------------------- forms

def language_choices() -> list[tuple[str, str]]:
    return [(code, lang["name"]) for code, lang in current_app.config["LANGUAGES"].items()]


def _current_language() -> str:
    from core.i18n_content import current_locale

    return accounts.offered_locale(current_locale().split("_")[0])


class SignUpForm(FlaskForm):
    name = StringField(_l("Your name"), validators=[InputRequired(), Length(max=200)])
    email = EmailField(_l("E-mail"), validators=[InputRequired(), Email(message=_l("Enter an e-mail address like name@example.com.")), Length(max=accounts.EMAIL_MAX)])
    password = PasswordField(_l("Password"), description=_l("At least 12 characters, not only digits."), validators=[InputRequired()])
    language = SelectField(_l("Preferred language"), validate_choice=True)
    website = StringField(_l("Leave this field empty"))  # honeypot: people never see it, robots fill it

    def validate_password(self, field):
        problem = accounts.password_problem(field.data or "")
        if problem:
            raise ValidationError(problem)


class SignInForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[InputRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[InputRequired(), Length(max=accounts.PASSWORD_MAX)])
    next = HiddenField()


class ResetRequestForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[InputRequired(), Email(message=_l("Enter an e-mail address like name@example.com.")), Length(max=254)])


class ResetForm(FlaskForm):
    password = PasswordField(_l("New password"), description=_l("At least 12 characters, not only digits."), validators=[InputRequired()])

    def validate_password(self, field):
        problem = accounts.password_problem(field.data or "")
        if problem:
            raise ValidationError(problem)


class LinkUtilityForm(FlaskForm):
    account_number = StringField(_l("Utility account number"), description=_l("As printed on your utility bill."), validators=[InputRequired(), Length(max=40)])
    last_name = StringField(_l("Last name of the account holder"), validators=[InputRequired(), Length(max=120)])
    zipcode = StringField(_l("ZIP code of the service address"), validators=[InputRequired(), Length(max=10)])


class PreferencesForm(FlaskForm):
    topics = SelectMultipleField(_l("E-mail me about"), choices=list(TOPICS.items()), validate_choice=True,
                                 widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())
    contact_by_email = BooleanField(_l("Send me e-mails about my cases and the topics I chose"))
    language = SelectField(_l("Preferred language"), validate_choice=True)


class CloseAccountForm(FlaskForm):
    password = PasswordField(_l("Your password"), validators=[InputRequired(), Length(max=accounts.PASSWORD_MAX)])


# ---------------------------------------------------------------- helpers

def _client() -> str:
    return client_key()


def _home() -> str:
    return url_for("portal.home") if "portal.home" in current_app.view_functions else url_for("portal.sign_in")


def _safe_next(target: str | None) -> str | None:
    """Only a path of this site (never another host) is a place to go back to after signing in."""
    if not target:
        return None
    if any(ord(ch) < 33 or ch == "\\" for ch in target):  # browsers drop tabs and newlines: "/\t/host" is "//host"
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def _message(title, text, status: int = 200, link: tuple[str, str] | None = None):
    return render_template("portal/account_message.html", title=title, text=text, link=link), status


def resident_required(view):
    """The page is for a signed-in resident (an account linked to the login); staff are refused."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_authenticated:
            return redirect(url_for("portal.sign_in", next=request.path))
        account = current_account()
        if account is None or not accounts.is_resident(current_user):
            return _message(
                _l("For residents"),
                _l("This page is for residents signed in on the portal. Staff use the staff screens."),
                403,
            )
        return view(account, *args, **kwargs)

    return wrapper


# ---------------------------------------------------------------- sign up and confirm

@portal.route("/sign-up", methods=["GET", "POST"])
def sign_up():
    if request.method == "GET" and current_account() is not None:
        return redirect(url_for("portal.my_city"))
    form = SignUpForm()
    form.language.choices = language_choices()
    if request.method == "GET":
        form.language.data = _current_language()
    if not form.validate_on_submit():
        return render_template("portal/account_sign_up.html", form=form), 400 if request.method == "POST" else 200
    sent = _message(
        _l("Check your e-mail"),
        gettext(
            "We have sent a message to %(email)s. Follow the link in it to finish; it works for 3 days. "
            "Nothing there? Look in your spam folder.",
            email=accounts.normalise_email(form.email.data),
        ),
    )
    if form.website.data:  # a robot filled the honeypot: same answer, nothing done
        return sent
    if not allow(accounts.SIGNUP_PER_CLIENT.bucket, _client(), accounts.SIGNUP_PER_CLIENT.count, accounts.SIGNUP_PER_CLIENT.window):
        flash(gettext("Too many sign-ups from this connection. Please try again in an hour."), "danger")
        return render_template("portal/account_sign_up.html", form=form), 429
    accounts.sign_up(form.name.data, form.email.data, form.password.data, form.language.data)
    return sent


@portal.route("/confirm/<token>")
def confirm(token):
    user, newly = accounts.confirm(token)
    if user is None:
        return _message(
            _l("This link does not work"),
            _l("The confirmation link is not valid or has expired. Sign up again and we will send a new one."),
            400,
            (url_for("portal.sign_up"), gettext("Sign up")),
        )
    if not newly:
        flash(gettext("Your account is already confirmed: please sign in."), "info")
        return redirect(url_for("portal.sign_in"))
    login_user(user)
    flash(gettext("Your account is confirmed. Welcome!"), "success")
    return redirect(url_for("portal.my_city"))


# ---------------------------------------------------------------- sign in and out

@portal.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    if request.method == "GET" and current_account() is not None:
        return redirect(_safe_next(request.args.get("next")) or url_for("portal.my_city"))
    form = SignInForm()
    if request.method == "GET":
        form.next.data = _safe_next(request.args.get("next")) or ""
    if not form.validate_on_submit():
        return render_template("portal/account_sign_in.html", form=form), 400 if request.method == "POST" else 200
    try:
        user = accounts.authenticate(form.email.data, form.password.data, _client())
    except TooManyAttempts:
        flash(gettext("Too many attempts. Wait 15 minutes and try again, or choose a new password."), "danger")
        return render_template("portal/account_sign_in.html", form=form), 429
    if user is None:
        flash(gettext("The e-mail or the password is not right, or the account is not confirmed yet."), "danger")
        return render_template("portal/account_sign_in.html", form=form), 400
    login_user(user)
    return redirect(_safe_next(form.next.data) or url_for("portal.my_city"))


@portal.route("/sign-out", methods=["POST"])
def sign_out():
    logout_user()
    flash(gettext("You are signed out."), "info")
    return redirect(_home())


# ---------------------------------------------------------------- reset password

@portal.route("/reset", methods=["GET", "POST"])
def reset_request():
    form = ResetRequestForm()
    if not form.validate_on_submit():
        return render_template("portal/account_reset_request.html", form=form), 400 if request.method == "POST" else 200
    try:
        accounts.request_reset(form.email.data, _client(), _current_language())
    except TooManyAttempts:
        flash(gettext("Too many requests from this connection. Please try again in an hour."), "danger")
        return render_template("portal/account_reset_request.html", form=form), 429
    return _message(
        _l("Check your e-mail"),
        gettext(
            "If an account uses %(email)s, we have sent it a link to choose a new password. The link works for 2 hours.",
            email=accounts.normalise_email(form.email.data),
        ),
    )


@portal.route("/reset/<token>", methods=["GET", "POST"])
def reset(token):
    user = accounts.user_for_reset(token)
    if user is None:
        return _message(
            _l("This link does not work"),
            _l("The link to choose a new password has expired or was already used. Ask for a new one."),
            400,
            (url_for("portal.reset_request"), gettext("Choose a new password")),
        )
    form = ResetForm()
    if not form.validate_on_submit():
        return render_template("portal/account_reset.html", form=form), 400 if request.method == "POST" else 200
    accounts.set_password(user, form.password.data)
    login_user(user)
    flash(gettext("Your new password is saved."), "success")
    return redirect(url_for("portal.my_city"))


# ---------------------------------------------------------------- my city

@portal.route("/my-city")
@resident_required
def my_city(account):
    utility = accounts.linked_utility_account(account)
    return render_template(
        "portal/my_city.html",
        account=account,
        utility=utility,
        my_cases=accounts.my_cases(account),
        followed=accounts.followed_cases(account),
        nearby=accounts.nearby_open_cases(utility) if utility is not None else [],
        notices=accounts.notices_for(utility),
        topics=TOPICS,
        languages=dict(language_choices()),
        localized=localized,
    )


@portal.route("/my-city/utility", methods=["GET", "POST"])
@resident_required
def link_utility(account):
    form = LinkUtilityForm()
    if not form.validate_on_submit():
        return render_template("portal/account_link.html", form=form, account=account), 400 if request.method == "POST" else 200
    try:
        linked = accounts.link_utility_account(account, form.account_number.data, form.last_name.data, form.zipcode.data, _client())
    except TooManyAttempts:
        flash(gettext("Too many attempts. Please try again in an hour, or call the city's utility billing office."), "danger")
        return render_template("portal/account_link.html", form=form, account=account), 429
    if not linked:
        flash(gettext("We could not link this account. Check the account number, the last name and the ZIP code as they appear on your bill."), "danger")
        return render_template("portal/account_link.html", form=form, account=account), 400
    flash(gettext("Your utility account is linked."), "success")
    return redirect(url_for("portal.my_city"))


@portal.route("/my-city/preferences", methods=["GET", "POST"])
@resident_required
def preferences(account):
    form = PreferencesForm()
    form.language.choices = language_choices()
    if request.method == "GET":
        form.topics.data = list((account.preferences or {}).get("topics", []))
        form.contact_by_email.data = account.contact_by_email
        form.language.data = account.preferred_language
    if not form.validate_on_submit():
        return render_template("portal/account_preferences.html", form=form, account=account), 400 if request.method == "POST" else 200
    accounts.save_preferences(account, form.topics.data or [], form.contact_by_email.data, form.language.data)
    with force_locale(account.preferred_language):
        flash(gettext("Your preferences are saved."), "success")
    return redirect(url_for("portal.my_city"))


@portal.route("/my-city/data")
@resident_required
def my_data(account):
    data = accounts.export_data(account, current_user)
    return Response(
        json.dumps(data, ensure_ascii=False, indent=2),
        mimetype="application/json",
        headers={"Content-Disposition": 'attachment; filename="my-data.json"', "Cache-Control": "no-store"},
    )


@portal.route("/my-city/close", methods=["GET", "POST"])
@resident_required
def close_account(account):
    form = CloseAccountForm()
    if not form.validate_on_submit():
        return render_template("portal/account_close.html", form=form), 400 if request.method == "POST" else 200
    key = accounts.ratelimit.hashed(f"account:{account.id}")
    if accounts.spent(accounts.CLOSE_FAILURES_PER_ACCOUNT, key):
        flash(gettext("Too many attempts. Please try again in an hour."), "danger")
        return render_template("portal/account_close.html", form=form), 429
    if not accounts.password_matches(current_user, form.password.data):
        accounts.record(accounts.CLOSE_FAILURES_PER_ACCOUNT, key)
        form.password.errors = [gettext("This is not your password.")]
        return render_template("portal/account_close.html", form=form), 400
    user = current_user._get_current_object()
    logout_user()
    accounts.close_account(account, user)
    flash(gettext("Your account is closed. Your reports stay on record without your name or contact details."), "info")
    return redirect(_home())
