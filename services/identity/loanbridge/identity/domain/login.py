"""Lock-out: after a number of failed logins in a row an account is locked for a while."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class LockoutPolicy:
    threshold: int
    duration: timedelta

    def is_locked(self, locked_until: datetime | None, now: datetime) -> bool:
        return locked_until is not None and locked_until > now

    def after_failure(self, failed_logins: int, now: datetime) -> tuple[int, datetime | None]:
        """The failure count and lock expiry after one more failed login."""
        failed = failed_logins + 1
        if failed >= self.threshold:
            return 0, now + self.duration
        return failed, None

    def seconds_left(self, locked_until: datetime, now: datetime) -> int:
        return max(1, int((locked_until - now).total_seconds()))
