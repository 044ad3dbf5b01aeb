"""The staff case list built for a million cases: the ``?q=`` search box through the full-text index, a count
that stops at its cap ("10,000+"), and deep pages read through the ordering index (a deferred join) that
return exactly the rows of the plain query.  Every test runs on SQLite and on PostgreSQL.

How fast it is at 1M cases is measured by the benchmarks (bench/), not here.
"""
from __future__ import annotations

import html
import re
import uuid
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from tests.core.test_case_screens import METER, POTHOLE, make_case


def word() -> str:
    return "w" + uuid.uuid4().hex[:10]


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def listed(client, **args) -> str:
    response = client.get("/caseview/list/", query_string=args)
    assert response.status_code == 200, (args, response.status_code)
    return text(response)


def references(page: str) -> list[str]:
    """The case references on a list page, in the order shown."""
    table = page.split("Record Count")[-1]
    return list(dict.fromkeys(re.findall(r"\b[A-Z]+-\d{4}-\d+\b|\bBENCH-\d+\b", table)))


def record_count(page: str) -> str:
    m = re.search(r"Record Count:\s*(?:<[^>]+>\s*)*([^<]+?)\s*<", page)
    assert m, "no record count on the page"
    return m.group(1).strip()


def set_created(app, ids_and_times) -> None:
    """Give cases the creation times a busy day would (ties included), straight in the table."""
    from core.extensions import db
    from core.models import Case

    with app.app_context():
        for case_id, when in ids_and_times:
            db.session.execute(sa.update(Case).where(Case.id == case_id).values(created_at=when))
        db.session.commit()


# --- the search box -------------------------------------------------------------------------------------


def test_dispatcher_searches_words_of_the_description_newest_first(app, client_for):
    w = word()
    older = make_case(app, description=f"Deep pothole {w} by the school")[1]
    newer = make_case(app, description=f"Another {w} pothole, near the bridge")[1]
    other = make_case(app, description=f"Streetlight out {word()}")[1]
    page = listed(client_for("dispatcher"), q=f"pothole {w}")
    assert newer in page and older in page and other not in page
    assert page.index(newer) < page.index(older)
    assert 'name="q"' in page and f'value="pothole {w}"' in page  # the box keeps what was typed
    assert record_count(page) == "2"


def test_search_finds_a_case_by_its_reference_or_address(app, client_for):
    w = word()
    case_id, reference = make_case(app, description="Nothing to see", address=f"12 {w} Palm Harbor Pkwy")
    client = client_for("dispatcher")
    assert references(listed(client, q=reference)) == [reference]
    assert reference in listed(client, q=f"{w.upper()} harbor")  # any case, any order of the words


def test_search_without_a_match_says_so(app, client_for):
    page = listed(client_for("dispatcher"), q=f"nosuchword{word()}")
    assert "No records found" in page


def test_search_stays_in_the_users_departments(app, client_for):
    w = word()
    pw_ref = make_case(app, description=f"pothole {w}")[1]
    util_ref = make_case(app, METER, description=f"meter {w}")[1]
    page = listed(client_for("pw_staff"), q=w)
    assert pw_ref in page and util_ref not in page
    both = listed(client_for("dispatcher"), q=w)
    assert pw_ref in both and util_ref in both


def test_search_combines_with_the_other_filters(app, client_for):
    from core.extensions import db
    from core.models import Case
    from core.services.cases import SYSTEM, change_status

    w = word()
    moving_id, moving_ref = make_case(app, description=f"moving {w}")
    waiting_ref = make_case(app, description=f"waiting {w}")[1]
    with app.app_context():
        change_status(db.session, db.session.get(Case, moving_id), "in_progress", SYSTEM)
    client = client_for("dispatcher")
    page = listed(client, q=w, _flt_0_status="in_progress")
    assert moving_ref in page and waiting_ref not in page
    # The search form carries the filters already applied, and the pager carries ?q=.
    assert 'name="_flt_0_status" value="in_progress"' in page


