"""A strength session as workout steps, the way Garmin watches run them.

Each exercise becomes: the work step (reps, or a hold in seconds; the cue in its note; Garmin's
exercise category and name where one matches), a rest step, and - with more than one set - a
repeat step that goes back to the work step ``sets`` times. The same steps are written as a FIT
workout file (garmin_fit) and as a Garmin Connect workout (garmin_push).

Exercise codes: the FIT numbers are the FIT profile's ``exercise_category`` and
``<category>_exercise_name`` values (as fitparse's profile has them); the Connect keys are those of
Garmin Connect's workout editor (as the garminconnect library's exercise catalogue lists them).
Where no name matches, only the category is given, which Garmin shows by its category name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from runstrong_sync.core.domain import Exercise, SessionStatus, StrengthSession

WORK, REST, REPEAT = "work", "rest", "repeat"
MARKER = "[runstrong-sync]"  # ends the description of every workout we make


@dataclass(frozen=True, slots=True)
class Code:
    fit_category: int
    fit_name: int | None
    connect_category: str | None
    connect_name: str | None


# First match (a lower-case phrase in the exercise's name) wins: specific before general.
CATALOGUE: tuple[tuple[tuple[str, ...], Code], ...] = (
    (("side plank",), Code(19, 66, "PLANK", "SIDE_PLANK")),
    (("plank",), Code(19, 43, "PLANK", "PLANK")),
    (("dead bug",), Code(11, 1, "HIP_STABILITY", "DEAD_BUG")),
    (("russian twist",), Code(5, None, "CORE", "RUSSIAN_TWIST")),
    (
        ("single-leg bridge", "single-leg glute bridge", "single-leg hip thrust"),
        Code(10, 30, "HIP_RAISE", "SINGLE_LEG_HIP_RAISE"),
    ),
    (("hip thrust", "glute bridge", "bridge"), Code(10, 11, "HIP_RAISE", "HIP_RAISE")),
    (("clamshell",), Code(11, None, "HIP_STABILITY", None)),
    (("good morning", "hip hinge"), Code(15, 2, "LEG_CURL", "GOOD_MORNING")),
    (("single-leg deadlift", "single-leg romanian"), Code(8, None, "DEADLIFT", None)),
    (("romanian deadlift",), Code(8, None, "DEADLIFT", "ROMANIAN_DEADLIFT")),
    (("split squat",), Code(17, None, "LUNGE", None)),
    (("step-up", "step up"), Code(28, 66, "SQUAT", "STEP_UP")),
    (("lunge",), Code(17, 32, "LUNGE", "LUNGE")),
    (("heel drop",), Code(1, None, "CALF_RAISE", None)),
    (
        ("single-leg calf raise", "single-leg standing calf"),
        Code(1, 15, "CALF_RAISE", "SINGLE_LEG_STANDING_CALF_RAISE"),
    ),
    (("calf raise",), Code(1, 18, "CALF_RAISE", "STANDING_CALF_RAISE")),
    (("pogo", "bound", "skip", "hop", "jump"), Code(20, None, "PLYO", None)),
)
UNKNOWN = Code(65534, None, None, None)  # FIT's "unknown" category; in Connect, a step without one


def code_for(exercise: Exercise) -> Code:
    name = exercise.name.lower()
    for phrases, code in CATALOGUE:
        if any(phrase in name for phrase in phrases):
            return code
    return UNKNOWN


@dataclass(frozen=True, slots=True)
class Step:
    kind: str  # work, rest or repeat
    name: str = ""
    reps: int | None = None  # work: repetitions (per side when the name says so)
    seconds: int | None = None  # work: a hold; rest: the rest
    notes: str = ""
    code: Code | None = None
    back_to: int | None = None  # repeat: the index of the step to go back to
    times: int | None = None  # repeat: how many times the group runs in all


def workout_name(session: StrengthSession, *, dated: bool) -> str:
    """ "Strength Tue 24 Nov" for a file on the watch; undated in Garmin's calendar, which shows the day
    (so a session that moves keeps its workout)."""
    kind = "Core & hips" if session.kind == "light" else "Strength"
    return f"{kind} {session.start:%a %d %b}" if dated else f"{kind} (runstrong-sync)"


def description(session: StrengthSession) -> str:
    focus = ", ".join(session.focus)
    return f"{session.duration_min} min{f', {focus}' if focus else ''}. {MARKER} {session.uid}"


def exercise_label(exercise: Exercise) -> str:
    return f"{exercise.name}{' (each side)' if exercise.per_side else ''}"


def steps_for(session: StrengthSession) -> list[Step]:
    steps: list[Step] = []
    for exercise in session.exercises:
        first = len(steps)
        hold = exercise.hold_s if exercise.hold_s else None
        steps.append(
            Step(
                WORK,
                exercise_label(exercise),
                reps=None if hold else (exercise.reps or 1),
                seconds=hold,
                notes=exercise.cue,
                code=code_for(exercise),
            )
        )
        steps.append(Step(REST, "Rest", seconds=max(1, exercise.rest_s)))
        if exercise.sets > 1:
            steps.append(Step(REPEAT, back_to=first, times=exercise.sets))
    return steps


def upcoming(sessions: list[StrengthSession], now: datetime, hours: int) -> list[StrengthSession]:
    """Planned sessions that start from ``now`` to ``hours`` later (the plan's stable window)."""
    until = now + timedelta(hours=hours)
    return [s for s in sessions if s.status is SessionStatus.PLANNED and now <= s.start < until]
