"""FEMA › Import timesheets: a FEMA coordinator uploads the payroll CSV, reads the preview (the rows that will be
imported, each skipped row with its reason) and imports it; the same rules as ``civic fema import-timesheets``.
Only CSV text of a bounded size is read; only coordinators may import."""
from __future__ import annotations

import html
import io
import re
from decimal import Decimal

import pytest
from tests.conftest import csrf_token
from tests.plugins.fema.test_cost_screens import labor_rows, world  # noqa: F401 -- world: a fixture
from tests.plugins.fema.test_timesheets import _csv
from tests.plugins.fema.test_timesheets import _drop_what_the_test_made  # noqa: F401 -- autouse fixture

URL = "/fema/timesheets/"


def upload(client, w, content: bytes | str, filename: str = "week.csv", disaster=None):
    token = csrf_token(client.get(URL).get_data(as_text=True))
    data = content.encode("utf-8") if isinstance(content, str) else content
    return client.post(URL + "preview", data={"csrf_token": token, "disaster": str(disaster or w.disaster_id),
                                               "file": (io.BytesIO(data), filename)},
                       content_type="multipart/form-data")


def timesheet(w) -> str:
    return _csv(w,
                "E{t}1,2019-09-02,8,3,a,{site},Cut and toss,",   # line 2: good
                "E{t}2,09/03/2019,6,,B,{site},Sandbags,",         # line 3: good
                "E{t}1,2019-13-40,8,0,A,{site},,",                # line 4: bad date
                "NOBODY,2019-09-04,8,0,A,{site},,")               # line 5: unknown employee


def test_coordinator_previews_a_timesheet_then_imports_it(app, world, client_for):  # noqa: F811
    coordinator = client_for(f"coord-{world.tag}")
    preview = upload(coordinator, world, timesheet(world))
    assert preview.status_code == 200
    page = preview.get_data(as_text=True)
    rows = page[page.index('id="fema-timesheet-rows"'):]
    assert f"Worker E{world.tag}1" in rows and f"Worker E{world.tag}2" in rows and f"Debris {world.tag}" in rows
    skipped = page[page.index('id="fema-timesheet-skipped"'):page.index('id="fema-timesheet-rows"')]
    assert "<td>4</td>" in skipped and "bad date" in skipped
    assert "<td>5</td>" in skipped and "unknown employee" in skipped and "NOBODY" in skipped
    assert "2 row(s) will be imported, 2 skipped" in page
    assert labor_rows(app, world) == [], "a preview imports nothing"

    text = html.unescape(re.search(r'<textarea name="text" hidden>(.*?)</textarea>', page, re.S).group(1))
    done = coordinator.post(URL + "import", data={"csrf_token": csrf_token(page), "disaster": str(world.disaster_id), "text": text})
    assert done.status_code == 302
    assert sorted((r[0], r[1]) for r in labor_rows(app, world)) == [(Decimal("6.00"), Decimal("0.00")), (Decimal("8.00"), Decimal("3.00"))]
    assert "2 row(s) imported" in coordinator.get(done.headers["Location"]).get_data(as_text=True)

    again = upload(coordinator, world, timesheet(world)).get_data(as_text=True)
    assert "0 row(s) will be imported, 4 skipped" in again and "already recorded" in again
    assert 'id="fema-timesheet-import"' not in again, "nothing to import: no Import button"
    assert len(labor_rows(app, world)) == 2


@pytest.mark.parametrize("content, filename, message", [
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "week.csv", "binary"),
    ("Employee #,Work Date\n", "week.xlsx", "CSV file"),
    ("Employee #,Date,Regular,Category,Site\nE1,2019-09-02,8,A,Caf\xe9\n".encode("latin-1"), "week.csv", "UTF-8"),
    ("Employee #,Work Date,Reg Hours\nE1,2019-09-02,8\n", "week.csv", "Missing columns: category, site"),
    ("Employee #,Date\n" + "E1,2019-09-02\n" * 30_000, "week.csv", "larger than"),
    ("", "week.csv", "choose a CSV file"),
])
def test_a_file_that_is_not_a_timesheet_csv_gets_a_400_naming_the_file(app, world, client_for, content, filename, message):  # noqa: F811
    coordinator = client_for(f"coord-{world.tag}")
    refused = upload(coordinator, world, content, "" if content == "" else filename)
    body = refused.get_data(as_text=True)
    assert refused.status_code == 400 and "Timesheet file" in body and message in body, body[-2000:]
    assert labor_rows(app, world) == []


def test_a_disaster_not_in_the_list_gets_a_400_naming_it(app, world, client_for):  # noqa: F811
    refused = upload(client_for(f"coord-{world.tag}"), world, timesheet(world), disaster="x1")
    assert refused.status_code == 400 and "Disaster: choose one from the list" in refused.get_data(as_text=True)


def test_only_fema_coordinators_import_timesheets(app, world, client_for):  # noqa: F811
    for username in ("pw_staff", "crew", "dispatcher"):
        assert client_for(username).get(URL).status_code in (302, 403), username
    staff = client_for("pw_staff")  # a valid token from a form they may open: still refused
    token = csrf_token(staff.get("/laborview/add").get_data(as_text=True))
    refused = staff.post(URL + "import", data={"csrf_token": token, "disaster": str(world.disaster_id), "text": timesheet(world)})
    assert refused.status_code in (302, 403)
    coordinator = client_for(f"coord-{world.tag}")
    no_token = coordinator.post(URL + "import", data={"disaster": str(world.disaster_id), "text": timesheet(world)})
    assert no_token.status_code == 400
    assert labor_rows(app, world) == []
