"""The exercise library and the content of a session: groups, variants by equipment, doses.

Doses follow the project's training rules (docs: training-rules.md, part b):
  beginners (under 6 months of lifting) 2-3 sets of 10-15 with bodyweight or bands, no plyometrics;
  experienced runners 3-4 sets of 4-8 on the heavy lifts plus 2-3 sets of 8-10 plyometric contacts.
Weeks run in 4-week blocks: three loading weeks that progress (more sets, then fewer and heavier
reps or a harder variant) and a fourth, lighter week (a third to a half fewer sets, same load).
Every full session trains all five groups (core, glutes, hamstrings, quads, calves) with at least
one single-leg exercise, plus one extra exercise for the session's emphasis; no movement pattern
twice. Across blocks: more sets, then harder variants, then load. Doses follow the equipment: an
unloaded move never gets a heavy-strength rep range. A beginner's first weeks teach the movements
(fewer sets, the cue in front); a short session (after a race or a break) is bodyweight, one set,
no plyometrics or heavy leg work. Durations are warm-up + sets x (work + rest). Pure.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, replace

from runstrong_sync.core.domain import Exercise

GROUPS = ("core", "glutes", "hamstrings", "quads", "calves")
LOWER_BODY = frozenset({"glutes", "hamstrings", "quads", "calves", "plyometrics"})
# Equipment from the simplest to the heaviest: the heaviest the runner owns is used.
EQUIPMENT_ORDER = ("bodyweight", "bands", "dumbbells", "kettlebells")
BEGINNER_EQUIPMENT = ("bodyweight", "bands")  # form first: no external load for new lifters
DELOAD_WEEK = 3  # the fourth week of every block is lighter
WARM_UP_MIN = 5.0
SECONDS_PER_REP = 3.0
UNLOADED = frozenset({"bodyweight", "bands"})
FORM_REPS = 10
MAX_SETS = 4
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
    pattern: str = ""  # hinge, bridge, split stance...: once per session


LIBRARY: tuple[Movement, ...] = (
    Movement(
        "Plank",
        "core",
        {"bodyweight": "Front plank", "dumbbells": "Plank with a dumbbell drag"},
        "Straight line from head to heels; squeeze glutes, breathe.",
        hold=True,
        harder="Plank with alternating leg lift",
        pattern="plank",
    ),
    Movement(
        "Dead bug",
        "core",
        {"bodyweight": "Dead bug", "bands": "Banded dead bug", "dumbbells": "Dead bug holding a dumbbell"},
        "Lower back stays pressed to the floor as the opposite arm and leg reach.",
        harder="Dead bug with 3-s reach",
        pattern="anti_extension",
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
        pattern="rotation",
    ),
    Movement(
        "Side plank",
        "core",
        {"bodyweight": "Side plank"},
        "Hips high, body in one line; hold steady.",
        hold=True,
        harder="Side plank with top-leg lift",
        pattern="lateral_plank",
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
        pattern="bridge",
    ),
    Movement(
        "Single-leg bridge",
        "glutes",
        {"bodyweight": "Single-leg glute bridge", "dumbbells": "Single-leg bridge with dumbbell on hip"},
        "Keep the pelvis level; the working heel pushes, the other knee stays high.",
        single_leg=True,
        harder="Single-leg hip thrust, shoulders on a bench",
        pattern="bridge",
    ),
    Movement(
        "Clamshell",
        "glutes",
        {"bodyweight": "Clamshell", "bands": "Mini-band clamshell"},
        "Heels together, open the knee without rolling the hips back.",
        single_leg=True,
        harder="Side-lying clamshell with 2-s pause",
        pattern="abduction",
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
        pattern="hinge",
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
        pattern="hinge",
    ),
    Movement(
        "Hamstring curl",
        "hamstrings",
        {"bodyweight": "Sliding hamstring curl", "bands": "Banded hamstring curl"},
        "Hips up in a bridge; pull the heels in slowly, lower over 3 s.",
        harder="Single-leg sliding hamstring curl",
        pattern="knee_flexion",
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
        pattern="split_stance",
    ),
    Movement(
        "Step-up",
        "quads",
        {"bodyweight": "Step-up", "dumbbells": "Dumbbell step-up", "kettlebells": "Kettlebell step-up"},
        "Push through the whole front foot; don't spring off the back leg.",
        single_leg=True,
        harder="High step-up, 3-s lowering",
        pattern="step",
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
        pattern="split_stance",
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
        pattern="calf_raise",
    ),
    Movement(
        "Eccentric heel drop",
        "calves",
        {"bodyweight": "Eccentric heel drop (straight and bent knee)"},
        "Rise on two feet, lower on one over 3 s; bent knee trains the soleus.",
        single_leg=True,
        harder="Eccentric heel drop with a loaded backpack",
        pattern="heel_drop",
    ),
    Movement(
        "Pogo hops",
        "plyometrics",
        {"bodyweight": "Pogo hops"},
        "Stiff ankles, quick contacts, land quietly on the balls of the feet.",
        plyometric=True,
        pattern="hop",
    ),
    Movement(
        "A-skips",
        "plyometrics",
        {"bodyweight": "A-skips"},
        "Knee up, foot strikes under the hip; rhythm over height.",
        plyometric=True,
        pattern="skip",
    ),
    Movement(
        "Bounds",
        "plyometrics",
        {"bodyweight": "Bounding strides"},
        "Drive off the back foot, land under the body, stay tall.",
        plyometric=True,
        heavy=True,
        pattern="bound",
    ),
)


@dataclass(frozen=True, slots=True)
class Dose:
    sets: int
    reps: int
    hold_s: int
    rest_s: int


@dataclass(frozen=True, slots=True)
class Content:
    """What shapes one session's content besides its emphasis."""

    experience: str = "beginner"
    equipment: tuple[str, ...] = ("bodyweight",)
    week_in_block: int = 0  # 0-2 loading, 3 lighter
    level: int = 0  # blocks completed since the runner's first planned week
    light: bool = False
    taper_factor: float = 1.0
    drop_heavy: bool = False
    short: bool = False  # the first sessions back after a race or a break, or maintenance
    form: bool = False  # a beginner's first weeks: learn the movements


