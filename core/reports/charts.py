"""Charts as server-side SVG: no JavaScript and no CDN, so a report, the dashboard and the public page draw
the same picture in an e-mail, a PDF or an EOC with no internet.

``render_chart(kind, labels, series, value_format=..., title=...)`` returns safe markup for a Jinja page:

- ``kind``: ``"bar"`` (vertical bars, several series side by side), ``"line"`` (one line per series, a dot
  per value; ``None`` leaves a gap) or ``"pie"`` (the first series; more than 8 slices: the smallest are
  gathered as "Other");
- ``labels``: the categories (x axis or slices); ``series``: ``[(name, values), ...]``, values are numbers
  or ``None``;
- ``value_format``: how a value reads (the caller passes one in the reader's language, e.g.
  ``functools.partial(core.reports.formatting.format_value, "duration")``); it labels the axis ticks and
  the hover text;
- ``tick_unit``: axis ticks are "nice" multiples of this (3600 for durations in hours, 86400 in days:
  see ``duration_tick_unit``), so a duration axis reads "1 day, 2 days" rather than "100,000 seconds";
- ``ticks``: the axis ticks themselves, for a fixed scale (a rating: 1 to 5); ignored when a value falls
  outside them.

Every text is escaped (labels come from user data), coordinates are viewBox units (the chart scales to
its container's width), each bar, dot and slice carries a ``<title>`` (hover text, screen readers) and
the palette keeps neighbouring series apart when printed in grey.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from flask_babel import gettext
from markupsafe import Markup, escape

# Eight colours whose grey levels differ (70, 164, 28, 196, 93, 225, 126, 140): series next to each other
# stay apart in a black and white print.  The last, a plain grey, is the pie's "Other".
PALETTE = ("#1b4f8a", "#e39b2f", "#0b1f3a", "#a6cee3", "#a0442c", "#f8e58c", "#3a9e8c", "#8c8c8c")
WIDTH, HEIGHT = 640, 300
PIE_HEIGHT = 260
FONT = 12
SMALL = 11
CHAR = 0.62  # the width of one character, in font sizes (a generous average for sans-serif text)
MAX_LABEL = 16  # characters of a category label under the axis (the full text is in the hover title)
MAX_LEGEND = 28
MAX_SLICES = 8
NICE = (1, 2, 2.5, 5)
KINDS = ("bar", "line", "pie")

Number = float | int


# ---------------------------------------------------------------- text


def _clean(text: Any) -> str:
    """A label as text XML accepts: control characters (not allowed in XML 1.0) become spaces."""
    return "".join(c if c >= " " or c in "\t\n" else " " for c in str(text)).replace("\n", " ").replace("\t", " ")


def _esc(text: Any) -> str:
    return str(escape(_clean(text)))


def truncate(text: Any, most: int) -> str:
    """``text`` cut to ``most`` characters, ending with an ellipsis when cut."""
    text = " ".join(_clean(text).split())
    return text if len(text) <= most else text[: most - 1].rstrip() + "…"


def _width(text: str, size: float) -> float:
    return len(text) * size * CHAR


def _n(x: float) -> str:
    """A coordinate: one decimal, no trailing ``.0``."""
    s = f"{x:.1f}"
    return s[:-2] if s.endswith(".0") else s


# ---------------------------------------------------------------- scales


def nice_ticks(low: Number, high: Number, *, integer: bool = False, most: int = 4) -> list[Number]:
    """Axis ticks from at or below ``min(low, 0)`` to at or above ``max(high, 0)``, spaced by 1, 2, 2.5 or 5
    times a power of ten, at most ``most`` intervals (so 4 or 5 ticks on most ranges); ``integer``: only
    whole steps (counts never show 2.5)."""
    low, high = min(float(low), 0.0), max(float(high), 0.0)
    if high == low:
        high = low + 1
    span = high - low
    exponent = math.floor(math.log10(span / most))
    step = None
    for e in range(exponent, exponent + 3):
        for m in NICE:
            candidate = m * 10.0**e
            if integer and (candidate < 1 or not float(candidate).is_integer()):
                continue
            if math.ceil(high / candidate - 1e-9) - math.floor(low / candidate + 1e-9) <= most:
                step = candidate
                break
        if step:
            break
    first, last = math.floor(low / step + 1e-9), math.ceil(high / step - 1e-9)
    ticks = []
    for i in range(first, last + 1):
        value = round(i * step, 10)
        ticks.append(int(value) if float(value).is_integer() else value)
    return ticks


def duration_tick_unit(largest_seconds: Number | None) -> int:
    """The unit a duration axis counts in: minutes under 2 hours, hours under 3 days, else days."""
    largest = float(largest_seconds or 0)
    if largest < 2 * 3600:
        return 60
    if largest < 3 * 86400:
        return 3600
    return 86400


def _values(series: Sequence, count: int) -> list[tuple[str, list[float | None]]]:
    """Each series' values as floats (or None), exactly one per label."""
    out = []
    for name, values in series:
        values = list(values)[:count]
        values += [None] * (count - len(values))
        out.append((name, [None if v is None else float(v) for v in values]))
    return out


