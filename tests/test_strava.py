"""The Strava connector against a fake Strava server on 127.0.0.1, through the unmodified stravalib."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pydantic
import pytest
from runstrong_sync.connectors.strava import (
    CURSOR_KEY,
    INDEX_KEY,
    PENDING_KEY,
    activity_from_summary,
    normalise_sport,
)
from runstrong_sync.connectors.strava_http import (
    TOKENS_KEY,
    StravaAccessError,
    StravaRateLimitedError,
    StravaUnavailableError,
)
from stravalib import model

from runstrong_sync import pipeline
from runstrong_sync.config import Config
from runstrong_sync.errors import ExitStatus
from runstrong_sync.storage import repo
from runstrong_sync.storage.db import Database, open_database
from runstrong_sync.storage.models import ActivityRow
from tests.fakestrava import FakeStrava, make_activity, serve
from tests.strava_helpers import NOW, cli_env, connect, history, make_config, rows, state, sync
from tests.support import FIT


@pytest.fixture
def fake() -> Iterator[FakeStrava]:
    yield from serve(FakeStrava())


# --- mapping ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sport_type", "trainer", "expected"),
    [
        ("Run", False, "run"),
        ("Run", True, "treadmill_run"),
        ("TrailRun", False, "trail_run"),
        ("VirtualRun", False, "virtual_run"),
        ("Ride", False, "ride"),
        ("WeightTraining", False, "strength"),
        ("Workout", False, "workout"),
        ("Crossfit", False, "crossfit"),
        ("EBikeRide", False, "e_bike_ride"),
        ("HighIntensityIntervalTraining", False, "high_intensity_interval_training"),
        ("Pickleball", False, "pickleball"),
        ("SomeFutureSport2030", False, "some_future_sport2030"),
        ("", False, "workout"),
        (None, False, "workout"),
    ],
)
def test_sport_types_map_to_our_names(sport_type: str | None, trainer: bool, expected: str) -> None:
    assert normalise_sport(sport_type, trainer) == expected


def test_local_start_is_wall_time_despite_its_z() -> None:
    # 23:30 UTC on the 15th is 00:30 on the 16th in Berlin (+01:00): the run belongs to the 16th.
    raw = make_activity(1, datetime(2026, 11, 15, 23, 30, tzinfo=UTC), offset_s=3600)
    activity = activity_from_summary(raw)
    assert activity.start_utc == datetime(2026, 11, 15, 23, 30, tzinfo=UTC)
    assert activity.utc_offset_s == 3600
    assert activity.local_date == date(2026, 11, 16)
    west = activity_from_summary(make_activity(2, datetime(2026, 11, 16, 5, 0, tzinfo=UTC), offset_s=-28800))
    assert west.utc_offset_s == -28800 and west.local_date == date(2026, 11, 15)


# --- incremental sync ------------------------------------------------------------------------------


def test_first_sync_imports_recent_history_in_one_request(tmp_path: Path, fake: FakeStrava) -> None:
    history(fake, 30, every=timedelta(days=2))  # 60 days
    fake.add(make_activity(1, NOW - timedelta(days=200)))  # before the first sync's reach
    config = make_config(tmp_path, fake)
    db = connect(config, fake)
    run = sync(db, config, fake)
    assert run.report.created == 30 and not run.report.rejected
    assert run.requests == 1  # easy runs: the summary's pace decides, no streams needed
    stored = rows(db, config)
    assert set(stored) == {str(1000 + i) for i in range(30)}
    row = stored["1000"]
    assert row.source == "strava" and row.source_ref == "1000" and row.sport == "run"
    assert row.raw_json["id"] == 1000 and row.raw_json["visibility"] == "only_me"


def test_nightly_sync_with_nothing_new_costs_one_request(tmp_path: Path, fake: FakeStrava) -> None:
    history(fake, 20)
    config = make_config(tmp_path, fake)
    db = connect(config, fake)
    sync(db, config, fake)
    run = sync(db, config, fake, now=NOW + timedelta(days=1))
    assert run.requests == 1
    assert (run.report.created, run.report.updated, run.report.deleted) == (0, 0, 0)
    listing = fake.requests("/athlete/activities")[-1]
    newest = NOW - timedelta(days=1)
    assert int(listing.query["after"]) == int((newest - timedelta(days=14)).timestamp())
    assert listing.query["per_page"] == "200"


@pytest.mark.parametrize(("new", "pages"), [(1, 1), (10, 1), (450, 3)])
def test_nightly_sync_brings_new_activities(tmp_path: Path, fake: FakeStrava, new: int, pages: int) -> None:
    history(fake, 5, end=NOW - timedelta(days=30))
    config = make_config(tmp_path, fake)
    db = connect(config, fake)
    sync(db, config, fake)
    for i in range(new):
        fake.add(make_activity(5000 + i, NOW - timedelta(days=3) + timedelta(minutes=5 * i)))
    run = sync(db, config, fake)
    assert run.report.created == new
    assert run.requests == pages
    assert len(rows(db, config)) == 5 + new


def test_short_pages_do_not_end_a_scan_early(tmp_path: Path, fake: FakeStrava) -> None:
    history(fake, 300, every=timedelta(hours=6))
    fake.hidden[1] = 3  # Strava hid 3 items of page 1: 197 come back, and more follow
    config = make_config(tmp_path, fake)
    db = connect(config, fake)
    run = sync(db, config, fake)
    assert run.report.created == 297
    assert len(fake.requests("/athlete/activities")) == 2


def test_edits_and_deletions_inside_the_window_are_applied(tmp_path: Path, fake: FakeStrava) -> None:
    acts = history(fake, 40)
    config = make_config(tmp_path, fake)
    db = connect(config, fake)
    sync(db, config, fake)
    edited, gone, old_gone = acts[2], acts[5], acts[30]  # 3, 6 and 31 days old
    edited.update(name="Actually a ride", sport_type="Ride", type="Ride")
    fake.remove(gone["id"])
    fake.remove(old_gone["id"])  # outside the 14-day window: only a webhook or a rescan sees it
    run = sync(db, config, fake)
    assert (run.report.updated, run.report.deleted, run.report.created) == (1, 1, 0)
    assert run.requests == 1
    stored = rows(db, config)
    assert stored[str(edited["id"])].sport == "ride"
    assert stored[str(edited["id"])].name == "Actually a ride"
    assert str(gone["id"]) not in stored
    assert str(old_gone["id"]) in stored
    index = state(db, config, INDEX_KEY)
    assert index is not None and str(gone["id"]) not in index["activities"]


def test_backfill_since_reaches_further(tmp_path: Path, fake: FakeStrava) -> None:
    history(fake, 300, every=timedelta(days=3))  # about 2.5 years
    config = make_config(tmp_path, fake)
    db = connect(config, fake)
    first = sync(db, config, fake)
    assert first.report.created == 30  # 90 days
    back = sync(db, config, fake, since=(NOW - timedelta(days=1000)).date())
    assert back.report.created == 270 and back.report.duplicates == 0
    assert back.requests == 2


def test_fractional_suffer_score_and_max_heartrate_do_not_break_the_page(
    tmp_path: Path, fake: FakeStrava
) -> None:
    acts = history(fake, 3)
    acts[1]["suffer_score"] = 40.5
    acts[1]["max_heartrate"] = 181.5
    with pytest.raises(pydantic.ValidationError):  # why the connector reads raw dicts
        model.SummaryActivity.model_validate({k: v for k, v in acts[1].items() if not k.startswith("_")})
    config = make_config(tmp_path, fake)
    db = connect(config, fake)
    run = sync(db, config, fake)
    assert run.report.created == 3
    row = rows(db, config)[str(acts[1]["id"])]
    assert row.max_hr == 181.5 and row.raw_json["suffer_score"] == 40.5


def test_unknown_sport_types_are_imported(tmp_path: Path, fake: FakeStrava) -> None:
    for i, sport in enumerate(["Pickleball", "EBikeRide", "BrandNewSport"]):
        fake.add(make_activity(i + 1, NOW - timedelta(days=i + 1), sport_type=sport, heart_rate=None))
    odd = fake.add(make_activity(9, NOW - timedelta(days=5)))
    del odd["sport_type"]
    odd["type"] = "Yoga"
    config = make_config(tmp_path, fake)
    db = connect(config, fake)
    run = sync(db, config, fake)
    assert run.report.created == 4 and not run.report.rejected
    assert {r.sport for r in rows(db, config).values()} == {
        "pickleball",
        "e_bike_ride",
        "brand_new_sport",
        "yoga",
    }


# --- streams ---------------------------------------------------------------------------------------


def test_streams_only_for_runs_the_summary_cannot_label(tmp_path: Path, fake: FakeStrava) -> None:
    history(fake, 5)  # easy: pace decides
    fast = fake.add(
        make_activity(77, NOW - timedelta(hours=30), distance_m=10400, moving_s=2700, intensity="hard")
    )
    fake.add(make_activity(78, NOW - timedelta(days=2, hours=5), sport_type="Ride"))
    fake.add(make_activity(79, NOW - timedelta(days=3, hours=5), workout_type=1, distance_m=10000))  # race
    config = make_config(tmp_path, fake)
    db = connect(config, fake)
    run = sync(db, config, fake)
    assert run.report.created == 8
    streams = fake.requests("/streams")
    assert [r.path for r in streams] == [f"/api/v3/activities/{fast['id']}/streams"]
    assert streams[0].query["key_by_type"] == "true"
    row = rows(db, config)["77"]
    assert row.derived_json is not None and row.derived_json["hr_valid_s"] > 0
    assert "heartrate" not in row.raw_json  # derived numbers are kept, not the streams


def test_stream_budget_defers_the_rest_to_the_next_run(tmp_path: Path, fake: FakeStrava) -> None:
    for i in range(5):
        fake.add(make_activity(100 + i, NOW - timedelta(days=i + 1), distance_m=10400, intensity="hard"))
    config = make_config(tmp_path, fake, stream_budget=2)
    db = connect(config, fake)
    first = sync(db, config, fake)
    assert first.report.created == 5 and len(fake.requests("/streams")) == 2
    pending = state(db, config, PENDING_KEY)
    assert pending is not None and len(pending["activities"]) == 3
    second = sync(db, config, fake)
    assert second.report.updated == 2 and len(fake.requests("/streams")) == 4
    third = sync(db, config, fake)
    assert third.report.updated == 1 and third.requests == 2
    assert all(r.derived_json for r in rows(db, config).values())
    fourth = sync(db, config, fake)
    assert fourth.requests == 1 and fourth.report.updated == 0


def test_streams_never(tmp_path: Path, fake: FakeStrava) -> None:
    fake.add(make_activity(100, NOW - timedelta(days=1), distance_m=10400, intensity="hard"))
    config = make_config(tmp_path, fake, streams="never")
    db = connect(config, fake)
    assert sync(db, config, fake).requests == 1


# --- tokens ----------------------------------------------------------------------------------------


def test_token_is_refreshed_ahead_of_expiry_and_committed(tmp_path: Path, fake: FakeStrava) -> None:
    history(fake, 2)
    config = make_config(tmp_path, fake)
    db = connect(config, fake, expires_in=600)  # inside the 15-minute margin
    old = state(db, config, TOKENS_KEY)
    run = sync(db, config, fake)
    assert run.report.created == 2
    new = state(db, config, TOKENS_KEY)
    assert old is not None and new is not None
    assert new["refresh_token"] != old["refresh_token"] and new["access_token"] != old["access_token"]
    assert new["athlete_id"] == old["athlete_id"] and new["scope"] == old["scope"]
    assert len(fake.requests("/oauth/token")) == 1


def test_a_401_refreshes_once_and_retries(tmp_path: Path, fake: FakeStrava) -> None:
    history(fake, 2)
    config = make_config(tmp_path, fake)
    db = connect(config, fake)
    fake.expire_all_access_tokens()  # Strava-side expiry we did not know about
    run = sync(db, config, fake)
    assert run.report.created == 2
    assert [r.status for r in fake.requests("/athlete/activities")] == [401, 200]
    assert len(fake.requests("/oauth/token")) == 1


def test_refused_refresh_token_asks_for_authorization(tmp_path: Path, fake: FakeStrava) -> None:
    config = make_config(tmp_path, fake)
    db = connect(config, fake, expires_in=0)
    fake.refresh_tokens.clear()
    with pytest.raises(StravaAccessError) as caught:
        sync(db, config, fake)
    assert caught.value.exit_status is ExitStatus.REAUTHORIZE
    assert "strava auth" in str(caught.value) and "refresh token" in str(caught.value)


def test_revoked_authorization_asks_for_authorization(tmp_path: Path, fake: FakeStrava) -> None:
    config = make_config(tmp_path, fake)
    db = connect(config, fake)
    fake.access_tokens.clear()  # revoked: 401 on every token, and the refresh is refused
    fake.refresh_tokens.clear()
    with pytest.raises(StravaAccessError) as caught:
        sync(db, config, fake)
    assert caught.value.exit_status is ExitStatus.REAUTHORIZE and "strava auth" in str(caught.value)


def test_missing_scope_says_which_box_to_tick(tmp_path: Path, fake: FakeStrava) -> None:
    config = make_config(tmp_path, fake)
    db = connect(config, fake)
    fake.granted_scope = "read"
    with pytest.raises(StravaAccessError) as caught:
        sync(db, config, fake)
    assert "activity:read_all" in str(caught.value)


def test_inactive_application_says_what_to_do(tmp_path: Path, fake: FakeStrava) -> None:
    config = make_config(tmp_path, fake)
    db = connect(config, fake)
    fake.inactive = True
    with pytest.raises(StravaAccessError) as caught:
        sync(db, config, fake)
    assert "inactive" in str(caught.value) and "subscription" in str(caught.value)


# --- failures and rate limits ----------------------------------------------------------------------


def test_server_errors_are_retried_with_backoff(tmp_path: Path, fake: FakeStrava) -> None:
    history(fake, 2)
    config = make_config(tmp_path, fake)
    db = connect(config, fake)
    fake.fail("/athlete/activities", 502, count=2)
    pauses: list[float] = []
    run = sync(db, config, fake, sleep=pauses.append)
    assert run.report.created == 2 and pauses == [2.0, 4.0]


def test_server_errors_give_up_after_the_retries(tmp_path: Path, fake: FakeStrava) -> None:
    config = make_config(tmp_path, fake)
    db = connect(config, fake)
    fake.fail("/athlete/activities", 500, count=10)
    with pytest.raises(StravaUnavailableError):
        sync(db, config, fake)
    assert len(fake.requests("/athlete/activities")) == 4


def test_slow_answers_time_out_and_are_retried(tmp_path: Path, fake: FakeStrava) -> None:
    history(fake, 2)
    config = make_config(tmp_path, fake)
    db = connect(config, fake)
    fake.delay("/athlete/activities", 1.5)
    run = sync(db, config, fake, timeout=(1.0, 0.5))
    assert run.report.created == 2
    assert len(fake.requests("/athlete/activities")) == 2


def test_429_mid_backfill_then_resume(tmp_path: Path, fake: FakeStrava) -> None:
    history(fake, 600, every=timedelta(days=1))
    config = make_config(tmp_path, fake)
    db = connect(config, fake)
    fake.fail("/athlete/activities", 429, count=1, skip=1)
    with pytest.raises(StravaRateLimitedError) as caught:
        sync(db, config, fake, since=date(2024, 1, 1))
    assert caught.value.exit_status is ExitStatus.RATE_LIMITED
    assert len(rows(db, config)) == 200  # page 1 is stored
    cursor = state(db, config, CURSOR_KEY)
    assert cursor is not None and "resume_after" in cursor
    fake.new_window()
    run = sync(db, config, fake)  # the nightly run resumes the backfill
    assert run.report.created == 400 and run.report.duplicates == 0
    assert len(rows(db, config)) == 600
    assert state(db, config, CURSOR_KEY) == {}
    assert fake.responses_429 == 1


def test_budget_stops_before_the_limit_and_the_next_window_resumes(tmp_path: Path, fake: FakeStrava) -> None:
    history(fake, 900, every=timedelta(hours=12))
    fake.limits["read"] = (3, 1000)
    config = make_config(tmp_path, fake, rate_limit_reserve=0)
    db = connect(config, fake)
    with pytest.raises(StravaRateLimitedError) as caught:
        sync(db, config, fake, since=date(2025, 1, 1))
    assert "15-minute" in str(caught.value) and "resumes" in str(caught.value)
    assert len(rows(db, config)) == 600
    again = sync  # the same window: stop without spending a request
    with pytest.raises(StravaRateLimitedError):
        run_requests_before = fake.api_requests()
        again(db, config, fake)
    assert fake.api_requests() == run_requests_before
    fake.new_window()
    sync(db, config, fake)
    assert len(rows(db, config)) == 900
    assert fake.responses_429 == 0


# --- the CLI path end to end -----------------------------------------------------------------------


def test_cli_sync_against_a_strava_compatible_server(tmp_path: Path, fake: FakeStrava) -> None:
    from tests.support import run_main

    history(fake, 12)
    config = make_config(tmp_path, fake)
    connect(config, fake).dispose()
    env = cli_env(tmp_path, fake, config)
    result = run_main("-v", "sync", env=env)
    assert result.returncode == 0, result.stderr
    assert "strava: 12 new" in result.stdout
    assert fake.client_secret not in result.stdout + result.stderr
    quiet = run_main("sync", env=env)
    assert quiet.returncode == 0 and quiet.stdout == "" and quiet.stderr == "", quiet.stderr


# --- one activity, one row ---------------------------------------------------------------------------


def _fit_run(folder: Path, db: Database, config: Config) -> None:
    """Import the same FIT run from the watch's folder."""
    folder.mkdir()
    shutil.copy(FIT / "running/run_with_coordinates.fit", folder / "run.fit")
    athlete = pipeline.athlete_id(db, config, NOW)
    report = pipeline.import_paths(db, athlete, config, [folder], NOW)
    assert report.created + report.updated + report.duplicates == 1, report


