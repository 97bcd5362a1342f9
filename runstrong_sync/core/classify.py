"""Label each run easy, hard or long, with reasons and a confidence; everything else is 'other'.

Rules and numbers: the project's training rules (classification rule set, sections 0-5).
Order: the runner's own label, then explicit marks (Strava workout_type), then a race-like effort
(most of the run at threshold), then long (before intensity, so a long run with a fast finish
stays long), then intensity from the best available signal, confirmed or contradicted by the
others. Confidence follows section 5: a base per leading signal, +0.1 per agreeing independent
signal (cap 0.95), -0.2 on conflict, -0.1 for missing or patchy heart rate. Below 0.5 the run is
flagged uncertain and the planner treats it as hard. Pure: no I/O.
"""

from __future__ import annotations

import bisect
import itertools
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from runstrong_sync.core.domain import (
    Activity,
    Classification,
    DerivedMetrics,
    Label,
    Lap,
    Reason,
    Zones,
    ZoneSource,
    ZoneValue,
)

CLASSIFIER_VERSION = 3  # raise when a rule changes: stored labels are then all redone
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
SHORT_RUN_S = 8 * 60
HR_DROPOUT_SHARE = 0.10
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

# Confidence bases (section 5) and the priority of each signal (lower is stronger).
BASE_LABEL = 0.9
BASE_LAPS = 0.85
BASE_HR_CONFIGURED = 0.8
BASE_HR_ESTIMATED = 0.65
BASE_HR_MAX_CONFIGURED = 0.7
BASE_PACE_CONFIGURED = 0.7
BASE_PACE_ESTIMATED = 0.6
BASE_VARIABILITY = 0.5
BASE_BASELINE = 0.4
BASE_DURATION = 0.3
AGREE_BONUS = 0.1
CONFLICT_PENALTY = 0.2
DATA_PENALTY = 0.1
CAP = 0.95
UNCERTAIN_BELOW = 0.5
WORK_SOURCES = frozenset({"laps", "pace", "speed_series"})
RELATIVE_LONG_CODES = frozenset({"longest_of_week", "share_of_week"})

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


def _based_on(signal: Signal | None, value: ZoneValue | None) -> Signal | None:
    """The signal, marked with what its threshold rests on."""
    if signal is None or value is None:
        return signal
    estimated = value.source is ZoneSource.ESTIMATED
    return replace(signal, estimated=estimated, thin=value.method if estimated and value.thin else None)


def classify(
    activity: Activity,
    zones: Zones,
    history: Sequence[RunSummary] | RunHistory = (),
    override: Label | None = None,
) -> Classification:
    if override is not None:
        return Classification(
            override, 1.0, (Reason("user_label", f"{override.value}: set by you"),), overridden=True
        )
    if not activity.is_run:
        return Classification(
            Label.OTHER, 1.0, (Reason("cross_training", f"other: {activity.sport} is cross-training"),)
        )
    past = history if isinstance(history, RunHistory) else RunHistory(history)
    derived = activity.derived or DerivedMetrics()
    moving_s = _moving_s(activity, derived)
    notes, penalty = _data_quality(activity, derived)

    intensity = [
        s
        for s in (
            _workout_type_signal(activity),
            _lap_structure_signal(activity, zones),
            _hr_signal(derived, zones) or _summary_hr_signal(activity, derived, zones),
            _based_on(_pace_signal(activity, derived, zones), zones.threshold_speed_mps),
            _based_on(_lap_variability_signal(activity, zones), zones.threshold_speed_mps),
            _based_on(_bout_signal(derived, zones), zones.threshold_speed_mps),
            _training_effect_signal(activity),
        )
        if s is not None
    ]

    if any(s.priority == PRIORITY_LABEL for s in intensity):
        return _combine(intensity, notes, penalty)  # marked as a race or workout: hard at any length
    race = None if activity.workout_type == 2 else _race_effort_signal(derived, zones, moving_s)
    if race is not None:
        return _combine([race, *intensity], notes, penalty)

    long_signal = _long_signal(activity, moving_s, past)
    if long_signal is not None and not _workout_outranks(long_signal, intensity):
        return _long_classification(long_signal, intensity, notes)

    if not intensity and moving_s < SHORT_RUN_S and moving_s > 0:
        short = Signal(
            Label.EASY,
            0.6,
            Reason("short_run", f"easy: only {moving_s / 60:.0f} min of running, too short for a workout"),
            PRIORITY_BASELINE,
            "duration",
        )
        return _combine([short], notes, 0.0)
    if not intensity:
        baseline = _baseline_signal(activity, moving_s, past)
        if baseline is not None:
            return _combine([baseline], notes, penalty)
        reason = Reason(
            "no_signal", "easy: no heart rate, pace or structure to judge by; assumed easy, planned as hard"
        )
        return Classification(Label.EASY, BASE_DURATION, (reason, *notes))
    return _combine(intensity, notes, penalty)


