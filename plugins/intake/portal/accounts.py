"""Portal routes: accounts (see plugins/intake/portal/__init__.py)."""
from __future__ import annotations

from plugins.intake.portal import portal  # noqa: F401
