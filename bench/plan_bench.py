"""How long planning takes: a plan from nothing, and re-planning an unchanged week (the nightly
case), per planned week. Prints figures and the ratio of the two, both measured in this run.

    python bench/plan_bench.py [scenarios]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from runstrong_sync.core.plan import plan
from tests.test_plan_properties import scenario_from


def main(count: int) -> None:
    scenarios = [scenario_from(seed) for seed in range(count)]
    weeks = sum(-(-(s.horizon_days + s.now.weekday()) // 7) for s in scenarios)
    started = time.perf_counter()
    results = [
        plan(
            now=s.now,
            runs=s.runs,
            strength_days=s.done_days,
            previous=[],
            settings=s.settings,
            horizon_days=s.horizon_days,
        )
        for s in scenarios
    ]
    fresh = time.perf_counter() - started
    started = time.perf_counter()
    for s, result in zip(scenarios, results, strict=True):
        plan(
            now=s.now,
            runs=s.runs,
            strength_days=s.done_days,
            previous=result.sessions,
            settings=s.settings,
            horizon_days=s.horizon_days,
        )
    again = time.perf_counter() - started
    print(f"scenarios: {count}, planned weeks: {weeks}")
    print(f"plan from nothing: {fresh * 1e3:.0f} ms, {fresh / weeks * 1e6:.0f} us per week")
    print(f"re-plan unchanged: {again * 1e3:.0f} ms, {again / weeks * 1e6:.0f} us per week")
    print(f"re-plan / plan: {again / fresh:.2f}x")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
