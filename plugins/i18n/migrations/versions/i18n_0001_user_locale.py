"""i18n_user_locale: the language each staff member chose

Revision ID: i18n_0001
Revises:
"""
from alembic import op
import sqlalchemy as sa

revision = "i18n_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "i18n_user_locale",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("locale", sa.String(length=10), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["ab_user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id"),
    )


def downgrade():
    op.drop_table("i18n_user_locale")
