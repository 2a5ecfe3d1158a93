"""A scanner for personal data where none may be: every table of a database, the messages waiting in queues and
dead-letter queues, log files, /metrics pages and error bodies.

It looks for the values a run seeded (names, ID numbers, mobiles) and for any other ID number or mobile that passes
the suite's own checks, so a leak of data the run did not seed is found too. A finding names where and what kind,
never the value: the scanner's report must not leak either.

    scanner = PiiScanner(names={"欧阳秋实"}, id_numbers={"370102198506121235"}, mobiles={"13905318866"})
    findings = scanner.scan_database("mysql+pymysql://root@127.0.0.1/lbit_x_intake", label="intake")
    findings += scanner.scan_files(log_dir)
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import amqp
import sqlalchemy as sa

from loanbridge.common.pii.validators import MOBILE_PATTERN, normalise_id_number

# Bounded by anything but a letter or digit, so digit runs inside hex ids, hashes and base64 do not count.
ID_CANDIDATE = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
MOBILE_CANDIDATE = re.compile(r"(?<![0-9A-Za-z])1\d{10}(?![0-9A-Za-z])")


@dataclass(frozen=True)
class Finding:
    where: str  # db:<label>.<table>.<column>, queue:<name>, file:<name>, or the label a caller gave
    kind: str  # seeded_name, seeded_id_number, seeded_mobile, id_number, mobile

    def __str__(self) -> str:
        return f"{self.kind} in {self.where}"


@dataclass
class PiiScanner:
    names: set[str] = field(default_factory=set)
    id_numbers: set[str] = field(default_factory=set)
    mobiles: set[str] = field(default_factory=set)

    def scan_text(self, where: str, text: str) -> list[Finding]:
        found = {Finding(where, "seeded_name") for name in self.names if name and name in text}
        for match in ID_CANDIDATE.finditer(text):
            value = match.group().upper()
            if value in self.id_numbers:
                found.add(Finding(where, "seeded_id_number"))
            elif _valid_id_number(value):
                found.add(Finding(where, "id_number"))
        for match in MOBILE_CANDIDATE.finditer(text):
            value = match.group()
            if value in self.mobiles:
                found.add(Finding(where, "seeded_mobile"))
            elif MOBILE_PATTERN.fullmatch(value):
                found.add(Finding(where, "mobile"))
        return sorted(found, key=str)

    def scan_database(self, url: str, *, label: str) -> list[Finding]:
        """Every text-like value of every table (bytes decoded leniently)."""
        engine = sa.create_engine(url)
        found: list[Finding] = []
        try:
            metadata = sa.MetaData()
            metadata.reflect(engine)
            with engine.connect() as connection:
                for table in metadata.sorted_tables:
                    found += self._scan_table(connection, table, label)
        finally:
            engine.dispose()
        return found

    def _scan_table(self, connection: sa.Connection, table: sa.Table, label: str) -> list[Finding]:
        columns = [column for column in table.columns if _text_like(column.type)]
        found: set[Finding] = set()
        if not columns:
            return []
        for row in connection.execute(sa.select(*columns)):
            for column, value in zip(columns, row, strict=True):
                if value is not None:
                    found.update(self.scan_text(f"db:{label}.{table.name}.{column.name}", _as_text(value)))
        return sorted(found, key=str)

    def scan_queues(self, broker_url: str, queues: Iterable[str]) -> list[Finding]:
        """The messages waiting in each queue, read without acknowledging: they go back when the channel closes."""
        from loanbridge.common.events.broker import connect

        found: list[Finding] = []
        connection = connect(broker_url)
        try:
            for queue in queues:
                channel = connection.channel()
                try:
                    while (message := channel.basic_get(queue, no_ack=False)) is not None:
                        found += self.scan_text(f"queue:{queue}", _as_text(message.body))
                except amqp.exceptions.NotFound:
                    continue  # a queue this deployment does not have
                finally:
                    if channel.is_open:
                        channel.close()  # unacknowledged messages are requeued
        finally:
            connection.release()
        return sorted(set(found), key=str)

    def scan_files(self, folder: Path, pattern: str = "*.log") -> list[Finding]:
        found: list[Finding] = []
        for path in sorted(folder.glob(pattern)):
            found += self.scan_text(f"file:{path.name}", path.read_text(encoding="utf-8", errors="replace"))
        return found


def _valid_id_number(value: str) -> bool:
    try:
        normalise_id_number(value)
    except ValueError:
        return False
    return True


def _text_like(column_type: sa.types.TypeEngine) -> bool:
    return isinstance(column_type, sa.String | sa.Text | sa.LargeBinary | sa.JSON)


def _as_text(value: object) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", errors="replace")
    return str(value)
