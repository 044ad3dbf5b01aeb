from __future__ import annotations

from flask_appbuilder import IndexView


class HomeIndexView(IndexView):
    """The landing page: the city's name and the way in for staff."""

    index_template = "civic/index.html"
