"""The Flask extensions the core shares with plugins (one instance each, bound per app)."""
from __future__ import annotations

from flask_appbuilder.models.sqla.base import SQLA
from flask_wtf.csrf import CSRFProtect

db = SQLA()
csrf = CSRFProtect()