def _configured_first(ordered: list[Signal]) -> list[Signal]:
    """A configured value beats an estimate: an HR or pace lead resting on an estimated threshold
    gives way to one resting on a configured threshold."""
    lead = ordered[0]
    if not lead.estimated or lead.priority not in (PRIORITY_HR, PRIORITY_PACE):
        return ordered
    configured = [s for s in ordered if s.priority in (PRIORITY_HR, PRIORITY_PACE) and not s.estimated]
    if not configured:
        return ordered
    return [configured[0], *(s for s in ordered if s is not configured[0])]


def _combine(signals: list[Signal], notes: Sequence[Reason], penalty: float) -> Classification:
    ordered = _configured_first(sorted(signals, key=lambda s: (s.priority, -s.confidence)))
    lead = ordered[0]
    hedge = False
    if lead.label is Label.EASY and lead.priority > PRIORITY_LABEL:
        # Heart rate lags behind short repetitions: hard work seen at threshold pace outranks an
        # easy heart rate; any other sign of hard work leaves the run easy but uncertain. Work
        # judged against an estimate never outranks a reading against a configured threshold.
        work = [s for s in ordered if s.label is Label.HARD and s.source in WORK_SOURCES]
        work = [s for s in work if s.confidence >= BASE_VARIABILITY and (lead.estimated or not s.estimated)]
        if work:
            lead = work[0]
            ordered = [lead, *(s for s in ordered if s is not lead)]
        else:
            hedge = any(s.label is Label.HARD for s in ordered)
    confidence = lead.confidence
    seen_agreeing = {lead.source}
    conflict = False
    for other in ordered[1:]:
        if other.label is lead.label:
            if other.source not in seen_agreeing:
                confidence += AGREE_BONUS
                seen_agreeing.add(other.source)
        else:
            conflict = True
    confidence = min(CAP, confidence)
    if conflict:
        confidence -= CONFLICT_PENALTY
    confidence = confidence - penalty
    if hedge:
        confidence = min(confidence, UNCERTAIN_BELOW - 0.05)
    thin: list[Reason] = []
    if lead.thin and not any(
        s.label is lead.label and not s.thin and s.source != lead.source for s in ordered
    ):
        confidence = min(confidence, UNCERTAIN_BELOW - 0.05)  # all there is: below the line
        thin.append(Reason("thin_estimate", f"the threshold is a thin estimate ({lead.thin}), so unsure"))
    confidence = _clamp(confidence)
    agreeing = [s.reason for s in ordered[1:] if s.label is lead.label]
    conflicting = [_contrary(s.reason) for s in ordered[1:] if s.label is not lead.label]
    return Classification(lead.label, confidence, (lead.reason, *agreeing, *conflicting, *thin, *notes))


def _workout_outranks(long_signal: Signal, intensity: Sequence[Signal]) -> bool:
    """Long only relative to a short week (not 90 min, not marked long) gives way to a workout:
    an interval session with watch laps or at a configured threshold is hard, whatever its share."""
    if long_signal.reason.code not in RELATIVE_LONG_CODES:
        return False
    return any(
        s.label is Label.HARD
        and s.priority in (PRIORITY_LAPS, PRIORITY_HR, PRIORITY_PACE)
        and not s.thin
        and s.confidence > long_signal.confidence
        for s in intensity
    )


def _long_classification(
    long_signal: Signal, intensity: Sequence[Signal], notes: Sequence[Reason]
) -> Classification:
    """Long stays long; a hard finish is mentioned, not counted against it."""
    extra = [
        Reason("long_with_fast_part", f"with a fast part: {s.reason.text.removeprefix('hard: ')}")
        for s in intensity
        if s.label is Label.HARD and s.priority in (PRIORITY_HR, PRIORITY_PACE)
    ][:1]
    return Classification(Label.LONG, _clamp(long_signal.confidence), (long_signal.reason, *extra, *notes))


def _contrary(reason: Reason) -> Reason:
    return Reason(reason.code, f"but {reason.text}")


def _clamp(value: float) -> float:
    return round(max(0.05, min(CAP, value)), 2)


