"""Evaluate the classifier on the labelled FIT files: confusion matrix, accuracy, dangerous misses.

    python bench/classify_eval.py [LABELS.csv ...] [-v] [--estimated]

Default sets: fixtures/labelled/labels.csv (synthetic runs across athlete profiles),
fixtures/labelled_edge/labels.csv (awkward data: GPS and clock jumps, pauses, zero distance, short
reps with lagging HR; written by fixtures/generate_edge.py) and fixtures/fit/labels.csv (real and
synthetic files with justified labels). Each CSV has the columns
file,label,kind,threshold_hr,max_hr,threshold_speed_mps,note; ``file`` is relative to the CSV's
folder; blank thresholds are not known to the classifier. Every file is imported the way
`runstrong-sync import` reads it (FIT decoder, then derived metrics), then classified.

Goal (checked by tests/test_classify_eval.py): accuracy >= 97 % and no hard or long run labelled
easy with confidence >= 0.5 (an uncertain easy label is planned around as hard).
"""

from __future__ import annotations

import csv
import sys
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from runstrong_sync.connectors.fitmap import activities_from_fit  # noqa: E402
from runstrong_sync.connectors.fitreader import read_fit_fitparse  # noqa: E402
from runstrong_sync.connectors.formats import unpack  # noqa: E402

try:  # the fast decoder, where present, reads the same FitContent (fitparse when it steps aside)
    from runstrong_sync.connectors.fitfast import read_fit as decode_fit  # type: ignore[import-not-found, unused-ignore]
except ImportError:
    decode_fit = read_fit_fitparse
from runstrong_sync.core.classify import RunHistory, RunSummary, classify  # noqa: E402
from runstrong_sync.core.domain import Activity, Classification, Label, Zones, ZoneSource, ZoneValue  # noqa: E402
from runstrong_sync.core.zones import ConfiguredPeriod, ZoneTimeline, resolve_zones  # noqa: E402

DEFAULT_SETS = (
    ROOT / "fixtures" / "labelled" / "labels.csv",
    ROOT / "fixtures" / "labelled_runners" / "labels.csv",
    ROOT / "fixtures" / "labelled_edge" / "labels.csv",
    ROOT / "fixtures" / "fit" / "labels.csv",
)
LABELS = (Label.EASY, Label.HARD, Label.LONG)
GOAL_ACCURACY = 0.97
GOAL_MAX_CONFIDENCE_MISS = 0.5
CAREFUL_RUNNERS = ("trail", "starter")  # hilly and easy-only: no easy run may be called hard


@dataclass(frozen=True)
class Case:
    path: Path
    expected: Label
    kind: str
    zones: Zones
    note: str
    estimate_missing: bool = False  # blank thresholds are estimated from the runner's own runs


@dataclass(frozen=True)
class Outcome:
    case: Case
    result: Classification

    @property
    def correct(self) -> bool:
        return self.result.label is self.case.expected

    @property
    def dangerous(self) -> bool:
        """A hard or long run called easy, and sure enough that the planner believes it."""
        return (
            self.case.expected in (Label.HARD, Label.LONG)
            and self.result.label is Label.EASY
            and self.result.confidence >= GOAL_MAX_CONFIDENCE_MISS
        )


def _zone(value: str, what: str) -> ZoneValue | None:
    return (
        ZoneValue(float(value), ZoneSource.CONFIG, f"{what} from the labelled set") if value.strip() else None
    )


def load_cases(csv_paths: list[Path]) -> list[Case]:
    cases: list[Case] = []
    for csv_path in csv_paths:
        with csv_path.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                zones = Zones(
                    max_hr=_zone(row.get("max_hr", ""), "max HR"),
                    threshold_hr=_zone(row.get("threshold_hr", ""), "threshold HR"),
                    threshold_speed_mps=_zone(row.get("threshold_speed_mps", ""), "threshold speed"),
                )
                estimate = row.get("estimate_missing", "") == "yes"
                path = csv_path.parent / row["file"]
                cases.append(Case(path, Label(row["label"]), row["kind"], zones, row["note"], estimate))
    return cases


def read_run(path: Path) -> Activity:
    """The file's first run session, as the importer stores it."""
    data = unpack(path.read_bytes(), path.name)
    activities = activities_from_fit(decode_fit(data), str(path), "eval", ZoneInfo("UTC"))
    return next((a for a in activities if a.is_run), activities[0])


def read_runs(cases: list[Case], workers: int = 2) -> list[Activity]:
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(read_run, [c.path for c in cases], chunksize=2))


def evaluate(cases: list[Case], runs: list[Activity] | None = None) -> list[Outcome]:
    """Classify with the zones the labelled set gives (as if configured); where the set asks,
    the blank ones are estimated from the runner's own runs, by the month of each run, and each
    run is judged with the runner's other runs as its history (as the pipeline does)."""
    runs = read_runs(cases) if runs is None else runs
    groups: dict[str, list[Activity]] = {}
    for case, run in zip(cases, runs, strict=True):
        if case.estimate_missing and (athlete := athlete_of(case)) is not None:
            groups.setdefault(athlete, []).append(run)
    histories = {
        athlete: RunHistory(
            RunSummary(a.start_utc.timestamp(), a.moving_s, a.distance_m, a.avg_speed_mps) for a in group
        )
        for athlete, group in groups.items()
    }
    outcomes = []
    for case, run in zip(cases, runs, strict=True):
        athlete = athlete_of(case)
        if not case.estimate_missing or athlete is None:
            outcomes.append(Outcome(case, classify(run, case.zones)))
            continue
        timeline = ZoneTimeline([_configured(case.zones)], None, groups[athlete])
        outcomes.append(Outcome(case, classify(run, timeline.at(run.start_utc), histories[athlete])))
    return outcomes


