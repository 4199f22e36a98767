"""A fresh, empty database for a test stack: a SQLite file, or a new PostgreSQL database."""
from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


def backend() -> str:
    return os.environ.get("TRAINQ_TEST_DB", "sqlite")


@contextmanager
def fresh_database(folder: Path) -> Iterator[str]:
    """SQLite in `folder`, or (TRAINQ_TEST_DB=postgres) a new database on the test server."""
    if backend() != "postgres":
        yield f"sqlite:///{folder / 'trainq.db'}"
        return
    admin_url = os.environ.get("TRAINQ_TEST_POSTGRES_URL",
                               "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    with scratch_postgres(admin_url, "trainq_test") as url:
        yield url


@contextmanager
def scratch_postgres(admin_url: str, prefix: str) -> Iterator[str]:
    """A new, empty database on the server of `admin_url`, dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
