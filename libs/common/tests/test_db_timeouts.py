"""A database that takes connections but never answers costs a request little: the API answers 503 quickly."""

from __future__ import annotations

import socket
import time

import pytest

from loanbridge.common.db import Database
from loanbridge.common.errors import Unavailable


def test_a_database_that_accepts_but_never_greets_is_unavailable_within_a_second_and_a_half() -> None:
    # Found by the database-crash chaos run: mariadbd recovering after a crash holds connections without its
    # greeting, and requests waited the whole connect timeout (2 s) before their 503.
    with socket.create_server(("127.0.0.1", 0), backlog=16) as silent:  # listens, never accepts: no greeting
        port = silent.getsockname()[1]
        database = Database(f"mysql+pymysql://root@127.0.0.1:{port}/silent")
        began = time.monotonic()
        with pytest.raises(Unavailable):
            database.ping()
        database.dispose()
    assert time.monotonic() - began < 1.5
