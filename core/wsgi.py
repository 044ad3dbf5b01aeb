"""The WSGI entry point for a production server: ``gunicorn core.wsgi:app`` (what ``make bench`` serves).

Settings come from the environment as for ``civic serve`` (CIVIC_DATABASE_URL, CIVIC_DATA_DIR, CIVIC_CONFIG).
"""
from core import create_app

app = create_app()