def _strava_twin(fake: FakeStrava, start: datetime, elapsed_s: float, distance_m: float) -> None:
    """The same run as Strava reports it: 30 s later, 1 % longer, 1 % less distance; tagged a race."""
    fake.add(
        make_activity(
            987654,
            start + timedelta(seconds=30),
            moving_s=round(elapsed_s * 1.01) - 60,
            distance_m=distance_m * 0.99,
            workout_type=1,
        )
    )


def _only_row(db: Database, config: Config) -> tuple[ActivityRow, list[tuple[str, str]]]:
    athlete = pipeline.athlete_id(db, config, NOW)
    with db.transaction() as session:
        all_rows = repo.activity_rows(session, athlete)
        assert len(all_rows) == 1
        row = all_rows[0]
        return row, sorted((s.source, s.external_id) for s in row.sources)


def test_fit_then_strava_is_one_row_with_both_ids(tmp_path: Path, fake: FakeStrava) -> None:
    config = make_config(tmp_path, fake)
    db = connect(config, fake)
    _fit_run(tmp_path / "watch", db, config)
    fit_row, _ = _only_row(db, config)
    assert fit_row.distance_m is not None
    _strava_twin(fake, fit_row.start_utc, fit_row.elapsed_s, fit_row.distance_m)
    run = sync(db, config, fake, since=date(2000, 1, 1))
    # No new row: Strava's copy only adds its id (and its name, which the file lacks).
    assert run.report.created == 0 and run.report.updated == 1
    row, identities = _only_row(db, config)
    assert row.source == "fit" and [s for s, _ in identities] == ["fit", "strava"]
    assert ("strava", "987654") in identities
    fake.remove(987654)  # deleted on Strava: the file's activity stays
    sync(db, config, fake, since=date(2000, 1, 1))
    row, identities = _only_row(db, config)
    assert [s for s, _ in identities] == ["fit"]


