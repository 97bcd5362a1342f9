"""Label each run easy, hard or long, with reasons and a confidence; everything else is 'other'.

Rules and numbers: docs of the project (training rules). Long is decided before intensity, so a
long run with a fast finish stays long. Pure: no I/O.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from runstrong_sync.domain import Activity, Classification, Label, Reason, Zones

LONG_MIN_S = 90 * 60
LONG_RELATIVE_MIN_S = 60 * 60
HARD_MIN_S = 10 * 60
CONTINUOUS_MIN_S = 20 * 60
EASY_MAX_HARD_S = 5 * 60


@dataclass(frozen=True, slots=True)
class RunSummary:
    """What the classifier needs to know about the runner's other runs."""

    start_utc_s: float
    moving_s: float
    distance_m: float | None
    avg_speed_mps: float | None


@dataclass(frozen=True, slots=True)
class Signal:
    label: Label
    confidence: float
    reason: Reason
    priority: int  # lower is stronger: label > structured laps > HR > pace > ...


def classify(
    activity: Activity,
    zones: Zones,
    history: Sequence[RunSummary] = (),
    override: Label | None = None,
) -> Classification:
    if override is not None:
        return Classification(
            override, 1.0, (Reason("user_label", f"{override.value}: set by you"),), overridden=True
        )
    if not activity.is_run:
        return Classification(
            Label.OTHER, 1.0, (Reason("cross_training", f"{activity.sport}: cross-training"),)
        )

    long_signal = _long_signal(activity, history)
    if long_signal is not None:
        return Classification(long_signal.label, long_signal.confidence, (long_signal.reason,))

    signals = [
        s
        for s in (
            _workout_type_signal(activity),
            _lap_structure_signal(activity),
            _hr_signal(activity, zones),
            _pace_signal(activity, zones),
            _training_effect_signal(activity),
        )
        if s is not None
    ]
    if not signals:
        baseline = _baseline_signal(activity, history)
        signals = [baseline] if baseline is not None else []
    if not signals:
        return Classification(
            Label.EASY,
            0.3,
            (Reason("no_signal", "easy: no heart rate, pace or structure to judge by; assumed easy"),),
        )
    return _combine(signals, activity)


def _combine(signals: list[Signal], activity: Activity) -> Classification:
    signals.sort(key=lambda s: (s.priority, -s.confidence))
    lead = signals[0]
    confidence = lead.confidence
    for other in signals[1:]:
        confidence += 0.1 if other.label is lead.label else -0.2
    derived = activity.derived
    if derived is not None and derived.moving_s > 0 and derived.hr_valid_s and derived.hr_coverage < 0.9:
        confidence -= 0.1  # HR dropouts
    confidence = max(0.05, min(0.95, confidence))
    reasons = tuple(s.reason for s in signals)
    return Classification(lead.label, round(confidence, 2), reasons)


def _long_signal(activity: Activity, history: Sequence[RunSummary]) -> Signal | None:
    minutes = activity.moving_s / 60
    if activity.workout_type == 2:
        return Signal(Label.LONG, 0.9, Reason("workout_type_long", "long: marked as a long run"), 0)
    if activity.moving_s >= LONG_MIN_S:
        return Signal(
            Label.LONG, 0.8, Reason("duration_long", f"long: {minutes:.0f} min moving (90 min or more)"), 2
        )
    if activity.moving_s < LONG_RELATIVE_MIN_S:
        return None
    start = activity.start_utc.timestamp()
    week = [r for r in history if start - 7 * 86400 < r.start_utc_s <= start]
    month = [r.moving_s for r in history if start - 28 * 86400 < r.start_utc_s <= start]
    if week and month:
        longest = max(r.moving_s for r in week)
        median = statistics.median(month)
        if activity.moving_s >= longest and activity.moving_s >= 1.5 * median:
            return Signal(
                Label.LONG,
                0.6,
                Reason(
                    "longest_of_week",
                    f"long: the week's longest run ({minutes:.0f} min, {activity.moving_s / median:.1f}x "
                    "your usual run)",
                ),
                3,
            )
        week_distance = sum(r.distance_m or 0.0 for r in week)
        if activity.distance_m and week_distance > 0 and activity.distance_m >= 0.25 * week_distance:
            share = activity.distance_m / week_distance
            return Signal(
                Label.LONG,
                0.55,
                Reason("share_of_week", f"long: {share:.0%} of the week's running distance"),
                3,
            )
    return None


def _workout_type_signal(activity: Activity) -> Signal | None:
    if activity.workout_type == 1:
        return Signal(Label.HARD, 0.9, Reason("workout_type_race", "hard: marked as a race"), 0)
    if activity.workout_type == 3:
        return Signal(Label.HARD, 0.9, Reason("workout_type_workout", "hard: marked as a workout"), 0)
    return None


def _lap_structure_signal(activity: Activity) -> Signal | None:
    kinds = [lap.intensity for lap in activity.laps if lap.intensity]
    active = sum(1 for k in kinds if k == "active")
    recoveries = sum(1 for k in kinds if k in ("rest", "recovery"))
    if active >= 2 and recoveries >= 1:
        alternations = sum(
            1 for a, b in itertools.pairwise(kinds) if a == "active" and b in ("rest", "recovery")
        )
        if alternations >= 2 or (alternations >= 1 and active >= 2):
            return Signal(
                Label.HARD,
                0.85,
                Reason("structured_laps", f"hard: {active} work laps alternating with recoveries"),
                1,
            )
    return None


