"""Create and upgrade the database schema with Alembic (never create_all in request code)."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from app.db import Database

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    return Config(str(MIGRATIONS / "alembic.ini"))


def upgrade(db: Database, revision: str = "head") -> None:
    config = alembic_config()
    with db.engine.connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        connection.commit()


def autogenerate(db: Database, message: str) -> None:
    """For developers: write a new revision from the difference between models and database."""
    config = alembic_config()
    with db.engine.connect() as connection:
        config.attributes["connection"] = connection
        command.revision(config, message=message, autogenerate=True)
