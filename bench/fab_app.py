"""Baseline (b) of the case-list measure: stock Flask-AppBuilder, a ``ModelRestApi`` over the same ``case`` table.

Nothing of Civic Connect is imported: FAB's own security manager, JWT sign-in (``/api/v1/security/login``)
and permission checks, its ``count(*)`` and its default paging; the model maps the case table's main columns.
The harness asks it for the same page as the staff list (status "new", newest first, 25 rows).

``python -m bench.fab_app --init`` writes FAB's permissions for the API once (the Admin role gets them);
the gunicorn workers then start with FAB_UPDATE_PERMS off, as a production deployment would.
"""
from __future__ import annotations

import os
import sys

from flask import Flask
from flask_appbuilder import AppBuilder, Model
from flask_appbuilder.api import ModelRestApi
from flask_appbuilder.models.sqla.base import SQLA
from flask_appbuilder.models.sqla.interface import SQLAInterface
from sqlalchemy import BigInteger, Column, DateTime, Float, Integer, String, Text, event
from sqlalchemy.engine import Engine


class BenchCase(Model):
    __tablename__ = "case"
    id = Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    reference = Column(String(32))
    service_type_id = Column(Integer)
    department_id = Column(Integer)
    description = Column(Text)
    status = Column(String(20))
    priority = Column(String(10))
    channel = Column(String(10))
    zone = Column(String(50))
    lat = Column(Float)
    long = Column(Float)
    created_at = Column(DateTime)
    updated_at = Column(DateTime)
    closed_at = Column(DateTime)


class CaseApi(ModelRestApi):
    resource_name = "case"
    datamodel = SQLAInterface(BenchCase)
    list_columns = ["id", "reference", "status", "priority", "channel", "zone", "created_at", "updated_at"]
    order_columns = ["created_at", "id"]
    search_columns = ["status", "reference", "department_id"]


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    if type(dbapi_connection).__module__ == "sqlite3":
        dbapi_connection.execute("PRAGMA journal_mode=WAL")
        dbapi_connection.execute("PRAGMA busy_timeout=30000")


def create_app(update_perms: bool = False) -> Flask:
    app = Flask(__name__)
    app.config.update(
        SQLALCHEMY_DATABASE_URI=os.environ["BENCH_DATABASE_URL"], SECRET_KEY=os.environ.get("BENCH_SECRET", "bench-fab"),
        FAB_ADD_SECURITY_API=True, FAB_UPDATE_PERMS=update_perms, AUTH_ROLE_ADMIN="Admin", WTF_CSRF_ENABLED=False,
    )
    db = SQLA()
    db.init_app(app)
    with app.app_context():
        appbuilder = AppBuilder()
        appbuilder.init_app(app, db.session)
        appbuilder.add_api(CaseApi)
    return app


if __name__ == "__main__" and "--init" in sys.argv:
    create_app(update_perms=True)
    print("FAB permissions for the case API written")
else:
    app = create_app()
