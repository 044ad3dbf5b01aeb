"""A report as a file: CSV (UTF-8 with BOM, for spreadsheets) and XLSX (numbers as numbers, a title block,
a bold header and a totals row).  Text that a spreadsheet would run as a formula is neutralised."""
from __future__ import annotations

import csv
import io
from datetime import datetime

import xlsxwriter
from flask_babel import gettext

from core.reports.engine import ReportResult
from core.reports.formatting import plain_value

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_text(value: str) -> str:
    """Text a spreadsheet would evaluate (``=HYPERLINK(...)``, ``+1``, ``@SUM``) gets a leading apostrophe."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def measure_headers(result: ReportResult) -> list[str]:
    """Column titles; durations say their unit (files hold hours, not "2 days, 3 hours")."""
    out = []
    for m in result.measures:
        label = str(m.label)
        out.append(gettext("%(measure)s (hours)", measure=label) if m.kind == "duration" else label)
    return out


def table(result: ReportResult) -> tuple[list[str], list[list]]:
    """The header and the rows (totals last) with plain values."""
    header = [result.group_label or gettext("All")] + measure_headers(result)
    rows = [[safe_text(r.label)] + [plain_value(m.kind, v) for m, v in zip(result.measures, r.values)] for r in result.rows]
    rows.append([gettext("Total")] + [plain_value(m.kind, v) for m, v in zip(result.measures, result.totals)])
    return header, rows


def title_lines(name: str, description: list[str]) -> list[str]:
    return [safe_text(name), *(safe_text(line) for line in description)]


def to_csv(result: ReportResult, name: str, description: list[str]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    for line in title_lines(name, description):
        writer.writerow([line])
    writer.writerow([])
    header, rows = table(result)
    writer.writerow(header)
    writer.writerows(rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(result: ReportResult, name: str, description: list[str], *, created: datetime | None = None) -> bytes:
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False})
    if created is not None:
        book.set_properties({"title": name, "created": created})
    sheet = book.add_worksheet(gettext("Report")[:31])
    bold = book.add_format({"bold": True})
    title = book.add_format({"bold": True, "font_size": 14})
    money = book.add_format({"num_format": "#,##0.00"})
    number = book.add_format({"num_format": "#,##0.##"})
    lines = title_lines(name, description)
    for i, line in enumerate(lines):
        sheet.write_string(i, 0, line, title if i == 0 else None)
    header, rows = table(result)
    first = len(lines) + 1
    for col, text in enumerate(header):
        sheet.write_string(first, col, text, bold)
    kinds = [m.kind for m in result.measures]
    for r, row in enumerate(rows, start=first + 1):
        is_total = r == first + len(rows)
        sheet.write_string(r, 0, str(row[0]), bold if is_total else None)
        for c, value in enumerate(row[1:], start=1):
            if value is None:
                continue
            fmt = money if kinds[c - 1] == "money" else number
            sheet.write_number(r, c, float(value), fmt)
    sheet.set_column(0, 0, 32)
    sheet.set_column(1, len(header), 18)
    sheet.freeze_panes(first + 1, 1)
    book.close()
    return out.getvalue()
