"""Running Schemathesis from a plain pytest test: every operation of a schema, positive and negative inputs.

Schemathesis' own pytest integration (``from_fixture``) does not run under pytest 9, so each operation's
Hypothesis strategy is driven here.  The run is bounded and repeatable: ``examples`` inputs per operation and
mode, derandomized (the same inputs on every run), no shrinking (a failure is reported as found), no example
database on disk.  The examples a description gives (``example`` of a parameter or body) are sent first, as
they are.  The answer is one line per failing operation, empty when all went well.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance, status_code_conformance

from tests.conftest import PASSWORD, STAFF, build_app, drop_schema, postgres_url, prepare_database

# Every answer: no 5xx; a status, content type and body the description lists.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Inputs that break the description (wrong types, missing required fields...): only "no 5xx" applies, since
# the description of a 4xx answer is what the other checks would hold them to.
NEGATIVE_CHECKS = [not_a_server_error]


def fuzz(schema, call: Callable, examples: int, skip: Iterable[str] = ()) -> list[str]:
    """Run every operation of ``schema`` (but those labelled in ``skip``, e.g. ``"POST /requests.json"``) with
    ``call(case, checks)``; return one line per failing operation and mode."""
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.label in skip:
            continue
        runs = [("example", strategy, CHECKS, 1) for strategy in schema.get_strategies_from_examples(operation)]
        runs += [(GenerationMode.POSITIVE.value, operation.as_strategy(generation_mode=GenerationMode.POSITIVE), CHECKS, examples),
                 (GenerationMode.NEGATIVE.value, operation.as_strategy(generation_mode=GenerationMode.NEGATIVE), NEGATIVE_CHECKS, examples)]
        for mode, strategy, checks, count in runs:
            try:
                _run(strategy, call, checks, count)
            except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 -- every failure is reported, the run goes on
                failures.append(f"{operation.label} ({mode}): {exc}")
    return failures


def _run(strategy, call: Callable, checks: list, count: int) -> None:
    @given(case=strategy)
    @settings(max_examples=count, derandomize=True, database=None, deadline=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck), report_multiple_bugs=False)
    def run(case):
        call(case, checks)

    run()


@contextmanager
def own_city(engine: str, tmp_path_factory) -> Iterator:
    """The demo city on a database of its own (``sqlite`` or ``postgresql``), one user per role: the fuzzer
    creates and changes things at random, which the shared test city must not see."""
    from core.extensions import db
    from core.models import Department
    from core.services.users import create_user

    schema_name = None
    if engine == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'civic.db'}"
    else:
        schema_name = f"civic_fuzz_{uuid.uuid4().hex[:10]}"
        url = postgres_url(schema_name)
    application = build_app(url)
    prepare_database(application)
    with application.app_context():
        for username, (role, codes) in STAFF.items():
            depts = [db.session.scalar(sa.select(Department).where(Department.code == c)) for c in codes]
            create_user(username, PASSWORD, role, email=f"{username}@palmcoast.example.gov", departments=depts)
        db.session.remove()
    try:
        yield application
    finally:
        with application.app_context():
            db.session.remove()
            db.engine.dispose()
        if schema_name:
            drop_schema(schema_name)
