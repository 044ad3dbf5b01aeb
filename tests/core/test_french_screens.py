"""A French-speaking staff member sees no English interface text on any page.

The crawl takes every GET route the app has (FAB screens, the case page, the
dashboard, plugin pages), fills ``<pk>`` with a real row, renders it in French
and looks for text that is an English interface string: any msgid of our
catalogs or of Flask-AppBuilder's whose French differs, plus a short list of
English words FAB writes without wrapping them for translation.
"""
from __future__ import annotations

import gettext
import re
from html.parser import HTMLParser
from pathlib import Path

import flask_appbuilder
import pytest
from sqlalchemy import select

ROOT = Path(__file__).resolve().parents[2]
SKIP_PREFIXES = ("/static", "/appbuilder", "/civic-static", "/api/", "/swagger", "/lang/", "/logout", "/login", "/attachments/")
KNOWN_ARGS = ("reference", "code", "service_code")  # portal pages are reached by case number or service code
SKIP_ENDPOINTS = {"UtilView.back", "AuthDBView.login", "AuthDBView.logout"}
NOT_PAGES = {"delete", "action", "action_post", "download", "thumbnail", "api_read", "api_get", "api_column_add", "api_column_edit", "api_readvalues", "api", "api_delete", "api_update", "api_create"}


def _catalog(mo: Path) -> dict[str, str]:
    with mo.open("rb") as fh:
        return {k: v for k, v in gettext.GNUTranslations(fh)._catalog.items() if isinstance(k, str) and k}


def english_interface_strings() -> set[str]:
    """English texts that must not appear on a French page (those whose French differs)."""
    catalogs = [Path(flask_appbuilder.__file__).parent / "translations/fr/LC_MESSAGES/messages.mo"]
    catalogs += sorted(ROOT.glob("core/translations/fr/LC_MESSAGES/messages.mo"))
    catalogs += sorted(ROOT.glob("plugins/*/translations/fr/LC_MESSAGES/messages.mo"))
    found: set[str] = set()
    for mo in catalogs:
        for msgid, msgstr in _catalog(mo).items():
            if "%(" not in msgid and "{" not in msgid and msgid.strip() != msgstr.strip() and len(msgid) > 2:
                found.add(" ".join(msgid.split()))
    return found | UNWRAPPED_FAB_ENGLISH


# English that Flask-AppBuilder's templates write without a translation call (kept short and specific).
UNWRAPPED_FAB_ENGLISH = {"Cancel", "Name", "Role", "Groups", "First Name", "Last Name", "Active", "True", "False", "None"}


class _Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        attrs = dict(attrs)
        for name in ("placeholder", "title", "aria-label", "alt"):
            if attrs.get(name):
                self.parts.append(attrs[name])
        if tag == "input" and attrs.get("type") in ("submit", "button") and attrs.get("value"):
            self.parts.append(attrs["value"])

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.parts.append(data)


def visible_texts(html: str) -> list[str]:
    parser = _Text()
    parser.feed(html)
    return [" ".join(p.split()) for p in parser.parts]


def pages_to_visit(app) -> list[str]:
    """Every GET page a staff member can open, with <pk> filled by a real row of the view's model."""
    from core.extensions import db

    urls = []
    views = {type(v).__name__: v for v in app.appbuilder.baseviews}
    with app.app_context():
        for rule in app.url_map.iter_rules():
            if "GET" not in rule.methods or rule.endpoint in SKIP_ENDPOINTS or rule.rule.startswith(SKIP_PREFIXES):
                continue
            if rule.endpoint.rsplit(".", 1)[-1] in NOT_PAGES:
                continue
            args = set(rule.arguments)
            if not args:
                urls.append(rule.rule)
                continue
            if args <= set(KNOWN_ARGS) and "pk" not in args:
                from core.models import Case

                reference = db.session.scalar(select(Case.reference).order_by(Case.id).limit(1))
                values = {"reference": reference, "code": "POTHOLE", "service_code": "POTHOLE"}
                url = rule.rule
                for arg in args:
                    url = re.sub(rf"<(?:[a-z]+:)?{arg}>", str(values[arg]), url)
                urls.append(url)
                continue
            if args != {"pk"}:
                continue
            view = views.get(rule.endpoint.split(".")[0])
            datamodel = getattr(view, "datamodel", None)
            if datamodel is None:
                continue
            pk_col = datamodel.obj.__mapper__.primary_key[0]
            pk = db.session.scalar(select(pk_col).order_by(pk_col).limit(1))
            if pk is not None:
                urls.append(rule.rule.replace("<pk>", str(pk)))
    return sorted(set(urls))


@pytest.fixture
def french_admin(app, client_for):
    from core.extensions import db
    from core.services.cases import create_case

    from core.services.users import create_user
    from tests.conftest import PASSWORD

    with app.app_context():  # make sure every screen has a row to show, and an admin of our own who prefers French
        create_case(db.session, service_code="POTHOLE", description="Trou profond", attributes={"SIZE": "large"}, tags=["ouragan"])
        create_user("admin_fr", PASSWORD, "Admin", email="admin_fr@palmcoast.example.gov")
        db.session.remove()
    client = client_for("admin_fr")
    client.get("/lang/fr")
    return client


def test_every_staff_page_is_in_french_with_no_english_interface_text(app, french_admin):
    english = english_interface_strings()
    urls = pages_to_visit(app) + ["/caseview/add?service=POTHOLE"]
    assert any(u.startswith("/caseview/show/") for u in urls) and "/dashboard/" in urls
    leaks = {}
    for url in urls:
        response = french_admin.get(url)
        if response.status_code in (302, 403, 404, 405):  # 403 for the admin: that screen is switched off
            continue
        if response.mimetype != "text/html":  # what a page's script asks (JSON look-ups, GeoJSON, a service worker): not a page
            continue
        assert response.status_code == 200, f"{url}: {response.status_code}"
        html = response.get_data(as_text=True)
        assert re.search(r'<html[^>]*lang="fr"', html), f"{url}: <html lang> is not fr"
        found = sorted({t for t in visible_texts(html) if t in english})
        if found:
            leaks[url] = found
    assert not leaks, "English on French pages: " + "; ".join(f"{u}: {', '.join(t)}" for u, t in leaks.items())


def test_form_errors_and_api_errors_are_in_french(app, client_for, api_headers):
    from tests.conftest import csrf_token

    client = client_for("pw_staff")
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "fr-CA"
    form = client.get("/caseview/add?service=POTHOLE").get_data(as_text=True)
    page = client.post(
        "/caseview/add?service=POTHOLE",
        data={"csrf_token": csrf_token(form), "description": "Sans taille", "priority": "normal", "channel": "phone", "lat": "nord", "long": "-81.2"},
    ).get_data(as_text=True)
    texts = visible_texts(page)
    assert "This field is required." not in texts and "Not a valid float value." not in texts
    assert "Ce champ est requis." in texts and any(t.startswith("N'est pas un flottant valide") for t in texts)

    headers = {**api_headers("pw_staff"), "Accept-Language": "fr"}
    r = app.test_client().post("/api/v1/case/", json={"service_code": "POTHOLE", "attributes": {"SIZE": "huge"}, "lat": 95, "long": 0}, headers=headers)
    assert r.status_code == 400
    messages = r.json["message"]
    assert messages["attribute[SIZE]"] == ["doit être l’une des valeurs suivantes\u00a0: small, medium, large"]
    r = app.test_client().post("/api/v1/case/", json={"description": "x"}, headers=headers)
    assert r.json["message"]["service_code"] == ["est obligatoire"] or "obligatoire" in str(r.json["message"]["service_code"])
