"""Evaluations per second of the default house rule set, in process on one core: risk's evaluation (compiled
model, hits read with the values they read, decision by precedence) beside bare zen-engine on the same model.
The ratio is risk's overhead.

    .venv/bin/python bench/risk_evaluate.py [--seconds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from pathlib import Path
from typing import Any

import zen

from loanbridge.risk.domain.engine import ENGINE_VERSION, CompiledRuleset

MODELS = Path(__file__).resolve().parents[1] / "services/risk/loanbridge/risk/migrations/data/default_rulesets_v1.json"


def applications(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """House applications across the rules' bands (some flagged, some routed, some rejected)."""
    rng = random.Random(seed)
    return [
        {
            "product": "house", "amount": rng.choice([300_000, 800_000, 1_500_000]), "term_months": 36,
            "channel": "douyin", "city": "济南", "property_valuation": rng.choice([1_000_000, 2_000_000, 3_000_000]),
            "existing_mortgage_balance": rng.choice([0, 200_000, 600_000]),
            "monthly_income": rng.choice([8000, 15000, 30000]), "monthly_debt_payment": rng.choice([2000, 6000, 9000]),
            "credit_inquiries_3m": rng.randint(0, 12), "overdue_count_24m": rng.choice([0, 0, 0, 1, 2, 4]),
            "age": rng.randint(22, 60), "blacklisted": rng.random() < 0.02, "intent_level": rng.choice("ABCD"),
            "documents": ["id_card", "credit_report", "bank_statement", "property_certificate"][
                : 4 if rng.random() < 0.8 else 2
            ],
            "required_documents": ["id_card", "credit_report", "bank_statement", "property_certificate"],
            "missing_fields": [],
        }
        for _ in range(count)
    ]  # fmt: skip


def rate(evaluate: Any, inputs: list[dict[str, Any]], seconds: float) -> float:
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for application in inputs:
            evaluate(application)
        done += len(inputs)
    return done / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    model = json.loads(MODELS.read_text(encoding="utf-8"))["house"]
    inputs = applications(1000)
    bare = zen.ZenEngine().create_decision(json.dumps(model))
    ours = CompiledRuleset(model)
    rate(bare.evaluate, inputs[:200], 1.0)  # warm-up
    bare_rate = rate(bare.evaluate, inputs, args.seconds)
    ours_rate = rate(ours.assess, inputs, args.seconds)
    decisions = {d: sum(1 for a in inputs if ours.assess(a).decision == d) for d in ("approve", "review", "reject")}
    print(f"{ENGINE_VERSION}, default house rule set, one core, {len(inputs)} varied applications {decisions}")
    print(f"bare zen-engine evaluate:        {bare_rate:9.0f} evaluations/s")
    print(f"risk evaluation (hits, decision): {ours_rate:9.0f} evaluations/s")
    print(f"risk / bare: {ours_rate / bare_rate:.2f}")


if __name__ == "__main__":
    main()
