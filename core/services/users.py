"""Roles and staff users (Flask-AppBuilder's security tables)."""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import current_app
from werkzeug.security import check_password_hash


def sync_roles() -> list[str]:
    """Make sure every role that a hookimpl declares exists (its permissions are checked in memory)."""
    sm = current_app.appbuilder.sm
    names = list(current_app.config["FAB_ROLES"]) + [current_app.config["AUTH_ROLE_PUBLIC"]]
    for name in names:
        sm.add_role(name)
    return names


def create_user(username: str, password: str, role: str, first_name: str = "", last_name: str = "", email: str | None = None, departments=()):
    """Create a staff user (or return the existing one) and attach them to departments."""
    sm = current_app.appbuilder.sm
    user = sm.find_user(username=username)
    if user is None:
        role_obj = sm.find_role(role)
        if role_obj is None:
            raise ValueError(f"unknown role '{role}'")
        user = sm.add_user(
            username=username,
            first_name=first_name or username,
            last_name=last_name or "-",
            email=email or f"{username}@staff.invalid",
            role=role_obj,
            password=password,
        )
        if not user:
            raise ValueError(f"could not create user '{username}' (is the e-mail {email} already used?)")
    for dept in departments:
        if user not in dept.staff:
            dept.staff.append(user)
    sm.session.commit()
    return user


def ensure_admin(directory: Path) -> tuple[str, str | None, bool]:
    """The admin from CIVIC_ADMIN_USER/CIVIC_ADMIN_PASSWORD, else ``admin`` with a generated password.

    Returns (username, password to show or None, created).  A generated password
    is kept in ``<data dir>/admin-password`` (mode 600) so later runs can show it
    again while it is still valid.
    """
    sm = current_app.appbuilder.sm
    username = os.environ.get("CIVIC_ADMIN_USER") or "admin"
    given = os.environ.get("CIVIC_ADMIN_PASSWORD")
    saved = directory / "admin-password"
    user = sm.find_user(username=username)
    if user is not None:
        if given:
            return username, None, False
        if saved.exists() and check_password_hash(user.password, saved.read_text().strip()):
            return username, saved.read_text().strip(), False
        return username, None, False
    if given:
        from core.config import ConfigError
        from core.security import password_problem

        problem = password_problem(given)
        if problem:
            raise ConfigError([f"CIVIC_ADMIN_PASSWORD: {problem}"])
    password = given or secrets.token_urlsafe(12)
    create_user(username, password, current_app.config["AUTH_ROLE_ADMIN"], "City", "Administrator", f"{username}@city.invalid")
    if not given:
        saved.write_text(password)
        saved.chmod(0o600)
    return username, (None if given else password), True