@pytest.fixture
def common_words(app):
    """Every search treated as one for words most cases hold (on SQLite the count then walks the index's matches
    and joins the cases instead of probing the index once per case)."""
    app.config.update(CIVIC_LIST_FTS_FEW=0)
    yield
    app.config.pop("CIVIC_LIST_FTS_FEW", None)


def test_a_search_for_common_words_counts_exactly_within_filters_and_departments(app, client_for, common_words):
    from core.extensions import db
    from core.models import Case
    from core.services.cases import SYSTEM, change_status

    w = word()
    made = [make_case(app, description=f"storm {w} {i}") for i in range(5)] + [make_case(app, METER, description=f"storm {w} meter")]
    for other in (f"storm {word()}", f"calm {w}"):  # one of the two words only: not counted
        make_case(app, description=other)
    with app.app_context():
        for case_id, _ in made[:2]:
            change_status(db.session, db.session.get(Case, case_id), "in_progress", SYSTEM)
    dispatcher = client_for("dispatcher")
    assert record_count(listed(dispatcher, q=f"storm {w}")) == "6"
    moving = listed(dispatcher, q=f"storm {w}", _flt_0_status="in_progress")
    assert record_count(moving) == "2" and set(references(moving)) == {ref for _, ref in made[:2]}
    assert record_count(listed(client_for("pw_staff"), q=f"storm {w}")) == "5"  # the meter case is Utilities'


def test_a_search_for_common_words_finds_accented_text_and_words_in_any_field(app, client_for, common_words):
    """On SQLite each case's own text is read before the full-text probe (core.sqlite_search): a case whose text
    has accents is left to the index (which folds them), and a word may be in the address or the reference."""
    w = word()
    accented = make_case(app, description=f"École {w} fermée")[1]
    in_address = make_case(app, description="Tree down", address=f"12 {w} Lane")[1]
    without = make_case(app, description=f"Ecole {word()}")[1]
    dispatcher = client_for("dispatcher")
    assert references(listed(dispatcher, q=f"tree {w}")) == [in_address]
    assert references(listed(dispatcher, q=f"lane {w} {in_address}")) == [in_address]  # the reference's words too
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):  # SQLite's index folds accents (PostgreSQL's 'simple' does not)
        assert references(listed(dispatcher, q=f"ecole {w}")) == [accented]
        assert references(listed(dispatcher, q=f"ÉCOLE {w}")) == [accented]
        assert without not in references(listed(dispatcher, q=f"ecole {w}"))
    else:
        assert references(listed(dispatcher, q=f"fermée {w}")) == [accented]


def test_text_filters_on_status_keep_their_meaning(app, client_for):
    """"Starts with", "contains"... on status, priority and channel are read from the index as the codes they
    match, with the same rows as FAB's ILIKE."""
    from core.extensions import db
    from core.models import Case
    from core.services.cases import SYSTEM, change_status
    from core.views.cases import CaseView

    w = word()
    moving_id, moving_ref = make_case(app, description=f"moving {w}", channel="walk_in")
    waiting_ref = make_case(app, description=f"waiting {w}", channel="phone")[1]
    with app.app_context():
        change_status(db.session, db.session.get(Case, moving_id), "in_progress", SYSTEM)
    filters = CaseView.datamodel.get_filters(CaseView.search_columns).get_search_filters()
    index = {(col, f.arg_name): i for col, flts in filters.items() for i, f in enumerate(flts)}
    client = client_for("dispatcher")
    for (column, arg, value), (found, hidden) in {
        ("status", "sw", "IN_"): (moving_ref, waiting_ref), ("status", "nsw", "in_"): (waiting_ref, moving_ref),
        ("status", "ct", "progr"): (moving_ref, waiting_ref), ("status", "ew", "new"): (waiting_ref, moving_ref),
        ("channel", "ct", "_"): (moving_ref, waiting_ref), ("channel", "nct", "_"): (waiting_ref, moving_ref),
        ("status", "eq", "new"): (waiting_ref, moving_ref),
    }.items():
        page = listed(client, q=w, **{f"_flt_{index[(column, arg)]}_{column}": value})
        assert found in page and hidden not in page, (column, arg, value)
    assert "No records found" in listed(client, q=w, **{f"_flt_{index[('status', 'ct')]}_status": "%"})


