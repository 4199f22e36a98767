"""The suite runs once per database (scripts/run-tests.sh). A test that does not depend on
which one, or whose cost buys nothing the second time, runs in one pass only."""
from __future__ import annotations

import os

import pytest

DATABASE = os.environ.get("TRAINQ_TEST_DB", "sqlite")


def only_on(database: str, why: str):
    """Skip the test in the other database's pass, saying why it runs once."""
    return pytest.mark.skipif(DATABASE != database, reason=f"runs in the {database} pass: {why}")