def week_in_block(monday_ordinal: int, anchor_ordinal: int = 0) -> int:
    """0, 1, 2 loading, 3 lighter; counted from the runner's first planned Monday."""
    return ((monday_ordinal - anchor_ordinal) // 7) % 4


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


def _owned(content: Content) -> list[str]:
    if content.short:
        return ["bodyweight"]
    return [e for e in content.equipment if content.experience == "experienced" or e in BEGINNER_EQUIPMENT]


def _variant(movement: Movement, used: str, content: Content) -> str:
    """The variant's name: harder variants progress unloaded moves (the third loading week, from
    the third block on, and always for an experienced runner without weights)."""
    if not movement.harder or used not in UNLOADED or content.light or content.form or content.short:
        return movement.variants[used]
    week = content.week_in_block % 4
    if content.experience == "experienced":
        return movement.harder
    if week != DELOAD_WEEK and (week == 2 or content.level >= 2):
        return movement.harder
    return movement.variants[used]


def _sets(dose: Dose, content: Content, extra_set: bool) -> int:
    week = content.week_in_block % 4
    sets = dose.sets
    if content.form or content.short:
        return min(sets, 1 if content.short else 2)
    growing = week != DELOAD_WEEK and content.taper_factor >= 1 and not content.light
    if growing and content.level >= 1:
        sets = min(MAX_SETS, sets + 1)  # the second block on: one more set
    if extra_set and growing:
        sets = min(MAX_SETS, sets + 1)
    return sets


def make_exercise(movement: Movement, content: Content, *, extra_set: bool = False) -> Exercise:
    used = best_equipment(_owned(content) or ("bodyweight",), movement)
    name = _variant(movement, used, content)
    # Without a load, heavy-strength rep ranges make no sense: unloaded moves keep 10-15 reps.
    heavy = movement.heavy and not content.drop_heavy and used not in UNLOADED
    dose = dose_for(
        content.experience,
        content.week_in_block,
        heavy=heavy,
        plyometric=movement.plyometric,
        light=content.light,
        taper_factor=0.5 if content.short else content.taper_factor,
    )
    reps = FORM_REPS if content.form and not movement.plyometric else dose.reps
    return Exercise(
        name=name,
        group=movement.group,
        sets=_sets(dose, content, extra_set),
        reps=None if movement.hold else reps,
        hold_s=dose.hold_s if movement.hold else None,
        rest_s=dose.rest_s,
        equipment=used,
        cue=movement.cue,
        per_side=movement.single_leg or name.lower().startswith("single-leg"),
    )


def _options(group: str, drop_heavy: bool) -> list[Movement]:
    every = [m for m in LIBRARY if m.group == group]
    return [m for m in every if not (drop_heavy and m.heavy)] or every


def _pick(options: Sequence[Movement], rotation: int, patterns: set[str]) -> Movement | None:
    fresh = [m for m in options if m.pattern not in patterns]
    if not fresh:
        return None
    movement = fresh[rotation % len(fresh)]
    patterns.add(movement.pattern)
    return movement


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
    level: int = 0,
    short: bool = False,
    form: bool = False,
) -> tuple[Exercise, ...]:
    """A full session: one movement per group, one more for the first emphasis group, an extra set
    for the second, plyometrics for experienced runners; a light one: planks, dead bugs, clamshells.
    The movement chosen for each group rotates with ``rotation``; no pattern twice."""
    content = Content(
        experience=experience,
        equipment=equipment,
        week_in_block=week_in_block % 4,
        level=level,
        light=light,
        taper_factor=taper_factor,
        drop_heavy=drop_heavy or short,
        short=short,
        form=form,
    )
    return build_session(emphasis, rotation, content)


