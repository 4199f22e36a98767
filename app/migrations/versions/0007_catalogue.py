"""catalogue: registered datasets, base models and seed 002's models; a job's runtime
environment, datasets, webhooks switch and what seed 004 submitted with it

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

CatalogueId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WorkspaceId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "datasets",
        sa.Column("id", CatalogueId, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("path", sa.String(1024), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_by", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL"),
                  nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("name", "version", name="uq_datasets_name_version"))
    op.create_table(
        "base_models",
        sa.Column("id", CatalogueId, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("framework", sa.String(20), nullable=False),
        sa.Column("script_path", sa.String(1024), nullable=False),
        sa.Column("args", sa.JSON(), nullable=False),
        sa.Column("cpu", sa.Integer(), nullable=False),
        sa.Column("memory", sa.BigInteger(), nullable=False),
        sa.Column("gpu", sa.Integer(), nullable=False),
        sa.Column("pool", sa.String(32), nullable=True),
        sa.Column("metric", sa.String(64), nullable=False),
        sa.Column("higher_is_better", sa.Boolean(), nullable=False),
        sa.Column("weights_path", sa.String(1024), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False))
    op.create_table(
        "models",
        sa.Column("id", CatalogueId, primary_key=True, autoincrement=True),
        sa.Column("uuid", sa.String(36), nullable=False, unique=True),
        sa.Column("workspace_id", WorkspaceId,
                  sa.ForeignKey("workspaces.id", ondelete="RESTRICT"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=True),
        sa.Column("language", sa.String(8), nullable=True),
        sa.Column("short_description", sa.Text(), nullable=True),
        sa.Column("long_description", sa.Text(), nullable=True),
        sa.Column("base_id", CatalogueId, sa.ForeignKey("base_models.id", ondelete="RESTRICT"),
                  nullable=False),
        sa.Column("job_id", sa.String(40), sa.ForeignKey("jobs.id", ondelete="SET NULL"),
                  nullable=True),
        sa.Column("datasets", sa.JSON(), nullable=False),
        sa.Column("release", sa.String(16), nullable=True),
        sa.Column("created_by", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL"),
                  nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("workspace_id", "name", name="uq_models_workspace_name"))
    op.create_index("ix_models_workspace_id", "models", ["workspace_id"])
    op.create_index("ix_models_job_id", "models", ["job_id"])
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("env_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("datasets", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("notify_enabled", sa.Boolean(), nullable=False,
                                   server_default=sa.true()))
        batch.add_column(sa.Column("spec_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("shm_gi", sa.Float(), nullable=True))
        batch.add_column(sa.Column("tb_summary_path", sa.String(1024), nullable=True))
        batch.add_column(sa.Column("command", sa.Text(), nullable=True))
        batch.add_column(sa.Column("recorded_fields", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        for column in ("recorded_fields", "command", "tb_summary_path", "shm_gi", "spec_id",
                       "notify_enabled", "datasets", "env_id"):
            batch.drop_column(column)
    op.drop_index("ix_models_job_id", "models")
    op.drop_index("ix_models_workspace_id", "models")
    op.drop_table("models")
    op.drop_table("base_models")
    op.drop_table("datasets")
