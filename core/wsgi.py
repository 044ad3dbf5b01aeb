"""The WSGI entry point for a production server: ``gunicorn core.wsgi:app`` (what ``make bench`` serves).

Settings come from the environment as for ``civic serve`` (CIVIC_DATABASE_URL, CIVIC_DATA_DIR, CIVIC_CONFIG).
A config the app refuses (a bad city file, production mode with development secrets) prints one line per
problem and exits with status 2, as ``civic`` does, instead of a traceback.
"""
import sys

from core import create_app
from core.config import ConfigError

try:
    app = create_app()
except ConfigError as exc:
    for line in exc.lines:
        print(line, file=sys.stderr)
    raise SystemExit(2) from None
