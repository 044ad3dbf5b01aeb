"""Field › Map: who opens it, Leaflet from the pip package (never a CDN), the streets as base map."""
from __future__ import annotations

import json
import re
import uuid

from tests.browser import browser, live_server, sign_in  # noqa: F401
from tests.conftest import PASSWORD

MAP = "/fieldservice/map/"


def map_config(html: str) -> dict:
    m = re.search(r'<script type="application/json" id="field-map-config">(.*?)</script>', html, re.S)
    assert m, "no map config in the page"
    return json.loads(m.group(1))


def declared(app, role: str) -> list[str]:
    """The codes of the city's layers a role may see, in config order."""
    from plugins.fieldservice.settings import layers

    with app.app_context():
        return [lay.code for lay in layers() if not lay.roles or role in lay.roles]


def test_dispatcher_opens_the_map_with_every_layer_and_the_streets_as_base_map(app, client_for):
    r = client_for("dispatcher").get(MAP)

    assert r.status_code == 200
    html = r.get_data(as_text=True)
    config = map_config(html)
    codes = [layer["code"] for layer in config["layers"]]
    assert codes == declared(app, "Dispatcher") and {"streets", "zones", "cases", "meters"} <= set(codes)
    assert config["tile_url"] == "" and config["center"] == [29.5845, -81.2079]
    assert 'id="map-no-tiles-note"' in html, "without tiles the page says the streets are the base map"
    assert "/fieldservice/assets/leaflet/leaflet.js" in html and "/fieldservice/assets/leaflet/leaflet.css" in html
    assert "/fieldservice/assets/static/fieldservice/fieldmap.js" in html


def test_the_page_loads_no_script_or_stylesheet_from_the_internet(app, client_for):
    html = client_for("dispatcher").get(MAP).get_data(as_text=True)
    assert not re.search(r'<script[^>]+src="(https?:)?//', html)
    assert not re.search(r'<link[^>]+href="(https?:)?//', html)


def fetch(client, path: str) -> tuple[int, bytes]:
    with client.get(path) as response:  # files are streamed: close them
        return response.status_code, response.data


def test_leaflet_and_markercluster_are_served_from_their_pip_packages(app, client_for):
    client = client_for(None)
    leaflet = fetch(client, "/fieldservice/assets/leaflet/leaflet.js")
    css = fetch(client, "/fieldservice/assets/leaflet/leaflet.css")
    cluster = fetch(client, "/fieldservice/assets/markercluster/leaflet.markercluster.js")
    script = fetch(client, "/fieldservice/assets/static/fieldservice/fieldmap.js")
    assert [leaflet[0], css[0], cluster[0], script[0]] == [200, 200, 200, 200]
    assert b"Leaflet" in leaflet[1] and b"MarkerCluster" in cluster[1] and b"window.FieldMap" in script[1]
    for path in ("/fieldservice/assets/leaflet/../../../../etc/passwd", "/fieldservice/assets/leaflet/%2e%2e/%2e%2e/setup.py",
                 "/fieldservice/assets/markercluster/nothing.js"):
        assert fetch(client, path)[0] == 404


def test_a_resident_cannot_open_the_staff_map(app, client_for):
    r = client_for("resident").get(MAP)
    assert r.status_code in (302, 403)
    assert "field-map-config" not in r.get_data(as_text=True)
    assert client_for(None).get(MAP).status_code in (302, 401, 403)


def test_an_eoc_viewer_sees_every_departments_cases_but_not_the_meters(app, client_for):
    from core.extensions import db
    from core.services.cases import create_case
    from core.services.users import create_user

    name = f"eoc_{uuid.uuid4().hex[:6]}"
    with app.app_context():
        create_user(name, PASSWORD, "EOC viewer", email=f"{name}@palmcoast.example.gov")
        reference = create_case(db.session, service_code="POTHOLE", description=f"hole {name}", lat=-45.0001, long=-170.0001,
                                attributes={"SIZE": "small"}).reference
    client = client_for(name)
    r = client.get(MAP)
    assert r.status_code == 200
    codes = [layer["code"] for layer in map_config(r.get_data(as_text=True))["layers"]]
    assert codes == declared(app, "EOC viewer") and "streets" in codes and "meters" not in codes
    params = {"bbox": "-81.3,29.4,-81.1,29.6", "zoom": "12"}
    assert client.get("/fieldservice/map/layer/meters.geojson", query_string=params).status_code == 403
    cases = client.get("/fieldservice/map/layer/cases.geojson", query_string={"bbox": "-170.001,-45.001,-170.0,-45.0", "zoom": 17})
    assert reference in [f["properties"]["reference"] for f in cases.get_json()["features"]]


