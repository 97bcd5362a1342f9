"""The signals a run's label is judged from, each with its own confidence and reason: marks from
Strava or the watch (workout type, workout laps, training effect), heart rate against threshold or
maximum HR, pace against threshold pace, fast laps and speed bouts, a race-like effort, long by
duration or against the runner's week, and the runner's usual pace as a last resort. The numbers
are the training rules' (sections 3 and 5). ``classify`` weighs them into one label. Pure: no I/O.
"""

from __future__ import annotations

import bisect
import itertools
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from runstrong_sync.core.domain import (
    Activity,
    DerivedMetrics,
    Label,
    Lap,
    Reason,
    Zones,
    ZoneSource,
    ZoneValue,
)

DAY_S = 86400.0
LONG_MIN_S = 90 * 60
LONG_RELATIVE_MIN_S = 60 * 60
HARD_MIN_S = 10 * 60  # time at or above threshold that makes a run hard
HARD_SHARE = 0.20  # ... or this share of the run, if at least MIN_SHARE_S
MIN_SHARE_S = 3 * 60
CONTINUOUS_MIN_S = 20 * 60  # continuous time near threshold (tempo) that makes a run hard
EASY_MAX_HARD_S = 5 * 60
RACE_SHARE = 0.60  # most of the run at threshold: a race or time trial, whatever its length
MIN_SIGNAL_S = 5 * 60  # less heart rate or speed than this says nothing
AUTO_LAP_TRIGGERS = frozenset(
    {"distance", "time", "position_start", "position_lap", "position_waypoint", "position_marked"}
)
WORK_LAP_MIN_S = 30.0
MAX_RUN_SPEED_MPS = 7.0
MIN_CREDIBLE_HR, MAX_CREDIBLE_HR = (
    40.0,
    230.0,
)  # faster on average than a world-record 5 K: the distance is wrong

# Friel %LTHR cut-points and %HRmax bands (training rules, section 3).
LTHR_HARD = 0.95
LTHR_TEMPO = 0.90
LTHR_EASY_CEILING = 0.89
HRMAX_HARD = 0.88
HRMAX_HARD_MEAN = 0.87
HRMAX_EASY_CEILING = 0.82
SPEED_HARD = 0.95
SPEED_TEMPO = 0.88
SPEED_EASY_CEILING = 0.87
BOUT_VS_THRESHOLD = 0.95
BOUT_VS_MEDIAN = 1.15
BASELINE_FASTER = 1.10

# Confidence bases (section 5).
BASE_LABEL = 0.9
BASE_LAPS = 0.85
BASE_HR_CONFIGURED = 0.8
BASE_HR_ESTIMATED = 0.65
BASE_HR_MAX_CONFIGURED = 0.7
BASE_PACE_CONFIGURED = 0.7
BASE_PACE_ESTIMATED = 0.6
BASE_VARIABILITY = 0.5
BASE_BASELINE = 0.4

# The priority of each signal (lower is stronger).
PRIORITY_LABEL, PRIORITY_LAPS, PRIORITY_HR, PRIORITY_PACE, PRIORITY_VARIABILITY, PRIORITY_BASELINE = range(6)


@dataclass(frozen=True, slots=True)
class RunSummary:
    """What the classifier needs to know about the runner's other runs."""

    start_utc_s: float
    moving_s: float
    distance_m: float | None
    avg_speed_mps: float | None


class RunHistory:
    """The runner's runs sorted by start, so every classification looks back in O(log n)."""

    __slots__ = ("_runs", "_starts")

    def __init__(self, runs: Iterable[RunSummary]) -> None:
        self._runs = sorted(runs, key=lambda r: r.start_utc_s)
        self._starts = [r.start_utc_s for r in self._runs]

    def before(self, start_s: float, days: float) -> Sequence[RunSummary]:
        """Runs that started in the ``days`` before ``start_s`` (the run itself excluded)."""
        lo = bisect.bisect_left(self._starts, start_s - days * DAY_S)
        hi = bisect.bisect_left(self._starts, start_s)
        return self._runs[lo:hi]

    def __len__(self) -> int:
        return len(self._runs)


