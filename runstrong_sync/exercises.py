"""The exercise library and the content of a session: groups, variants by equipment, doses.

Doses follow the project's training rules (docs: training-rules.md, part b):
  beginners (under 6 months of lifting) 2-3 sets of 10-15 with bodyweight or bands, no plyometrics;
  experienced runners 3-4 sets of 4-8 on the heavy lifts plus 2-3 sets of 8-10 plyometric contacts.
Weeks run in 4-week blocks: three loading weeks that progress (more sets, then fewer and heavier
reps or a harder variant) and a fourth, lighter week (a third to a half fewer sets, same load).
Every full session trains all five groups (core, glutes, hamstrings, quads, calves) with at least
one single-leg exercise, plus one extra exercise for the session's emphasis. Pure.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from runstrong_sync.domain import Exercise

GROUPS = ("core", "glutes", "hamstrings", "quads", "calves")
LOWER_BODY = frozenset({"glutes", "hamstrings", "quads", "calves", "plyometrics"})
# Equipment from the simplest to the heaviest: the heaviest the runner owns is used.
EQUIPMENT_ORDER = ("bodyweight", "bands", "dumbbells", "kettlebells")
BEGINNER_EQUIPMENT = ("bodyweight", "bands")  # form first: no external load for new lifters
DELOAD_WEEK = 3  # the fourth week of every block is lighter
WARM_UP_MIN = 5.0
CHANGEOVER_S = 45  # setting up the next exercise
SECONDS_PER_REP = 3.0
FULL_MINUTES = (25, 40)
LIGHT_MINUTES = (10, 20)


@dataclass(frozen=True, slots=True)
class Movement:
    name: str
    group: str
    variants: dict[str, str]  # equipment -> the variant's name
    cue: str
    single_leg: bool = False
    hold: bool = False
    heavy: bool = False  # loads the legs heavily: dropped in the last two weeks before an A race
    harder: str = ""  # the bodyweight progression used in the third loading week
    plyometric: bool = False


LIBRARY: tuple[Movement, ...] = (
    Movement(
        "Plank",
        "core",
        {"bodyweight": "Front plank", "dumbbells": "Plank with a dumbbell drag"},
        "Straight line from head to heels; squeeze glutes, breathe.",
        hold=True,
        harder="Plank with alternating leg lift",
    ),
    Movement(
        "Dead bug",
        "core",
        {"bodyweight": "Dead bug", "bands": "Banded dead bug", "dumbbells": "Dead bug holding a dumbbell"},
        "Lower back stays pressed to the floor as the opposite arm and leg reach.",
        harder="Dead bug with 3-s reach",
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
        harder="Russian twist, feet off the floor",
    ),
    Movement(
        "Side plank",
        "core",
        {"bodyweight": "Side plank"},
        "Hips high, body in one line; hold steady.",
        hold=True,
        harder="Side plank with top-leg lift",
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
        harder="Hip thrust, shoulders on a bench, 3-s lowering",
    ),
    Movement(
        "Single-leg bridge",
        "glutes",
        {"bodyweight": "Single-leg glute bridge", "dumbbells": "Single-leg bridge with dumbbell on hip"},
        "Keep the pelvis level; the working heel pushes, the other knee stays high.",
        single_leg=True,
        harder="Single-leg hip thrust, shoulders on a bench",
    ),
    Movement(
        "Clamshell",
        "glutes",
        {"bodyweight": "Clamshell", "bands": "Mini-band clamshell"},
        "Heels together, open the knee without rolling the hips back.",
        single_leg=True,
        harder="Side-lying clamshell with 2-s pause",
    ),
    Movement(
        "Romanian deadlift",
        "hamstrings",
        {
            "bodyweight": "Hip hinge (good morning)",
            "bands": "Banded Romanian deadlift",
            "dumbbells": "Dumbbell Romanian deadlift",
            "kettlebells": "Kettlebell Romanian deadlift",
        },
        "Hinge at the hips with a flat back; feel the hamstrings stretch, knees soft.",
        heavy=True,
        harder="Single-leg hip hinge, 3-s lowering",
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
        harder="Single-leg deadlift, 3-s lowering",
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
        harder="Rear-foot-elevated split squat",
    ),
    Movement(
        "Step-up",
        "quads",
        {"bodyweight": "Step-up", "dumbbells": "Dumbbell step-up", "kettlebells": "Kettlebell step-up"},
        "Push through the whole front foot; don't spring off the back leg.",
        single_leg=True,
        harder="High step-up, 3-s lowering",
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
        harder="Deficit reverse lunge",
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
        harder="Bent-knee single-leg calf raise (soleus)",
    ),
    Movement(
        "Eccentric heel drop",
        "calves",
        {"bodyweight": "Eccentric heel drop (straight and bent knee)"},
        "Rise on two feet, lower on one over 3 s; bent knee trains the soleus.",
        single_leg=True,
        harder="Eccentric heel drop with a loaded backpack",
    ),
    Movement(
        "Pogo hops",
        "plyometrics",
        {"bodyweight": "Pogo hops"},
        "Stiff ankles, quick contacts, land quietly on the balls of the feet.",
        plyometric=True,
    ),
    Movement(
        "A-skips",
        "plyometrics",
        {"bodyweight": "A-skips"},
        "Knee up, foot strikes under the hip; rhythm over height.",
        plyometric=True,
    ),
    Movement(
        "Bounds",
        "plyometrics",
        {"bodyweight": "Bounding strides"},
        "Drive off the back foot, land under the body, stay tall.",
        plyometric=True,
        heavy=True,
    ),
)


@dataclass(frozen=True, slots=True)
class Dose:
    sets: int
    reps: int
    hold_s: int
    rest_s: int


def week_in_block(monday_ordinal: int) -> int:
    """0, 1, 2 loading, 3 lighter; counted from a fixed Monday so the year's end changes nothing."""
    return (monday_ordinal // 7) % 4


def dose_for(
    experience: str,
    week: int,
    *,
    heavy: bool = False,
    plyometric: bool = False,
    light: bool = False,
    taper_factor: float = 1.0,
) -> Dose:
    """Sets, reps, hold and rest for one exercise in loading week 0-2 or the lighter week 3."""
    week = week % 4
    if plyometric:  # contacts per set
        sets, reps, hold, rest = ((2, 8), (3, 8), (3, 10), (2, 8))[week] + (0, 60)
    elif experience == "experienced" and heavy:
        sets, reps = ((3, 8), (3, 6), (4, 5), (2, 6))[week]
        hold, rest = 40, 120
    elif experience == "experienced":
        sets, reps = ((3, 10), (3, 12), (3, 12), (2, 10))[week]
        hold, rest = (40, 45, 50, 40)[week], 60
    else:
        sets, reps = ((2, 12), (3, 12), (3, 15), (2, 12))[week]
        hold, rest = (30, 35, 40, 30)[week], 60
    if light:
        sets = min(sets, 2)
    sets = max(1, round(sets * taper_factor))
    return Dose(sets, reps, hold, rest)


def best_equipment(owned: Sequence[str], movement: Movement) -> str:
    for equipment in reversed(EQUIPMENT_ORDER):
        if equipment in owned and equipment in movement.variants:
            return equipment
    return "bodyweight" if "bodyweight" in movement.variants else next(iter(movement.variants))


def _exercise(
    movement: Movement,
    *,
    experience: str,
    equipment: Sequence[str],
    week: int,
    light: bool,
    taper_factor: float,
    drop_heavy: bool,
    extra_set: bool = False,
) -> Exercise:
    owned = [e for e in equipment if experience == "experienced" or e in BEGINNER_EQUIPMENT]
    used = best_equipment(owned or ("bodyweight",), movement)
    name = movement.variants[used]
    # Without weights the third loading week progresses by a harder variant instead of more load.
    if movement.harder and week == 2 and used in BEGINNER_EQUIPMENT and not light:
        name = movement.harder
    heavy = movement.heavy and not drop_heavy
    dose = dose_for(
        experience,
        week,
        heavy=heavy,
        plyometric=movement.plyometric,
        light=light,
        taper_factor=taper_factor,
    )
    sets = dose.sets + (1 if extra_set and week != DELOAD_WEEK and taper_factor >= 1 else 0)
    return Exercise(
        name=name,
        group=movement.group,
        sets=sets,
        reps=None if movement.hold else dose.reps,
        hold_s=dose.hold_s if movement.hold else None,
        rest_s=dose.rest_s,
        equipment=used,
        cue=movement.cue,
        per_side=movement.single_leg,
    )


def _options(group: str, drop_heavy: bool) -> list[Movement]:
    every = [m for m in LIBRARY if m.group == group]
    return [m for m in every if not (drop_heavy and m.heavy)] or every


@functools.lru_cache(maxsize=4096)
def build_exercises(
    emphasis: tuple[str, ...],
    *,
    rotation: int,
    experience: str,
    equipment: tuple[str, ...],
    week_in_block: int,
    light: bool = False,
    taper_factor: float = 1.0,
    drop_heavy: bool = False,
) -> tuple[Exercise, ...]:
    """A full session: one movement per group, one more for the first emphasis group, an extra set
    for the second, plyometrics for experienced runners; a light one: planks, dead bugs, clamshells.
    The movement chosen for each group rotates with ``rotation``."""
    week = week_in_block % 4
    make = functools.partial(
        _exercise,
        experience=experience,
        equipment=equipment,
        week=week,
        light=light,
        taper_factor=taper_factor,
        drop_heavy=drop_heavy,
    )
    if light:
        names = ("Plank", "Dead bug", "Clamshell")
        return tuple(make(m) for n in names for m in LIBRARY if m.name == n)
    chosen: list[Exercise] = []
    used_names: set[str] = set()
    for group in GROUPS:
        options = _options(group, drop_heavy)
        if group == "quads":  # single-leg work in every session
            options = [m for m in options if m.single_leg] or options
        movement = options[rotation % len(options)]
        used_names.add(movement.name)
        second = len(emphasis) > 1 and group == emphasis[1]
        chosen.append(make(movement, extra_set=second))
    if emphasis:
        options = [m for m in _options(emphasis[0], drop_heavy) if m.name not in used_names]
        if options:
            movement = options[rotation % len(options)]
            used_names.add(movement.name)
            chosen.append(make(movement))
    # A session too short to be worth the changeover gets one more movement (never in a taper).
    for group in (*emphasis[1:], *GROUPS):
        if session_minutes(chosen) >= FULL_MINUTES[0] or taper_factor < 1:
            break
        options = [m for m in _options(group, drop_heavy) if m.name not in used_names]
        if options:
            movement = options[rotation % len(options)]
            used_names.add(movement.name)
            chosen.append(make(movement))
    if experience == "experienced" and not drop_heavy and taper_factor >= 1:
        plyos = _options("plyometrics", drop_heavy=False)
        chosen.insert(0, make(plyos[rotation % len(plyos)]))
    return _fit(tuple(chosen), FULL_MINUTES[1])


def _fit(exercises: tuple[Exercise, ...], limit: int) -> tuple[Exercise, ...]:
    """Drop sets from the longest exercises until the session fits ``limit`` minutes."""
    current = list(exercises)
    while session_minutes(current) > limit:
        index = max(range(len(current)), key=lambda i: (current[i].sets, _exercise_seconds(current[i]), -i))
        if current[index].sets <= 1:
            break
        item = current[index]
        current[index] = Exercise(
            name=item.name,
            group=item.group,
            sets=item.sets - 1,
            reps=item.reps,
            hold_s=item.hold_s,
            rest_s=item.rest_s,
            equipment=item.equipment,
            cue=item.cue,
            per_side=item.per_side,
        )
    return tuple(current)


def _exercise_seconds(exercise: Exercise) -> float:
    per_set = exercise.hold_s or (exercise.reps or 10) * SECONDS_PER_REP
    per_set *= 2 if exercise.per_side else 1
    return exercise.sets * per_set + max(0, exercise.sets - 1) * exercise.rest_s + CHANGEOVER_S


def session_minutes(exercises: Sequence[Exercise]) -> int:
    """Warm-up, work, rests between sets and changeovers, rounded up to whole minutes."""
    seconds = WARM_UP_MIN * 60 + sum(_exercise_seconds(e) for e in exercises)
    return int(-(-seconds // 60))
