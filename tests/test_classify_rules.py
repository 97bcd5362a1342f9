"""The classification rule set on runs built from per-second series: labels, reasons, confidence."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from runstrong_sync.core.classify import RunHistory, RunSummary, classify
from runstrong_sync.core.domain import Activity, Label, Lap, Zones, ZoneSource, ZoneValue
from tests.runs import LTHR, START, ZONES, run, run_from_series, series

EASY: list[tuple[int, float, float | None]] = [(40 * 60, 2.9, 140.0)]


def codes(activity: Activity, zones: Zones = ZONES) -> list[str]:
    return [r.code for r in classify(activity, zones).reasons]


def test_hard_reason_names_the_minutes_and_the_threshold() -> None:
    result = classify(run([(10 * 60, 2.9, 140.0), (14 * 60, 3.9, 165.0), (10 * 60, 2.8, 140.0)]), ZONES)
    assert result.label is Label.HARD
    assert result.reasons[0].text == "hard: 14 min at or above 95% of threshold HR (162 bpm)"
    assert result.confidence == 0.9  # HR (0.8) confirmed by pace (+0.1)


def test_easy_run_is_easy_and_sure() -> None:
    result = classify(run(EASY), ZONES)
    assert result.label is Label.EASY
    assert result.reasons[0].text.startswith("easy: average HR 140 bpm, 82% of threshold HR")
    assert result.confidence >= 0.8
    assert not result.uncertain and not result.counts_as_hard


def test_sustained_tempo_below_threshold_is_hard() -> None:
    result = classify(run([(10 * 60, 2.9, 140.0), (25 * 60, 3.4, 156.0), (5 * 60, 2.8, 140.0)]), ZONES)
    assert result.label is Label.HARD
    assert result.reasons[0].code == "hr_sustained_tempo"


def test_a_few_minutes_near_threshold_stay_easy_but_less_sure() -> None:
    clean = classify(run(EASY), ZONES)
    touched = classify(run([(34 * 60, 2.9, 140.0), (6 * 60, 3.8, 163.0)]), ZONES)
    assert touched.label is Label.EASY
    assert touched.confidence < clean.confidence


def test_long_is_decided_before_intensity() -> None:
    result = classify(run([(80 * 60, 3.0, 145.0), (20 * 60, 3.9, 167.0)]), ZONES)
    assert result.label is Label.LONG
    assert result.reasons[0].code == "duration_long"
    assert result.reasons[1].code == "long_with_fast_part"


def test_a_race_at_threshold_is_hard_however_long() -> None:
    result = classify(run([(3 * 60, 3.0, 150.0), (100 * 60, 3.9, 170.0)]), ZONES)
    assert result.label is Label.HARD
    assert result.reasons[0].code == "race_effort"


@pytest.mark.parametrize(
    ("workout_type", "label", "code"),
    [
        (1, Label.HARD, "workout_type_race"),
        (3, Label.HARD, "workout_type_workout"),
        (2, Label.LONG, "workout_type_long"),
    ],
)
def test_strava_workout_type_is_the_strongest_signal(workout_type: int, label: Label, code: str) -> None:
    result = classify(run(EASY, workout_type=workout_type), ZONES)
    assert result.label is label
    assert result.reasons[0].code == code
    assert result.confidence >= 0.7


def test_a_marathon_marked_as_race_is_hard_not_long() -> None:
    result = classify(run([(180 * 60, 3.5, 160.0)], workout_type=1), ZONES)
    assert result.label is Label.HARD


def test_override_sticks_and_shows() -> None:
    result = classify(run(EASY), ZONES, override=Label.LONG)
    assert result.label is Label.LONG and result.overridden and result.confidence == 1.0
    assert result.reasons[0].text == "long: set by you"


def test_other_sports_are_cross_training() -> None:
    result = classify(run(EASY, sport="ride"), ZONES)
    assert result.label is Label.OTHER
    assert not result.uncertain and not result.counts_as_hard


def _laps(pattern: list[tuple[str, int, float, float]]) -> tuple[Lap, ...]:
    laps: list[Lap] = []
    offset = 0.0
    for intensity, seconds, mps, bpm in pattern:
        laps.append(
            Lap(offset, seconds, seconds, seconds * mps, bpm, bpm, mps, intensity=intensity, trigger="manual")
        )
        offset += seconds
    return tuple(laps)


def test_structured_laps_make_a_run_hard_even_when_hr_lags() -> None:
    pattern = [("warmup", 600, 2.9, 135.0)]
    pattern += [("active", 75, 4.8, 150.0), ("rest", 90, 0.0, 120.0)] * 8
    pattern += [("cooldown", 600, 2.8, 135.0)]
    segments = [(s, mps, bpm) for _, s, mps, bpm in pattern]
    result = classify(run(segments, laps=_laps(pattern)), ZONES)
    assert result.label is Label.HARD
    assert result.reasons[0].code == "structured_laps"


def test_run_walk_laps_are_not_intervals() -> None:
    pattern = [("active", 240, 2.6, 140.0), ("rest", 60, 1.4, 125.0)] * 8
    segments = [(s, mps, bpm) for _, s, mps, bpm in pattern]
    result = classify(run(segments, laps=_laps(pattern)), ZONES)
    assert result.label is Label.EASY


def test_intervals_with_only_automatic_laps_are_found_in_the_speed_series() -> None:
    segments = [(600, 2.9, None)] + [(180, 4.6, None), (120, 2.2, None)] * 6 + [(600, 2.8, None)]
    auto = tuple(Lap(i * 300.0, 300.0, 300.0, 1000.0, None, None, 3.3, trigger="distance") for i in range(10))
    result = classify(run(segments, laps=auto), ZONES)
    assert result.label is Label.HARD
    assert {"pace_above_threshold", "speed_bouts"} <= {r.code for r in result.reasons}
    assert "no_heart_rate" in {r.code for r in result.reasons}


def test_only_max_hr_known() -> None:
    zones = Zones(max_hr=ZoneValue(190, ZoneSource.CONFIG, "test"))
    hard = classify(run([(10 * 60, 2.9, 140.0), (15 * 60, 3.9, 172.0), (10 * 60, 2.8, 140.0)]), zones)
    easy = classify(run(EASY), zones)
    assert hard.label is Label.HARD and hard.reasons[0].code == "hr_above_max_share"
    assert easy.label is Label.EASY and easy.reasons[0].code == "hr_easy_max"


def test_estimated_thresholds_are_less_sure_than_configured_ones() -> None:
    estimated = Zones(threshold_hr=ZoneValue(LTHR, ZoneSource.ESTIMATED, "0.95 x best 20-min HR"))
    configured = Zones(threshold_hr=ZoneValue(LTHR, ZoneSource.CONFIG, "test"))
    assert classify(run(EASY), estimated).confidence < classify(run(EASY), configured).confidence


def test_nothing_to_judge_by_is_uncertain_and_planned_as_hard() -> None:
    result = classify(run([(40 * 60, 2.9, None)]), Zones())
    assert result.label is Label.EASY
    assert result.uncertain and result.counts_as_hard
    assert result.reasons[0].code == "no_signal"


def _history(minutes: list[float], days_back: list[float]) -> list[RunSummary]:
    return [
        RunSummary((START - timedelta(days=d)).timestamp(), m * 60, m * 60 * 2.9, 2.9)
        for m, d in zip(minutes, days_back, strict=True)
    ]


def test_the_weeks_longest_run_is_long_against_the_runners_own_history() -> None:
    history = _history([40, 35, 45, 40, 40], [1, 3, 5, 9, 12])
    result = classify(run([(70 * 60, 2.9, 140.0)]), ZONES, history)
    assert result.label is Label.LONG
    assert result.reasons[0].code == "longest_of_week"
    assert classify(run([(70 * 60, 2.9, 140.0)]), ZONES).label is Label.EASY  # no history: not long


def test_history_after_the_run_is_not_used() -> None:
    later = _history([40, 35, 45, 40, 40], [-1, -3, -5, -9, -12])
    assert classify(run([(70 * 60, 2.9, 140.0)]), ZONES, RunHistory(later)).label is Label.EASY


def test_personal_baseline_when_nothing_is_configured() -> None:
    history = _history([40] * 6, [2, 4, 6, 8, 10, 12])
    fast = classify(run([(30 * 60, 3.4, None)]), Zones(), history)
    usual = classify(run([(30 * 60, 2.9, None)]), Zones(), history)
    assert fast.label is Label.HARD and fast.reasons[0].code == "faster_than_usual"
    assert usual.label is Label.EASY and usual.uncertain  # 0.4: planned as hard


# Bad data: still labelled, with a reason and less confidence; never a crash.


def _with_hr(values: list[float | None]) -> Activity:
    t, _, speed = series([(len(values), 2.9, None)])
    return run_from_series(t, values, speed)


def test_hr_fill_values_and_spikes_are_ignored() -> None:
    values: list[float | None] = [140.0] * 2400
    for i in range(100, 2400, 97):
        values[i] = 255.0
    for i in range(150, 2400, 211):
        values[i] = 0.0
    for i in range(170, 2400, 301):
        values[i] = 215.0  # spike far above its neighbours
    result = classify(_with_hr(values), ZONES)
    assert result.label is Label.EASY
    assert "hr_artifacts" in {r.code for r in result.reasons}


def test_hr_dropout_lowers_confidence() -> None:
    clean = classify(_with_hr([140.0] * 2400), ZONES)
    values: list[float | None] = [140.0] * 2400
    values[600:1200] = [None] * 600
    dropped = classify(_with_hr(values), ZONES)
    assert dropped.label is Label.EASY
    assert "hr_dropout" in {r.code for r in dropped.reasons}
    assert dropped.confidence == pytest.approx(clean.confidence - 0.1)


def test_zero_and_absurd_distance() -> None:
    for distance in (0.0, 500_000.0):
        result = classify(run(EASY, distance_m=distance, avg_speed_mps=None), ZONES)
        assert result.label is Label.EASY
        assert "bad_distance" in {r.code for r in result.reasons}


def test_gps_jumps_clock_jumps_and_pauses() -> None:
    t, hr, speed = series([(20 * 60, 2.9, 140.0), (20 * 60, 3.9, 168.0)])
    speed[300] = 80.0  # a GPS jump
    t = [x + (600 if i > 1200 else 0) + (7200 if i > 1800 else 0) for i, x in enumerate(t)]  # pause, clock
    t[900] = t[899] - 50  # a clock that ran backwards
    activity = run_from_series(t, hr, speed)
    assert activity.derived is not None
    assert (activity.derived.gps_jumps, activity.derived.clock_jumps) == (1, 2)
    assert activity.derived.pauses_s >= 600 + 7200
    result = classify(activity, ZONES)
    assert result.label is Label.HARD
    reasons = {r.code for r in result.reasons}
    assert {"gps_jumps", "clock_jumps"} <= reasons


def test_treadmill_without_gps() -> None:
    result = classify(run(EASY, sport="treadmill_run", has_gps=False), ZONES)
    assert result.label is Label.EASY
    assert "indoor" in {r.code for r in result.reasons}


@pytest.mark.parametrize(
    "activity",
    [
        run([(1, 2.9, 140.0)]),
        run([(3 * 60, 0.0, None)]),
        replace(run(EASY), derived=None),
        replace(run(EASY), derived=None, moving_s=0.0, distance_m=None, avg_speed_mps=None, laps=()),
        run([(40 * 60, None, None)]),  # type: ignore[list-item]
    ],
)
def test_degenerate_runs_are_labelled_without_a_crash(activity: Activity) -> None:
    for zones in (ZONES, Zones()):
        result = classify(activity, zones)
        assert result.label in (Label.EASY, Label.HARD, Label.LONG)
        assert 0.05 <= result.confidence <= 0.95
        assert result.reasons


SHORT_REPS: list[tuple[int, float, float | None]] = (
    [(900, 2.9, 135.0)] + [(60, 4.7, 158.0), (60, 2.4, 150.0)] * 10 + [(600, 2.8, 140.0)]
)


def test_short_reps_beat_a_lagging_heart_rate() -> None:
    result = classify(run(SHORT_REPS), ZONES)
    assert result.label is Label.HARD
    assert result.reasons[0].code == "pace_above_threshold"
    assert "hr_easy" in {r.code for r in result.reasons}
    assert result.confidence >= 0.5


def test_fast_bouts_without_threshold_pace_leave_an_easy_heart_rate_uncertain() -> None:
    only_hr = Zones(threshold_hr=ZONES.threshold_hr)
    result = classify(run(SHORT_REPS), only_hr)
    assert result.label is Label.EASY
    assert result.uncertain and result.counts_as_hard
    assert classify(run(EASY), only_hr).confidence >= 0.8


def test_a_summary_without_streams_uses_the_average_heart_rate() -> None:
    hard = replace(run(EASY), derived=None, avg_hr=158.0)
    easy = replace(run(EASY), derived=None, avg_hr=135.0)
    assert classify(hard, ZONES).label is Label.HARD
    assert classify(hard, ZONES).reasons[0].code == "hr_average_above_easy_ceiling"
    result = classify(easy, ZONES)
    assert result.label is Label.EASY and result.uncertain  # an average cannot rule out intervals
    assert "hr_average_only" in {r.code for r in result.reasons}
