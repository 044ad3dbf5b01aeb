"""Server-side SVG charts: well-formed, one shape per value, inert user text, readable axes."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from functools import partial

import pytest

from core.reports.charts import PALETTE, duration_tick_unit, nice_ticks, render_chart

SVG = "{http://www.w3.org/2000/svg}"


def parse(markup) -> ET.Element:
    root = ET.fromstring(str(markup))  # raises on anything that is not well-formed XML
    assert root.tag == f"{SVG}svg"
    return root


def shapes(root: ET.Element, css_class: str) -> list[ET.Element]:
    return [e for e in root.iter() if css_class in (e.get("class") or "").split()]


def hover(element: ET.Element) -> str:
    return element.find(f"{SVG}title").text


def texts(root: ET.Element, css_class: str) -> list[str]:
    return [e.text for e in shapes(root, css_class)]


def test_a_bar_chart_draws_one_bar_per_value_side_by_side_for_each_series():
    root = parse(render_chart("bar", ["Jan", "Feb", "Mar"], [("Received", [3, 5, 0]), ("Closed", [1, None, 7])], title="Cases per month"))
    bars = shapes(root, "civic-bar")
    assert len(bars) == 5  # None draws nothing; 0 is a bar of no height
    assert [hover(b) for b in bars[:3]] == ["Jan · Received: 3", "Feb · Received: 5", "Mar · Received: 0"]
    assert root.get("role") == "img" and root.get("aria-label") == "Cases per month"
    assert root.find(f"{SVG}title").text == "Cases per month"
    assert root.get("width") == "100%" and root.get("viewBox").startswith("0 0 ")
    assert len(shapes(root, "civic-legend-item")) == 2  # two series: a key
    series = shapes(root, "civic-series")
    assert [s.get("fill") for s in series] == list(PALETTE[:2])
    # side by side: February's "Received" bar ends where March's group has not begun
    xs = [float(b.get("x")) for b in bars]
    assert xs[0] < xs[1] < xs[2] and xs[3] > xs[0]


def test_taller_values_draw_taller_bars():
    root = parse(render_chart("bar", ["a", "b"], [("n", [10, 40])]))
    low, high = (float(b.get("height")) for b in shapes(root, "civic-bar"))
    assert high == pytest.approx(4 * low)


def test_a_line_leaves_a_gap_where_a_value_is_missing():
    labels = [f"W{i}" for i in range(6)]
    root = parse(render_chart("line", labels, [("Median", [1, 2, None, 4, 5, 6])]))
    assert len(shapes(root, "civic-point")) == 5
    lines = shapes(root, "civic-line")
    assert [len(line.get("points").split()) for line in lines] == [2, 3]  # two pieces around the gap
    assert hover(shapes(root, "civic-point")[2]) == "W3: 4"


def test_a_lone_value_between_gaps_still_shows_as_a_dot():
    root = parse(render_chart("line", ["a", "b", "c"], [("x", [None, 2, None])]))
    assert len(shapes(root, "civic-point")) == 1 and not shapes(root, "civic-line")


def test_a_pie_has_a_slice_per_value_and_gathers_the_smallest_as_other_past_eight():
    root = parse(render_chart("pie", ["Potholes", "Debris"], [("Cases", [30, 10])]))
    slices = shapes(root, "civic-slice")
    assert [hover(s) for s in slices] == ["Potholes: 30 (75%)", "Debris: 10 (25%)"]

    labels = [f"Service {i}" for i in range(1, 12)]  # 11 services, 1..11 cases
    root = parse(render_chart("pie", labels, [("Cases", list(range(1, 12)))]))
    slices = shapes(root, "civic-slice")
    assert len(slices) == 8
    assert hover(slices[0]).startswith("Service 11: 11 ")
    assert hover(slices[-1]).startswith("Other: 10 ")  # services 1-4: 1 + 2 + 3 + 4
    assert slices[-1].get("fill") == PALETTE[-1]


def test_a_pie_of_one_value_is_a_whole_circle_and_ignores_empty_slices():
    root = parse(render_chart("pie", ["Only", "None", "Zero"], [("n", [5, None, 0])]))
    (whole,) = shapes(root, "civic-slice")
    assert whole.tag == f"{SVG}circle" and hover(whole) == "Only: 5 (100%)"


def test_a_hostile_label_is_inert_text():
    hostile = '<script>alert("x")</script> & <b onmouseover=alert(1)>'
    for kind in ("bar", "line", "pie"):
        markup = str(render_chart(kind, [hostile, "ok"], [(hostile, [1, 2]), ("b", [2, 1])], title=hostile))
        assert "<script" not in markup and "<b " not in markup, kind
        root = parse(markup)
        assert not [e for e in root.iter() if e.tag.endswith("script") or e.tag == "b"]
        assert root.get("aria-label") == hostile
        titles = [e.text for e in root.iter(f"{SVG}title")]
        assert any(t and t.startswith(hostile) for t in titles), kind


def test_control_characters_in_a_label_do_not_break_the_svg():
    parse(render_chart("bar", ["tab\there\x00\x07", "b"], [("n", [1, 2])]))


def test_long_labels_are_cut_with_an_ellipsis_and_crowded_labels_thinned():
    long = "Abandoned vehicle on a public right of way"
    root = parse(render_chart("bar", [long, "b"], [("n", [1, 2])]))
    first = texts(root, "civic-category")[0]
    assert first.endswith("…") and len(first) <= 16 and long.startswith(first[:-1])
    assert hover(shapes(root, "civic-bar")[0]).startswith(long)  # the whole text on hover

    days = [f"Day {i:02d} of the month" for i in range(1, 61)]
    root = parse(render_chart("line", days, [("n", list(range(60)))]))
    shown = shapes(root, "civic-category")
    assert 2 <= len(shown) < 60
    xs = [float(t.get("x")) for t in shown]
    widest = max(len(t.text) for t in shown) * 11 * 0.62
    assert min(b - a for a, b in zip(xs, xs[1:])) >= widest  # never overlapping
    assert len(shapes(root, "civic-point")) == 60


@pytest.mark.parametrize(
    ("low", "high", "integer", "expected"),
    [
        (0, 87, True, [0, 25, 50, 75, 100]),
        (0, 10, True, [0, 5, 10]),
        (0, 10, False, [0, 2.5, 5, 7.5, 10]),
        (0, 1234, True, [0, 500, 1000, 1500]),
        (0, 7, True, [0, 2, 4, 6, 8]),
        (0, 4.2, False, [0, 2, 4, 6]),
        (0, 0.37, False, [0, 0.1, 0.2, 0.3, 0.4]),
        (-3, 12, True, [-5, 0, 5, 10, 15]),
        (0, 0, True, [0, 1]),
        (3, 5, True, [0, 2, 4, 6]),  # the axis starts at zero: bars are not exaggerated
    ],
)
def test_axis_ticks_are_round_numbers(low, high, integer, expected):
    assert nice_ticks(low, high, integer=integer) == expected


def test_the_axis_is_labelled_with_the_callers_formatter_and_counts_never_show_fractions():
    root = parse(render_chart("bar", ["a", "b"], [("n", [3, 10])], value_format=lambda v: f"{v} cases"))
    assert texts(root, "civic-tick") == ["0 cases", "5 cases", "10 cases"]


def test_a_duration_axis_counts_in_hours_or_days():
    assert duration_tick_unit(1800) == 60 and duration_tick_unit(30 * 3600) == 3600 and duration_tick_unit(9 * 86400) == 86400
    hours = lambda seconds: f"{seconds / 3600:g} h"  # noqa: E731
    root = parse(render_chart("line", ["a", "b"], [("close", [5400, 11 * 3600])], value_format=hours, tick_unit=3600))
    assert texts(root, "civic-tick") == ["0 h", "5 h", "10 h", "15 h"]
    assert hover(shapes(root, "civic-point")[0]) == "a: 1.5 h"


def test_a_fixed_scale_keeps_its_ticks_unless_a_value_falls_outside():
    root = parse(render_chart("line", ["a", "b"], [("rating", [3.5, 4.25])], ticks=(1, 2, 3, 4, 5)))
    assert texts(root, "civic-tick") == ["1", "2", "3", "4", "5"]
    root = parse(render_chart("line", ["a", "b"], [("rating", [3.5, 7])], ticks=(1, 2, 3, 4, 5)))
    assert texts(root, "civic-tick") == ["0", "2", "4", "6", "8"]


def test_nothing_to_draw_gives_a_small_no_data_picture():
    for kind, labels, series in [("bar", [], []), ("line", ["a"], [("x", [None])]), ("pie", ["a"], [("x", [0])])]:
        root = parse(render_chart(kind, labels, series, title="Trend"))
        assert "civic-chart-empty" in root.get("class")
        assert "No data" in "".join(root.itertext())
        assert root.get("aria-label") == "Trend: No data"


def test_an_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown chart kind"):
        render_chart("donut", ["a"], [("x", [1])])


def test_numbers_follow_the_readers_language(app):
    from flask_babel import force_locale

    from core.reports.formatting import format_value

    with app.test_request_context(), force_locale("fr"):
        root = parse(render_chart("bar", ["Janvier"], [("Reçus", [1500])], value_format=partial(format_value, "count")))
        assert "1\u202f500" in "".join(texts(root, "civic-tick")) or "1\u00a0500" in "".join(texts(root, "civic-tick"))
        pie = parse(render_chart("pie", ["a", "b"], [("n", [1, 3])]))
        assert hover(shapes(pie, "civic-slice")[0]) == "b: 3 (75\u00a0%)"
