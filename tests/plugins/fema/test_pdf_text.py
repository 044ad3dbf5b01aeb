"""The PDF package reads right: the cover gives the period of the records, the summary a total per category of
every kind of cost (the same as the cost report's), each site has its page, and the certification page carries
the statement FEMA asks for even when the form's profile has none.  Text is read from the PDF's own content
streams (fpdf2 writes core-font text as ``(...) Tj``)."""
from __future__ import annotations

import re
import zlib
from decimal import Decimal

import sqlalchemy as sa

from tests.plugins.fema.test_export import export
from tests.plugins.fema.test_pdf import disaster_with_costs


def page_texts(data: bytes) -> list[str]:
    """The text of each content stream, in order (one per page for fpdf2's output)."""
    out = []
    for raw in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
        try:
            content = zlib.decompress(raw)
        except zlib.error:
            content = raw
        strings = re.findall(rb"\(((?:\\.|[^\\)])*)\)\s*Tj", content)
        if strings:
            text = " ".join(re.sub(rb"\\(.)", rb"\1", s).decode("latin-1") for s in strings)
            out.append(" ".join(text.split()))
    return out


def test_the_package_reads_cover_summary_sites_and_certification(app, session, tmp_path):
    from core.reports.engine import run
    from core.reports.spec import parse
    from core.reports.subjects import registry
    from core.models import User

    d = disaster_with_costs(session)
    record, plan, path = export(session, d, tmp_path, form="damage_inventory", fmt="pdf")
    pages = page_texts(path.read_bytes())
    cover, summary, *sites, certification = pages

    assert "FEMA Public Assistance package" in cover and d.number in cover
    assert "Period of the records 2019-09-02 - 2019-09-04" in cover  # labor 2-3 Sep, materials and contracts 3 Sep, tickets 4 Sep
    assert "Applicant PA id 035-22875-00" in cover

    assert "Summary of costs by category" in summary
    # A: 208.00 labor + 955.00 rental + 125,000.00 contract; B: 208.00 + 99.00 labor; C: 50.00 of sandbags
    assert "Total cost ($) 126,163.00 307.00 50.00 126,520.00" in summary
    assert "Debris load tickets (cubic yards) 70.0 70.0" in summary

    assert [s.split(" Category ")[0] for s in sites] == ["Site: Lehigh Trail bridge", "Site: Holland Park"]
    assert "East abutment" in sites[0] and "No photos." in sites[1]

    assert "obtained from payroll records, invoices, or other documents that are available for audit" in certification
    assert "PREPARED BY Jane Doe" in certification and "TITLE Finance Director" in certification

    admin = session.scalar(sa.select(User).where(User.username == "admin"))
    with app.test_request_context():
        result = run(session, parse({"subject": "fema_costs", "period": "all", "filters": {"disaster": [d.number]},
                                     "measures": ["total"]}, registry()), admin)
    assert Decimal(str(result.totals[0])).quantize(Decimal("0.01")) == Decimal("126520.00")
