"""create_app(): the one place where config, plugins, Flask-AppBuilder and the CLI are wired."""
from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass
from email.headerregistry import Address
from pathlib import Path
from typing import Any

from flask import Flask
from flask_appbuilder import AppBuilder
from sqlalchemy import event
from sqlalchemy.engine import Engine

from core.config import CityConfig, ConfigError, format_problems, load_city_config
from core.extensions import csrf, db
from core.formats import language_name
from core.plugins import CivicPluginManager, build_plugin_manager
from core.records import ViewSpec

log = logging.getLogger(__name__)
PACKAGE_DIR = Path(__file__).resolve().parent


@dataclass
class CivicState:
    """What the core keeps on ``app.extensions["civic"]``."""

    config: CityConfig
    pm: CivicPluginManager
    data_dir: Path
    plugin_config: dict[str, dict[str, Any]]
    report_subjects: dict[str, Any] | None = None  # built on first use (core.reports.subjects.registry)


def data_dir() -> Path:
    """Where the SQLite database, uploads and generated secrets live (never under a web root)."""
    d = Path(os.environ.get("CIVIC_DATA_DIR") or Path.cwd() / "var").resolve()
    d.mkdir(parents=True, exist_ok=True)
    return d


def _secret_key(directory: Path) -> str:
    key = os.environ.get("CIVIC_SECRET_KEY")
    if key:
        return key
    path = directory / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    """SQLite: write-ahead log (readers never block the writer), durable commits and real foreign keys."""
    if type(dbapi_connection).__module__ == "sqlite3":
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit is on disk before it is acknowledged (NORMAL, in WAL, may lose the last ones on power loss).
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()
        from core.reports.sql import register_sqlite_functions
        from core.sqlite_search import register_sqlite_functions as register_search_functions

        register_sqlite_functions(dbapi_connection)
        register_search_functions(dbapi_connection)


def _plugin_config(config: CityConfig, pm: CivicPluginManager) -> dict[str, dict[str, Any]]:
    merged: dict[str, dict[str, Any]] = {}
    for name in pm.enabled:
        plugin = pm.get_plugin(name)
        defaults = plugin.config_defaults() if hasattr(plugin, "config_defaults") else {}
        merged[name] = {**(defaults or {}), **config.section(name)}
    problems = pm.flatten("validate_config", config=config)
    if problems:
        raise ConfigError(format_problems(config, problems))
    return merged


def _roles(pm: CivicPluginManager) -> dict[str, list[list[str]]]:
    """FAB_ROLES from every plugin; a role named by several plugins gets all their permissions (core first)."""
    roles: dict[str, list[list[str]]] = {}
    includes: dict[str, list[str]] = {}
    for role in pm.flatten("register_roles"):
        perms = roles.setdefault(role.name, [])
        includes.setdefault(role.name, []).extend(role.includes)
        for v, p in role.permissions:
            # Anchored, so "CaseView" never grants "CaseViewExport" by accident.
            pair = [f"^(?:{v})$", f"^(?:{p})$"]
            if pair not in perms:
                perms.append(pair)
    own = {name: list(perms) for name, perms in roles.items()}
    for name, included in includes.items():  # one level: an included role's own includes are not followed
        for other in included:
            if other not in own:
                raise ConfigError([f"register_roles: role '{name}' includes the unknown role '{other}'"])
            for pair in own[other]:
                if pair not in roles[name]:
                    roles[name].append(pair)
    return roles


SMTP_TLS_MODES = {"none": 25, "starttls": 587, "ssl": 465}  # CIVIC_SMTP_TLS -> its usual port


