"""Fuzzing beyond CI: many more seeded mutations of the real FIT fixtures, in parallel.

    python bench/fuzz_fit.py [--cases 20000] [--seed 1] [--jobs 2]

Each case is parsed as an import parses a file; it must end imported or rejected with a reason,
within 10 s. Prints the outcome counts, the commonest reasons and the rate.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from tests.fuzzing import cases, judge  # noqa: E402

FIT = ROOT / "fixtures" / "fit"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    started = time.perf_counter()
    with (
        tempfile.TemporaryDirectory() as temp,
        ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool,
    ):
        work = ((name, data, temp, 10.0) for name, data in cases(FIT, args.cases, seed=args.seed))
        results = list(pool.map(judge, work, chunksize=100))
    seconds = time.perf_counter() - started
    outcomes = Counter(outcome for _, outcome, _ in results)
    reasons = Counter(detail.split(" (")[0] for _, outcome, detail in results if outcome == "rejected")
    print(f"{len(results)} cases in {seconds:.0f} s ({len(results) / seconds:.0f}/s): {dict(outcomes)}")
    for reason, count in reasons.most_common(10):
        print(f"{count:>7}  {reason}")
    failures = [r for r in results if r[1] not in ("imported", "rejected")]
    for name, outcome, detail in failures[:20]:
        print(f"FAILED {name}: {outcome}: {detail}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
