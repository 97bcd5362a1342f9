"""Mutated FIT files: no crash and no hang; each one is imported or rejected with a reason."""

from __future__ import annotations

import multiprocessing
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest

from runstrong_sync.config import Config
from runstrong_sync.pipeline import sync
from runstrong_sync.storage.db import open_database
from tests.fuzzing import cases, judge
from tests.support import FIT

CASES = 1000
PER_CASE_LIMIT_S = 10.0


@pytest.mark.slow
def test_a_thousand_mutated_fit_files_are_each_imported_or_rejected(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    work = ((name, data, str(tmp_path), PER_CASE_LIMIT_S) for name, data in cases(FIT, CASES))
    with ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
        results = list(pool.map(judge, work, chunksize=50))
    outcomes = Counter(outcome for _, outcome, _ in results)
    bad = [r for r in results if r[1] not in ("imported", "rejected")]
    assert not bad, bad[:5]
    assert sum(outcomes.values()) == CASES
    # The mutations reach both outcomes: many files still decode, many are refused.
    assert outcomes["imported"] > 50 and outcomes["rejected"] > 50, outcomes


def test_mutated_files_through_the_parallel_import_all_accounted_for(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    names = []
    for name, data in cases(FIT, 60, seed=11):
        (inbox / name).write_bytes(data)
        names.append(name)
    config = Config.model_validate(
        {"data_dir": str(tmp_path / "data"), "sources": {"fit": {"inbox": str(inbox), "settle_seconds": 0}}}
    )
    db = open_database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    report = sync(config, db, now=datetime(2026, 11, 25, tzinfo=UTC), sources=["fit"], options={"jobs": 2})
    archived = {p.name for p in (inbox / "archive").iterdir()} if (inbox / "archive").exists() else set()
    rejected = {p.name for p in (inbox / "rejected").iterdir() if not p.name.endswith(".reason.txt")}
    assert archived | rejected == set(names) and not archived & rejected
    assert len(report.rejected) == len(rejected)
    for ref, reason, moved in report.rejected:
        assert reason and moved and Path(moved).exists(), ref
