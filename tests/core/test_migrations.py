"""Every environment's migrations build exactly the tables its models declare (on both backends)."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_appbuilder import Model

from core import migrate
from core.extensions import db


def test_models_and_migrations_agree_for_core_and_every_enabled_plugin(app):
    with app.app_context():
        all_specs = migrate.specs()
        assert [s.name for s in all_specs][:1] == ["core"] and "intake" in [s.name for s in all_specs]
        with db.engine.connect() as connection:
            for spec in all_specs:
                include_table = migrate.alembic_config(spec, all_specs).attributes["include_table"]

                def include_object(obj, name, type_, reflected, compare_to, include_table=include_table):
                    if type_ == "table":
                        return include_table(name)
                    table = getattr(obj, "table", None)
                    return include_table(table.name) if table is not None else True

                context = MigrationContext.configure(connection, opts={"include_object": include_object, "compare_type": False})
                diff = compare_metadata(context, Model.metadata)
                assert diff == [], f"{spec.name}: the models differ from the migrations: {diff}"
