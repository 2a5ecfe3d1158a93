"""Partner quotas: a fixed one-minute window per partner."""

from __future__ import annotations

import math
from datetime import datetime

WINDOW_SECONDS = 60


def window_start(now: datetime) -> int:
    """The epoch second the current window began."""
    return int(now.timestamp()) // WINDOW_SECONDS * WINDOW_SECONDS


def retry_after(now: datetime) -> int:
    """Whole seconds until the next window opens (at least 1)."""
    return max(1, math.ceil(window_start(now) + WINDOW_SECONDS - now.timestamp()))
