"""The GIS fixtures of tests/fixtures/gis, placed for one test: ``TAG`` becomes a unique tag and the longitudes
(10.0xxx) move east by a per-tag offset, so tests sharing a database never see each other's zones or streets."""
from __future__ import annotations

import re
import uuid
from pathlib import Path

GIS = Path(__file__).resolve().parents[2] / "fixtures" / "gis"


def new_tag() -> str:
    return "t" + uuid.uuid4().hex[:7]


def offset(tag: str) -> float:
    """East shift in degrees for this tag: a 0.02-degree-wide strip of its own between 10 and 110 east."""
    return (int(tag[1:], 16) % 5000) * 0.02


def place(name: str, tag: str, folder: Path) -> Path:
    """Copy fixture ``name`` into ``folder`` for this tag; return the copy's path."""
    text = (GIS / name).read_text(encoding="utf-8").replace("TAG", tag)
    shift = offset(tag)
    text = re.sub(r"(?<![\d.])10\.0\d*", lambda m: f"{float(m.group(0)) + shift:.6f}", text)
    target = folder / f"{tag}-{name}"
    target.write_text(text, encoding="utf-8")
    return target


def long_of(tag: str, value: float) -> float:
    """Where a fixture longitude (10.0xxx) lands for this tag."""
    return round(value + offset(tag), 6)