def test_strava_then_fit_keeps_the_file_detail_and_stravas_tag(tmp_path: Path, fake: FakeStrava) -> None:
    config = make_config(tmp_path, fake)
    probe = open_database(f"sqlite:///{tmp_path / 'probe.sqlite'}")
    _fit_run(tmp_path / "probe", probe, config)
    fit_row, _ = _only_row(probe, config)
    assert fit_row.distance_m is not None
    probe.dispose()
    db = connect(config, fake)
    _strava_twin(fake, fit_row.start_utc, fit_row.elapsed_s, fit_row.distance_m)
    assert sync(db, config, fake, since=date(2000, 1, 1)).report.created == 1
    _fit_run(tmp_path / "watch", db, config)
    row, identities = _only_row(db, config)
    assert row.source == "fit" and [s for s, _ in identities] == ["fit", "strava"]
    assert row.workout_type == 1  # Strava's race tag survives the file's richer record
    assert row.raw_json["also_from"]["strava"]["id"] == 987654


# --- the rate budget from headers --------------------------------------------------------------------


def test_budget_reads_every_header_set_and_ages_with_the_clock() -> None:
    import requests
    from runstrong_sync.connectors.strava_http import RateBudget

    from tests.fakestrava import fixture

    examples = fixture("rate_limit_headers_examples.json")
    moment = datetime(2026, 11, 20, 10, 7, tzinfo=UTC)
    clock = [moment]

    def budget_after(headers: dict[str, str], status: int = 200) -> RateBudget:
        budget = RateBudget(10, lambda: clock[0])
        response = requests.Response()
        response.status_code = status
        response.headers.update(headers)
        budget.observe(response)
        return budget

    budget_after(examples["ok"]).check()  # 31 of 100 reads: go on
    short = budget_after(examples["short_term_exceeded_429"], 429)
    assert short.responses_429 == 1
    with pytest.raises(StravaRateLimitedError) as caught:
        short.check()
    assert "15-minute" in str(caught.value) and "10:15 UTC" in str(caught.value)
    with pytest.raises(StravaRateLimitedError) as daily:
        budget_after(examples["daily_exceeded_429"]).check()
    assert "daily" in str(daily.value) and "2026-11-21 00:00" in str(daily.value)
    legacy = budget_after(examples["docs_example_legacy_429"])
    with pytest.raises(StravaRateLimitedError):
        legacy.check(read=False)  # X-Ratelimit-* in other capitals: headers are case-insensitive
    clock[0] = moment + timedelta(minutes=10)  # 10:17: a new window
    short.check()
    restored = RateBudget(10, lambda: moment, budget_after(examples["daily_exceeded_429"]).to_state())
    with pytest.raises(StravaRateLimitedError):
        restored.check()  # the next run, same day: no request spent to find out


def test_a_stopped_strava_run_still_labels_plans_and_publishes(tmp_path: Path, fake: FakeStrava) -> None:
    history(fake, 300, every=timedelta(hours=8))
    fake.fail("/athlete/activities", 429, count=1, skip=1)
    config = make_config(tmp_path, fake)
    db = connect(config, fake)
    report = pipeline.sync(config, db, now=NOW, options={"since": date(2026, 1, 1)})
    assert report.exit_status is ExitStatus.RATE_LIMITED
    assert [type(error) for _, error in report.errors] == [StravaRateLimitedError]
    stored = rows(db, config)
    assert len(stored) == 200 and all(row.label for row in stored.values())
    assert (tmp_path / "feed.ics").read_text(encoding="utf-8").startswith("BEGIN:VCALENDAR")


def test_a_plain_403_asks_for_authorization(tmp_path: Path, fake: FakeStrava) -> None:
    config = make_config(tmp_path, fake)
    db = connect(config, fake)
    fake.fail("/athlete/activities", 403, body={"message": "Forbidden", "errors": []})
    with pytest.raises(StravaAccessError) as caught:
        sync(db, config, fake)
    assert "403" in str(caught.value) and "strava auth" in str(caught.value)