def test_search_follows_edits_of_the_description(app, client_for):
    """The index is kept in step by triggers: a changed description is found by its new words only."""
    from core.extensions import db
    from core.models import Case
    from core.services.cases import SYSTEM, record_edit

    before, after = word(), word()
    case_id, reference = make_case(app, description=f"first words {before}")
    with app.app_context():
        case = db.session.get(Case, case_id)
        case.description = f"second words {after}"
        record_edit(db.session, case, SYSTEM)
        db.session.commit()
    client = client_for("dispatcher")
    assert reference in listed(client, q=after)
    assert reference not in listed(client, q=before)


@pytest.mark.parametrize("typed", [
    "'", '"', "&", "|", "!", "(", ")", ":", "*", "'\"&|!():*", "pothole & (", '"unclosed', "a:*", "!!x", "NEAR(a b)",
    "-", "^x", "a OR b", "\\", "%", "_", "\u00e9cole", "  ", "<script>",
])
def test_special_characters_in_the_search_never_break_the_list(app, client_for, typed):
    response = client_for("dispatcher").get("/caseview/list/", query_string={"q": typed})
    assert response.status_code == 200, response.status_code


def test_a_nul_character_in_the_search_is_refused_naming_the_field(client_for):
    response = client_for("dispatcher").get("/caseview/list/", query_string={"q": "x\x00y"})
    assert response.status_code == 400 and "q: must not contain NUL characters" in text(response)


def test_a_search_too_long_is_refused_naming_the_field(client_for):
    response = client_for("dispatcher").get("/caseview/list/", query_string={"q": "x" * 201})
    assert response.status_code == 400
    assert "Search:" in text(response)


# --- paging: the deferred join returns exactly the plain query's rows ------------------------------------


def plain_order(app, ids: list[int], column: str, direction: str) -> list[str]:
    """The references of these cases as the plain query orders them: the column, then the id (FAB's tie-breaker)."""
    from core.extensions import db
    from core.models import Case

    col = getattr(Case, column)
    order = (col.desc(), Case.id.desc()) if direction == "desc" else (col.asc(), Case.id.asc())
    with app.app_context():
        return list(db.session.scalars(sa.select(Case.reference).where(Case.id.in_(ids)).order_by(*order)))


@pytest.fixture(params=["read whole", "walk the index"])
def plan(request, app):
    """Both ways a page is read: a small result whole then sorted, a big one walked in index order (forced
    here by counting at most 5 rows, and on SQLite by treating every search as one with many matches)."""
    if request.param == "walk the index":
        app.config.update(CIVIC_LIST_COUNT_CAP=5, CIVIC_LIST_FTS_FEW=0)
    yield request.param
    app.config.pop("CIVIC_LIST_COUNT_CAP", None)
    app.config.pop("CIVIC_LIST_FTS_FEW", None)


