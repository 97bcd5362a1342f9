"""The exercise library and the content of a session: groups, variants by equipment, doses.

Doses follow the project's training rules: beginners 2-3 x 10-15 with bodyweight or bands,
experienced runners 3-4 x 4-8 heavier; every fourth week is a deload with fewer sets. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from runstrong_sync.domain import Exercise

GROUPS = ("core", "glutes", "hamstrings", "quads", "calves")
GROUP_NAMES = {
    "core": "core",
    "glutes": "glutes",
    "hamstrings": "hamstrings",
    "quads": "quads",
    "calves": "calves",
}
# Equipment from the simplest to the heaviest: the heaviest the runner owns is used.
EQUIPMENT_ORDER = ("bodyweight", "bands", "dumbbells", "kettlebells")


@dataclass(frozen=True, slots=True)
class Movement:
    name: str
    group: str
    variants: dict[str, str]  # equipment -> the variant's name
    cue: str
    single_leg: bool = False
    hold: bool = False
    heavy: bool = False  # loads the legs heavily; dropped before an A race


LIBRARY: tuple[Movement, ...] = (
    Movement(
        "Plank",
        "core",
        {"bodyweight": "Front plank", "dumbbells": "Plank with plate on back"},
        "Straight line from head to heels; squeeze glutes, breathe.",
        hold=True,
    ),
    Movement(
        "Dead bug",
        "core",
        {"bodyweight": "Dead bug", "bands": "Banded dead bug", "dumbbells": "Dead bug holding a dumbbell"},
        "Lower back stays pressed to the floor as the opposite arm and leg reach.",
    ),
    Movement(
        "Russian twist",
        "core",
        {
            "bodyweight": "Russian twist",
            "dumbbells": "Dumbbell Russian twist",
            "kettlebells": "Kettlebell Russian twist",
        },
        "Rotate from the ribs, not the arms; keep the chest tall.",
    ),
    Movement(
        "Side plank",
        "core",
        {"bodyweight": "Side plank"},
        "Hips high, body in one line; hold steady.",
        hold=True,
    ),
    Movement(
        "Hip thrust",
        "glutes",
        {
            "bodyweight": "Glute bridge",
            "bands": "Banded hip thrust",
            "dumbbells": "Dumbbell hip thrust",
            "kettlebells": "Kettlebell hip thrust",
        },
        "Drive through the heels, ribs down, pause one second at the top.",
        heavy=True,
    ),
    Movement(
        "Single-leg bridge",
        "glutes",
        {"bodyweight": "Single-leg glute bridge", "dumbbells": "Single-leg bridge with dumbbell on hip"},
        "Keep the pelvis level; the working heel pushes, the other knee stays high.",
        single_leg=True,
    ),
    Movement(
        "Clamshell",
        "glutes",
        {"bodyweight": "Clamshell", "bands": "Mini-band clamshell"},
        "Heels together, open the knee without rolling the hips back.",
        single_leg=True,
    ),
    Movement(
        "Romanian deadlift",
        "hamstrings",
        {
            "bands": "Banded Romanian deadlift",
            "dumbbells": "Dumbbell Romanian deadlift",
            "kettlebells": "Kettlebell Romanian deadlift",
            "bodyweight": "Hip hinge (good morning)",
        },
        "Hinge at the hips with a flat back; feel the hamstrings stretch, knees soft.",
        heavy=True,
    ),
    Movement(
        "Single-leg deadlift",
        "hamstrings",
        {
            "bodyweight": "Single-leg deadlift",
            "dumbbells": "Dumbbell single-leg deadlift",
            "kettlebells": "Kettlebell single-leg deadlift",
        },
        "Hips square to the floor; reach back with the free leg.",
        single_leg=True,
    ),
    Movement(
        "Split squat",
        "quads",
        {
            "bodyweight": "Split squat",
            "dumbbells": "Dumbbell split squat",
            "kettlebells": "Goblet split squat",
        },
        "Front knee tracks over the toes; lower straight down.",
        single_leg=True,
        heavy=True,
    ),
    Movement(
        "Step-up",
        "quads",
        {"bodyweight": "Step-up", "dumbbells": "Dumbbell step-up", "kettlebells": "Kettlebell step-up"},
        "Push through the whole front foot; don't spring off the back leg.",
        single_leg=True,
    ),
    Movement(
        "Reverse lunge",
        "quads",
        {
            "bodyweight": "Reverse lunge",
            "dumbbells": "Dumbbell reverse lunge",
            "kettlebells": "Goblet reverse lunge",
        },
        "Step back softly; torso tall; front shin near vertical.",
        single_leg=True,
    ),
    Movement(
        "Calf raise",
        "calves",
        {
            "bodyweight": "Single-leg calf raise",
            "dumbbells": "Single-leg calf raise with dumbbell",
            "kettlebells": "Single-leg calf raise with kettlebell",
        },
        "Full range: heel below the step, rise high, 3 s down.",
        single_leg=True,
    ),
    Movement(
        "Eccentric heel drop",
        "calves",
        {"bodyweight": "Eccentric heel drop (straight and bent knee)"},
        "Rise on two feet, lower on one over 3 s; bent knee trains the soleus.",
        single_leg=True,
    ),
)


@dataclass(frozen=True, slots=True)
class Dose:
    sets: int
    reps: int
    hold_s: int
    rest_s: int


def dose_for(experience: str, week_in_block: int, light: bool, taper_factor: float) -> Dose:
    """Sets and reps: beginners build from 2 to 3 sets of 12; experienced 3-4 sets of 6."""
    deload = week_in_block == 3
    if experience == "experienced":
        sets, reps, hold, rest = 3 + (1 if week_in_block == 2 else 0), 6, 40, 120
    else:
        sets, reps, hold, rest = 2 + (1 if week_in_block >= 1 else 0), 12, 30, 60
    if deload or light:
        sets = max(1, sets - 1)
    sets = max(1, round(sets * taper_factor))
    return Dose(sets, reps, hold, rest)


def best_equipment(owned: Sequence[str], movement: Movement) -> str:
    for equipment in reversed(EQUIPMENT_ORDER):
        if equipment in owned and equipment in movement.variants:
            return equipment
    return next(iter(movement.variants))


def build_exercises(
    groups: Sequence[str],
    *,
    rotation: int,
    experience: str,
    equipment: Sequence[str],
    week_in_block: int,
    light: bool = False,
    taper_factor: float = 1.0,
    drop_heavy: bool = False,
) -> tuple[Exercise, ...]:
    """One movement per group, the choice rotating from session to session."""
    dose = dose_for(experience, week_in_block, light, taper_factor)
    chosen: list[Exercise] = []
    for group in groups:
        options = [m for m in LIBRARY if m.group == group and not (drop_heavy and m.heavy)]
        if light:
            options = [m for m in options if not m.heavy] or options
        movement = options[rotation % len(options)]
        equipment_used = best_equipment(equipment, movement)
        if experience == "beginner" and equipment_used in ("dumbbells", "kettlebells") and week_in_block == 0:
            equipment_used = best_equipment(("bodyweight", "bands"), movement)  # form first
        reps = dose.reps if not movement.heavy or experience == "beginner" else max(4, dose.reps)
        chosen.append(
            Exercise(
                name=movement.variants[equipment_used],
                group=group,
                sets=dose.sets,
                reps=None if movement.hold else reps,
                hold_s=dose.hold_s if movement.hold else None,
                rest_s=dose.rest_s,
                equipment=equipment_used,
                cue=movement.cue,
                per_side=movement.single_leg,
            )
        )
    return tuple(chosen)


def session_minutes(exercises: Sequence[Exercise]) -> int:
    """Warm-up plus work and rest, rounded to 5 minutes, kept within 25-40 for full sessions."""
    work = 0.0
    for exercise in exercises:
        per_set = (exercise.hold_s or (exercise.reps or 10) * 3) * (2 if exercise.per_side else 1)
        work += exercise.sets * (per_set + exercise.rest_s)
    minutes = 8 + work / 60
    return int(5 * round(minutes / 5))