@dataclass(frozen=True, slots=True)
class Signal:
    label: Label
    confidence: float
    reason: Reason
    priority: int
    source: str  # independent evidence: label, laps, hr, pace, speed_series, device, baseline
    estimated: bool = False  # rests on an estimated threshold, not a configured one
    thin: str | None = None  # rests on a thin estimate: how it was made


def based_on(signal: Signal | None, value: ZoneValue | None) -> Signal | None:
    """The signal, marked with what its threshold rests on."""
    if signal is None or value is None:
        return signal
    estimated = value.source is ZoneSource.ESTIMATED
    return replace(signal, estimated=estimated, thin=value.method if estimated and value.thin else None)


def workout_type_signal(activity: Activity) -> Signal | None:
    if activity.workout_type == 1:
        return Signal(
            Label.HARD,
            BASE_LABEL,
            Reason("workout_type_race", "hard: marked as a race"),
            PRIORITY_LABEL,
            "label",
        )
    if activity.workout_type == 3:
        return Signal(
            Label.HARD,
            BASE_LABEL,
            Reason("workout_type_workout", "hard: marked as a workout"),
            PRIORITY_LABEL,
            "label",
        )
    return None


def lap_structure_signal(activity: Activity, zones: Zones) -> Signal | None:
    """Workout laps from the watch: active laps alternating with rest or recovery laps."""
    laps = [lap for lap in activity.laps if lap.intensity]
    kinds = [lap.intensity for lap in laps]
    active = [lap for lap in laps if lap.intensity == "active"]
    alternations = sum(1 for a, b in itertools.pairwise(kinds) if a == "active" and b in ("rest", "recovery"))
    if len(active) < 2 or alternations < 1:
        return None
    rests = [lap for lap in laps if lap.intensity in ("rest", "recovery")]
    if _walk_breaks(active, rests, zones):
        return None
    return Signal(
        Label.HARD,
        BASE_LAPS,
        Reason("structured_laps", f"hard: {len(active)} work laps alternating with recoveries"),
        PRIORITY_LAPS,
        "laps",
    )


def _walk_breaks(active: Sequence[Lap], rests: Sequence[Lap], zones: Zones) -> bool:
    """Run-walk: the 'work' laps are themselves easy running, by pace and by heart rate."""
    threshold = zones.threshold_speed_mps.value if zones.threshold_speed_mps else None
    lthr = zones.threshold_hr.value if zones.threshold_hr else None
    speeds = [lap.avg_speed_mps for lap in active if lap.avg_speed_mps]
    hrs = [lap.avg_hr for lap in active if lap.avg_hr]
    if threshold is None or not speeds:
        return False
    easy_pace = max(speeds) <= SPEED_EASY_CEILING * threshold
    easy_hr = not hrs or lthr is None or max(hrs) <= LTHR_EASY_CEILING * lthr
    return easy_pace and easy_hr


def _hr_base(value: ZoneValue, configured: float) -> float:
    return configured if value.source in (ZoneSource.CONFIG, ZoneSource.STRAVA) else BASE_HR_ESTIMATED


def hr_signal(derived: DerivedMetrics, zones: Zones) -> Signal | None:
    if derived.hr_valid_s < MIN_SIGNAL_S:
        return None
    mean = derived.mean_hr()
    if mean is None:
        return None
    if zones.threshold_hr is not None:
        return based_on(_lthr_signal(derived, zones.threshold_hr, mean), zones.threshold_hr)
    if zones.max_hr is not None:
        return based_on(_hrmax_signal(derived, zones.max_hr, mean), zones.max_hr)
    return None


