"""The fema plugin's Alembic environment: the core's shared runner, the plugin's own version table."""
import plugins.fema.models  # noqa: F401  (the fema_ tables on Model.metadata, for autogenerate)
from core.migrations.environment import run_environment

run_environment()
