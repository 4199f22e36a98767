"""reliability: fault tolerance per job, attempt details, webhook expiry and locks, idempotency

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("not_before", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("auto_fault_tolerance", sa.Boolean(), nullable=False,
                                   server_default=sa.true()))
        batch.add_column(sa.Column("fault_tolerance_max_retry", sa.Integer(), nullable=False,
                                   server_default="2"))
        batch.add_column(sa.Column("fault_tolerance_retry_interval_sec", sa.Integer(),
                                   nullable=False, server_default="5"))
    with op.batch_alter_table("job_attempts") as batch:
        batch.add_column(sa.Column("exit_signal", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("message", sa.Text(), nullable=True))
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "idempotency_keys",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("job_id", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name=op.f("fk_idempotency_keys_job_id_jobs"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_idempotency_keys_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_keys")),
        sa.UniqueConstraint("user_id", "key", name="uq_idempotency_keys_user_key"),
    )


def downgrade() -> None:
    op.drop_table("idempotency_keys")
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.drop_column("locked_until")
        batch.drop_column("expires_at")
    with op.batch_alter_table("job_attempts") as batch:
        batch.drop_column("message")
        batch.drop_column("exit_signal")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("fault_tolerance_retry_interval_sec")
        batch.drop_column("fault_tolerance_max_retry")
        batch.drop_column("auto_fault_tolerance")
        batch.drop_column("not_before")
