"""gangs: jobs of several instances on several hosts, each instance's state and log lines

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("instance_count", sa.Integer(), nullable=False,
                                   server_default="1"))
    with op.batch_alter_table("job_attempts") as batch:
        batch.add_column(sa.Column("instances", sa.JSON(), nullable=True))
    # Lines are numbered per instance: (job, attempt, rank, seq) is what a replay repeats.
    with op.batch_alter_table("job_log_lines") as batch:
        batch.add_column(sa.Column("rank", sa.Integer(), nullable=False, server_default="0"))
        batch.drop_constraint("uq_job_log_lines_job_attempt_seq", type_="unique")
        batch.create_unique_constraint("uq_job_log_lines_job_attempt_rank_seq",
                                       ["job_id", "attempt", "rank", "seq"])


def downgrade() -> None:
    with op.batch_alter_table("job_log_lines") as batch:
        batch.drop_constraint("uq_job_log_lines_job_attempt_rank_seq", type_="unique")
        batch.create_unique_constraint("uq_job_log_lines_job_attempt_seq",
                                       ["job_id", "attempt", "seq"])
        batch.drop_column("rank")
    with op.batch_alter_table("job_attempts") as batch:
        batch.drop_column("instances")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("instance_count")
