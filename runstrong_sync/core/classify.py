"""Label each run easy, hard or long, with reasons and a confidence; everything else is 'other'.

Rules and numbers: the project's training rules (classification rule set, sections 0-5).
Order: the runner's own label, then explicit marks (Strava workout_type), then a race-like effort
(most of the run at threshold), then long (before intensity, so a long run with a fast finish
stays long), then intensity from the best available signal, confirmed or contradicted by the
others. Confidence follows section 5: a base per leading signal, +0.1 per agreeing independent
signal (cap 0.95), -0.2 on conflict, -0.1 for missing or patchy heart rate. Below 0.5 the run is
flagged uncertain and the planner treats it as hard. The signals themselves are in
``signals.py``; here they are weighed into one label. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence

from runstrong_sync.core import signals
from runstrong_sync.core.domain import Activity, Classification, DerivedMetrics, Label, Reason, Zones
from runstrong_sync.core.signals import (
    BASE_VARIABILITY,
    MAX_RUN_SPEED_MPS,
    PRIORITY_BASELINE,
    PRIORITY_HR,
    PRIORITY_LABEL,
    PRIORITY_LAPS,
    PRIORITY_PACE,
    RunHistory,
    RunSummary,
    Signal,
)

__all__ = ["CLASSIFIER_VERSION", "RunHistory", "RunSummary", "classify"]

CLASSIFIER_VERSION = 3  # raise when a rule changes: stored labels are then all redone
SHORT_RUN_S = 8 * 60
HR_DROPOUT_SHARE = 0.10
BASE_DURATION = 0.3  # confidence of a run with nothing to judge by
AGREE_BONUS = 0.1
CONFLICT_PENALTY = 0.2
DATA_PENALTY = 0.1
CAP = 0.95
UNCERTAIN_BELOW = 0.5
WORK_SOURCES = frozenset({"laps", "pace", "speed_series"})
RELATIVE_LONG_CODES = frozenset({"longest_of_week", "share_of_week"})


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
            signals.workout_type_signal(activity),
            signals.lap_structure_signal(activity, zones),
            signals.hr_signal(derived, zones) or signals.summary_hr_signal(activity, derived, zones),
            signals.based_on(signals.pace_signal(activity, derived, zones), zones.threshold_speed_mps),
            signals.based_on(signals.lap_variability_signal(activity, zones), zones.threshold_speed_mps),
            signals.based_on(signals.bout_signal(derived, zones), zones.threshold_speed_mps),
            signals.training_effect_signal(activity),
        )
        if s is not None
    ]

    if any(s.priority == PRIORITY_LABEL for s in intensity):
        return _combine(intensity, notes, penalty)  # marked as a race or workout: hard at any length
    race = None if activity.workout_type == 2 else signals.race_effort_signal(derived, zones, moving_s)
    if race is not None:
        return _combine([race, *intensity], notes, penalty)

    long_signal = signals.long_signal(activity, moving_s, past)
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
        baseline = signals.baseline_signal(activity, moving_s, past)
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