def _moving_s(activity: Activity, derived: DerivedMetrics) -> float:
    return activity.moving_s if activity.moving_s > 0 else derived.moving_s


def _data_quality(activity: Activity, derived: DerivedMetrics) -> tuple[list[Reason], float]:
    """Reasons that lower confidence, and by how much."""
    notes: list[Reason] = []
    penalty = 0.0
    if derived.hr_valid_s <= 0 and activity.avg_hr:
        notes.append(Reason("hr_average_only", "only the average heart rate is known, so less sure"))
        penalty += DATA_PENALTY
    elif derived.hr_valid_s <= 0:
        notes.append(Reason("no_heart_rate", "no heart rate recorded, so less sure"))
        penalty += DATA_PENALTY
    elif derived.moving_s > 0 and derived.hr_coverage < 1 - HR_DROPOUT_SHARE:
        missing = 1 - derived.hr_coverage
        notes.append(Reason("hr_dropout", f"heart rate missing for {missing:.0%} of the run, so less sure"))
        penalty += DATA_PENALTY
    if derived.hr_artifacts:
        notes.append(
            Reason(
                "hr_artifacts",
                f"{derived.hr_artifacts} impossible heart-rate readings (0, 255, spikes) ignored",
            )
        )
    if derived.gps_jumps:
        notes.append(Reason("gps_jumps", f"{derived.gps_jumps} GPS jumps ignored"))
    if derived.clock_jumps:
        notes.append(Reason("clock_jumps", f"the watch's clock jumped {derived.clock_jumps} time(s)"))
    distance = activity.distance_m
    if distance is not None and (
        distance <= 0 or (activity.moving_s > 0 and distance / activity.moving_s > MAX_RUN_SPEED_MPS)
    ):
        notes.append(Reason("bad_distance", "the recorded distance is zero or impossible; pace not used"))
    if activity.raw.get("incomplete"):
        notes.append(Reason("incomplete_file", "the file was cut off: judged from the records it holds"))
    guess = activity.raw.get("sport_guess")
    if isinstance(guess, str):
        notes.append(Reason("sport_judged", f"the file names no sport we know: {guess}"))
    if activity.trainer and not activity.has_gps and derived.speed_valid_s > 0:
        notes.append(Reason("indoor", "indoor or without GPS: pace from a foot pod or the watch"))
    return notes, penalty


def _workout_type_signal(activity: Activity) -> Signal | None:
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


def _lap_structure_signal(activity: Activity, zones: Zones) -> Signal | None:
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


def _hr_signal(derived: DerivedMetrics, zones: Zones) -> Signal | None:
    if derived.hr_valid_s < MIN_SIGNAL_S:
        return None
    mean = derived.mean_hr()
    if mean is None:
        return None
    if zones.threshold_hr is not None:
        return _based_on(_lthr_signal(derived, zones.threshold_hr, mean), zones.threshold_hr)
    if zones.max_hr is not None:
        return _based_on(_hrmax_signal(derived, zones.max_hr, mean), zones.max_hr)
    return None


def _summary_hr_signal(activity: Activity, derived: DerivedMetrics, zones: Zones) -> Signal | None:
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
        return _based_on(
            Signal(
                Label.HARD,
                base - 0.15,
                Reason("hr_average_above_easy_ceiling", f"hard: {average}, above the easy ceiling"),
                PRIORITY_HR,
                "hr",
            ),
            value,
        )
    return _based_on(
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


def _pace_signal(activity: Activity, derived: DerivedMetrics, zones: Zones) -> Signal | None:
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


def _lap_variability_signal(activity: Activity, zones: Zones) -> Signal | None:
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


def _bout_signal(derived: DerivedMetrics, zones: Zones) -> Signal | None:
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


def _training_effect_signal(activity: Activity) -> Signal | None:
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


def _race_effort_signal(derived: DerivedMetrics, zones: Zones, moving_s: float) -> Signal | None:
    """Most of the run at threshold or above: a race or time trial, hard however long it is."""
    if moving_s < LONG_RELATIVE_MIN_S:
        return None
    if zones.threshold_hr is not None and derived.hr_valid_s >= 0.5 * moving_s:
        lthr = zones.threshold_hr.value
        at_hard = derived.seconds_hr_at_or_above(LTHR_HARD * lthr)
        if at_hard >= RACE_SHARE * derived.hr_valid_s:
            return _based_on(
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
            return _based_on(
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


def _long_signal(activity: Activity, moving_s: float, past: RunHistory) -> Signal | None:
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


def _baseline_signal(activity: Activity, moving_s: float, past: RunHistory) -> Signal | None:
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
