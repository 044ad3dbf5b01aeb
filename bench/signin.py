"""Signing in over HTTP the way a browser or an API client does: the staff form (CSRF token, session cookie)
and FAB's JWT login; the benchmarks then send the cookie or the token with every request."""
from __future__ import annotations

import json
import re
from http.cookies import SimpleCookie
from urllib.parse import urlencode

from bench.loadgen import Request, fetch


def _cookies(headers_list: list[str]) -> dict[str, str]:
    jar: dict[str, str] = {}
    for raw in headers_list:
        cookie = SimpleCookie()
        cookie.load(raw)
        jar.update({k: m.value for k, m in cookie.items()})
    return jar


def _fetch_all_cookies(host: str, port: int, req: Request) -> tuple[int, dict[str, str], str]:
    import http.client

    conn = http.client.HTTPConnection(host, port, timeout=60)
    try:
        conn.request(req.method, req.path, body=req.body, headers=req.headers)
        response = conn.getresponse()
        body = response.read().decode("utf-8", "replace")
        return response.status, _cookies(response.msg.get_all("Set-Cookie") or []), body
    finally:
        conn.close()


def staff_cookie(host: str, port: int, username: str, password: str) -> str:
    """The ``Cookie`` header of a signed-in staff session (raises when the sign-in fails)."""
    status, jar, page = _fetch_all_cookies(host, port, Request("GET", "/login/"))
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(r'value="([^"]+)"[^>]*name="csrf_token"', page)
    body = urlencode({"username": username, "password": password, "csrf_token": token.group(1) if token else ""}).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": "; ".join(f"{k}={v}" for k, v in jar.items())}
    status, more, _ = _fetch_all_cookies(host, port, Request("POST", "/login/", body, headers))
    if status != 302:
        raise RuntimeError(f"sign-in of {username} failed (HTTP {status})")
    jar.update(more)
    return "; ".join(f"{k}={v}" for k, v in jar.items())


def jwt_header(host: str, port: int, username: str, password: str) -> str:
    """``Bearer <token>`` from FAB's ``/api/v1/security/login``."""
    body = json.dumps({"username": username, "password": password, "provider": "db"}).encode()
    status, _, answer, _ = fetch(host, port, Request("POST", "/api/v1/security/login", body, {"Content-Type": "application/json"}))
    if status != 200:
        raise RuntimeError(f"JWT sign-in of {username} failed (HTTP {status}): {answer[:200]!r}")
    return f"Bearer {json.loads(answer)['access_token']}"
