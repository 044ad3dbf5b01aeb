"""Who may open what: the expectations of the access matrix (``tests/core/test_access_matrix.py``).

Every URL rule of the app and every operation of the REST OpenAPI document must match one entry below
(first match wins, patterns are ``fnmatch`` over the rule with its arguments written ``{name}``); a new
endpoint that matches none fails the matrix by name.  ``docs/security.md`` renders this table.

The columns (roles) are people of the demo city, made by ``tests/access_harness.py``:

- ``anonymous``: nobody signed in;
- ``resident_a``: the portal account that reported the matrix's case; ``resident_b``: another resident;
- ``staff_a``: Public Works staff (the case's department); ``staff_b``: Utilities staff (another department);
- ``dispatcher``; ``crew``: a Public Works field crew member; ``admin``.

A cell is "allowed" when the role gets the page itself (2xx, or a redirect that is not to a sign-in page), else
"refused": 403/404 for a role that is signed in; 401/403/404 or a redirect to ``/login/`` or ``/portal/sign-in`` for a
visitor.  A refusal never contains the case's description, contact or internal note.  State-changing requests
(POST/PUT/PATCH/DELETE) are sent without a CSRF token and with an empty body: a browser route never succeeds for
anyone (CSRF), an API route never succeeds for a refused role, and nothing answers 5xx; then, with the role's
valid CSRF token, a browser route refuses every role the table does not let write (the permission check).
"""
from __future__ import annotations

from dataclasses import dataclass

ROLES = ("anonymous", "resident_a", "resident_b", "staff_a", "staff_b", "dispatcher", "crew", "admin")

EVERYONE = frozenset(ROLES)
NOBODY: frozenset[str] = frozenset()
RESIDENTS = frozenset({"resident_a", "resident_b"})
ADMIN = frozenset({"admin"})
OFFICE = frozenset({"dispatcher", "admin"})  # the whole city's records
DEPARTMENTS = frozenset({"staff_a", "staff_b", "admin"})  # department staff of any department, and the admin
DESK = frozenset({"staff_a", "staff_b", "dispatcher", "admin"})  # staff at a desk: everyone but field crews
STAFF = DESK | {"crew"}  # every staff member
SIGNED_IN = STAFF | RESIDENTS
CASE_READERS = frozenset({"staff_a", "dispatcher", "crew", "admin"})  # the case's department, crews, all-cases roles
CASE_EDITORS = frozenset({"staff_a", "dispatcher", "admin"})
FEMA_OFFICE = OFFICE  # FEMA coordinators (not a matrix column) see the same as dispatchers here
FEMA_RECORDERS = frozenset({"staff_a", "admin"})  # department staff enter their people's hours (row of staff A)


@dataclass(frozen=True)
class Expect:
    """What one route answers each role."""

    allow: frozenset[str]  # the roles that get the page itself; the others are refused
    why: str = ""  # shown in docs/security.md
    write: frozenset[str] | None = None  # REST API: roles that pass the permission check on PUT/POST (default: allow)
    public: bool = False  # the same answer whoever asks (static files, token links): only "never 5xx" is checked
    # The matrix database has no row for the argument, or the page needs parameters the matrix does not send:
    # allowed roles may get a 400/404 too (refused roles must still be refused).
    missing: bool = False
    skip: str = ""  # not requested, and why