def summary_hr_signal(activity: Activity, derived: DerivedMetrics, zones: Zones) -> Signal | None:
    """Only the average HR is known (a summary without streams): it can say hard, barely easy."""
    mean = activity.avg_hr
    if mean is None or derived.hr_valid_s >= MIN_SIGNAL_S or activity.moving_s < 2 * MIN_SIGNAL_S:
        return None
    if not MIN_CREDIBLE_HR <= mean <= MAX_CREDIBLE_HR:
        return None
    if zones.threshold_hr is not None:
        value, ceiling, of = zones.threshold_hr, LTHR_EASY_CEILING, "threshold HR"
        base = _hr_base(value, BASE_HR_CONFIGURED)
    elif zones.max_hr is not None:
        value, ceiling, of = zones.max_hr, HRMAX_EASY_CEILING, "max HR"
        base = _hr_base(value, BASE_HR_MAX_CONFIGURED)
    else:
        return None
    average = f"average HR {mean:.0f} bpm, {mean / value.value:.0%} of {of} ({value.value:.0f} bpm)"
    if mean > ceiling * value.value:
        return based_on(
            Signal(
                Label.HARD,
                base - 0.15,
                Reason("hr_average_above_easy_ceiling", f"hard: {average}, above the easy ceiling"),
                PRIORITY_HR,
                "hr",
            ),
            value,
        )
    return based_on(
        Signal(
            Label.EASY,
            BASE_BASELINE,  # intervals can average an easy heart rate
            Reason("hr_average_easy", f"easy: {average}; only the average is known"),
            PRIORITY_HR,
            "hr",
        ),
        value,
    )


def _lthr_signal(derived: DerivedMetrics, value: ZoneValue, mean: float) -> Signal:
    lthr = value.value
    base = _hr_base(value, BASE_HR_CONFIGURED)
    at_hard = derived.seconds_hr_at_or_above(LTHR_HARD * lthr)
    tempo = derived.longest_hr_at_or_above(LTHR_TEMPO * lthr)
    share = at_hard / derived.hr_valid_s

    def signal(label: Label, confidence: float, code: str, text: str) -> Signal:
        return Signal(label, confidence, Reason(code, text), PRIORITY_HR, "hr")

    above = f"at or above 95% of threshold HR ({LTHR_HARD * lthr:.0f} bpm)"
    if at_hard >= HARD_MIN_S or (share >= HARD_SHARE and at_hard >= MIN_SHARE_S):
        return signal(Label.HARD, base, "hr_above_threshold", f"hard: {at_hard / 60:.0f} min {above}")
    if tempo >= CONTINUOUS_MIN_S:
        return signal(
            Label.HARD,
            base - 0.05,
            "hr_sustained_tempo",
            f"hard: {tempo / 60:.0f} min in a row at or above 90% of threshold HR "
            f"({LTHR_TEMPO * lthr:.0f} bpm)",
        )
    average = f"average HR {mean:.0f} bpm, {mean / lthr:.0%} of threshold HR ({lthr:.0f} bpm)"
    if mean > LTHR_EASY_CEILING * lthr:
        return signal(
            Label.HARD,
            base - 0.15,
            "hr_above_easy_ceiling",
            f"hard: {average}, above the easy ceiling ({LTHR_EASY_CEILING * lthr:.0f} bpm)",
        )
    if at_hard >= EASY_MAX_HARD_S:
        return signal(
            Label.EASY, base - 0.2, "hr_easy_mostly", f"easy: {average}, with {at_hard / 60:.0f} min {above}"
        )
    return signal(Label.EASY, base, "hr_easy", f"easy: {average}")


