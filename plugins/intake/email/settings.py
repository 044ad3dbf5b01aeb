"""``[intake.email]``: the mailbox ``civic intake poll-email`` reads, and what both e-mail commands need.

```toml
[intake.email]
host = "imap.palmcoast.example.gov"
security = "ssl"                    # "ssl" (port 993), "starttls" or "none" (port 143)
username = "311@palmcoast.example.gov"
password_env = "CIVIC_IMAP_PASSWORD"  # the NAME of the environment variable holding the password
address = "311@palmcoast.example.gov" # the city's mailbox: mail from it is a loop
```

Optional: ``port``, ``folder`` (``INBOX``), ``processed_folder`` (move processed messages there; empty:
flag them \\Seen and leave them), ``triage_service`` (``GENERAL``), ``ca_file`` (a private CA, PEM),
``max_messages`` per run (50), ``max_bytes`` read of one message (25 MB), ``timeout`` (seconds, 60).
"""
from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from core.records import ConfigProblem

SECURITY_PORTS = {"ssl": 993, "starttls": 143, "none": 143}
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
ADDRESS = re.compile(r"^[^@\s<>\"']+@[^@\s<>\"']+$")
PREFIX = "intake.email"


@dataclass(frozen=True)
class EmailSettings:
    host: str = ""
    port: int = 0  # 0: the usual port of ``security``
    security: str = "ssl"
    username: str = ""
    password_env: str = ""
    folder: str = "INBOX"
    processed_folder: str = ""
    address: str = ""
    triage_service: str = "GENERAL"
    ca_file: str = ""
    max_messages: int = 50
    max_bytes: int = 25 * 1024 * 1024
    timeout: int = 60

    @property
    def imap_port(self) -> int:
        return self.port or SECURITY_PORTS.get(self.security, 993)


KEYS = {f.name: f for f in fields(EmailSettings)}
TEXT_KEYS = ("host", "security", "username", "password_env", "folder", "processed_folder", "address", "triage_service", "ca_file")
NUMBER_KEYS = {"port": (1, 65535), "max_messages": (1, 10_000), "max_bytes": (64 * 1024, 1024 * 1024 * 1024), "timeout": (1, 3600)}


class SettingsError(Exception):
    """A setting that stops a command: ``key`` (``intake.email.host``) and what is wrong with it."""

    def __init__(self, key: str, message: str):
        super().__init__(f"{key}: {message}")
        self.key, self.message = key, message


def _problems(table: Any, services: set[str] | None) -> list[ConfigProblem]:
    if not isinstance(table, Mapping):
        return [ConfigProblem(PREFIX, "must be a table of settings ([intake.email])")]
    found = [ConfigProblem(f"{PREFIX}.{key}", f"unknown key (known: {', '.join(KEYS)})") for key in table if key not in KEYS]
    for key in TEXT_KEYS:
        if key in table and not isinstance(table[key], str):
            found.append(ConfigProblem(f"{PREFIX}.{key}", f"must be text, not {table[key]!r}"))
    for key, (low, high) in NUMBER_KEYS.items():
        value = table.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high):
            found.append(ConfigProblem(f"{PREFIX}.{key}", f"must be a whole number from {low} to {high}, not {value!r}"))
    if found:
        return found
    if table.get("security", "ssl") not in SECURITY_PORTS:
        found.append(ConfigProblem(f"{PREFIX}.security", f"must be one of {', '.join(SECURITY_PORTS)}, not {table['security']!r}"))
    if table.get("password_env") and not ENV_NAME.match(table["password_env"]):
        found.append(ConfigProblem(
            f"{PREFIX}.password_env",
            f"must be the NAME of an environment variable (letters, digits, _), not {table['password_env']!r}; the password itself never goes in this file",
        ))
    if table.get("address") and not ADDRESS.match(table["address"]):
        found.append(ConfigProblem(f"{PREFIX}.address", f"must be an e-mail address, not {table['address']!r}"))
    if table.get("host"):
        for key in ("username", "password_env"):
            if not table.get(key):
                found.append(ConfigProblem(f"{PREFIX}.{key}", "is required when host is set"))
    triage = table.get("triage_service", EmailSettings.triage_service)
    if services is not None and table and triage not in services:
        default = "" if "triage_service" in table else " (the default: name the service that takes what matches none)"
        found.append(ConfigProblem(f"{PREFIX}.triage_service", f"unknown service '{triage}'{default}"))
    return found


def config_problems(config) -> list[ConfigProblem]:
    """``civic config check`` and start-up: one problem per bad ``[intake.email]`` key."""
    table = config.section("intake").get("email")
    if table is None:
        return []
    return _problems(table, {s.get("code") for s in config.services})


def load(table: Any) -> EmailSettings:
    """The settings from ``[intake.email]`` (defaults for what is missing); SettingsError when unusable."""
    table = {} if table is None else table
    problems = _problems(table, None)
    if problems:
        raise SettingsError(problems[0].key, problems[0].message)
    return EmailSettings(**{key: table[key] for key in KEYS if key in table})


def current() -> EmailSettings:
    from flask import current_app

    return load(current_app.extensions["civic"].plugin_config["intake"].get("email"))


def require_mailbox(settings: EmailSettings) -> str:
    """The IMAP password, after checking the mailbox settings ``poll-email`` needs; SettingsError naming the key.
    (Messages in the language of the command: call it inside ``cli_language()``.)"""
    from flask_babel import gettext

    if not settings.host:
        raise SettingsError(f"{PREFIX}.host", gettext("no mailbox is configured: set host, username and password_env in [intake.email]"))
    for key in ("username", "password_env"):
        if not getattr(settings, key):
            raise SettingsError(f"{PREFIX}.{key}", gettext("is required when host is set"))
    password = os.environ.get(settings.password_env)
    if not password:
        raise SettingsError(f"{PREFIX}.password_env", gettext("the environment variable %(name)s is not set", name=settings.password_env))
    if settings.ca_file and not os.path.isfile(settings.ca_file):
        raise SettingsError(f"{PREFIX}.ca_file", gettext("no such file: %(path)s", path=settings.ca_file))
    return password
