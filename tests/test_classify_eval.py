"""The evaluation of bench/classify_eval.py, run in CI: the goal of the classification issue."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

from conftest import FIXTURES, ROOT

from runstrong_sync.domain import Label


def _load_eval() -> ModuleType:
    spec = importlib.util.spec_from_file_location("classify_eval", ROOT / "bench" / "classify_eval.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["classify_eval"] = module
    spec.loader.exec_module(module)
    return module


def test_the_labelled_sets_meet_the_goal() -> None:
    evaluation = _load_eval()
    sets = [p for p in evaluation.DEFAULT_SETS if p.exists()]
    assert FIXTURES / "fit" / "labels.csv" in sets
    assert FIXTURES / "labelled_edge" / "labels.csv" in sets
    cases = evaluation.load_cases(sets)
    assert {c.expected for c in cases} >= {Label.EASY, Label.HARD, Label.LONG}
    outcomes = evaluation.evaluate(cases)
    text = evaluation.report(outcomes)
    assert "confusion matrix" in text
    correct = sum(o.correct for o in outcomes)
    assert correct / len(outcomes) >= 0.97, text
    assert not [o for o in outcomes if o.dangerous], text
    for o in outcomes:
        assert o.result.reasons[0].text.startswith(o.result.label.value), o.result


def test_a_dangerous_miss_is_reported_and_fails_the_goal() -> None:
    evaluation = _load_eval()
    cases = evaluation.load_cases([FIXTURES / "fit" / "labels.csv"])
    tempo = next(c for c in cases if c.path.name == "synthetic_tempo.fit")
    easy = next(c for c in cases if c.path.name == "synthetic_easy.fit")
    mislabelled = type(easy)(easy.path, Label.HARD, "tempo", easy.zones, "deliberately wrong")
    outcomes = evaluation.evaluate([tempo, mislabelled])
    assert not evaluation.goal_met(outcomes)
    assert "synthetic_easy.fit: hard -> easy" in evaluation.report(outcomes)
    assert Path(str(mislabelled.path)).exists()


def test_stored_numbers_give_the_same_labels_as_the_files() -> None:
    """Relabelling works from the stored JSON; it must agree with labelling the file itself."""
    from dataclasses import replace

    from runstrong_sync.classify import classify
    from runstrong_sync.storage.codec import derived_from_json, derived_to_json, laps_from_json, laps_to_json

    evaluation = _load_eval()
    cases = evaluation.load_cases(
        [FIXTURES / "labelled_edge" / "labels.csv", FIXTURES / "fit" / "labels.csv"]
    )
    for case, activity in zip(cases, evaluation.read_runs(cases), strict=True):
        stored = replace(
            activity,
            derived=derived_from_json(json.loads(json.dumps(derived_to_json(activity.derived)))),
            laps=laps_from_json(json.loads(json.dumps(laps_to_json(activity.laps)))),
        )
        assert classify(stored, case.zones) == classify(activity, case.zones), case.path.name