def build_session(emphasis: tuple[str, ...], rotation: int, content: Content) -> tuple[Exercise, ...]:
    if content.light:
        names = ("Plank", "Dead bug", "Clamshell")
        return tuple(make_exercise(m, content) for n in names for m in LIBRARY if m.name == n)
    drop = content.drop_heavy
    patterns: set[str] = set()
    chosen: list[Exercise] = []
    for group in GROUPS:
        options = _options(group, drop)
        if group == "quads":  # single-leg work in every session
            options = [m for m in options if m.single_leg] or options
        movement = _pick(options, rotation, patterns)
        if movement is not None:
            second = len(emphasis) > 1 and group == emphasis[1]
            chosen.append(make_exercise(movement, content, extra_set=second))
    if content.short:
        return tuple(chosen)
    for group in emphasis[:1]:
        movement = _pick(_options(group, drop), rotation, patterns)
        if movement is not None:
            chosen.append(make_exercise(movement, content))
    # A session too short to be worth the changeover gets one more movement (never in a taper).
    for group in (*emphasis[1:], *GROUPS):
        if session_minutes(chosen) >= FULL_MINUTES[0] or content.taper_factor < 1:
            break
        movement = _pick(_options(group, drop), rotation, patterns)
        if movement is not None:
            chosen.append(make_exercise(movement, content))
    if _plyometrics(content):
        plyos = _options("plyometrics", drop_heavy=False)
        chosen.insert(0, make_exercise(plyos[rotation % len(plyos)], content))
    return _fit(tuple(chosen), FULL_MINUTES[1])


def _plyometrics(content: Content) -> bool:
    return (
        content.experience == "experienced"
        and not content.drop_heavy
        and content.taper_factor >= 1
        and not content.short
        and not content.form
    )


def _fit(exercises: tuple[Exercise, ...], limit: int) -> tuple[Exercise, ...]:
    """Drop sets from the longest exercises until the session fits ``limit`` minutes."""
    current = list(exercises)
    while session_minutes(current) > limit:
        index = max(range(len(current)), key=lambda i: (current[i].sets, _exercise_seconds(current[i]), -i))
        if current[index].sets <= 1:
            break
        current[index] = replace(current[index], sets=current[index].sets - 1)
    return tuple(current)


def _exercise_seconds(exercise: Exercise) -> float:
    """Sets x (work + rest); single-leg work counts both sides."""
    per_set = exercise.hold_s or (exercise.reps or 10) * SECONDS_PER_REP
    per_set *= 2 if exercise.per_side else 1
    return exercise.sets * (per_set + exercise.rest_s)


def session_minutes(exercises: Sequence[Exercise]) -> int:
    """Warm-up plus sets x (work + rest) of every exercise, rounded up to whole minutes."""
    seconds = WARM_UP_MIN * 60 + sum(_exercise_seconds(e) for e in exercises)
    return int(-(-seconds // 60))
