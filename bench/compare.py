"""``python -m bench.compare BEFORE.json [AFTER.json]``: the README's before/after table (Markdown) from the JSON
copies `make bench` writes to bench/results/ -- one row per measure, matched by name."""
from __future__ import annotations

import json
import sys
from pathlib import Path


def _value(row: dict | None) -> str:
    if row is None or row.get("value") is None:
        return "-"
    value, unit = row["value"], row["unit"]
    text = f"{value:,.0f}" if value >= 100 or (not unit and value == int(value)) else f"{value:,.1f}"
    mark = {True: " ✓", False: " ✗", None: ""}[row.get("passed")]
    return f"{text} {unit}".strip() + mark


def _key(name: str) -> str:
    """A measure's name without what later runs added to it (the FEMA form: "materials" was the only one)."""
    return name.strip().replace("export materials ", "export ")


def markdown(before: dict, after: dict | None = None) -> str:
    rows_after = {_key(r["measure"]): r for r in (after or {}).get("measures", [])}
    head = f"| measure ({before['engine']}, {before.get('cases', 0):,} cases) | target | before |" + (" after |" if after else "")
    lines = [head, "|---|---|---|" + ("---|" if after else "")]
    for row in before["measures"]:
        name = row["measure"].strip()
        cells = [name, row.get("target", ""), _value(row)] + ([_value(rows_after.get(_key(name)))] if after else [])
        lines.append("| " + " | ".join(cells) + " |")
    known = {_key(r["measure"]) for r in before["measures"]}
    for name, row in rows_after.items():  # measures the "before" run did not have
        if name not in known:
            lines.append(f"| {name} | {row.get('target', '')} | - | {_value(row)} |")
    return "\n".join(lines)


def main() -> None:
    files = [json.loads(Path(p).read_text()) for p in sys.argv[1:3]]
    print(markdown(*files))


if __name__ == "__main__":
    main()
