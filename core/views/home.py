from __future__ import annotations

from flask import current_app, redirect, url_for
from flask_appbuilder import IndexView, expose

from core.security import role_names

# Roles that are not staff: their holders (and visitors) belong on the resident portal when there is one.
NON_STAFF_ROLES = frozenset({"Resident", "Public"})


class HomeIndexView(IndexView):
    """The landing page: the city's name and the way in for staff.

    When the resident portal is installed (endpoint ``portal.home``), visitors and residents are sent
    there and staff get their dashboard.
    """

    index_template = "civic/index.html"

    @expose("/")
    def index(self):
        if "portal.home" in current_app.view_functions:
            roles = role_names()
            if not roles - NON_STAFF_ROLES:
                return redirect(url_for("portal.home"))
            dashboard = next((v for v in self.appbuilder.baseviews if type(v).__name__ == "DashboardView"), None)
            if dashboard is not None and self.appbuilder.sm.has_access("can_list", "DashboardView"):
                return dashboard.index()
        return super().index()