# ---------------------------------------------------------------- svg


def _svg(kind: str, width: float, height: float, label: str, body: list[str]) -> Markup:
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="civic-chart civic-chart-{kind}" viewBox="0 0 {_n(width)} {_n(height)}" '
        f'width="100%" preserveAspectRatio="xMidYMid meet" style="max-width:100%;height:auto" role="img" '
        f'aria-label="{_esc(label)}" font-family="sans-serif" font-size="{FONT}">'
        f"<title>{_esc(label)}</title>"
    )
    return Markup(head + "".join(body) + "</svg>")


def no_data(title: Any = "") -> Markup:
    """The small picture shown instead of an empty chart."""
    text = gettext("No data")
    label = f"{_clean(title)}: {text}" if title else text
    return _svg("empty", 320, 60, label, [f'<text x="160" y="35" text-anchor="middle" fill="#666">{_esc(text)}</text>'])


def _kind_label(kind: str) -> str:
    return {"bar": gettext("Bar chart"), "line": gettext("Line chart"), "pie": gettext("Pie chart")}[kind]


def _legend(names: list[str], top: float, left: float, right: float) -> tuple[list[str], float]:
    """Colour keys in rows under the top edge; returns the elements and the height they take."""
    out, x, y = [], left, top
    for i, name in enumerate(names):
        text = truncate(name, MAX_LEGEND)
        width = 16 + _width(text, SMALL) + 14
        if x + width > right and x > left:
            x, y = left, y + 18
        out.append(
            f'<g class="civic-legend-item"><rect x="{_n(x)}" y="{_n(y)}" width="10" height="10" fill="{PALETTE[i % len(PALETTE)]}"/>'
            f'<text x="{_n(x + 14)}" y="{_n(y + 9)}" font-size="{SMALL}">{_esc(text)}</text></g>'
        )
        x += width
    return out, (y - top) + 18 if names else 0


def _hover(label: str, name: str, value: float | None, fmt: Callable, several: bool) -> str:
    shown = "–" if value is None else fmt(_plain(value))
    return f"{_clean(label)} · {_clean(name)}: {_clean(shown)}" if several else f"{_clean(label)}: {_clean(shown)}"


def _plain(value: float) -> Number:
    return int(value) if float(value).is_integer() else value