def _hrmax_signal(derived: DerivedMetrics, value: ZoneValue, mean: float) -> Signal:
    hrmax = value.value
    base = _hr_base(value, BASE_HR_MAX_CONFIGURED)
    at_hard = derived.seconds_hr_at_or_above(HRMAX_HARD * hrmax)

    def signal(label: Label, confidence: float, code: str, text: str) -> Signal:
        return Signal(label, confidence, Reason(code, text), PRIORITY_HR, "hr")

    if at_hard >= HARD_MIN_S:
        return signal(
            Label.HARD,
            base,
            "hr_above_max_share",
            f"hard: {at_hard / 60:.0f} min at or above 88% of max HR ({HRMAX_HARD * hrmax:.0f} bpm)",
        )
    average = f"average HR {mean:.0f} bpm, {mean / hrmax:.0%} of max HR ({hrmax:.0f} bpm)"
    if mean >= HRMAX_HARD_MEAN * hrmax and derived.hr_valid_s >= CONTINUOUS_MIN_S:
        return signal(Label.HARD, base, "hr_high_mean", f"hard: {average}")
    if mean > HRMAX_EASY_CEILING * hrmax:
        return signal(
            Label.HARD,
            base - 0.15,
            "hr_above_easy_ceiling_max",
            f"hard: {average}, above the easy ceiling ({HRMAX_EASY_CEILING * hrmax:.0f} bpm)",
        )
    if at_hard >= EASY_MAX_HARD_S:
        return signal(
            Label.EASY, base - 0.2, "hr_easy_mostly_max", f"easy: {average}, with some harder minutes"
        )
    return signal(Label.EASY, base, "hr_easy_max", f"easy: {average}")


def pace_signal(activity: Activity, derived: DerivedMetrics, zones: Zones) -> Signal | None:
    if zones.threshold_speed_mps is None:
        return None
    value = zones.threshold_speed_mps
    threshold = value.value
    if threshold <= 0:
        return None
    base = (
        BASE_PACE_CONFIGURED
        if value.source in (ZoneSource.CONFIG, ZoneSource.STRAVA)
        else BASE_PACE_ESTIMATED
    )
    if activity.trainer and not activity.has_gps:
        base -= 0.1  # treadmill and foot-pod speed is less trustworthy

    def signal(label: Label, confidence: float, code: str, text: str) -> Signal:
        return Signal(label, confidence, Reason(code, text), PRIORITY_PACE, "pace")

    pace = "grade-adjusted pace" if derived.grade_adjusted else "pace"
    if derived.speed_valid_s >= MIN_SIGNAL_S:
        at_hard = derived.seconds_speed_at_or_above(SPEED_HARD * threshold)
        tempo = derived.longest_speed_at_or_above(SPEED_TEMPO * threshold)
        share = at_hard / derived.speed_valid_s
        if at_hard >= HARD_MIN_S or (share >= HARD_SHARE and at_hard >= MIN_SHARE_S):
            return signal(
                Label.HARD,
                base,
                "pace_above_threshold",
                f"hard: {at_hard / 60:.0f} min of {pace} at or faster than 95% of threshold pace "
                f"({_pace(SPEED_HARD * threshold)})",
            )
        if tempo >= CONTINUOUS_MIN_S:
            return signal(
                Label.HARD,
                base - 0.05,
                "pace_sustained_tempo",
                f"hard: {tempo / 60:.0f} min in a row of {pace} near threshold pace "
                f"({_pace(SPEED_TEMPO * threshold)} or faster)",
            )
        speed = _mean_speed(derived)
        surges = at_hard >= EASY_MAX_HARD_S or len(derived.bouts) >= 2
    else:
        speed = _average_speed(activity)
        surges = False
        pace = "pace"
    if speed is None or speed <= 0:
        return None
    average = f"average {pace} {_pace(speed)}, {speed / threshold:.0%} of threshold speed"
    if speed >= 0.90 * threshold:
        return signal(Label.HARD, base - 0.15, "pace_above_easy_ceiling", f"hard: {average}")
    if speed <= SPEED_EASY_CEILING * threshold and not surges:
        return signal(Label.EASY, base - 0.1, "pace_easy", f"easy: {average}")
    return None  # an easy average with surges or hills, or a steady one, says nothing by itself


def _mean_speed(derived: DerivedMetrics) -> float | None:
    total = sum(derived.speed_seconds.values())
    if total <= 0:
        return None
    return sum(level / 10 * s for level, s in derived.speed_seconds.items()) / total


def _average_speed(activity: Activity) -> float | None:
    speed = activity.avg_speed_mps
    if not speed and activity.distance_m and activity.moving_s > 0:
        speed = activity.distance_m / activity.moving_s
    if speed is None or speed <= 0 or speed > MAX_RUN_SPEED_MPS:
        return None
    return speed


