"""Session content: doses by experience and week, equipment variants, time, the light session."""

from __future__ import annotations

import itertools

import pytest

from runstrong_sync.core.exercises import GROUPS, LIBRARY, build_exercises, dose_for, session_minutes


def test_doses_by_experience_and_block_week() -> None:
    # Beginners 2 -> 3 sets of 12 -> 15, lighter fourth week; experienced heavy 3x8 -> 3x6 -> 4x5.
    assert [(d.sets, d.reps) for d in (dose_for("beginner", w) for w in range(4))] == [
        (2, 12),
        (3, 12),
        (3, 15),
        (2, 12),
    ]
    heavy = [dose_for("experienced", w, heavy=True) for w in range(4)]
    assert [(d.sets, d.reps, d.rest_s) for d in heavy] == [(3, 8, 120), (3, 6, 120), (4, 5, 120), (2, 6, 120)]
    assert dose_for("experienced", 0, plyometric=True).reps == 8
    # Taper: A race week x0.25 leaves one set; two weeks out x0.5 halves.
    assert dose_for("experienced", 2, heavy=True, taper_factor=0.25).sets == 1
    assert dose_for("experienced", 2, heavy=True, taper_factor=0.5).sets == 2


@pytest.mark.parametrize(
    ("experience", "equipment", "week", "drop_heavy"),
    list(
        itertools.product(
            ["beginner", "experienced"],
            [("bodyweight",), ("bodyweight", "bands"), ("bodyweight", "dumbbells", "kettlebells")],
            range(4),
            [False, True],
        )
    ),
)
def test_every_full_session_covers_the_groups_in_25_to_40_minutes(
    experience: str, equipment: tuple[str, ...], week: int, drop_heavy: bool
) -> None:
    heavy_names = {v for m in LIBRARY if m.heavy for v in (*m.variants.values(), m.harder)}
    for rotation, emphasis in itertools.product(range(5), [("glutes", "hamstrings"), ("calves", "core")]):
        exercises = build_exercises(
            emphasis,
            rotation=rotation,
            experience=experience,
            equipment=equipment,
            week_in_block=week,
            drop_heavy=drop_heavy,
        )
        assert set(GROUPS) <= {e.group for e in exercises}
        assert any(e.per_side for e in exercises)
        assert 25 <= session_minutes(exercises) <= 40
        assert sum(e.group == emphasis[0] for e in exercises) == 2  # the emphasis gets a second movement
        allowed = set(equipment) if experience == "experienced" else set(equipment) & {"bodyweight", "bands"}
        assert {e.equipment for e in exercises} <= allowed | {"bodyweight"}
        assert ("plyometrics" in {e.group for e in exercises}) == (
            experience == "experienced" and not drop_heavy
        )
        if drop_heavy:
            assert not heavy_names & {e.name for e in exercises}


def test_the_variant_follows_the_equipment() -> None:
    kettlebell = build_exercises(
        ("glutes", "hamstrings"),
        rotation=0,
        experience="experienced",
        equipment=("bodyweight", "kettlebells"),
        week_in_block=0,
    )
    assert "Kettlebell hip thrust" in {e.name for e in kettlebell}
    beginner = build_exercises(
        ("glutes", "hamstrings"),
        rotation=0,
        experience="beginner",
        equipment=("bodyweight", "kettlebells"),
        week_in_block=0,
    )
    assert "Glute bridge" in {e.name for e in beginner}  # form first: no load for new lifters


def test_light_session_is_planks_dead_bugs_and_clamshells() -> None:
    light = build_exercises(
        (), rotation=3, experience="beginner", equipment=("bodyweight", "bands"), week_in_block=1, light=True
    )
    assert [e.name for e in light] == ["Front plank", "Banded dead bug", "Mini-band clamshell"]
    assert 10 <= session_minutes(light) <= 20