def crud(base: str, *, read: frozenset[str], add: frozenset[str] = NOBODY, edit: frozenset[str] | None = None,
         delete: frozenset[str] = NOBODY, show: frozenset[str] | None = None, missing: bool = False,
         actions: frozenset[str] = NOBODY, why: str = "") -> list[tuple[str, Expect]]:
    """The routes of one Flask-AppBuilder model view (list, show, add, edit, delete, download, actions).
    ``actions``: the roles with a permission for one of the list's bulk actions (the others get 403)."""
    edit = add if edit is None else edit
    show = read if show is None else show
    return [
        (f"{base}/list/", Expect(read, why)),
        (f"{base}/show/{{pk}}", Expect(show, why, missing=missing)),
        (f"{base}/add", Expect(add, why)),
        (f"{base}/edit/{{pk}}", Expect(edit, why, missing=missing)),
        # GET never deletes (FAB refuses a GET that changes data while CSRF is on: back to the list).
        (f"{base}/delete/{{pk}}", Expect(delete, why)),
        (f"{base}/download/{{filename}}", Expect(NOBODY, "no file columns: 403, or 404 for the admin")),
        (f"{base}/action/{{name}}/{{pk}}", Expect(EVERYONE, "a GET never acts: FAB sends everyone back", public=True)),
        (f"{base}/action_post", Expect(NOBODY, "POST only: the list's bulk actions", write=actions or None)),
    ]