def _axes_chart(kind: str, labels: list[str], series, fmt: Callable, title: str, tick_unit: float, fixed) -> Markup:
    numbers = [v for _, values in series for v in values if v is not None]
    fixed = sorted(float(t) for t in fixed or ())
    if len(fixed) >= 2 and fixed[0] <= min(numbers) and max(numbers) <= fixed[-1]:
        ticks = [_plain(t) for t in fixed]
    else:
        integer = all(float(v / tick_unit).is_integer() for v in numbers)
        ticks = [t * tick_unit for t in nice_ticks(min(numbers) / tick_unit, max(numbers) / tick_unit, integer=integer)]
    tick_texts = [_clean(fmt(_plain(t))) for t in ticks]
    several = len(series) > 1

    left = min(max(max(_width(t, SMALL) for t in tick_texts) + 14, 32), 200)
    right, bottom = WIDTH - 12, HEIGHT - 30
    count = len(labels)
    shown = [truncate(label, MAX_LABEL) for label in labels]
    widest = max(_width(s, SMALL) for s in shown)
    overhang = widest / 2 - (right - left) / count / 2 + 4  # how far the first and last labels reach past the plot
    left, right = max(left, overhang), min(right, WIDTH - overhang)
    body: list[str] = []
    top = 12
    if several:
        legend, used = _legend([_clean(n) for n, _ in series], top, left, right)
        body += legend
        top += used + 6
    lo, hi = ticks[0], ticks[-1]
    y_of = lambda v: bottom - (v - lo) / (hi - lo) * (bottom - top)  # noqa: E731

    body.append('<g class="civic-axis">')
    for tick, text in zip(ticks, tick_texts):
        y = y_of(tick)
        colour = "#888" if tick == 0 else "#e2e2e2"
        body.append(f'<line x1="{_n(left)}" x2="{_n(right)}" y1="{_n(y)}" y2="{_n(y)}" stroke="{colour}" stroke-width="1"/>')
        body.append(f'<text class="civic-tick" x="{_n(left - 6)}" y="{_n(y + 4)}" text-anchor="end" font-size="{SMALL}">{_esc(text)}</text>')
    body.append("</g>")

    band = (right - left) / count
    every = max(1, math.ceil((widest + 8) / band))
    body.append('<g class="civic-categories">')
    for i, text in enumerate(shown):
        if i % every == 0:
            x = left + band * (i + 0.5)
            body.append(f'<text class="civic-category" x="{_n(x)}" y="{_n(bottom + 16)}" text-anchor="middle" '
                        f'font-size="{SMALL}">{_esc(text)}</text>')
    body.append("</g>")

    zero = y_of(max(lo, min(0, hi)))
    for s, (name, values) in enumerate(series):
        colour = PALETTE[s % len(PALETTE)]
        body.append(f'<g class="civic-series" fill="{colour}">')
        if kind == "bar":
            group = band * 0.8
            width = group / len(series)
            for i, value in enumerate(values):
                if value is None:
                    continue
                x = left + band * i + (band - group) / 2 + width * s
                y = y_of(value)
                body.append(
                    f'<rect class="civic-bar" x="{_n(x)}" y="{_n(min(y, zero))}" width="{_n(max(width - 1, 1))}" height="{_n(abs(zero - y))}">'
                    f"<title>{_esc(_hover(labels[i], name, value, fmt, several))}</title></rect>"
                )
        else:
            runs: list[list[str]] = [[]]
            for i, value in enumerate(values):
                if value is None:
                    runs.append([])
                    continue
                runs[-1].append(f"{_n(left + band * (i + 0.5))},{_n(y_of(value))}")
            for run in runs:
                if len(run) > 1:
                    body.append(f'<polyline class="civic-line" points="{" ".join(run)}" fill="none" stroke="{colour}" stroke-width="2"/>')
            for i, value in enumerate(values):
                if value is not None:
                    body.append(
                        f'<circle class="civic-point" cx="{_n(left + band * (i + 0.5))}" cy="{_n(y_of(value))}" r="3.5">'
                        f"<title>{_esc(_hover(labels[i], name, value, fmt, several))}</title></circle>"
                    )
        body.append("</g>")
    return _svg(kind, WIDTH, HEIGHT, title or _kind_label(kind), body)