def lap_variability_signal(activity: Activity, zones: Zones) -> Signal | None:
    """Manual laps (automatic 1-km laps say nothing): fast laps separated by slower ones."""
    laps = [lap for lap in activity.laps if lap.trigger not in AUTO_LAP_TRIGGERS]
    if any(lap.trigger in AUTO_LAP_TRIGGERS for lap in activity.laps) and not any(
        lap.trigger == "manual" for lap in laps
    ):
        return None
    timed = [lap for lap in laps if lap.avg_speed_mps and (lap.timer_s or lap.elapsed_s) >= 1]
    if len(timed) < 4:
        return None
    speeds = [lap.avg_speed_mps or 0.0 for lap in timed]
    median = statistics.median(speeds)
    threshold = zones.threshold_speed_mps.value if zones.threshold_speed_mps else None
    cutoff = BOUT_VS_THRESHOLD * threshold if threshold else BOUT_VS_MEDIAN * median
    work = [
        i
        for i, lap in enumerate(timed)
        if (lap.timer_s or lap.elapsed_s) >= WORK_LAP_MIN_S and speeds[i] >= cutoff
    ]
    separated = sum(
        1 for a, b in itertools.pairwise(work) if any(speeds[j] <= 0.9 * speeds[a] for j in range(a + 1, b))
    )
    if len(work) >= 2 and separated >= 1:
        return Signal(
            Label.HARD,
            BASE_VARIABILITY,
            Reason("fast_laps", f"hard: {len(work)} fast laps separated by slower ones"),
            PRIORITY_VARIABILITY,
            "laps",
        )
    return None


def bout_signal(derived: DerivedMetrics, zones: Zones) -> Signal | None:
    """Intervals seen only in the speed series: repeated bouts well above the run's own pace."""
    threshold = zones.threshold_speed_mps.value if zones.threshold_speed_mps else None
    bouts = [b for b in derived.bouts if 30 <= b.duration_s <= 12 * 60]
    if threshold is not None:
        bouts = [b for b in bouts if b.mean_speed_mps >= BOUT_VS_THRESHOLD * threshold]
    work_s = sum(b.duration_s for b in bouts)
    if len(bouts) >= 3 and work_s >= 3 * 60:
        where = "at threshold pace or faster" if threshold is not None else "well above your pace for the run"
        return Signal(
            Label.HARD,
            BASE_VARIABILITY if threshold is not None else BASE_BASELINE,  # run-walk looks alike
            Reason("speed_bouts", f"hard: {len(bouts)} fast bouts ({work_s / 60:.0f} min) {where}"),
            PRIORITY_VARIABILITY,
            "speed_series",
        )
    return None


def training_effect_signal(activity: Activity) -> Signal | None:
    te, ane = activity.training_effect, activity.anaerobic_training_effect
    if te is not None and te >= 4.0:
        text = f"hard: the watch rated its training effect {te:.1f} (highly improving)"
    elif ane is not None and ane >= 3.0:
        text = f"hard: the watch rated its anaerobic training effect {ane:.1f}"
    else:
        return None
    return Signal(
        Label.HARD, BASE_VARIABILITY, Reason("training_effect", text), PRIORITY_VARIABILITY, "device"
    )


