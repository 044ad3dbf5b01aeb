"""The core's REST APIs (Flask-AppBuilder ModelRestApi), registered through ``register_apis``."""
from __future__ import annotations


def core_apis() -> list[type]:
    from core.api.cases import CaseApi
    from core.api.catalog import DepartmentApi, ServiceTypeApi
    from core.api.tasks import task_apis

    return [CaseApi, ServiceTypeApi, DepartmentApi, *task_apis()]