def _pie(labels: list[str], values: list[float | None], fmt: Callable, title: str) -> Markup:
    slices = sorted(((label, v) for label, v in zip(labels, values) if v is not None and v > 0), key=lambda s: -s[1])
    if not slices:
        return no_data(title)
    grouped = len(slices) > MAX_SLICES
    if grouped:
        rest = sum(v for _, v in slices[MAX_SLICES - 1:])
        slices = slices[: MAX_SLICES - 1] + [(gettext("Other"), rest)]
    total = sum(v for _, v in slices)
    cx, cy, r = 130, PIE_HEIGHT / 2, 110
    body = ['<g class="civic-slices" stroke="#fff" stroke-width="1.5">']
    angle = -math.pi / 2
    legend_x, legend_y = 270, max(16, PIE_HEIGHT / 2 - len(slices) * 11)
    legend = ['<g class="civic-legend">']
    for i, (label, value) in enumerate(slices):
        colour = PALETTE[-1] if grouped and i == len(slices) - 1 else PALETTE[i % len(PALETTE)]
        share = value / total
        percent = _percent(share)
        hover = f"{_clean(label)}: {_clean(fmt(_plain(value)))} ({percent})"
        if len(slices) == 1:
            shape = f'<circle class="civic-slice" cx="{_n(cx)}" cy="{_n(cy)}" r="{r}" fill="{colour}">'
            end = "</circle>"
        else:
            stop = angle + share * 2 * math.pi
            x0, y0 = cx + r * math.cos(angle), cy + r * math.sin(angle)
            x1, y1 = cx + r * math.cos(stop), cy + r * math.sin(stop)
            large = 1 if share > 0.5 else 0
            shape = (f'<path class="civic-slice" fill="{colour}" d="M{_n(cx)},{_n(cy)} L{_n(x0)},{_n(y0)} '
                     f'A{r},{r} 0 {large} 1 {_n(x1)},{_n(y1)} Z">')
            end = "</path>"
            angle = stop
        body.append(f"{shape}<title>{_esc(hover)}</title>{end}")
        y = legend_y + i * 22
        text = f"{truncate(label, MAX_LEGEND)} — {_clean(fmt(_plain(value)))} ({percent})"
        legend.append(f'<rect x="{legend_x}" y="{_n(y)}" width="12" height="12" fill="{colour}"/>'
                      f'<text x="{legend_x + 18}" y="{_n(y + 10)}" font-size="{SMALL}">{_esc(text)}</text>')
    body.append("</g>")
    legend.append("</g>")
    return _svg("pie", WIDTH, PIE_HEIGHT, title or _kind_label("pie"), body + legend)


def _percent(share: float) -> str:
    """A slice's share in the reader's number format (``42%``, ``42 %``)."""
    try:
        from babel import numbers

        from core.formats import format_locale

        return numbers.format_percent(share, locale=format_locale())
    except RuntimeError:  # outside a Flask app (a script drawing a chart)
        return f"{share * 100:.0f}%"


def render_chart(kind: str, labels: Sequence[Any], series: Sequence[tuple[Any, Sequence[Number | None]]], *,
                 value_format: Callable[[Any], Any] = str, title: Any = "", tick_unit: Number = 1,
                 ticks: Sequence[Number] | None = None) -> Markup:
    """An SVG chart (see the module docstring); "No data" when nothing is there to draw."""
    if kind not in KINDS:
        raise ValueError(f"unknown chart kind {kind!r} (one of {', '.join(KINDS)})")
    labels = [_clean(label) for label in labels]
    data = _values(series, len(labels))
    if not labels or not any(v is not None for _, values in data for v in values):
        return no_data(title)
    fmt = lambda v: value_format(v)  # noqa: E731
    if kind == "pie":
        return _pie(labels, data[0][1], fmt, _clean(title))
    return _axes_chart(kind, labels, data, fmt, _clean(title), float(tick_unit) or 1.0, ticks)
