"""Signed, expiring tokens for links sent by e-mail (confirm sign-up, reset password, survey, unfollow).

A token carries a small dict and its purpose; it cannot be forged without the
app's SECRET_KEY and is refused after ``max_age`` seconds or for another purpose.
"""
from __future__ import annotations

from typing import Any

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer

DAY = 24 * 3600


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"civic-intake-{purpose}")


def sign(purpose: str, data: dict[str, Any]) -> str:
    return _serializer(purpose).dumps(data)


def verify(purpose: str, token: str, max_age: int = 7 * DAY) -> dict[str, Any] | None:
    """The data of a valid token, or None when it is forged, expired or for another purpose."""
    try:
        data = _serializer(purpose).loads(token or "", max_age=max_age)
    except BadSignature:  # SignatureExpired is a BadSignature too
        return None
    return data if isinstance(data, dict) else None
