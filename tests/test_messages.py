"""Each command says what it did and what it did not: labels, deletions, files still arriving."""

from __future__ import annotations

import json
import os
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from runstrong_sync import labelling, pipeline
from runstrong_sync.config import Config
from runstrong_sync.core.domain import Activity
from runstrong_sync.errors import ExitStatus
from runstrong_sync.sources import Imported
from runstrong_sync.storage import repo
from runstrong_sync.storage.db import open_database
from runstrong_sync.storage.models import ActivityRow
from tests.support import FIT, run_main

RUN = FIT / "running" / "activity-small-fenix2-run.fit"
SWIM = FIT / "other_sports" / "swim.fit"


def _activities() -> list[dict[str, object]]:
    result = run_main("activities", "--json")
    assert result.returncode == 0, result.stderr
    items: list[dict[str, object]] = json.loads(result.stdout)
    return items


def test_label_refuses_a_swim_and_says_when_the_feed_changes(env: Path) -> None:
    assert run_main("import", str(SWIM), str(RUN)).returncode == 0
    by_sport = {str(a["sport"]): a for a in _activities()}
    swim, run = by_sport["swim"], by_sport["run"]
    refused = run_main("label", str(swim["id"]), "long")
    assert refused.returncode == ExitStatus.USAGE
    assert "is a swim, not a run" in refused.stderr and "Nothing was changed" in refused.stderr
    assert {str(a["sport"]): a for a in _activities()}["swim"]["label"] == "other"
    done = run_main("label", str(run["id"]), "long")
    assert done.returncode == 0, done.stderr
    assert f"activity {run['id']}: long (set by you" in done.stdout
    assert "feed changes at the next `runstrong-sync sync`" in done.stdout


def test_label_does_not_reach_an_activity_hidden_after_a_deauthorization(env: Path) -> None:
    assert run_main("import", str(RUN)).returncode == 0
    (run,) = _activities()
    db = open_database(f"sqlite:///{env / 'runstrong.sqlite'}")
    with db.transaction() as session:
        row = session.get(ActivityRow, int(str(run["id"])))
        assert row is not None
        row.tombstoned_at = datetime.now(UTC)
    db.dispose()
    hidden = run_main("label", str(run["id"]), "hard")
    assert hidden.returncode == ExitStatus.USAGE
    assert f"No activity with id {run['id']}" in hidden.stderr
    assert _activities() == []


