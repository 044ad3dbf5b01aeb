"""Shared Alembic env logic: FAB's Model.metadata, the owner's tables only, its own version table."""
from __future__ import annotations

from alembic import context
from flask_appbuilder import Model

from core.extensions import db


def run_environment() -> None:
    config = context.config
    spec = config.attributes["spec"]
    include_table = config.attributes["include_table"]

    def include_object(obj, name, type_, reflected, compare_to):
        if type_ == "table":
            return include_table(name)
        table = getattr(obj, "table", None)
        return include_table(table.name) if table is not None else True

    with db.engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Model.metadata,
            version_table=spec.version_table,
            include_object=include_object,
            render_as_batch=True,  # SQLite ALTERs
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