def race_effort_signal(derived: DerivedMetrics, zones: Zones, moving_s: float) -> Signal | None:
    """Most of the run at threshold or above: a race or time trial, hard however long it is."""
    if moving_s < LONG_RELATIVE_MIN_S:
        return None
    if zones.threshold_hr is not None and derived.hr_valid_s >= 0.5 * moving_s:
        lthr = zones.threshold_hr.value
        at_hard = derived.seconds_hr_at_or_above(LTHR_HARD * lthr)
        if at_hard >= RACE_SHARE * derived.hr_valid_s:
            return based_on(
                Signal(
                    Label.HARD,
                    _hr_base(zones.threshold_hr, BASE_HR_CONFIGURED),
                    Reason(
                        "race_effort",
                        f"hard: {at_hard / 60:.0f} of {moving_s / 60:.0f} min at or above 95% of "
                        f"threshold HR ({LTHR_HARD * lthr:.0f} bpm), a race effort",
                    ),
                    PRIORITY_HR,
                    "hr",
                ),
                zones.threshold_hr,
            )
        return None
    if zones.threshold_speed_mps is not None and derived.speed_valid_s >= 0.5 * moving_s:
        threshold = zones.threshold_speed_mps.value
        at_hard = derived.seconds_speed_at_or_above(SPEED_HARD * threshold)
        pace = "grade-adjusted pace" if derived.grade_adjusted else "pace"
        if at_hard >= RACE_SHARE * derived.speed_valid_s:
            return based_on(
                Signal(
                    Label.HARD,
                    BASE_PACE_CONFIGURED
                    if zones.threshold_speed_mps.source in (ZoneSource.CONFIG, ZoneSource.STRAVA)
                    else BASE_PACE_ESTIMATED,
                    Reason(
                        "race_effort_pace",
                        f"hard: {at_hard / 60:.0f} of {moving_s / 60:.0f} min of {pace} at or faster "
                        "than 95% of threshold pace, a race effort",
                    ),
                    PRIORITY_PACE,
                    "pace",
                ),
                zones.threshold_speed_mps,
            )
    return None


def long_signal(activity: Activity, moving_s: float, past: RunHistory) -> Signal | None:
    minutes = moving_s / 60

    def signal(confidence: float, code: str, text: str) -> Signal:
        return Signal(Label.LONG, confidence, Reason(code, text), PRIORITY_LABEL, "duration")

    if activity.workout_type == 2:
        return signal(BASE_LABEL, "workout_type_long", "long: marked as a long run")
    if moving_s >= LONG_MIN_S:
        return signal(0.8, "duration_long", f"long: {minutes:.0f} min moving (90 min or more)")
    if moving_s < LONG_RELATIVE_MIN_S:
        return None
    start = activity.start_utc.timestamp()
    week = past.before(start, 7)
    month = [r.moving_s for r in past.before(start, 28)]
    if not week or len(month) < 3:
        return None
    median = statistics.median(month)
    if moving_s > max(r.moving_s for r in week) and moving_s >= 1.5 * median:
        return signal(
            0.6,
            "longest_of_week",
            f"long: the week's longest run ({minutes:.0f} min, {moving_s / median:.1f}x your usual run)",
        )
    week_distance = sum(r.distance_m or 0.0 for r in week) + (activity.distance_m or 0.0)
    if activity.distance_m and len(week) >= 2 and activity.distance_m >= 0.25 * week_distance:
        share = activity.distance_m / week_distance
        return signal(0.55, "share_of_week", f"long: {share:.0%} of the week's running distance")
    return None


def baseline_signal(activity: Activity, moving_s: float, past: RunHistory) -> Signal | None:
    """Nothing configured and no heart rate: compare with the runner's own usual speed."""
    speed = _average_speed(activity)
    start = activity.start_utc.timestamp()
    speeds = [r.avg_speed_mps for r in past.before(start, 90) if r.avg_speed_mps]
    if len(speeds) < 5 or speed is None:
        return None
    median = statistics.median(speeds)
    if moving_s >= 20 * 60 and speed >= BASELINE_FASTER * median:
        return Signal(
            Label.HARD,
            BASE_BASELINE,
            Reason("faster_than_usual", f"hard: {speed / median - 1:.0%} faster than your usual runs"),
            PRIORITY_BASELINE,
            "baseline",
        )
    return Signal(
        Label.EASY,
        BASE_BASELINE,
        Reason("usual_pace", "easy: at your usual pace; no heart rate or thresholds to confirm"),
        PRIORITY_BASELINE,
        "baseline",
    )


def _pace(speed_mps: float) -> str:
    seconds = round(1000 / speed_mps)
    return f"{seconds // 60}:{seconds % 60:02d}/km"