def _mail_settings(config: CityConfig) -> dict[str, Any]:
    """Outgoing mail for the notification worker: from the environment only (the password is a secret)."""
    env = os.environ
    problems = []
    tls = (env.get("CIVIC_SMTP_TLS") or "none").strip().lower()
    if tls not in SMTP_TLS_MODES:
        problems.append(f"CIVIC_SMTP_TLS: must be one of {', '.join(SMTP_TLS_MODES)}, not {tls!r}")
        tls = "none"
    port_text = (env.get("CIVIC_SMTP_PORT") or "").strip()
    port = SMTP_TLS_MODES[tls]
    if port_text:
        if port_text.isdigit() and 0 < int(port_text) < 65536:
            port = int(port_text)
        else:
            problems.append(f"CIVIC_SMTP_PORT: must be a port number (1-65535), not {port_text!r}")
    attempts_text = (env.get("CIVIC_NOTIFY_MAX_ATTEMPTS") or "6").strip()
    if not (attempts_text.isdigit() and 0 < int(attempts_text) <= 50):
        problems.append(f"CIVIC_NOTIFY_MAX_ATTEMPTS: must be a number of attempts (1-50), not {attempts_text!r}")
        attempts_text = "6"
    if problems:
        raise ConfigError(problems)
    return {
        "CIVIC_SMTP_HOST": env.get("CIVIC_SMTP_HOST") or "localhost",
        "CIVIC_SMTP_PORT": port,
        "CIVIC_SMTP_USER": env.get("CIVIC_SMTP_USER") or None,
        "CIVIC_SMTP_PASSWORD": env.get("CIVIC_SMTP_PASSWORD") or None,
        "CIVIC_SMTP_TLS": tls,
        "CIVIC_SMTP_TIMEOUT": 30,
        "CIVIC_MAIL_FROM": env.get("CIVIC_MAIL_FROM") or str(Address(config.city["name"], addr_spec="no-reply@localhost")),
        # Where residents' replies go (the mailbox the e-mail channel reads); unset: e-mails say "do not reply".
        "CIVIC_MAIL_REPLY_TO": (env.get("CIVIC_MAIL_REPLY_TO") or "").strip(),
        # A message that fails is tried again after these delays, then given up after CIVIC_NOTIFY_MAX_ATTEMPTS.
        "CIVIC_NOTIFY_RETRY_MINUTES": (1, 5, 30, 120, 720),
        "CIVIC_NOTIFY_MAX_ATTEMPTS": int(attempts_text),
    }


def _flag(name: str, default: bool) -> bool:
    value = (os.environ.get(name) or "").strip().lower()
    if not value:
        return default
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ConfigError([f"{name}: must be true or false, not {value!r}"])


def _security_settings() -> dict[str, Any]:
    """Sessions, cookies, sign-in limits and passwords (docs/security.md).  ``CIVIC_ENV=production`` turns on
    the production checks (``core.security.production_problems``) and secure cookies by default."""
    from datetime import timedelta

    from core.security import check_password_complexity

    env = (os.environ.get("CIVIC_ENV") or "development").strip().lower()
    if env not in ("production", "development"):
        raise ConfigError([f"CIVIC_ENV: must be production or development, not {env!r}"])
    https = _flag("CIVIC_HTTPS", env == "production")  # served over HTTPS (also behind a TLS proxy): Secure cookies
    hours_text = (os.environ.get("CIVIC_SESSION_HOURS") or "8").strip()
    try:
        hours = float(hours_text)
    except ValueError:
        hours = 0
    if not 0 < hours <= 24 * 31:
        raise ConfigError([f"CIVIC_SESSION_HOURS: must be a number of hours (e.g. 8), not {hours_text!r}"])
    lifetime = timedelta(hours=hours)
    return {
        "CIVIC_PRODUCTION": env == "production",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": https,
        "PREFERRED_URL_SCHEME": "https" if https else "http",
        # A session cookie older than this (since the session last changed: signing in, most page views) is refused.
        "PERMANENT_SESSION_LIFETIME": lifetime,
        "REMEMBER_COOKIE_DURATION": lifetime,
        "JWT_REFRESH_TOKEN_EXPIRES": lifetime,  # REST API: access tokens last 15 minutes, refresh tokens a session
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": https,
        # Sign-in attempts per client address (staff /login/ and the REST API's JWT sign-in).  The counts are kept
        # in each process's memory unless CIVIC_RATELIMIT_STORAGE_URI names a shared store (redis://host:6379).
        "RATELIMIT_ENABLED": True,
        "AUTH_RATE_LIMITED": True,
        "AUTH_RATE_LIMIT": os.environ.get("CIVIC_LOGIN_RATE_LIMIT") or "10 per minute;50 per hour",
        "RATELIMIT_STORAGE_URI": os.environ.get("CIVIC_RATELIMIT_STORAGE_URI") or "memory://",
        "RATELIMIT_HEADERS_ENABLED": True,
        "FAB_PASSWORD_COMPLEXITY_ENABLED": True,
        "FAB_PASSWORD_COMPLEXITY_VALIDATOR": check_password_complexity,
    }


