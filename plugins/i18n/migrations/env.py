"""The i18n plugin's Alembic environment: the core's shared runner, the plugin's own version table."""
import plugins.i18n.models  # noqa: F401  (the i18n_ tables on Model.metadata, for autogenerate)
from core.migrations.environment import run_environment

run_environment()