TABLE: list[tuple[str, Expect]] = [
    # ---------------------------------------------------------------- public: anyone, signed in or not
    ("/", Expect(EVERYONE, "home: staff see their dashboard, everyone else is sent to the portal")),
    ("/health", Expect(EVERYONE, "load balancers' health check (no personal data)")),
    ("/civic-static/{filename}", Expect(EVERYONE, "static files", public=True)),
    ("/static/appbuilder/{filename}", Expect(EVERYONE, "static files", public=True)),
    ("/portal/static/{filename}", Expect(EVERYONE, "static files", public=True)),
    ("/portal/leaflet/{filename}", Expect(EVERYONE, "static files", public=True)),
    ("/help/static/{filename}", Expect(EVERYONE, "static files", public=True)),
    ("/fieldservice/assets/*", Expect(EVERYONE, "static map files", public=True)),
    ("/fieldservice/crew/sw.js", Expect(EVERYONE, "the crew page's service worker (no data)", public=True)),
    ("/login/", Expect(EVERYONE, "staff sign-in (signed-in users are sent on)")),
    ("/logout/", Expect(EVERYONE, "sign out", skip="it would sign the role's browser out; tests/core/test_security_settings.py")),
    ("/lang/{locale}", Expect(EVERYONE, "language switch: back to the previous page of this site")),
    ("/back", Expect(EVERYONE, "back to the previous page of this site")),
    ("/performance/", Expect(EVERYONE, "public performance page (counts only)")),
    ("/portal/", Expect(EVERYONE, "the resident portal")),
    ("/portal/addresses", Expect(EVERYONE, "address suggestions of the report form (no names)")),
    ("/portal/search", Expect(EVERYONE, "service search")),
    ("/portal/nearby", Expect(EVERYONE, "open cases near a point (needs lat/long: 404 without)", public=True)),
    ("/portal/report/{service_code}", Expect(EVERYONE, "the report form (anonymous reports are allowed)")),
    ("/portal/report/{service_code}/suggestions", Expect(EVERYONE, "help articles for the report form")),
    ("/portal/cases/{reference}", Expect(EVERYONE, "the public case page: no contact, no internal note")),
    ("/portal/cases/{reference}/submitted", Expect(EVERYONE, "the thank-you page after a report")),
    ("/portal/cases/{reference}/follow", Expect(EVERYONE, "POST only (CSRF)")),
    ("/portal/cases/{reference}/me-too", Expect(EVERYONE, "POST only (CSRF)")),
    ("/portal/photos/{attachment_id}", Expect(EVERYONE, "a public photo of a case")),
    ("/portal/photos/{attachment_id}/thumbnail", Expect(EVERYONE, "a public photo of a case")),
    ("/portal/sign-in", Expect(EVERYONE, "resident sign-in (signed-in residents are sent to My city)")),
    ("/portal/sign-up", Expect(EVERYONE, "resident sign-up")),
    ("/portal/sign-out", Expect(EVERYONE, "POST only (CSRF)")),
    ("/portal/reset", Expect(EVERYONE, "ask for a password reset link")),
    ("/portal/reset/{token}", Expect(EVERYONE, "password reset link (a wrong token: 400)", public=True)),
    ("/portal/confirm/{token}", Expect(EVERYONE, "account confirmation link", public=True)),
    ("/portal/survey/{token}", Expect(EVERYONE, "'Was this resolved?' link", public=True)),
    ("/portal/unfollow/{token}", Expect(EVERYONE, "'stop following' link", public=True)),
    ("/help/", Expect(EVERYONE, "public knowledge base")),
    ("/help/search", Expect(EVERYONE, "public knowledge base")),
    ("/help/articles/{slug}", Expect(EVERYONE, "a published article")),
    ("/help/articles/{slug}/vote", Expect(EVERYONE, "POST only (CSRF)")),
    ("/help/topics/{code}", Expect(EVERYONE, "a public topic")),
    ("/knowledge/api/v1/*", Expect(EVERYONE, "public articles and FAQ for apps (a search needs q: 400 without)", public=True)),
    ("/open311/v2/*", Expect(EVERYONE, "Open311: reads are public; POSTs need an API key (403 without), no CSRF",
                              public=True)),
    # ---------------------------------------------------------------- residents only
    ("/portal/my-city", Expect(RESIDENTS, "a resident's own page; staff get 403")),
    ("/portal/my-city/*", Expect(RESIDENTS, "a resident's own settings, data and account")),
    # ---------------------------------------------------------------- the REST API (JWT)
    ("/api/{version}/_openapi", Expect(ADMIN, "the OpenAPI document")),
    ("/swagger/{version}", Expect(ADMIN, "Swagger UI")),
    ("/api/v1/menu/", Expect(ADMIN, "FAB's menu API")),
    ("/api/v1/security/login", Expect(EVERYONE, "JWT sign-in (POST only)", public=True)),
    ("/api/v1/security/refresh", Expect(EVERYONE, "JWT refresh (POST with a refresh token only)", public=True)),
    ("/api/v1/case/{pk}*", Expect(CASE_READERS, "one case: its department, crews and all-cases roles; others 404",
                                 write=CASE_EDITORS)),
    ("/api/v1/case/*", Expect(STAFF, "cases, scoped to the reader's departments; desk staff create", write=DESK)),
    ("/api/v1/task/{pk}*", Expect(CASE_READERS, "one task: its case's readers", write=CASE_READERS)),
    ("/api/v1/task/*", Expect(STAFF, "tasks, scoped to the reader's departments; desk staff create", write=DESK)),
    ("/api/v1/department/*", Expect(STAFF, "the catalog (read); admins edit", write=ADMIN)),
    ("/api/v1/service/*", Expect(STAFF, "the catalog (read); admins edit", write=ADMIN)),
    # ---------------------------------------------------------------- cases, tasks, files
    *crud("/caseview", read=STAFF, show=CASE_READERS, add=DESK, edit=CASE_EDITORS, actions=DESK,
          why="cases: lists scoped to the reader's departments; another department's case is a 404"),
    ("/caseview/act/{pk}", Expect(CASE_READERS, "POST only (CSRF)")),
    *crud("/taskview", read=STAFF, show=CASE_READERS, why="tasks: edited on their case's page"),
    ("/taskview/act/{pk}", Expect(CASE_READERS, "POST only (CSRF)")),
    ("/taskview/add_to/{case_id}", Expect(CASE_READERS, "POST only (CSRF); the case's department (its crews too)")),
    ("/taskview/photo/{pk}", Expect(CASE_READERS, "POST only (CSRF)")),
    ("/attachments/case/{case_id}", Expect(CASE_READERS, "POST only (CSRF)")),
    ("/attachments/{pk}*", Expect(CASE_READERS, "a case's file: its readers only")),
    ("/dashboard/", Expect(STAFF, "the staff home page")),
    ("/forme/", Expect(STAFF, "the user's own mentions")),
    ("/forme/*", Expect(STAFF, "POST only (CSRF)")),
    ("/queue/", Expect(DESK, "department queues")),
    ("/queue/assign", Expect(DESK, "POST only (CSRF)")),
    ("/workload/", Expect(DESK, "who holds how much")),
    *crud("/incidentview", read=STAFF, add=OFFICE, edit=OFFICE, missing=True, why="incidents"),
    ("/incidentview/link", Expect(DESK, "link cases (a GET goes back to the list)")),
    ("/incidentview/*", Expect(OFFICE, "POST only (CSRF)")),
    # ---------------------------------------------------------------- accounts, catalog, administration
    *crud("/accountview", read=DESK, add=OFFICE, why="resident accounts: department staff read, dispatchers edit"),
    *crud("/apikeyview", read=ADMIN, add=ADMIN, missing=True, why="Open311 API keys"),
    ("/apikeyview/revoke/{pk}", Expect(ADMIN, "revoke a key", missing=True)),
    *crud("/departmentview", read=DESK, add=ADMIN, why="the catalog"),
    *crud("/servicetypeview", read=DESK, add=ADMIN, why="the catalog"),
    *crud("/tagview", read=DESK, add=ADMIN, missing=True, why="the catalog's tags"),
    *crud("/crewview", read=OFFICE, add=ADMIN, why="field crews"),
    *crud("/noticeview", read=DESK, add=OFFICE, missing=True, why="notices to residents"),
    ("/noticeview/send/{pk}", Expect(OFFICE, "send a notice", missing=True)),
    *crud("/calls/log", read=OFFICE, why="the call log", missing=True),
    ("/calls/new/", Expect(OFFICE, "the phone desk")),
    ("/calls/new/*", Expect(OFFICE, "POST only (CSRF)")),
    ("/calls/done/{call_id}", Expect(OFFICE, "a finished call", missing=True)),
    *crud("/auditlog", read=ADMIN, why="the audit log: Admin only"),
    *crud("/users", read=ADMIN, add=ADMIN, delete=ADMIN, actions=ADMIN, why="FAB's user screens"),
    ("/users/userinfo/", Expect(ADMIN, "FAB's own-profile page (staff use /userinfoeditview/)")),
    *crud("/roles", read=ADMIN, add=ADMIN, delete=ADMIN, actions=ADMIN, why="FAB's role screens"),
    *crud("/groups", read=ADMIN, add=ADMIN, delete=ADMIN, missing=True, why="FAB's group screens"),
    *crud("/permissions", read=ADMIN, show=NOBODY, why="FAB's permission list"),
    *crud("/permissionviews", read=ADMIN, show=NOBODY, why="FAB's permission list"),
    *crud("/viewmenus", read=ADMIN, show=NOBODY, why="FAB's permission list"),
    ("/userstatschartview/*", Expect(ADMIN, "FAB's sign-in statistics")),
    ("/resetpassword/form", Expect(ADMIN, "the admin sets another user's password")),
    ("/resetmypassword/form", Expect(STAFF, "a staff member changes their own password")),
    ("/userinfoeditview/form", Expect(STAFF, "a staff member edits their own name")),
    # ---------------------------------------------------------------- reports
    ("/reports/", Expect(DESK, "saved reports shared with the reader")),
    ("/reports/new", Expect(OFFICE, "build a report")),
    ("/reports/run", Expect(DESK, "run a report (without parameters: back to the form)")),
    ("/reports/export.{fmt}", Expect(DESK, "export a report run (without parameters: 400)", missing=True)),
    ("/reports/{pk}", Expect(DESK, "a saved report", missing=True)),
    ("/reports/{pk}/edit", Expect(OFFICE, "edit a saved report", missing=True)),
    ("/reports/{pk}/export.{fmt}", Expect(DESK, "export a saved report", missing=True)),
    ("/reports/{pk}/*", Expect(DESK, "POST only (CSRF)")),
    # ---------------------------------------------------------------- knowledge
    *crud("/articleview", read=DESK, add=DEPARTMENTS, why="knowledge articles: staff write, reviewers publish"),
    ("/articleview/history/{pk}", Expect(DESK, "an article's versions")),
    ("/articleview/*", Expect(DEPARTMENTS, "POST only (CSRF)")),
    *crud("/faqview", read=DESK, add=DEPARTMENTS, why="FAQ"),
    ("/faqview/workflow/{pk}", Expect(DEPARTMENTS, "POST only (CSRF)")),
    *crud("/topicview", read=DESK, add=ADMIN, why="knowledge topics"),
    ("/knowledge/measures/", Expect(DEPARTMENTS, "knowledge measures")),
    ("/knowledge/tags/{name}", Expect(STAFF, "cases and articles with a tag")),
    ("/knowledge/desk/cases/{case_id}/send", Expect(CASE_READERS, "POST only (CSRF); the case's department (its crews too)")),
    # ---------------------------------------------------------------- field service
    ("/fieldservice/map/", Expect(STAFF, "the map (each layer limited to the roles the config names)")),
    ("/fieldservice/map/layer/{code}.geojson", Expect(STAFF, "one map layer")),
    ("/fieldservice/eoc/", Expect(OFFICE, "the EOC board")),
    ("/fieldservice/eoc/api/summary", Expect(OFFICE, "the EOC board's numbers")),
    ("/fieldservice/eoc/api/hotspots.geojson", Expect(OFFICE, "hot spots (needs a bounding box: 400 without)",
                                                      missing=True)),
    ("/fieldservice/crew/", Expect(frozenset({"dispatcher", "crew", "admin"}), "a crew's sweep page")),
    ("/fieldservice/crew/api/sweep/{pk}/segments", Expect(frozenset({"dispatcher", "crew", "admin"}),
                                                          "a sweep's streets for crews", missing=True)),
    ("/fieldservice/crew/api/*", Expect(frozenset({"dispatcher", "crew", "admin"}), "POST only (CSRF)")),
    ("/fieldservice/sweeps/", Expect(OFFICE, "storm sweeps")),
    ("/fieldservice/sweeps/new", Expect(OFFICE, "a new sweep")),
    ("/fieldservice/sweeps/{pk}", Expect(OFFICE, "a sweep", missing=True)),
    ("/fieldservice/sweeps/{pk}/streets.geojson", Expect(OFFICE, "a sweep's streets", missing=True)),
    ("/fieldservice/sweeps/*", Expect(OFFICE, "POST only (CSRF)")),
    ("/fieldservice/photos/{pk}", Expect(CASE_READERS, "a sweep check-off photo", missing=True)),
    ("/fieldservice/workorders/", Expect(STAFF, "work orders")),
    ("/fieldservice/workorders/day/", Expect(STAFF, "my day")),
    ("/fieldservice/workorders/create/{case_id}", Expect(CASE_EDITORS, "a work order on the case")),
    ("/fieldservice/workorders/complete/{task_id}", Expect(CASE_READERS, "complete a work order (the matrix's task "
                                                           "is not a work order: 404)", missing=True)),
    # ---------------------------------------------------------------- FEMA
    *crud("/disasterview", read=FEMA_OFFICE, add=ADMIN, actions=ADMIN, why="disasters: FEMA coordinators manage, dispatchers read"),
    *crud("/employeeview", read=DESK, show=frozenset({"staff_a", "dispatcher", "admin"}), add=ADMIN, delete=ADMIN,
          why="FEMA employees: department staff see their departments' people"),
    *crud("/equipmentregisterview", read=DESK, show=frozenset({"staff_a", "dispatcher", "admin"}), add=ADMIN,
          delete=ADMIN, why="FEMA equipment register"),
    *crud("/laborview", read=DESK, show=frozenset({"staff_a", "dispatcher", "admin"}), add=DEPARTMENTS,
          edit=FEMA_RECORDERS, delete=ADMIN, why="FEMA labor: department staff enter their people's hours"),
    *crud("/equipmentuseview", read=DESK, show=frozenset({"staff_a", "dispatcher", "admin"}), add=DEPARTMENTS,
          edit=FEMA_RECORDERS, delete=ADMIN, why="FEMA equipment use"),
    *crud("/siteview", read=DESK, add=ADMIN, delete=ADMIN, missing=True, why="FEMA sites"),
    *crud("/materialview", read=FEMA_OFFICE, add=ADMIN, delete=ADMIN, missing=True, why="FEMA materials"),
    *crud("/rentalview", read=FEMA_OFFICE, add=ADMIN, delete=ADMIN, missing=True, why="FEMA rented equipment"),
    *crud("/contractview", read=FEMA_OFFICE, add=ADMIN, delete=ADMIN, missing=True, why="FEMA contracts"),
    *crud("/truckview", read=FEMA_OFFICE, add=ADMIN, delete=ADMIN, missing=True, why="FEMA trucks"),
    *crud("/loadticketview", read=FEMA_OFFICE, add=ADMIN, delete=ADMIN, missing=True, why="FEMA load tickets"),
    ("/fema/checklist/*", Expect(FEMA_OFFICE, "the checklist before an export")),
    ("/fema/exports/", Expect(FEMA_OFFICE, "FEMA exports (dispatchers read the log)")),
    ("/fema/exports/run", Expect(ADMIN, "POST only (CSRF)")),
    ("/fema/rates/", Expect(FEMA_OFFICE, "rate schedules")),
    ("/fema/rates/{edition}", Expect(FEMA_OFFICE, "one rate schedule", missing=True)),
    ("/fema/my-hours/*", Expect(frozenset({"staff_a", "staff_b", "crew", "admin"}), "a person's own FEMA hours")),
    ("/fema/sites/{site_id}/photos", Expect(DESK, "a site's photos")),
    ("/fema/sites/photo/*", Expect(DESK, "one site photo", missing=True)),
    ("/fema/timesheets/*", Expect(ADMIN, "timesheet import")),
]


