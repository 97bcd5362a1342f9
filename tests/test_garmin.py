"""The Garmin Connect connector: the unmodified garminconnect library against a fake on 127.0.0.1."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from icalendar import Calendar
from runstrong_sync.connectors.garmin import CURSOR_KEY, INDEX_KEY, GarminConnector, activity_file
from runstrong_sync.connectors.garmin_api import TOKENS_KEY, sign_in

from runstrong_sync import pipeline
from runstrong_sync.cli import cli
from runstrong_sync.config import Config
from runstrong_sync.errors import ExitStatus
from runstrong_sync.pipeline import StopRequestedError
from runstrong_sync.storage import repo
from runstrong_sync.storage.db import Database, open_database
from tests.fakegarmin import GarminFake, State, add_demo, demo_fit_files, fit_start

NOW = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)  # the morning after the demo's last run


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[GarminFake]:
    with GarminFake(tmp_path, State()) as server:
        for name, value in server.environment().items():
            monkeypatch.setenv(name, value)
        yield server


def make_config(tmp_path: Path, url: str | None = None, **garmin: Any) -> Config:
    return Config.model_validate(
        {
            "athlete": {"time_zone": "Europe/Berlin", "threshold_pace": "4:15"},
            "data_dir": str(tmp_path / "data"),
            "database": {"url": url or f"sqlite:///{tmp_path / 'runstrong.sqlite'}"},
            "feed": {"path": str(tmp_path / "feed.ics")},
            "sources": {"fit": {"enabled": False}, "garmin": {"enabled": True, **garmin}},
        }
    )


def connect(config: Config, fake: GarminFake) -> Database:
    """A database that `garmin auth` has signed in (through the real sign-in against the fake)."""
    tokens, who = sign_in(fake.state.email, fake.state.password, lambda: "unused")
    db = open_database(config.database_url)
    athlete = pipeline.athlete_id(db, config, NOW)
    with db.transaction() as session:
        repo.set_state(session, athlete, TOKENS_KEY, {"tokens": tokens, **who}, NOW)
    return db


def ingest(
    db: Database, config: Config, *, since: date | None = None, stop_after: int | None = None, **pages: int
) -> tuple[pipeline.SourceReport, GarminConnector]:
    athlete = pipeline.athlete_id(db, config, NOW)
    connector = GarminConnector(config, **pages)
    context = pipeline.make_context(db, athlete, config, NOW, options={"since": since} if since else {})
    seen = {"n": 0}

    def should_stop() -> bool:
        seen["n"] += 1
        return stop_after is not None and seen["n"] > stop_after

    report = pipeline.ingest(db, athlete, "garmin", connector.fetch(context), NOW, should_stop)
    return report, connector


def state(db: Database, config: Config, key: str) -> dict[str, Any]:
    athlete = pipeline.athlete_id(db, config, NOW)
    with db.transaction() as session:
        return repo.get_state(session, athlete, key) or {}


def activity_rows(db: Database, config: Config) -> list[Any]:
    athlete = pipeline.athlete_id(db, config, NOW)
    with db.transaction() as session:
        rows = repo.activity_rows(session, athlete)
        return [(r.source, r.external_id, r.start_utc, sorted(s.source for s in r.sources)) for r in rows]


# --- sign-in ---------------------------------------------------------------------------------------


def cli_env(tmp_path: Path, config: Config) -> dict[str, str]:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[athlete]\ntime_zone = "Europe/Berlin"\n[database]\nurl = "{config.database_url}"\n'
        f"[sources.garmin]\nenabled = true\n[sources.fit]\nenabled = false\n",
        encoding="utf-8",
    )
    return {"RUNSTRONG_CONFIG": str(path), "RUNSTRONG_DATA_DIR": str(tmp_path / "data")}


@pytest.mark.parametrize("mfa", [None, "424242"])
def test_auth_stores_only_the_library_tokens(tmp_path: Path, fake: GarminFake, mfa: str | None) -> None:
    fake.state.mfa_code = mfa
    config = make_config(tmp_path)
    answers = f"{fake.state.password}\n" + (f"{mfa}\n" if mfa else "")
    result = CliRunner().invoke(
        cli,
        ["garmin", "auth", "--email", fake.state.email],
        input=answers,
        env=cli_env(tmp_path, config),
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert "Connected to Garmin Connect as Fake Runner" in result.output
    assert ("code" in result.output) == (mfa is not None)
    assert fake.state.sign_ins == 1
    db = open_database(config.database_url)
    stored = state(db, config, TOKENS_KEY)
    assert stored["tokens"] and stored["display_name"] == "fake-runner"
    everything = Path(config.database_url.removeprefix("sqlite:///")).read_bytes()
    for path in Path(config.database_url.removeprefix("sqlite:///")).parent.glob("runstrong.sqlite*"):
        everything += path.read_bytes()
    assert fake.state.password.encode() not in everything
    assert fake.state.email.encode() not in everything

    status = CliRunner().invoke(cli, ["garmin", "status"], env=cli_env(tmp_path, config))
    assert "Connected as Fake Runner" in status.output


def test_a_wrong_password_stores_nothing(tmp_path: Path, fake: GarminFake) -> None:
    config = make_config(tmp_path)
    result = CliRunner().invoke(
        cli, ["garmin", "auth", "--email", fake.state.email], input="wrong\n", env=cli_env(tmp_path, config)
    )
    assert result.exit_code != 0
    assert "refused the sign-in" in str(result.exception)
    db = open_database(config.database_url)
    assert state(db, config, TOKENS_KEY) == {}


def test_disconnect_forgets_tokens_but_keeps_runs(tmp_path: Path, fake: GarminFake) -> None:
    config = make_config(tmp_path)
    db = connect(config, fake)
    add_demo(fake, demo_fit_files()[-2:])
    ingest(db, config)
    result = CliRunner().invoke(cli, ["garmin", "disconnect", "--yes"], env=cli_env(tmp_path, config))
    assert result.exit_code == 0, result.output
    assert state(db, config, TOKENS_KEY) == {} and state(db, config, INDEX_KEY) == {}
    assert len(activity_rows(db, config)) == 2
    report = pipeline.sync(config, db, now=NOW)
    assert report.exit_status is ExitStatus.REAUTHORIZE
    assert "not connected" in str(report.errors[0][1])


# --- activities in ---------------------------------------------------------------------------------


def test_new_activities_arrive_as_their_original_fit_files(tmp_path: Path, fake: GarminFake) -> None:
    config = make_config(tmp_path)
    db = connect(config, fake)
    files = demo_fit_files()[-6:-1]
    add_demo(fake, files)
    sign_ins = fake.state.sign_ins
    before = fake.state.api_calls
    report, connector = ingest(db, config)
    assert report.created == 5 and not report.rejected
    assert connector.last_run is not None and connector.last_run.downloads == 5
    assert fake.state.api_calls - before == 1 + 5  # one list page, five downloads
    stored = activity_rows(db, config)
    assert {s for s, *_ in stored} == {"garmin"}
    assert sorted(start for _, _, start, _ in stored) == sorted(fit_start(p) for p in files)
    # The same decoder as a dropped file: the derived numbers are there, the label follows.
    athlete = pipeline.athlete_id(db, config, NOW)
    with db.transaction() as session:
        rows = repo.activity_rows(session, athlete)
        assert all(r.derived_json for r in rows if r.sport == "run")

    # The nightly sync with nothing new: one request, no sign-in.
    before = fake.state.total()
    report, connector = ingest(db, config)
    assert report.created == report.updated == 0
    assert fake.state.total() - before == 1
    assert fake.state.sign_ins == sign_ins

    # One new run: the list and its file.
    add_demo(fake, demo_fit_files()[-1:])
    before = fake.state.total()
    report, _ = ingest(db, config)
    assert report.created == 1
    assert fake.state.total() - before == 2


def test_a_run_from_the_inbox_and_from_garmin_is_stored_once(tmp_path: Path, fake: GarminFake) -> None:
    config = make_config(tmp_path)
    db = connect(config, fake)
    files = demo_fit_files()[-3:]
    athlete = pipeline.athlete_id(db, config, NOW)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(files[0], inbox / files[0].name)
    pipeline.import_paths(db, athlete, config, [inbox / files[0].name], NOW)
    add_demo(fake, files)
    report, _ = ingest(db, config)
    assert report.created == 2 and report.duplicates == 1
    # ...and the other way round: the Garmin copy first, then the file.
    shutil.copy(files[1], inbox / files[1].name)
    again = pipeline.import_paths(db, athlete, config, [inbox / files[1].name], NOW)
    assert again.created == 0 and again.duplicates == 1
    assert len(activity_rows(db, config)) == 3


def test_an_expiring_token_is_refreshed_and_kept(tmp_path: Path, fake: GarminFake) -> None:
    fake.state.token_lifetime_s = 300  # inside the library's 15-minute margin: refreshed before use
    config = make_config(tmp_path)
    db = connect(config, fake)
    first = state(db, config, TOKENS_KEY)["tokens"]
    refreshes, before = fake.state.refreshes, fake.state.total()
    ingest(db, config)
    assert fake.state.refreshes - refreshes == 1
    assert fake.state.total() - before == 2  # the refresh and the list
    second = state(db, config, TOKENS_KEY)
    assert second["tokens"] != first and second["refreshed_at"]
    fake.state.token_lifetime_s = 3600
    ingest(db, config)  # the rotated refresh token works (the fake refuses a used one)
    assert fake.state.refreshes - refreshes == 2
    before = fake.state.total()
    ingest(db, config)  # a fresh token: no refresh, one request
    assert fake.state.total() - before == 1
    assert fake.state.sign_ins == 1


def test_refused_tokens_ask_for_garmin_auth(tmp_path: Path, fake: GarminFake) -> None:
    config = make_config(tmp_path)
    db = connect(config, fake)
    fake.state.refuse_all = True
    report = pipeline.sync(config, db, now=NOW)
    assert report.exit_status is ExitStatus.REAUTHORIZE
    [(name, error)] = report.errors
    assert name == "garmin" and "runstrong-sync garmin auth" in str(error)
    assert fake.state.sign_ins == 1  # never signs in by itself
    feed = Calendar.from_ical((tmp_path / "feed.ics").read_bytes())
    titles = [str(e.get("summary")) for e in feed.walk("VEVENT")]
    assert any("Garmin Connect needs re-authorization" in t and "garmin auth" in t for t in titles)
    pipeline.sync(config, db, now=NOW)
    assert fake.state.sign_ins == 1


@pytest.mark.parametrize(
    ("status", "exit_status", "words"),
    [(429, ExitStatus.RATE_LIMITED, "rate-limiting"), (503, ExitStatus.FAILED, "answered with an error")],
)
def test_errors_stop_the_source_and_keep_what_was_stored(
    tmp_path: Path, fake: GarminFake, status: int, exit_status: ExitStatus, words: str
) -> None:
    config = make_config(tmp_path)
    db = connect(config, fake)
    add_demo(fake, demo_fit_files()[-3:])
    ok, _ = ingest(db, config)
    assert ok.created == 3
    add_demo(fake, demo_fit_files()[-5:-3])
    fake.state.fail_next = [status]
    report = pipeline.sync(config, db, now=NOW)
    assert report.exit_status is exit_status
    assert words in str(report.errors[0][1])
    assert len(activity_rows(db, config)) == 3
    again = pipeline.sync(config, db, now=NOW)
    assert again.exit_status is ExitStatus.OK
    assert len(activity_rows(db, config)) == 5


def test_backfill_goes_in_pages_and_resumes(tmp_path: Path, fake: GarminFake) -> None:
    config = make_config(tmp_path)
    db = connect(config, fake)
    files = demo_fit_files()
    add_demo(fake, files)
    since = fit_start(files[0]).date()
    with pytest.raises(StopRequestedError):
        ingest(db, config, since=since, stop_after=6, backfill_page=4)
    assert len(activity_rows(db, config)) == 6
    assert state(db, config, CURSOR_KEY) == {"since": since.isoformat(), "start": 4}
    shown = CliRunner().invoke(cli, ["garmin", "status"], env=cli_env(tmp_path, config))
    assert f"A backfill from {since.isoformat()} stopped after 4 activities" in shown.output
    assert "Activities known from Garmin Connect: 6" in shown.output
    before = dict(fake.state.calls)
    report, connector = ingest(db, config, backfill_page=4)  # a plain sync goes on with the backfill
    assert len(activity_rows(db, config)) == len(files)
    assert report.created == len(files) - 6
    assert connector.last_run is not None and connector.last_run.downloads == len(files) - 6
    assert state(db, config, CURSOR_KEY) == {}
    listing = "GET connectapi.garmin.com/activitylist-service/activities/search/activities"
    pages = fake.state.calls[listing] - before.get(listing, 0)
    assert pages == (len(files) - 4) // 4 + 1  # from the saved offset to the first short page


def test_original_download_is_read_from_garmins_zip() -> None:
    import io
    import zipfile

    fit = demo_fit_files()[0].read_bytes()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("123_ACTIVITY.fit", fit)
    assert activity_file(buffer.getvalue()) == ("123_ACTIVITY.fit", fit)
    assert activity_file(fit)[1] == fit
    with pytest.raises(Exception, match="neither a zip nor a FIT"):
        activity_file(b"<html>maintenance</html>")


def test_activities_without_a_file_are_skipped_quietly(tmp_path: Path, fake: GarminFake) -> None:
    config = make_config(tmp_path)
    db = connect(config, fake)
    manual, unmarked, real = add_demo(fake, demo_fit_files()[-3:])
    manual.manual = True  # listed as entered by hand: not even asked for
    unmarked.manual = True
    unmarked_summary = unmarked.summary
    unmarked.summary = lambda: {**unmarked_summary(), "manualActivity": None}  # type: ignore[method-assign]
    before = fake.state.api_calls
    report, connector = ingest(db, config)
    assert report.created == 1 and not report.rejected
    assert connector.last_run is not None and connector.last_run.downloads == 2  # the real one, and a 404
    assert fake.state.api_calls - before == 3
    assert {e for _, e, _, _ in activity_rows(db, config)} == {str(real.activity_id)}
    assert len(state(db, config, INDEX_KEY)["activities"]) == 3  # none is tried again


def test_a_sign_in_block_says_to_wait_and_stores_nothing(tmp_path: Path, fake: GarminFake) -> None:
    fake.state.sso_429 = True
    config = make_config(tmp_path)
    result = CliRunner().invoke(
        cli,
        ["garmin", "auth", "--email", fake.state.email],
        input=f"{fake.state.password}\n",
        env=cli_env(tmp_path, config),
    )
    assert getattr(result.exception, "exit_status", None) is ExitStatus.RATE_LIMITED
    assert "Wait a few hours" in str(result.exception)
    assert fake.state.sign_ins <= 4  # the library's own strategies, once: no loop of ours
    db = open_database(config.database_url)
    assert state(db, config, TOKENS_KEY) == {}


def test_a_run_from_strava_garmin_and_a_file_is_stored_once(tmp_path: Path, fake: GarminFake) -> None:
    from zoneinfo import ZoneInfo

    from runstrong_sync.connectors.formats import read_activity_file

    from tests.fakestrava import FakeStrava, make_activity, serve
    from tests.strava_helpers import connect as strava_connect
    from tests.strava_helpers import make_config as strava_config

    path = demo_fit_files()[-1]
    run = read_activity_file(path.read_bytes(), path.name, "x", ZoneInfo("UTC")).activities[0]
    for strava in serve(FakeStrava()):
        strava.add(
            make_activity(
                4242,
                run.start_utc,
                moving_s=int(run.elapsed_s) - 60,
                distance_m=run.distance_m or 0.0,
                name="Sunday long run",
            )
        )
        base = strava_config(tmp_path, strava).model_dump(mode="json", exclude={"source_path"})
        base["sources"]["garmin"] = {"enabled": True}
        config = Config.model_validate(base)
        strava_connect(config, strava)
        db = connect(config, fake)
        add_demo(fake, [path])
        report = pipeline.sync(config, db, now=NOW)
        assert report.exit_status is ExitStatus.OK, report.errors
        athlete = pipeline.athlete_id(db, config, NOW)
        inbox = tmp_path / "inbox"
        inbox.mkdir()
        shutil.copy(path, inbox / path.name)
        dropped = pipeline.import_paths(db, athlete, config, [inbox / path.name], NOW)
        assert dropped.duplicates == 1 and dropped.created == 0  # the very file Garmin delivered
        [(source, _, start, sources)] = activity_rows(db, config)
        assert sources == ["garmin", "strava"]
        assert source == "garmin" and start == run.start_utc  # the watch's own file is kept
