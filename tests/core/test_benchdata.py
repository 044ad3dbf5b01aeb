"""`civic bench-data`: synthetic cases for the benchmarks, written in bulk, that the app reads like real ones."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.conftest import DEMO_CONFIG, build_app
from tests.fixtures import close_app, fresh_database, run_civic


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_bench_data_adds_realistic_cases_with_timelines_twice_in_a_row(kind, tmp_path):
    with fresh_database(kind, tmp_path) as url:
        assert run_civic("init", config=DEMO_CONFIG, data_dir=tmp_path, database_url=url).returncode == 0
        first = run_civic("bench-data", "--cases", "1500", "--open-share", "0.2", config=DEMO_CONFIG, data_dir=tmp_path, database_url=url)
        assert first.returncode == 0, first.stderr
        assert "bench data: 1500 cases and" in first.stdout
        again = run_civic("bench-data", "--cases", "500", config=DEMO_CONFIG, data_dir=tmp_path, database_url=url)
        assert again.returncode == 0, again.stderr
        bad = run_civic("bench-data", "--cases", "10", "--open-share", "3", config=DEMO_CONFIG, data_dir=tmp_path, database_url=url)
        assert bad.returncode == 2 and "--open-share" in bad.stderr

        app = build_app(url)
        try:
            from core.extensions import db
            from core.models import CLOSED_STATUSES, OPEN_STATUSES, Case, CaseEvent, Tag

            with app.app_context():
                s = db.session
                assert s.scalar(sa.select(sa.func.count()).select_from(Case)) == 2000
                assert s.scalar(sa.select(sa.func.count(sa.distinct(Case.reference)))) == 2000
                open_cases = s.scalar(sa.select(sa.func.count()).where(Case.status.in_(OPEN_STATUSES)))
                assert 200 < open_cases < 600  # about a fifth of the first 1,500, fewer of the rest
                assert s.scalar(sa.select(sa.func.count()).where(Case.status.in_(CLOSED_STATUSES), Case.closed_at.is_(None))) == 0
                assert s.scalar(sa.select(sa.func.count()).where(Case.closed_at < Case.created_at)) == 0
                assert len(set(s.scalars(sa.select(Case.channel).distinct()))) >= 5
                assert s.scalar(sa.select(sa.func.count()).select_from(CaseEvent).where(CaseEvent.kind == "created")) == 2000
                hurricane = s.scalar(sa.select(sa.func.count()).select_from(Case).join(Case.tags).where(Tag.name == "hurricane"))
                assert hurricane > 20
                # New cases after the synthetic ones get the next ids (PostgreSQL's sequence was moved on).
                from core.services.cases import create_case

                made = create_case(s, service_code="SIDEWALK", description="after the bench data")
                assert made.id == 2001
        finally:
            close_app(app)
