"""The core's Alembic environment; plugins' env.py files call run_environment() too."""
from core.migrations.environment import run_environment

run_environment()
