"""launcher: how a job's script is started (python, or torchrun with nproc_per_node processes)

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("launcher", sa.String(length=16), nullable=False,
                                   server_default="python"))
        batch.add_column(sa.Column("nproc_per_node", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("nproc_per_node")
        batch.drop_column("launcher")
