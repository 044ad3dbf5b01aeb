"""The pole register: a declarative Flask-AppBuilder screen."""
from __future__ import annotations

from flask_appbuilder import ModelView
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _l

from civic_streetlights.models import StreetlightPole


class StreetlightPoleView(ModelView):
    datamodel = SQLAInterface(StreetlightPole)
    list_title = _l("Streetlight poles")
    show_title = _l("Streetlight pole")
    add_title = _l("Add a streetlight pole")
    edit_title = _l("Edit a streetlight pole")
    list_columns = ["pole", "street", "lamp", "lat", "long"]
    add_columns = edit_columns = show_columns = ["pole", "street", "lamp", "lat", "long"]
    search_columns = ["pole", "street", "lamp"]
    base_order = ("pole", "asc")
    label_columns = {"pole": _l("Pole"), "street": _l("Street"), "lamp": _l("Lamp"), "lat": _l("Latitude"),
                     "long": _l("Longitude")}
