"""workspaces, memberships, revoked tokens; every job belongs to a workspace

Revision ID: 0002
Revises: 0001

Existing data keeps working: jobs without a workspace go to the "default" workspace (id 1),
jobs that named some other workspace id get a workspace of that id ("workspace-<id>"), and every
existing user becomes a manager of "default" (before this revision every user saw every job).
"""
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

WORKSPACE_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
DEFAULT_MAX_QUEUED_JOBS = 1000


def upgrade() -> None:
    _create_tables()
    _backfill()
    with op.batch_alter_table("jobs") as batch:
        batch.alter_column("workspace_id", existing_type=sa.BigInteger(), nullable=False)
        batch.create_foreign_key(op.f("fk_jobs_workspace_id_workspaces"), "workspaces",
                                 ["workspace_id"], ["id"], ondelete="RESTRICT")


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_constraint(op.f("fk_jobs_workspace_id_workspaces"), type_="foreignkey")
        batch.alter_column("workspace_id", existing_type=sa.BigInteger(), nullable=True)
    op.drop_table("revoked_tokens")
    op.drop_table("workspace_members")
    op.drop_table("workspaces")


def _create_tables() -> None:
    op.create_table(
        "workspaces",
        sa.Column("id", WORKSPACE_ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("max_gpus_per_job", sa.Integer(), nullable=True),
        sa.Column("max_queued_jobs", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workspaces")),
        sa.UniqueConstraint("name", name=op.f("uq_workspaces_name")))
    op.create_table(
        "workspace_members",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("workspace_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE",
                                name=op.f("fk_workspace_members_workspace_id_workspaces")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE",
                                name=op.f("fk_workspace_members_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workspace_members")),
        sa.UniqueConstraint("workspace_id", "user_id",
                            name="uq_workspace_members_workspace_user"))
    op.create_index(op.f("ix_workspace_members_user_id"), "workspace_members", ["user_id"])
    op.create_table(
        "revoked_tokens",
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_revoked_tokens")))
    op.create_index(op.f("ix_revoked_tokens_expires_at"), "revoked_tokens", ["expires_at"])


def _backfill() -> None:
    bind = op.get_bind()
    now = datetime.now(timezone.utc)
    workspaces = sa.table("workspaces", sa.column("id", sa.BigInteger()), sa.column("name"),
                          sa.column("max_queued_jobs"), sa.column("created_at"))
    members = sa.table("workspace_members", sa.column("workspace_id"), sa.column("user_id"),
                       sa.column("role"), sa.column("created_at"))
    jobs = sa.table("jobs", sa.column("workspace_id", sa.BigInteger()))
    users = sa.table("users", sa.column("id"))
    named = bind.execute(sa.select(jobs.c.workspace_id).distinct()
                         .where(jobs.c.workspace_id.is_not(None), jobs.c.workspace_id != 1))
    rows = [{"id": 1, "name": "default", "max_queued_jobs": DEFAULT_MAX_QUEUED_JOBS,
             "created_at": now}]
    rows += [{"id": wid, "name": f"workspace-{wid}", "max_queued_jobs": None, "created_at": now}
             for (wid,) in named]
    op.bulk_insert(workspaces, rows)
    bind.execute(jobs.update().where(jobs.c.workspace_id.is_(None)).values(workspace_id=1))
    user_ids = [uid for (uid,) in bind.execute(sa.select(users.c.id))]
    if user_ids:
        op.bulk_insert(members, [{"workspace_id": 1, "user_id": uid, "role": "manager",
                                  "created_at": now} for uid in user_ids])
    if bind.dialect.name == "postgresql":
        # Ids were given explicitly; the sequence must continue after the largest.
        bind.execute(sa.text("SELECT setval(pg_get_serial_sequence('workspaces', 'id'), "
                             "(SELECT max(id) FROM workspaces))"))
