"""preemption and quotas: which jobs may be preempted, which attempts count against the retry
budget, and each workspace's GPU quota

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("preemptible", sa.Boolean(), nullable=False,
                                   server_default=sa.true()))
    with op.batch_alter_table("job_attempts") as batch:
        batch.add_column(sa.Column("counts_against_retries", sa.Boolean(), nullable=False,
                                   server_default=sa.true()))
    with op.batch_alter_table("workspaces") as batch:
        batch.add_column(sa.Column("gpu_quota", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("workspaces") as batch:
        batch.drop_column("gpu_quota")
    with op.batch_alter_table("job_attempts") as batch:
        batch.drop_column("counts_against_retries")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("preemptible")
