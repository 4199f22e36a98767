"""steps: per-step values of a job's attempts (report_step), one compact row per step, and
each attempt's count and first and last step

The primary key (job_id, attempt, step) is the table's only index: it makes a replayed event a
no-op and is the order GET /metrics reads a curve in. On SQLite the table is WITHOUT ROWID, so
one job's steps are stored together in that order.

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    _per_attempt("job_steps", ("step",), *_integers("step"),
                 sa.Column("values", sa.JSON(), nullable=False),
                 sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
                 sqlite_with_rowid=False)
    _per_attempt("job_step_spans", (), *_integers("steps", "first_step", "last_step"))


def _per_attempt(name: str, key: tuple[str, ...], *columns, **options) -> None:
    """A table keyed by (job_id, attempt, *key), deleted with its job."""
    op.create_table(
        name, sa.Column("job_id", sa.String(40), nullable=False), *_integers("attempt"), *columns,
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name=op.f(f"fk_{name}_job_id_jobs"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("job_id", "attempt", *key, name=op.f(f"pk_{name}")), **options)


def _integers(*names: str) -> list[sa.Column]:
    return [sa.Column(name, sa.Integer(), nullable=False) for name in names]


def downgrade() -> None:
    op.drop_table("job_step_spans")
    op.drop_table("job_steps")