def _flask_settings(config: CityConfig, pm: CivicPluginManager, directory: Path) -> dict[str, Any]:
    translations = [str(PACKAGE_DIR / "translations")] + [str(d) for d in pm.flatten("translation_directories")]
    return {
        "SECRET_KEY": _secret_key(directory),
        "SQLALCHEMY_DATABASE_URI": os.environ.get("CIVIC_DATABASE_URL") or f"sqlite:///{directory / 'civic.db'}",
        # hide_parameters: a database error (logged) never prints the values of a statement (a resident's e-mail...).
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True, "hide_parameters": True},
        "APP_NAME": config.city["name"],
        "APP_THEME": "",
        "AUTH_TYPE": 1,  # AUTH_DB
        "AUTH_ROLE_ADMIN": "Admin",
        "AUTH_ROLE_PUBLIC": "Public",
        "AUTH_USER_REGISTRATION": False,
        "FAB_CREATE_DB": False,  # tables come from migrations (`civic db upgrade`)
        "FAB_UPDATE_PERMS": False,  # roles are data from register_roles, checked in memory
        "FAB_ROLES": _roles(pm),
        "FAB_API_SWAGGER_UI": True,
        "FAB_ADD_SECURITY_API": False,
        "FAB_API_MAX_PAGE_SIZE": 100,
        "FAB_PASSWORD_HASH_METHOD": "scrypt",
        "LANGUAGES": {
            loc: {"flag": {"en": "us", "fr": "fr"}.get(loc, loc), "name": language_name(loc)}
            for loc in config.city["locales"]
        },
        "BABEL_DEFAULT_LOCALE": config.city["default_locale"],
        "BABEL_DEFAULT_TIMEZONE": config.city["timezone"],  # DB times are naive UTC; shown in the city's zone
        "BABEL_TRANSLATION_DIRECTORIES": ";".join(translations),
        "CIVIC_TIMEZONE": config.city["timezone"],
        "CIVIC_CURRENCY": "USD",  # core.formats; the i18n plugin sets it from its config
        "CIVIC_FORMAT_LOCALES": {},  # language -> Babel locale for formats (the i18n plugin: fr -> fr_CA)
        "CIVIC_UPLOAD_DIR": str(directory / "uploads"),
        "CIVIC_MAX_WAITING": config.server["max_waiting"],  # core.admission (CIVIC_MAX_WAITING in the environment wins)
        "CIVIC_UPLOAD_MAX_BYTES": 10 * 1024 * 1024,
        "CIVIC_UPLOAD_MAX_PER_CASE": 50,  # files on one case, whatever the channel (core.services.attachments)
        "MAX_CONTENT_LENGTH": 30 * 1024 * 1024,
        "WTF_CSRF_ENABLED": True,
        "WTF_CSRF_TIME_LIMIT": None,
        **_security_settings(),
        **_mail_settings(config),
    }


