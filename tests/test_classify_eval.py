"""The evaluation of bench/classify_eval.py, run in CI: the goal of the classification issue."""

from __future__ import annotations

import importlib.util
import json
import sys
from dataclasses import replace
from types import ModuleType
from typing import Any

import pytest

from runstrong_sync.core.classify import classify
from runstrong_sync.core.domain import Activity, Label
from runstrong_sync.core.zones import resolve_zones
from runstrong_sync.storage.codec import derived_from_json, derived_to_json, laps_from_json, laps_to_json
from tests.support import FIXTURES, ROOT


def _load_eval() -> ModuleType:
    spec = importlib.util.spec_from_file_location("classify_eval", ROOT / "bench" / "classify_eval.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["classify_eval"] = module
    spec.loader.exec_module(module)
    return module


evaluation = _load_eval()


@pytest.fixture(scope="module")
def labelled() -> tuple[list[Any], list[Activity]]:
    sets = [p for p in evaluation.DEFAULT_SETS if p.exists()]
    assert FIXTURES / "fit" / "labels.csv" in sets
    assert FIXTURES / "labelled_edge" / "labels.csv" in sets
    cases = evaluation.load_cases(sets)
    return cases, evaluation.read_runs(cases)


def test_the_labelled_sets_meet_the_goal(labelled: tuple[list[Any], list[Activity]]) -> None:
    cases, runs = labelled
    assert {c.expected for c in cases} >= {Label.EASY, Label.HARD, Label.LONG}
    outcomes = evaluation.evaluate(cases, runs)
    text = evaluation.report(outcomes)
    assert "confusion matrix" in text
    correct = sum(o.correct for o in outcomes)
    assert correct / len(outcomes) >= 0.97, text
    assert not [o for o in outcomes if o.dangerous], text
    assert evaluation.goal_met(outcomes)
    for o in outcomes:
        assert o.result.reasons[0].text.startswith(o.result.label.value), o.result


def test_a_dangerous_miss_is_reported_and_fails_the_goal(labelled: tuple[list[Any], list[Activity]]) -> None:
    cases, runs = labelled
    index = {c.path.name: i for i, c in enumerate(cases)}
    tempo, easy = index["synthetic_tempo.fit"], index["synthetic_easy.fit"]
    mislabelled = replace(cases[easy], expected=Label.HARD, note="deliberately wrong")
    outcomes = evaluation.evaluate([cases[tempo], mislabelled], [runs[tempo], runs[easy]])
    assert not evaluation.goal_met(outcomes)
    assert "synthetic_easy.fit: hard -> easy" in evaluation.report(outcomes)


def test_stored_numbers_give_the_same_labels_as_the_files(labelled: tuple[list[Any], list[Activity]]) -> None:
    """Relabelling works from the stored JSON; it must agree with labelling the file itself."""
    cases, runs = labelled
    for case, activity in zip(cases, runs, strict=True):
        stored = replace(
            activity,
            derived=derived_from_json(json.loads(json.dumps(derived_to_json(activity.derived)))),
            laps=laps_from_json(json.loads(json.dumps(laps_to_json(activity.laps)))),
        )
        assert classify(stored, case.zones) == classify(activity, case.zones), case.path.name


def test_every_runner_meets_the_goal_and_hills_or_easy_only_never_look_hard(
    labelled: tuple[list[Any], list[Activity]],
) -> None:
    cases, runs = labelled
    outcomes = evaluation.evaluate(cases, runs)
    runners = evaluation.per_runner(outcomes)
    assert {"trail", "starter", "improver", "selfcoached"} <= set(runners)
    text = evaluation.report(outcomes)
    assert "accuracy per runner:" in text and "trail: 18/18" in text
    for name, group in runners.items():
        assert sum(o.correct for o in group) / len(group) >= 0.97, (name, text)
        assert not [o for o in group if o.dangerous], (name, text)
    for name in ("trail", "starter"):
        assert not evaluation.easy_called_hard(runners[name]), text


def test_the_trail_runners_easy_mountain_runs_are_easy_by_grade_adjusted_pace(
    labelled: tuple[list[Any], list[Activity]],
) -> None:
    cases, runs = labelled
    mountains = [(c, r) for c, r in zip(cases, runs, strict=True) if c.kind == "mountain-easy"]
    assert len(mountains) >= 4
    for _case, run in mountains:
        assert run.derived is not None and run.derived.grade_adjusted and run.derived.descent_m > 100
    trail = [(c, r) for c, r in zip(cases, runs, strict=True) if evaluation.athlete_of(c) == "trail"]
    outcomes = evaluation.evaluate([c for c, _ in trail], [r for _, r in trail])
    for o in (o for o in outcomes if o.case.kind == "mountain-easy"):
        assert o.result.label is Label.EASY, o.result
        assert any("grade-adjusted" in r.text for r in o.result.reasons), o.result


def test_one_estimate_for_two_years_gets_the_improving_runner_wrong(
    labelled: tuple[list[Any], list[Activity]],
) -> None:
    """Judged by today's estimate, the early workouts of a runner who got much faster look easy;
    judged by the thresholds of their own months, they are hard."""
    cases, runs = labelled
    mine = [(c, r) for c, r in zip(cases, runs, strict=True) if evaluation.athlete_of(c) == "improver"]
    today = resolve_zones(history=[r for _, r in mine])
    assert today.threshold_speed_mps is not None
    early = [(c, r) for c, r in mine if c.expected is Label.HARD and r.start_utc.year == 2024]
    wrong = [c for c, r in early if classify(r, today).label is not Label.HARD]
    assert len(wrong) >= len(early) // 2
    by_date = evaluation.evaluate([c for c, _ in mine], [r for _, r in mine])
    assert all(o.correct for o in by_date)