def _configured(zones: Zones) -> ConfiguredPeriod:
    def value(v: ZoneValue | None) -> float | None:
        return v.value if v is not None else None

    return ConfiguredPeriod(
        None,
        max_hr=value(zones.max_hr),
        threshold_hr=value(zones.threshold_hr),
        threshold_speed_mps=value(zones.threshold_speed_mps),
    )


def per_runner(outcomes: list[Outcome]) -> dict[str, list[Outcome]]:
    """The outcomes of each runner of the labelled set (the first word of the notes)."""
    groups: dict[str, list[Outcome]] = {}
    for o in outcomes:
        groups.setdefault(athlete_of(o.case) or "other", []).append(o)
    return groups


def easy_called_hard(outcomes: list[Outcome]) -> list[Outcome]:
    """Easy runs labelled hard with confidence >= 0.5: strength would be moved for nothing."""
    return [
        o
        for o in outcomes
        if o.case.expected is Label.EASY
        and o.result.label is Label.HARD
        and o.result.confidence >= GOAL_MAX_CONFIDENCE_MISS
    ]


def athlete_of(case: Case) -> str | None:
    """The labelled set's notes start with the athlete profile's name: "club (club runner...)"."""
    head = case.note.split(" (", 1)[0]
    return head if head and " " not in head else None


def evaluate_estimated(cases: list[Case], runs: list[Activity]) -> list[Outcome]:
    """Classify with zones estimated from each athlete's own runs in the set (nothing configured)."""
    groups: dict[str, list[Activity]] = {}
    for case, run in zip(cases, runs, strict=True):
        athlete = athlete_of(case)
        if athlete is not None:
            groups.setdefault(athlete, []).append(run)
    estimated = {athlete: resolve_zones(history=group) for athlete, group in groups.items()}
    return [
        Outcome(case, classify(run, estimated[athlete]))
        for case, run in zip(cases, runs, strict=True)
        if (athlete := athlete_of(case)) is not None
    ]


def report(outcomes: list[Outcome]) -> str:
    lines: list[str] = []
    matrix = Counter((o.case.expected, o.result.label) for o in outcomes)
    predicted = [*LABELS, Label.OTHER]
    lines.append("confusion matrix (rows: expected, columns: classified)")
    lines.append(f"{'':>10}" + "".join(f"{p.value:>8}" for p in predicted))
    for expected in predicted:
        if not any(o.case.expected is expected for o in outcomes):
            continue
        lines.append(f"{expected.value:>10}" + "".join(f"{matrix[(expected, p)]:>8}" for p in predicted))
    lines.append("accuracy per runner:")
    for athlete, group in sorted(per_runner(outcomes).items()):
        right = sum(o.correct for o in group)
        worried = len(easy_called_hard(group))
        lines.append(
            f"  {athlete:>12}: {right}/{len(group)} = {right / len(group):.1%}"
            f"{f', {worried} easy called hard' if worried else ''}"
        )
    correct = sum(o.correct for o in outcomes)
    accuracy = correct / len(outcomes) if outcomes else 0.0
    lines.append(f"accuracy: {correct}/{len(outcomes)} = {accuracy:.1%} (goal {GOAL_ACCURACY:.0%})")
    uncertain = [o for o in outcomes if o.result.uncertain]
    lines.append(f"uncertain (planned as hard): {len(uncertain)}")
    missed = [
        o for o in outcomes if o.case.expected in (Label.HARD, Label.LONG) and o.result.label is Label.EASY
    ]
    lines.append(f"hard or long runs labelled easy: {len(missed)}")
    for o in missed:
        flag = "UNCERTAIN, planned as hard" if o.result.uncertain else "CONFIDENT: counts against the goal"
        lines.append(
            f"  {o.case.path.name}: {o.case.expected.value} -> easy {o.result.confidence:.2f} ({flag})"
        )
        lines.extend(f"      {r.text}" for r in o.result.reasons)
    wrong = [o for o in outcomes if not o.correct and o not in missed]
    if wrong:
        lines.append("other mistakes:")
    for o in wrong:
        lines.append(
            f"  {o.case.path.name} ({o.case.kind}): {o.case.expected.value} -> "
            f"{o.result.label.value} {o.result.confidence:.2f}: {o.result.reasons[0].text}"
        )
    return "\n".join(lines)


def goal_met(outcomes: list[Outcome]) -> bool:
    """>= 97 % overall and per runner, no confident easy label on a hard or long run, and no
    confident hard label on an easy run of the hilly trail runner or the easy-only beginner."""
    accuracy = sum(o.correct for o in outcomes) / len(outcomes)
    runners = per_runner(outcomes)
    each = all(sum(o.correct for o in g) / len(g) >= GOAL_ACCURACY for g in runners.values())
    careful = not any(easy_called_hard(runners.get(name, [])) for name in CAREFUL_RUNNERS)
    return accuracy >= GOAL_ACCURACY and each and careful and not any(o.dangerous for o in outcomes)


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv if not a.startswith("-")] or [p for p in DEFAULT_SETS if p.exists()]
    if not paths:
        print("no labelled set found; give the path of a labels.csv")
        return 2
    cases = load_cases(paths)
    runs = read_runs(cases)
    outcomes = evaluate(cases, runs)
    print(report(outcomes))
    if "--estimated" in argv:
        print("\nwith zones estimated from each athlete's runs (information only, not the goal):")
        print(report(evaluate_estimated(cases, runs)))
    verbose = "-v" in argv
    if verbose:
        for o in outcomes:
            print(
                o.case.path.name,
                o.result.label.value,
                o.result.confidence,
                [r.text for r in o.result.reasons],
            )
    met = goal_met(outcomes)
    print("goal met" if met else "goal NOT met")
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