def normalised(rule: str) -> str:
    """``/caseview/show/<pk>`` and ``/case/<int:pk>`` as the table writes them: ``{pk}``."""
    import re

    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule)


def expectation(rule: str) -> tuple[str, Expect] | None:
    """The first entry whose pattern matches the rule (written ``<arg>`` or ``{arg}``), or None."""
    from fnmatch import fnmatchcase

    path = normalised(rule)
    for pattern, expect in TABLE:
        if fnmatchcase(path, pattern):
            return pattern, expect
    return None


HEADINGS = {"anonymous": "anon", "resident_a": "res A", "resident_b": "res B", "staff_a": "staff A",
            "staff_b": "staff B", "dispatcher": "disp", "crew": "crew", "admin": "admin"}


def render_markdown() -> str:
    """The table as docs/security.md shows it (``python -c "from tests.access_table import render_markdown as r;
    print(r())"``); tests/core/test_access_matrix.py checks that the document carries this exact text."""
    lines = ["| route | " + " | ".join(HEADINGS[r] for r in ROLES) + " | notes |",
             "|---|" + "---|" * len(ROLES) + "---|"]
    for pattern, expect in TABLE:
        cells = ["·" if expect.public else ("✓" if role in expect.allow else "–") for role in ROLES]
        notes = expect.why
        if expect.write is not None:
            notes += f"; writes: {', '.join(HEADINGS[r] for r in ROLES if r in expect.write)}"
        if expect.missing:
            notes += " (the matrix may get 400/404: no such row or parameters)"
        if expect.skip:
            notes += f" (not requested: {expect.skip})"
        lines.append(f"| `{pattern}` | " + " | ".join(cells) + f" | {notes} |")
    return "\n".join(lines)