def _register_views(appbuilder: AppBuilder, specs: list[ViewSpec], config: CityConfig) -> None:
    seen: set[str] = set()
    for spec in specs:
        if spec.name in seen:
            raise ConfigError([f"{config.path}: plugins.enabled: two plugins register a view named '{spec.name}'"])
        seen.add(spec.name)
        if spec.menu and spec.category:
            appbuilder.add_view(
                spec.view,
                spec.name,
                label=spec.label or spec.name,
                icon=spec.icon,
                category=spec.category,
                category_label=spec.category_label or spec.category,
            )
        elif spec.menu:
            appbuilder.add_view(spec.view, spec.name, label=spec.label or spec.name, icon=spec.icon)
        else:
            appbuilder.add_view_no_menu(spec.view)


def create_app(config_path: str | os.PathLike | None = None, settings: dict[str, Any] | None = None) -> Flask:
    """Build the app for one city config.  Raises ConfigError (one line per problem) on bad config."""
    config = load_city_config(config_path)
    pm = build_plugin_manager(config)
    directory = data_dir()
    plugin_config = _plugin_config(config, pm)

    app = Flask("core", template_folder=str(PACKAGE_DIR / "templates"), static_folder=str(PACKAGE_DIR / "static"), static_url_path="/civic-static")
    app.config.update(_flask_settings(config, pm, directory))
    app.config.update(settings or {})
    app.extensions["civic"] = CivicState(config, pm, directory, plugin_config)
    if app.config["CIVIC_PRODUCTION"]:
        from core.security import production_problems

        problems = production_problems(app.config, directory)
        if problems:
            raise ConfigError(problems)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {**app.config["SQLALCHEMY_ENGINE_OPTIONS"], "connect_args": {"timeout": 30}}

    db.init_app(app)
    csrf.init_app(app)
    from core.security import HeadAsGet

    app.wsgi_app = HeadAsGet(app.wsgi_app)  # a HEAD must never act (see HeadAsGet)
    from core import audit

    audit.install()  # the admin audit log: every change to the set-up is recorded at flush
    with app.app_context():
        from core.security import security_manager_class

        appbuilder = AppBuilder(indexview=_index_view(), base_template="civic/base.html", security_manager_class=security_manager_class())
        appbuilder.init_app(app, db.session)
        _limit_api_sign_in(app, appbuilder)
        _check_api_sign_in(app)
        from core.security import install_request_guards

        install_request_guards(app)
        _register_views(appbuilder, pm.flatten("register_views"), config)
        for api in pm.flatten("register_apis"):
            appbuilder.add_api(api)
        for blueprint in pm.flatten("register_blueprints"):
            app.register_blueprint(blueprint)
        from core import admission, errors, formats

        errors.init_app(app)
        admission.init_app(app)  # above capacity: 503 at once (core.admission), before anything else of a request
        from core.privacy import hide_personal_data_in_logs

        hide_personal_data_in_logs()
        from core.views import health

        health.init_app(app)  # /health for load balancers: no login, no CSRF
        formats.init_app(app)
        pm.hook.startup(app=app)
    if config.server["proxies"]:  # behind a TLS terminator / load balancer: the client's address and scheme (outermost)
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = config.server["proxies"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    return app


def _limit_api_sign_in(app: Flask, appbuilder: AppBuilder) -> None:
    """The REST API's JWT sign-in gets the same limit as the sign-in page (FAB limits only the page)."""
    sm = appbuilder.sm
    blueprint = app.blueprints.get("SecurityApi")
    if sm.is_auth_limited and blueprint is not None:
        sm.limiter.limit(sm.auth_rate_limit, methods=["POST"])(blueprint)


def _check_api_sign_in(app: Flask) -> None:
    """The REST API's JWT sign-in answers a body without ``provider`` with a 400, not FAB's 500."""
    from core.api.base import require_sign_in_provider

    if "SecurityApi" in app.blueprints:  # registered already: its request hooks are the app's, by blueprint name
        app.before_request_funcs.setdefault("SecurityApi", []).append(require_sign_in_provider)


def _index_view():
    from core.views.home import HomeIndexView

    return HomeIndexView