def _hr_signal(activity: Activity, zones: Zones) -> Signal | None:
    derived = activity.derived
    if derived is None or derived.hr_valid_s < 5 * 60:
        return None
    if zones.threshold_hr is not None:
        lthr = zones.threshold_hr.value
        base = 0.8 if zones.threshold_hr.source in ("config", "strava") else 0.65
        at_95 = derived.seconds_hr_at_or_above(0.95 * lthr)
        continuous_90 = derived.longest_hr_at_or_above(0.90 * lthr)
        mean = derived.mean_hr() or 0.0
        if at_95 >= HARD_MIN_S or at_95 >= 0.2 * derived.hr_valid_s:
            return Signal(
                Label.HARD,
                base,
                Reason(
                    "hr_above_threshold",
                    f"hard: {at_95 / 60:.0f} min at or above 95% of threshold HR ({0.95 * lthr:.0f} bpm)",
                ),
                2,
            )
        if continuous_90 >= CONTINUOUS_MIN_S:
            return Signal(
                Label.HARD,
                base - 0.05,
                Reason(
                    "hr_sustained_tempo",
                    f"hard: {continuous_90 / 60:.0f} min in a row at or above 90% of threshold HR "
                    f"({0.90 * lthr:.0f} bpm)",
                ),
                2,
            )
        confidence = base if mean <= 0.89 * lthr and at_95 < EASY_MAX_HARD_S else base - 0.2
        return Signal(
            Label.EASY,
            confidence,
            Reason(
                "hr_easy",
                f"easy: average HR {mean:.0f} bpm, {mean / lthr:.0%} of threshold HR ({lthr:.0f} bpm)",
            ),
            2,
        )
    if zones.max_hr is not None:
        hrmax = zones.max_hr.value
        at_88 = derived.seconds_hr_at_or_above(0.88 * hrmax)
        mean = derived.mean_hr() or 0.0
        if at_88 >= HARD_MIN_S or (mean >= 0.87 * hrmax and derived.hr_valid_s >= CONTINUOUS_MIN_S):
            return Signal(
                Label.HARD,
                0.65,
                Reason("hr_above_max_share", f"hard: {at_88 / 60:.0f} min at or above 88% of max HR"),
                2,
            )
        confidence = 0.65 if mean <= 0.82 * hrmax else 0.45
        return Signal(
            Label.EASY,
            confidence,
            Reason("hr_easy_max", f"easy: average HR {mean:.0f} bpm, {mean / hrmax:.0%} of max HR"),
            2,
        )
    return None


def _pace_signal(activity: Activity, zones: Zones) -> Signal | None:
    derived = activity.derived
    if zones.threshold_speed_mps is None:
        return None
    threshold = zones.threshold_speed_mps.value
    base = 0.7 if zones.threshold_speed_mps.source in ("config", "strava") else 0.6
    if derived is not None and derived.speed_valid_s >= 5 * 60 and not activity.trainer:
        at_95 = derived.seconds_speed_at_or_above(0.95 * threshold)
        continuous_88 = derived.longest_speed_at_or_above(0.88 * threshold)
        if at_95 >= HARD_MIN_S:
            return Signal(
                Label.HARD,
                base,
                Reason(
                    "pace_above_threshold", f"hard: {at_95 / 60:.0f} min at or faster than threshold pace"
                ),
                3,
            )
        if continuous_88 >= CONTINUOUS_MIN_S:
            return Signal(
                Label.HARD,
                base - 0.05,
                Reason(
                    "pace_sustained_tempo", f"hard: {continuous_88 / 60:.0f} min in a row near threshold pace"
                ),
                3,
            )
    speed = activity.avg_speed_mps
    if speed is None and activity.distance_m and activity.moving_s > 0:
        speed = activity.distance_m / activity.moving_s
    if speed is None or speed <= 0:
        return None
    if speed <= 0.87 * threshold:
        return Signal(
            Label.EASY,
            base - 0.1,
            Reason(
                "pace_easy", f"easy: average pace {_pace(speed)}, {speed / threshold:.0%} of threshold speed"
            ),
            3,
        )
    return None


def _training_effect_signal(activity: Activity) -> Signal | None:
    te, ane = activity.training_effect, activity.anaerobic_training_effect
    if (te is not None and te >= 4.0) or (ane is not None and ane >= 3.0):
        return Signal(
            Label.HARD,
            0.5,
            Reason("training_effect", f"hard: the watch rated it {te or ane:.1f} training effect"),
            4,
        )
    return None


def _baseline_signal(activity: Activity, history: Sequence[RunSummary]) -> Signal | None:
    start = activity.start_utc.timestamp()
    speeds = [
        r.avg_speed_mps
        for r in history
        if r.avg_speed_mps and start - timedelta(days=90).total_seconds() <= r.start_utc_s < start
    ]
    speed = activity.avg_speed_mps
    if len(speeds) < 5 or not speed or activity.trainer:
        return None
    median = statistics.median(speeds)
    if activity.moving_s >= 20 * 60 and speed >= 1.10 * median:
        return Signal(
            Label.HARD,
            0.4,
            Reason("faster_than_usual", f"hard: {speed / median - 1:.0%} faster than your usual runs"),
            5,
        )
    return Signal(
        Label.EASY, 0.4, Reason("usual_pace", "easy: at your usual pace; no heart rate to confirm"), 5
    )


def _pace(speed_mps: float) -> str:
    seconds = round(1000 / speed_mps)
    return f"{seconds // 60}:{seconds % 60:02d}/km"
