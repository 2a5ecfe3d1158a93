"""risk's settings: the grade of a customer never graded, and the per-process caches of compiled rule sets."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from loanbridge.common.cache import TtlCache
from loanbridge.common.config import Env
from loanbridge.risk.domain.engine import GRADES, CompiledRuleset

# Which version of a product is published, as this process last read it: a publish elsewhere is seen within this.
PUBLISHED_TTL = 2.0


@dataclass
class RiskConfig:
    default_grade: str = "B"
    published: TtlCache[Any] = field(default_factory=lambda: TtlCache(PUBLISHED_TTL))
    # A version never changes once saved, so its compiled model is kept for the life of the process.
    compiled: dict[tuple[str, int], CompiledRuleset] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Env | None = None) -> RiskConfig:
        env = env or Env()
        grade = (env.get("RISK_DEFAULT_GRADE") or "B").upper()
        if grade not in GRADES:
            raise ValueError("LOANBRIDGE_RISK_DEFAULT_GRADE must be A, B or C")
        return cls(default_grade=grade)
