"""Reference weeks with the placement written out by hand from the rules (training-rules.md, b).

The week of Monday 7 December 2026 is the first week of a 4-week block (not the lighter week).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from runstrong_sync.core.domain import Label, SessionStatus, StrengthSession
from runstrong_sync.core.exercises import GROUPS
from runstrong_sync.core.plan import DayRun, PlanResult, PlanSettings, Race, plan
from tests.plan_rules import HEAVY_NAMES

ZONE = ZoneInfo("Europe/Berlin")
MONDAY = date(2026, 12, 7)
NOW = datetime(2026, 12, 7, 0, 0, tzinfo=ZONE)
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


def run(weekday: int, label: Label, end: time | None = time(7, 30), title: str = "") -> DayRun:
    return DayRun(
        MONDAY + timedelta(days=weekday),
        label,
        hard=label is Label.HARD,
        end=end,
        expected=True,
        title=title or label.value,
        source="plan",
    )


def week(runs: list[DayRun], settings: PlanSettings, now: datetime = NOW, **kwargs: object) -> PlanResult:
    return plan(
        now=now, runs=runs, strength_days=[], previous=[], settings=settings, horizon_days=7, **kwargs
    )  # type: ignore[arg-type]


def placed(result: PlanResult) -> dict[int, tuple[str, str]]:
    """weekday -> (start time, kind), in the reference week"""
    return {
        s.start.weekday(): (s.start.strftime("%H:%M"), s.kind)
        for s in result.sessions
        if MONDAY <= s.start.date() < MONDAY + timedelta(days=7)
    }


INTERVALS_TEMPO_LONG = [
    run(TUE, Label.HARD, time(7, 30), "Intervals 6x800"),
    run(WED, Label.EASY, time(7, 0), "Easy run"),
    run(THU, Label.HARD, time(7, 30), "Tempo 20 min"),
    run(SAT, Label.EASY, time(9, 0), "Easy run"),
    run(SUN, Label.LONG, time(11, 0), "Long run"),
]


def test_intervals_tuesday_tempo_thursday_long_sunday() -> None:
    # Mon is the day before the intervals, Wed before the tempo, Sat before the long run; Tue, Thu
    # and Sun are key days. Only Friday is legal: one session, and the week says why and what the
    # runner could turn on. (Before: a short core session on Monday, the day before the intervals;
    # the runner's rule forbids that now, and it is kept only as an opt-in.)
    result = week(INTERVALS_TEMPO_LONG, PlanSettings(zone=ZONE))
    assert placed(result) == {FRI: ("18:30", "full")}
    assert "Only 1 session(s) fit this week" in result.week_notes[MONDAY]
    assert "planner.hard_days_hard = true" in result.week_notes[MONDAY]
    assert result.notes[MONDAY] == "the day before a hard run (Intervals 6x800, from your training plan)"
    assert (
        result.notes[MONDAY + timedelta(days=THU)] == "hard-run day (Tempo 20 min, from your training plan)"
    )
    # With hard days hard on, the second goes after Tuesday's intervals (07:30 + 4 h), Wednesday
    # being no key day; Thursday cannot take it, Friday's session being the next day.
    hard_days = week(INTERVALS_TEMPO_LONG, PlanSettings(zone=ZONE, hard_days_hard=True))
    assert placed(hard_days) == {TUE: ("11:30", "full"), FRI: ("18:30", "full")}
    assert "(hard days hard)" in hard_days.sessions[0].why
    assert "after a hard run the same day" in hard_days.week_notes[MONDAY]
    # With the explicit opt-in, the short core session on Monday comes back.
    opted = week(INTERVALS_TEMPO_LONG, PlanSettings(zone=ZONE, light_day_before=True))
    assert placed(opted) == {MON: ("18:30", "light"), FRI: ("18:30", "full")}
    assert "you opted in" in opted.week_notes[MONDAY]
    assert result.notes[MONDAY + timedelta(days=WED)] == (
        "the day before a hard run (Tempo 20 min, from your training plan)"
    )
    assert result.notes[MONDAY + timedelta(days=SAT)].startswith("the day before a long run")
    assert result.notes[MONDAY + timedelta(days=SUN)].startswith("long-run day")


def test_same_week_in_hard_days_hard_mode() -> None:
    # Strength after the hard run on Tuesday, at least 4 h after it (09:30 + 4 h = 13:30, later
    # than the usual 12:00); Thursday would be next to Friday, so Tuesday and Friday.
    runs = [run(TUE, Label.HARD, time(9, 30), "Intervals"), *INTERVALS_TEMPO_LONG[1:]]
    settings = PlanSettings(
        zone=ZONE,
        hard_days_hard=True,
        experience="experienced",
        gap_after_run_hours=2,
        strength_time=time(12, 0),
    )
    result = week(runs, settings)
    assert placed(result) == {TUE: ("13:30", "full"), FRI: ("12:00", "full")}
    assert "hard days hard" in result.sessions[0].why
    assert "after a hard run the same day" in result.week_notes[MONDAY]


def test_three_run_week_with_an_evening_easy_run() -> None:
    # Tempo Tue, easy Thu ending 18:00, long Sun. Legal: Wed (rest, after a hard day), Thu (right
    # after the evening run) and Fri (rest); Wed and Fri are the better days, Thu sits between them.
    runs = [run(TUE, Label.HARD), run(THU, Label.EASY, time(18, 0)), run(SUN, Label.LONG)]
    result = week(runs, PlanSettings(zone=ZONE, experience="experienced"))
    assert placed(result) == {WED: ("18:30", "full"), FRI: ("18:30", "full")}
    assert result.notes[MONDAY + timedelta(days=THU)] == "within 48 h of another strength session (Wednesday)"
    # With the 6 h separation the evening run leaves no time (00:00 is past the latest start).
    separated = week(runs, PlanSettings(zone=ZONE, experience="experienced", gap_after_run_hours=6))
    assert separated.notes[MONDAY + timedelta(days=THU)].startswith("the run ends too late")
    assert not result.week_notes  # two sessions reach the minimum of two


def test_six_run_week() -> None:
    # Easy Mon, intervals Tue, easy Wed/Thu/Fri, rest Sat, long Sun. Mon, Tue, Sat, Sun are out;
    # Wed (easy, after the hard day) and Fri (easy), each right after the run (before: 6 h later).
    runs = [
        run(MON, Label.EASY, time(7, 0)),
        run(TUE, Label.HARD, time(7, 30)),
        run(WED, Label.EASY, time(7, 0)),
        run(THU, Label.EASY, time(12, 45)),
        run(FRI, Label.EASY, time(13, 15)),
        run(SUN, Label.LONG, time(10, 0)),
    ]
    result = week(runs, PlanSettings(zone=ZONE))
    assert placed(result) == {WED: ("07:00", "full"), FRI: ("13:15", "full")}
    assert "strength right after it, the run is the warm-up" in result.sessions[1].why
    separated = week(runs, PlanSettings(zone=ZONE, gap_after_run_hours=6))
    assert placed(separated) == {WED: ("13:00", "full"), FRI: ("19:15", "full")}
    assert "strength at least 6 h after it" in separated.sessions[1].why


def test_week_with_an_a_race() -> None:
    # 10 km A race on Sunday: race week, one session, volume x0.25, no heavy leg work. Saturday is
    # the day before the race; Monday the day before Tuesday's short intervals. Wednesday (easy,
    # after the hard day) and Thursday (rest) score the same: the earlier one, further from the race.
    race = Race(MONDAY + timedelta(days=SUN), "A", "City 10K")
    runs = [
        run(MON, Label.EASY),
        run(TUE, Label.HARD),
        run(WED, Label.EASY),
        run(FRI, Label.EASY),
        DayRun(race.day, Label.HARD, hard=True, title="City 10K"),
    ]
    settings = PlanSettings(
        zone=ZONE, experience="experienced", equipment=("bodyweight", "dumbbells"), races=(race,)
    )
    result = week(runs, settings)
    assert placed(result) == {WED: ("07:30", "full")}  # right after the easy run
    session = result.sessions[0]
    assert all(e.sets == 1 for e in session.exercises)
    assert not HEAVY_NAMES.intersection(e.name for e in session.exercises)
    assert not any(e.group == "plyometrics" for e in session.exercises)
    assert set(GROUPS) <= {e.group for e in session.exercises}
    assert "Taper for City 10K" in result.week_notes[MONDAY]
    assert result.notes[race.day] == "race day (City 10K)"
    assert result.notes[race.day - timedelta(days=1)] == "the day before a race (City 10K)"


def test_beginner_with_only_bodyweight() -> None:
    runs = [run(TUE, Label.HARD), run(THU, Label.EASY), run(SUN, Label.LONG, time(10, 30))]
    result = week(runs, PlanSettings(zone=ZONE, equipment=("bodyweight",), max_sessions=3))
    # A beginner gets two sessions even when three are allowed: Wed (after the hard day) and Fri.
    # The first two weeks teach the movements: two sets of 10 (before: up to 3 x 12).
    assert placed(result) == {WED: ("18:30", "full"), FRI: ("18:30", "full")}
    wednesday, friday = result.sessions
    assert [(e.name, e.dose) for e in wednesday.exercises] == [
        ("Front plank", "2 x 30 s"),
        ("Glute bridge", "2 x 10"),
        ("Hip hinge (good morning)", "2 x 10"),
        ("Split squat", "2 x 10 per side"),
        ("Single-leg calf raise", "2 x 10 per side"),
        ("Step-up", "2 x 10 per side"),
    ]
    assert [(e.name, e.dose) for e in friday.exercises] == [
        ("Dead bug", "2 x 10"),
        ("Single-leg glute bridge", "2 x 10 per side"),
        ("Single-leg deadlift", "2 x 10 per side"),
        ("Step-up", "2 x 10 per side"),
        ("Eccentric heel drop (straight and bent knee)", "2 x 10 per side"),
        ("Russian twist", "2 x 10"),
    ]
    assert "Learning the movements" in wednesday.why and "Learning the movements" in result.week_notes[MONDAY]
    assert wednesday.focus == ("quads", "calves") and friday.focus == ("core", "glutes")
    for session in result.sessions:
        assert {e.equipment for e in session.exercises} == {"bodyweight"}
        assert all(e.rest_s == 60 and e.cue for e in session.exercises)
        assert 25 <= session.duration_min <= 40


def test_a_run_that_turns_hard_moves_the_session_before_it() -> None:
    # Monday: easy Mon/Tue/Thu/Sat, long Sun. Best two: Wednesday and Friday (rest days).
    runs = [
        run(MON, Label.EASY, time(7, 0)),
        run(TUE, Label.EASY, time(7, 45)),
        run(THU, Label.EASY, time(7, 0), "Easy 8 km"),
        run(SAT, Label.EASY, time(9, 0)),
        run(SUN, Label.LONG, time(10, 30)),
    ]
    settings = PlanSettings(zone=ZONE)
    first = week(runs, settings)
    assert placed(first) == {WED: ("18:30", "full"), FRI: ("18:30", "full")}
    wednesday, friday = first.sessions

    # Tuesday 07:00 the training plan turns Thursday into a tempo run. Wednesday is now the day
    # before a hard run: although within the 48 h window, it moves (to Tuesday right after the easy
    # run, the only legal day left) and keeps its UID, with SEQUENCE + 1 and the reason recorded.
    runs[2] = run(THU, Label.HARD, time(7, 0), "Tempo 5 km")
    tuesday_morning = datetime(2026, 12, 8, 7, 0, tzinfo=ZONE)
    second = plan(
        now=tuesday_morning,
        runs=runs,
        strength_days=[],
        previous=first.sessions,
        settings=settings,
        horizon_days=7,
    )
    assert placed(second) == {TUE: ("07:45", "full"), FRI: ("18:30", "full")}
    moved = next(s for s in second.sessions if s.uid == wednesday.uid)
    assert moved.start.weekday() == TUE
    assert moved.sequence == wednesday.sequence + 1
    assert "Moved from Wednesday 2026-12-09: the day before a hard run (Tempo 5 km" in moved.why
    assert second.notes[MONDAY + timedelta(days=WED)] == (
        "the day before a hard run (Tempo 5 km, from your training plan)"
    )
    stayed = next(s for s in second.sessions if s.uid == friday.uid)
    assert stayed.start == friday.start

    # Nothing new: nothing changes, the reason stays recorded.
    third = plan(
        now=tuesday_morning + timedelta(hours=1),
        runs=runs,
        strength_days=[],
        previous=second.sessions,
        settings=settings,
        horizon_days=7,
    )
    assert [(s.uid, s.sequence, s.start, s.why) for s in third.sessions] == [
        (s.uid, s.sequence, s.start, s.why) for s in second.sessions
    ]


def test_a_done_strength_activity_marks_the_session_and_counts() -> None:
    runs = [run(TUE, Label.HARD), run(THU, Label.EASY), run(SUN, Label.LONG)]
    settings = PlanSettings(zone=ZONE)
    first = week(runs, settings)
    wednesday = first.sessions[0]
    # Strength recorded on Wednesday; planning again Thursday morning marks it done.
    thursday = datetime(2026, 12, 10, 8, 0, tzinfo=ZONE)
    wed_day = MONDAY + timedelta(days=WED)
    again = plan(
        now=thursday,
        runs=runs,
        strength_days=[wed_day],
        previous=first.sessions,
        settings=settings,
        horizon_days=7,
    )
    done = next(s for s in again.sessions if s.uid == wednesday.uid)
    assert done.status is SessionStatus.DONE and done.start == wednesday.start
    # Strength done on Monday instead of the plan's days: it counts, and the next session keeps 48 h.
    monday_done = plan(
        now=datetime(2026, 12, 8, 6, 0, tzinfo=ZONE),
        runs=runs,
        strength_days=[MONDAY],
        previous=first.sessions,
        settings=settings,
        horizon_days=7,
    )
    assert list(placed(monday_done)) == [WED]  # one more makes two with Monday's
    missed = plan(
        now=datetime(2026, 12, 12, 8, 0, tzinfo=ZONE),
        runs=runs,
        strength_days=[],
        previous=first.sessions,
        settings=settings,
        horizon_days=7,
    )
    earlier = {s.uid for s in first.sessions}
    past = [s for s in missed.sessions if s.uid in earlier]
    assert {s.status for s in past} == {SessionStatus.MISSED}
    assert [s.start for s in past] == [s.start for s in first.sessions]


def test_blocks_count_from_the_first_week_teach_then_progress() -> None:
    # Blocks start at the runner's first planned week (here 7 December), not at a calendar date.
    # A beginner's first two weeks teach the movements (2 sets of 10, cues in front), the third
    # week steps up to harder variants, the fourth is lighter; the second block adds a set.
    # (Before: blocks were pinned to the calendar and every block repeated the first.)
    settings = PlanSettings(zone=ZONE, equipment=("bodyweight", "bands"), block_anchor=MONDAY)
    sets = []
    names = []
    whys = []
    for weeks_on in range(6):
        monday = MONDAY + timedelta(weeks=weeks_on)
        result = plan(
            now=datetime.combine(monday, time(0, 0), tzinfo=ZONE),
            runs=[],
            strength_days=[],
            previous=[],
            settings=settings,
            horizon_days=7,
        )
        sets.append(sum(e.sets for s in result.sessions for e in s.exercises))
        names.append({e.name for s in result.sessions for e in s.exercises})
        whys.append([s.why for s in result.sessions])
    assert all("Learning the movements" in w for w in whys[0] + whys[1])
    assert not any("Learning the movements" in w for w in whys[2] + whys[3])
    assert "Rear-foot-elevated split squat" in names[2] and not names[2] & names[0]
    assert all("Lighter week" in w for w in whys[3])
    assert sets[3] < sets[2], sets
    assert sets[5] > sets[1], sets  # the second block: one more set than the first
    assert all("Block 2" in w for w in whys[5])
    # The same weeks with a different first week fall differently in the block.
    shifted = plan(
        now=datetime.combine(MONDAY, time(0, 0), tzinfo=ZONE),
        runs=[],
        strength_days=[],
        previous=[],
        settings=PlanSettings(
            zone=ZONE, equipment=("bodyweight", "bands"), block_anchor=MONDAY - timedelta(weeks=3)
        ),
        horizon_days=7,
    )
    assert all("Lighter week" in s.why for s in shifted.sessions)


def test_one_pattern_per_session_and_doses_fit_the_equipment() -> None:
    # An experienced runner with only bodyweight never gets a heavy rep range ("Glute bridge 2 x 6"):
    # unloaded moves progress by harder variants at 10-12 reps. No movement pattern twice.
    from runstrong_sync.core.exercises import LIBRARY

    pattern = {v: m.pattern for m in LIBRARY for v in (*m.variants.values(), m.harder) if v}
    for experience, equipment in (("experienced", ("bodyweight",)), ("beginner", ("bodyweight", "bands"))):
        for weeks_on in range(8):
            monday = MONDAY + timedelta(weeks=weeks_on)
            result = plan(
                now=datetime.combine(monday, time(0, 0), tzinfo=ZONE),
                runs=[],
                strength_days=[],
                previous=[],
                settings=PlanSettings(
                    zone=ZONE, experience=experience, equipment=equipment, block_anchor=MONDAY
                ),
                horizon_days=7,
            )
            for session in result.sessions:
                seen = [pattern[e.name] for e in session.exercises]
                assert len(seen) == len(set(seen)), [e.name for e in session.exercises]
                for e in session.exercises:
                    assert e.reps is None or e.reps >= 8 or e.group == "plyometrics", (e.name, e.dose)
                if experience == "experienced":
                    assert "Glute bridge" not in {e.name for e in session.exercises}


def test_a_missed_session_moves_to_the_next_legal_day_or_is_dropped() -> None:
    # Easy Mon/Wed, long Sun, two sessions a week. The first one is missed (no strength recorded).
    runs = [run(MON, Label.EASY, time(7, 0)), run(WED, Label.EASY, time(7, 0)), run(SUN, Label.LONG)]
    settings = PlanSettings(zone=ZONE, max_sessions=2)
    first = week(runs, settings)
    days = sorted(s.start.weekday() for s in first.sessions)
    missed = first.sessions[0]
    assert days[0] in (MON, TUE)
    # Next morning after it, nothing recorded: it moves to the next legal day, same UID.
    later = datetime.combine(missed.start.date() + timedelta(days=1), time(5, 0), tzinfo=ZONE)
    again = plan(
        now=later, runs=runs, strength_days=[], previous=first.sessions, settings=settings, horizon_days=7
    )
    moved = next(s for s in again.sessions if s.uid == missed.uid)
    assert moved.start > later and moved.status is SessionStatus.PLANNED
    assert f"Moved from {missed.start:%A} {missed.start.date().isoformat()}: missed." in moved.why
    assert moved.sequence == missed.sequence + 1
    assert "moved to a later day" in again.week_notes[MONDAY]
    # Saturday morning, the week's sessions all missed: no legal day left (Saturday is the day
    # before the long run), so they stay missed and the week says so; SEQUENCE does not rise.
    saturday = datetime(2026, 12, 12, 8, 0, tzinfo=ZONE)
    late = plan(
        now=saturday, runs=runs, strength_days=[], previous=again.sessions, settings=settings, horizon_days=7
    )
    this_week = [s for s in late.sessions if s.start.date() < date(2026, 12, 14)]
    assert {s.status for s in this_week} == {SessionStatus.MISSED}
    assert "no legal day is left this week" in late.week_notes[MONDAY]
    before = {s.uid: s for s in again.sessions}
    for session in this_week:
        old = before[session.uid]
        if old.start == session.start:
            assert session.sequence == old.sequence  # time passing alone is no change


def test_nights_without_new_data_move_nothing() -> None:
    # A steady runner runs exactly as expected and does every session: night after night the plan
    # (also the weeks that come into view at the window's edge) keeps every session where it was.
    template = [
        (TUE, Label.HARD, time(7, 30)),
        (WED, Label.EASY, time(7, 0)),
        (FRI, Label.EASY, time(18, 0)),
        (SUN, Label.LONG, time(10, 0)),
    ]
    days = [MONDAY + timedelta(weeks=w, days=d) for w in range(4) for d, _, _ in template]
    labels = {
        MONDAY + timedelta(weeks=w, days=d): (label, end) for w in range(4) for d, label, end in template
    }
    settings = PlanSettings(zone=ZONE, experience="experienced")
    previous: list[StrengthSession] = []
    seen: dict[str, datetime] = {}
    for night in range(14):
        now = datetime.combine(MONDAY + timedelta(days=night), time(3, 30), tzinfo=ZONE)
        today = now.date()
        runs = [
            DayRun(d, labels[d][0], hard=labels[d][0] is Label.HARD, end=labels[d][1], expected=d >= today)
            for d in days
        ]
        done = sorted({s.start.date() for s in previous if s.start < now})
        result = plan(now=now, runs=runs, strength_days=done, previous=previous, settings=settings)
        for session in result.sessions:
            if session.uid in seen:
                assert session.start == seen[session.uid], (night, session.uid, session.why)
            seen[session.uid] = session.start
        previous = result.sessions
    assert len(seen) >= 4
