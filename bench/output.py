"""The harness's results: one row per measure (value, target, ratio to a baseline, pass/miss), printed as a
table and written as JSON to ``bench/results/<engine>-<timestamp>.json``.

A row's ``passed`` is None when the measure has no target on this engine or did not run (a skipped measure
keeps its row so a table always lists all of them, with the reason in ``note``).
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class Row:
    measure: str
    value: float | None
    unit: str
    target: str = ""
    passed: bool | None = None
    ratio: float | None = None  # to the baseline of the same run, where there is one
    note: str = ""
    details: dict = field(default_factory=dict)

    def value_text(self) -> str:
        if self.value is None:
            return "-"
        if self.unit in ("req/s", "ms", "s", "MB", "KB"):
            return f"{self.value:,.1f} {self.unit}" if self.value < 100 else f"{self.value:,.0f} {self.unit}"
        return f"{self.value:,.0f} {self.unit}".strip()

    def mark(self) -> str:
        return {True: "pass", False: "MISS", None: ""}[self.passed]


def table(rows: list[Row], title: str = "") -> str:
    """The rows as a fixed-width text table."""
    head = ("measure", "value", "target", "ratio", "", "note")
    lines = [(r.measure, r.value_text(), r.target, f"{r.ratio:.0%}" if r.ratio is not None else "", r.mark(), r.note) for r in rows]
    widths = [max(len(str(x[i])) for x in [head, *lines]) for i in range(len(head) - 1)]
    out = [title] if title else []
    for n, line in enumerate([head, *lines]):
        cells = [str(c).ljust(w) if i == 0 or i == 2 or i == 4 else str(c).rjust(w) for i, (c, w) in enumerate(zip(line, widths))]
        out.append("  ".join(cells + [line[-1]]).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def write_json(rows: list[Row], engine: str, meta: dict, directory: Path = RESULTS, stamp: str | None = None) -> Path:
    """``<directory>/<engine>-<YYYYmmdd-HHMMSS>.json``: the run's facts (``meta``) and every row."""
    directory.mkdir(parents=True, exist_ok=True)
    stamp = stamp or time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    path = directory / f"{engine}-{stamp}.json"
    path.write_text(json.dumps({"engine": engine, "timestamp": stamp, **meta, "measures": [asdict(r) for r in rows]},
                               indent=2, default=str) + "\n")
    return path