def test_a_deleted_activity_stays_deleted_until_imported_by_name(env: Path, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(RUN, inbox)
    config = tmp_path / "config.toml"
    config.write_text(
        config.read_text(encoding="utf-8")
        + f'[sources.fit]\ninbox = "{inbox}"\nafter_import = "leave"\nsettle_seconds = 0\n',
        encoding="utf-8",
    )
    assert run_main("sync").returncode == 0
    (item,) = _activities()
    help_text = run_main("activities", "delete", "--help").stdout
    assert "does not bring it back" in help_text and "import" in help_text
    deleted = run_main("activities", "delete", str(item["id"]), "--yes")
    assert deleted.returncode == 0, deleted.stderr
    assert (
        f"deleted activity {item['id']}" in deleted.stdout
        and "next sync will not bring it back" in deleted.stdout
    )
    again = run_main("-v", "sync")  # the file is still in the inbox
    assert again.returncode == 0, again.stderr
    assert _activities() == []
    assert "0 new" in again.stdout
    back = run_main("import", str(inbox / RUN.name))
    assert back.returncode == 0 and "1 new" in back.stdout, back.stdout + back.stderr
    assert len(_activities()) == 1


def test_files_still_arriving_are_reported_by_sync_and_import(env: Path, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(RUN, inbox / "settled.fit")
    old = time.time() - 3600
    os.utime(inbox / "settled.fit", (old, old))
    shutil.copy(SWIM, inbox / "arriving.fit")  # just written
    config = tmp_path / "config.toml"
    config.write_text(
        config.read_text(encoding="utf-8") + f'[sources.fit]\ninbox = "{inbox}"\nsettle_seconds = 600\n',
        encoding="utf-8",
    )
    quiet = run_main("sync")
    assert quiet.returncode == 0 and quiet.stdout == "" and quiet.stderr == ""  # cron stays quiet
    verbose = run_main("-v", "sync")
    assert verbose.returncode == 0
    assert "waiting: " in verbose.stderr and "arriving.fit" in verbose.stderr
    assert "the next sync imports it" in verbose.stderr and "settle_seconds = 600" in verbose.stderr
    imported = run_main("import", str(FIT / "running" / "run_with_coordinates.fit"))
    assert imported.returncode == 0
    assert "arriving.fit" in imported.stderr and "imports it once complete" in imported.stderr


def test_warnings_are_printed_once_and_verbose_output_has_no_python_dicts(env: Path, tmp_path: Path) -> None:
    bad = tmp_path / "broken.fit"
    bad.write_text("not a FIT file\n", encoding="utf-8")
    result = run_main("-v", "import", str(bad), str(RUN))
    assert result.returncode == ExitStatus.REJECTED_INPUT
    output = result.stdout + result.stderr
    assert output.count("not a FIT file") <= 1 and output.count("broken.fit:") == 1, output
    synced = run_main("-v", "sync")
    assert "{" not in synced.stdout + synced.stderr, synced.stdout + synced.stderr
    assert "plan: " in synced.stdout and " added" in synced.stdout


def _tempo(minutes: float) -> Activity:
    start = datetime(2026, 6, 2, 17, 0, tzinfo=UTC)  # months before "now": outside the relabel window
    return Activity(
        source="fit",
        source_ref="/inbox/tempo.fit",
        external_id="garmin-3900000000-1780419600",  # the same FIT file id in both exports
        sport="run",
        start_utc=start,
        utc_offset_s=7200,
        elapsed_s=minutes * 60,
        moving_s=minutes * 60,
        distance_m=minutes * 60 * 3.2,
        workout_type=3 if minutes < 90 else None,  # the tempo run was tagged a workout
    )


def test_an_updated_activity_gets_a_fresh_label_however_old(tmp_path: Path) -> None:
    config = Config.model_validate({"data_dir": str(tmp_path), "athlete": {"time_zone": "Europe/Berlin"}})
    db = open_database(config.database_url)
    now = datetime(2026, 11, 25, 3, 30, tzinfo=UTC)
    athlete = pipeline.athlete_id(db, config, now)
    first = pipeline.ingest(db, athlete, "fit", [Imported(_tempo(50))], now)
    labelling.relabel(db, athlete, config, now)
    with db.transaction() as session:
        (before,) = repo.labelled_activities(session, athlete)
    assert first.created == 1 and before.classification.label.value == "hard"
    later = now + timedelta(days=1)
    second = pipeline.ingest(db, athlete, "fit", [Imported(_tempo(100))], later)  # the re-export
    assert second.updated == 1
    assert labelling.relabel(db, athlete, config, later) == 1  # not only the last 56 days
    with db.transaction() as session:
        (after,) = repo.labelled_activities(session, athlete)
    db.dispose()
    assert after.id == before.id and after.classification.label.value == "long"
    assert any("100 min" in r.text or "90 min" in r.text for r in after.classification.reasons)


def test_shell_completion_as_the_readme_sets_it_up(env: Path) -> None:
    source = run_main(env={"_RUNSTRONG_SYNC_COMPLETE": "bash_source"})
    assert source.returncode == 0 and "complete " in source.stdout and "runstrong-sync" in source.stdout
    words = run_main(
        env={
            "_RUNSTRONG_SYNC_COMPLETE": "bash_complete",
            "COMP_WORDS": "runstrong-sync acti",
            "COMP_CWORD": "1",
        }
    )
    assert "activities" in words.stdout
    version = run_main("--version")
    assert version.returncode == 0 and version.stdout.startswith("runstrong-sync, version ")


def test_status_never_contradicts_itself_about_strava(env: Path, tmp_path: Path) -> None:
    assert run_main("sync", "--source", "strava").returncode == ExitStatus.REAUTHORIZE  # Strava is off
    off = run_main("status").stdout
    assert "Strava: not used" in off and "re-authorization" not in off, off
    config = tmp_path / "config.toml"
    config.write_text(
        config.read_text(encoding="utf-8") + '[sources.strava]\nenabled = true\nclient_id = "1"\n',
        encoding="utf-8",
    )
    assert run_main("sync", env={"RUNSTRONG_STRAVA_CLIENT_SECRET": "x"}).returncode == ExitStatus.REAUTHORIZE
    never = run_main("status").stdout
    assert "Strava: not connected yet" in never and "Strava is not connected yet" in never
    assert "re-authorization" not in never and "again" not in never, never


def test_verbose_works_before_and_after_the_command(env: Path, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    config = tmp_path / "config.toml"
    config.write_text(
        config.read_text(encoding="utf-8") + f'[sources.fit]\ninbox = "{inbox}"\nsettle_seconds = 0\n',
        encoding="utf-8",
    )
    before = run_main("-v", "sync")
    after = run_main("sync", "-v")
    assert before.returncode == after.returncode == 0, after.stderr
    assert "labels changed" in before.stdout + before.stderr
    assert "labels changed" in after.stdout + after.stderr
