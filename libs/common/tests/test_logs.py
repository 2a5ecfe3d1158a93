"""A log file is one JSON record per line, also when threads log through structlog and the standard library at
once (a web's request log beside a library's warning) and several processes share the file (a web's workers)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

RECORDS_PER_THREAD = 2000
LOGGING_THREADS = f"""
import logging, threading
import structlog
from loanbridge.common.logs import configure_logging

configure_logging(service="logs-test")
ours, library = structlog.get_logger("ours"), logging.getLogger("library")

def request_log():
    for n in range({RECORDS_PER_THREAD}):
        ours.info("http_request", endpoint="/api/workflow/v1/cases/<case_id>/transitions", n=n, status=200)

def library_log():
    for n in range({RECORDS_PER_THREAD}):
        library.warning("connection pool %d of %s", n, "x" * 100)

threads = [threading.Thread(target=request_log), threading.Thread(target=library_log)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
"""


def test_every_line_of_a_shared_log_file_is_one_record(tmp_path: Path) -> None:
    log_file = tmp_path / "web.log"
    with open(log_file, "ab") as shared:  # as ``loanbridge up`` gives it to a web's master and its workers
        writers = [subprocess.Popen([sys.executable, "-c", LOGGING_THREADS], stderr=shared) for _ in range(2)]
        assert [writer.wait(timeout=60) for writer in writers] == [0, 0]

    lines = log_file.read_text(encoding="utf-8").splitlines()
    broken = [line for line in lines if not _one_record(line)]
    assert len(lines) == 2 * 2 * RECORDS_PER_THREAD
    assert broken == [], f"{len(broken)} lines are not one JSON record, e.g. {broken[0][:200]!r}"


def _one_record(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except json.JSONDecodeError:
        return False