def test_a_configured_tile_server_is_used_and_the_note_goes(app, client_for, monkeypatch):
    section = app.extensions["civic"].plugin_config["fieldservice"]
    monkeypatch.setitem(section, "tile_url", "https://tiles.palmcoast.example.gov/{z}/{x}/{y}.png")
    html = client_for("dispatcher").get(MAP).get_data(as_text=True)
    assert map_config(html)["tile_url"] == "https://tiles.palmcoast.example.gov/{z}/{x}/{y}.png"
    assert 'id="map-no-tiles-note"' not in html


def test_dispatcher_sees_the_street_layer_drawn_in_a_real_browser(app, live_server, browser):  # noqa: F811
    from core.extensions import db
    from plugins.fieldservice.sample import load_sample_network

    with app.app_context():
        load_sample_network(db.session)
    page = browser.new_page()
    outside: list[str] = []
    page.on("request", lambda req: outside.append(req.url) if not req.url.startswith(live_server) and not req.url.startswith("data:") else None)
    try:
        sign_in(page, live_server, "dispatcher", PASSWORD)
        with page.expect_response(lambda resp: "/layer/streets.geojson" in resp.url and resp.status == 200) as streets:
            page.goto(f"{live_server}{MAP}")
        collection = streets.value.json()
        assert collection["features"], "the sample streets around the city centre"
        page.wait_for_selector("#field-map[data-fieldmap-started]")
        page.wait_for_selector(".leaflet-control-layers-overlays label")
        labels = page.locator(".leaflet-control-layers-overlays label").all_inner_texts()
        with app.app_context():
            from plugins.fieldservice.settings import layers

            names = [lay.label for lay in layers() if not lay.roles or "Dispatcher" in lay.roles]
        assert [t.strip() for t in labels] == names
        assert page.locator("#field-map canvas, #field-map svg path").count() > 0, "something is drawn"
        assert outside == [], "no request leaves the city's server"
    finally:
        page.close()


def test_map_popups_show_hostile_text_as_text_in_a_real_browser(app, live_server, browser):  # noqa: F811
    """A service named with markup by a careless admin, a GIS file whose properties hold a script, a link to
    javascript: -- the map's own popup builders (fieldmap.js, the code every layer uses) put them on the page as
    text: nothing runs, no element is made of them, no javascript: link."""
    page = browser.new_page()
    try:
        sign_in(page, live_server, "dispatcher", PASSWORD)
        page.goto(f"{live_server}{MAP}")
        page.wait_for_selector("#field-map[data-fieldmap-started]")
        made = page.evaluate("""() => {
            const bad = '<img src=x onerror="window.__pwned=1">';
            const script = '<script>window.__pwned=2<\\/script>';
            const layer = {name: bad, popup: ['NAME', 'service']};
            const props = {NAME: bad + script, service: '"><svg onload="window.__pwned=3">', url: 'javascript:window.__pwned=4',
                           count: 3, statuses: {new: bad}, status_labels: {new: script}};
            const config = {labels: {NAME: bad, service: script}, texts: {open_case: bad, items: '%(count)s ' + bad}};
            const box = document.createElement('div');
            box.innerHTML = FieldMap.popupHtml(layer, props, config) + FieldMap.popupHtml(layer, {url: '//evil.example/x'}, config) +
                            FieldMap.popupHtml(layer, {url: '/caseview/show/1'}, config) + FieldMap.cellHtml(layer, props, config);
            document.body.appendChild(box);
            return {elements: box.querySelectorAll('img, script, svg').length, links: [...box.querySelectorAll('a')].map(a => a.getAttribute('href')),
                    text: box.textContent};
        }""")
        page.wait_for_timeout(300)  # an onerror/onload would have run by now
        assert made["elements"] == 0
        assert made["links"] == ["/caseview/show/1"], "only a link to a page of the site"
        assert '<img src=x onerror="window.__pwned=1">' in made["text"]
        assert page.evaluate("window.__pwned === undefined")
    finally:
        page.close()
