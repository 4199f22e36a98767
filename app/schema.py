"""Create and upgrade the database schema with Alembic (never create_all in request code)."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from alembic import command
from alembic.config import Config

from app.db import Database

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    return Config(str(MIGRATIONS / "alembic.ini"))


def upgrade(db: Database, revision: str = "head") -> None:
    config = alembic_config()
    with db.engine.connect() as connection, _sqlite_foreign_keys_off(connection, db.is_sqlite):
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        connection.commit()


@contextmanager
def _sqlite_foreign_keys_off(connection, is_sqlite: bool) -> Iterator[None]:
    """SQLite batch migrations copy a table, drop the original and rename the copy; with foreign
    keys on, that DROP deletes every row pointing at the table (ON DELETE CASCADE), e.g. all
    attempts and metrics of all jobs. The pragma only works outside a transaction."""
    if not is_sqlite:
        yield
        return
    raw = connection.connection.driver_connection  # does not begin a transaction
    raw.execute("PRAGMA foreign_keys=OFF")
    try:
        yield
    except BaseException:
        connection.invalidate()  # never hand a connection without foreign keys back to the pool
        raise
    broken = raw.execute("PRAGMA foreign_key_check").fetchall()
    raw.execute("PRAGMA foreign_keys=ON")
    if broken:
        raise RuntimeError(f"the migration left rows with dangling foreign keys: {broken[:5]}")


def autogenerate(db: Database, message: str) -> None:
    """For developers: write a new revision from the difference between models and database."""
    config = alembic_config()
    with db.engine.connect() as connection:
        config.attributes["connection"] = connection
        command.revision(config, message=message, autogenerate=True)