@pytest.mark.parametrize("column,direction", [
    ("created_at", "desc"), ("created_at", "asc"), ("status", "asc"), ("priority", "desc"), ("expected_at", "desc"),
    ("reference", "asc"),
])
def test_every_page_holds_exactly_the_rows_of_the_plain_query(app, client_for, plan, column, direction):
    from core.extensions import db
    from core.models import Case
    from core.services.cases import SYSTEM, change_status

    w = word()
    ids = [make_case(app, description=f"paging {w}", priority=("low", "high", "normal")[i % 3])[0] for i in range(17)]
    noon = datetime(2026, 3, 1, 12, 0)
    set_created(app, [(case_id, noon - timedelta(minutes=i // 4)) for i, case_id in enumerate(ids)])  # ties of four
    with app.app_context():
        for case_id in ids[::5]:
            change_status(db.session, db.session.get(Case, case_id), "in_progress", SYSTEM)
        db.session.execute(sa.update(Case).where(Case.id.in_(ids[::2])).values(expected_at=None))
        db.session.commit()
    expected = plain_order(app, ids, column, direction)
    client = client_for("dispatcher")
    size = 1 if plan == "walk the index" else 5  # one row a page: the first pages are "more than counted"
    shown = []
    for page in range(len(ids) // size + 1):
        shown += references(listed(client, q=w, _oc_CaseView=column, _od_CaseView=direction, psize_CaseView=size, page_CaseView=page))
    assert shown == expected


def test_a_page_past_the_end_is_empty_not_an_error(app, client_for):
    w = word()
    make_case(app, description=f"alone {w}")
    page = listed(client_for("dispatcher"), q=w, page_CaseView=4000, psize_CaseView=25)
    assert references(page) == [] and record_count(page) == "1"


# --- the capped count ---------------------------------------------------------------------------------


@pytest.fixture
def count_cap(app):
    """The list counts at most 5 matches in these tests (a city's lists count 10,000)."""
    app.config["CIVIC_LIST_COUNT_CAP"] = 5
    yield 5
    app.config.pop("CIVIC_LIST_COUNT_CAP")


def test_a_long_list_shows_a_capped_count_and_pages_on(app, client_for, count_cap):
    w = word()
    ids = [make_case(app, description=f"many {w}")[0] for _ in range(15)]
    client = client_for("dispatcher")
    # One row a page: it counts the pages around this one (eleven), plus one to know there are more.
    first = listed(client, q=w, psize_CaseView=1)
    assert record_count(first) == "11+"
    assert "page_CaseView=1" in first  # next page
    # Further on, it counts further, and near the end the count is exact.
    last = listed(client, q=w, psize_CaseView=1, page_CaseView=14)
    assert record_count(last) == "15"
    assert references(last) == plain_order(app, ids, "created_at", "desc")[14:]
    # A short list is counted exactly.
    few = word()
    make_case(app, description=f"few {few}")
    assert record_count(listed(client, q=few)) == "1"


def test_the_api_list_caps_its_count_the_same_way(app, api, count_cap):
    from core.extensions import db
    from core.models import Case, Department

    w = word()
    ids = [make_case(app, description=f"api {w}")[0] for _ in range(14)]
    with app.app_context():
        pw = db.session.scalar(sa.select(Department.id).where(Department.code == "PW"))
        total = db.session.scalar(sa.select(sa.func.count()).select_from(Case).where(Case.department_id == pw))
    caller = api("dispatcher")
    rison = f"(filters:!((col:department,opr:rel_o_m,value:{pw})),page:0,page_size:1)"
    body = caller.get(f"/api/v1/case/?q={rison}").json
    assert body["count_capped"] is (total > 12) and body["count"] == min(total, 12)
    # Pages of the API hold the plain query's rows too (newest first, then by id).
    order = plain_order(app, ids, "created_at", "desc")
    mine = []
    for page in range(3):
        rison = f"(order_column:created_at,order_direction:desc,page:{page},page_size:5)"
        result = caller.get(f"/api/v1/case/?q={rison}").json["result"]
        mine += [r["reference"] for r in result if r["reference"] in order]
    assert mine[:len(order)] == order[:len(mine)]


def test_the_api_count_is_exact_below_the_cap(app, api):
    from core.extensions import db
    from core.models import Case

    caller = api("dispatcher")
    body = caller.get("/api/v1/case/?q=(page:0,page_size:5)").json
    with app.app_context():
        total = db.session.scalar(sa.select(sa.func.count()).select_from(Case))
    assert total < 10_000 and body["count"] == total and body["count_capped"] is False
