"""list indexes: every job-list filter and the log tail read one index range, newest first

Each filter of GET /api/v1/training/jobs gets (column, created_at, id), the list's order, so a
filtered page (and a keyset cursor into it) is one range of one index, and so does workspace
with status; they replace the single-column indexes they start with. finished_at serves the
log retention sweep, and the log tail's ORDER BY (attempt, at, rank, seq) gets its index so
`?lines=100` reads 100 rows.

Revision ID: 0010
Revises: 0009
"""
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

#: (name, columns) of the jobs indexes this revision creates.
JOB_INDEXES = (
    ("ix_jobs_created_id", ["created_at", "id"]),
    ("ix_jobs_workspace_created_id", ["workspace_id", "created_at", "id"]),
    ("ix_jobs_status_created_id", ["status", "created_at", "id"]),
    # A non-admin's list is always within their workspaces: "mine, failed" is a common ask.
    ("ix_jobs_workspace_status_created_id", ["workspace_id", "status", "created_at", "id"]),
    ("ix_jobs_batch_created_id", ["batch_id", "created_at", "id"]),
    ("ix_jobs_finished_id", ["finished_at", "id"]),
)
#: The indexes they make redundant (each is a prefix of one above), with their columns.
REPLACED = (
    ("ix_jobs_created_at", ["created_at"]),
    ("ix_jobs_workspace_id", ["workspace_id"]),
    ("ix_jobs_status", ["status"]),
    ("ix_jobs_batch_id", ["batch_id"]),
)
LOG_TAIL = ("ix_job_log_lines_tail", ["job_id", "attempt", "at", "rank", "seq"])


def upgrade() -> None:
    # Plain CREATE/DROP INDEX: SQLite needs no table copy for them (no batch mode).
    for name, columns in JOB_INDEXES:
        op.create_index(name, "jobs", columns)
    for name, _columns in REPLACED:
        op.drop_index(name, "jobs")
    op.create_index(LOG_TAIL[0], "job_log_lines", LOG_TAIL[1])


def downgrade() -> None:
    op.drop_index(LOG_TAIL[0], "job_log_lines")
    for name, columns in REPLACED:
        op.create_index(name, "jobs", columns)
    for name, _columns in JOB_INDEXES:
        op.drop_index(name, "jobs")
