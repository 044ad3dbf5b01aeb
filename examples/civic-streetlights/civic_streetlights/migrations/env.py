"""The plugin's Alembic environment: the core's shared runner, the plugin's own version table."""
import civic_streetlights.models  # noqa: F401  (the plugin's tables on Model.metadata, for autogenerate)
from core.migrations.environment import run_environment

run_environment()
