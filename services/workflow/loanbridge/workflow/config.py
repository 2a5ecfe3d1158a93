"""workflow's settings: working hours, follow-up cadence by grade, public-pool recycling, caps, timer batches."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from loanbridge.common import calendar
from loanbridge.common.config import ConfigError, Env

GRADES = ("A", "B", "C")


def _working_hours(env: Env) -> calendar.WorkingHours:
    hours = env.get("WORKFLOW_WORKING_HOURS", "09:00-18:00") or "09:00-18:00"
    lunch = env.get("WORKFLOW_LUNCH_BREAK", "") or ""
    try:
        return calendar.WorkingHours.parse(hours, lunch)
    except ValueError as exc:
        raise ConfigError("LOANBRIDGE_WORKFLOW_WORKING_HOURS / _LUNCH_BREAK must look like 09:00-18:00") from exc


def _per_grade(env: Env, name: str, default: dict[str, int]) -> dict[str, int]:
    """``A=2,B=5,C=10``: a number of days per customer grade."""
    raw = env.get(name)
    if raw is None:
        return dict(default)
    try:
        given = {key.strip(): int(value) for key, value in (part.split("=") for part in raw.split(",") if part)}
    except ValueError as exc:
        raise ConfigError(f"LOANBRIDGE_{name} must look like A=2,B=5,C=10, got {raw!r}") from exc
    return {**default, **{grade: days for grade, days in given.items() if grade in GRADES}}


@dataclass(frozen=True)
class WorkflowConfig:
    working_hours: calendar.WorkingHours = field(default_factory=calendar.WorkingHours)
    followup_days: dict[str, int] = field(default_factory=lambda: {"A": 2, "B": 5, "C": 10})
    default_grade: str = "B"
    # A customer nobody followed up for this many days (by grade) goes back to the public pool.
    recycle_days: dict[str, int] = field(default_factory=lambda: {"A": 7, "B": 15, "C": 30})
    # Stages in which a lapsed customer is recycled; later stages have work in progress with lenders.
    recycle_stages: tuple[str, ...] = ("new", "assigned", "pre_review", "plan_matching")
    reclaim_cooldown_days: int = 7
    default_cap: int = 200
    timer_batch: int = 500
    timer_poll_seconds: float = 1.0

    @classmethod
    def from_env(cls, env: Env | None = None) -> WorkflowConfig:
        env = env or Env()
        default = cls()
        stages = tuple(s.strip() for s in (env.get("WORKFLOW_RECYCLE_STAGES") or "").split(",") if s.strip())
        grade = env.get("WORKFLOW_DEFAULT_GRADE", "B") or "B"
        if grade not in GRADES:
            raise ConfigError("LOANBRIDGE_WORKFLOW_DEFAULT_GRADE must be A, B or C")
        return cls(
            working_hours=_working_hours(env),
            followup_days=_per_grade(env, "WORKFLOW_FOLLOWUP_DAYS", default.followup_days),
            default_grade=grade,
            recycle_days=_per_grade(env, "WORKFLOW_RECYCLE_DAYS", default.recycle_days),
            recycle_stages=stages or default.recycle_stages,
            reclaim_cooldown_days=env.integer("WORKFLOW_RECLAIM_COOLDOWN_DAYS", default.reclaim_cooldown_days),
            default_cap=env.integer("WORKFLOW_DEFAULT_CAP", default.default_cap),
            timer_batch=env.integer("WORKFLOW_TIMER_BATCH", default.timer_batch),
            timer_poll_seconds=env.number("WORKFLOW_TIMER_POLL_SECONDS", default.timer_poll_seconds),
        )


def of(holder: Any) -> WorkflowConfig:
    """The workflow settings a unit of work or a runtime carries (``Runtime.config``); the defaults otherwise."""
    config = getattr(holder, "config", None)
    return config if isinstance(config, WorkflowConfig) else WorkflowConfig()
