"""Cron safety, `status` and `athletes`, through the real command as cron and people run it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from icalendar import Calendar

from runstrong_sync.errors import ExitStatus
from tests.support import FIT, run_main


@pytest.fixture
def inbox(env: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "inbox"
    folder.mkdir()
    shutil.copy(FIT / "running/run_with_coordinates.fit", folder)
    (tmp_path / "config.toml").write_text(
        f'[athlete]\ntime_zone = "Europe/Berlin"\n[sources.fit]\ninbox = "{folder}"\nsettle_seconds = 0\n',
        encoding="utf-8",
    )
    return folder


def test_sync_is_quiet_on_success_and_says_what_happened_with_v(inbox: Path) -> None:
    quiet = run_main("--today", "2026-11-25", "sync")
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout == "" and quiet.stderr == ""
    shutil.copy(FIT / "running/activity-small-fenix2-run.fit", inbox)
    loud = run_main("--today", "2026-11-25", "-v", "sync")
    assert loud.returncode == 0
    assert "fit: 1 new" in loud.stdout


def test_second_sync_while_one_runs_exits_at_once_with_its_own_status(inbox: Path, env: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from runstrong_sync import lock\n"
            f"with lock.hold(Path({str(env / 'sync.lock')!r})):\n"
            "    print('held', flush=True); sys.stdin.readline()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        blocked = run_main("sync")
        assert blocked.returncode == ExitStatus.LOCKED
        assert f"Another sync is still running (process {holder.pid})" in blocked.stderr
        assert "Traceback" not in blocked.stderr
        assert (inbox / "run_with_coordinates.fit").exists()  # it changed nothing
    finally:
        holder.communicate("\n", timeout=30)
    assert run_main("sync").returncode == 0  # released by the holder's exit


def test_lock_of_a_killed_run_does_not_block_the_next(inbox: Path, env: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time; from pathlib import Path; from runstrong_sync import lock\n"
            f"with lock.hold(Path({str(env / 'sync.lock')!r})):\n"
            "    print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    holder.kill()
    holder.communicate(timeout=30)
    assert run_main("sync").returncode == 0


@pytest.mark.slow
def test_athletes_each_get_their_own_feed_and_nothing_of_the_others(db_env: Path, tmp_path: Path) -> None:
    coach_inbox = tmp_path / "coach-inbox"
    anna_inbox = tmp_path / "anna-inbox"
    coach_inbox.mkdir()
    anna_inbox.mkdir()
    shutil.copy(FIT / "running/run_with_coordinates.fit", coach_inbox)
    shutil.copy(FIT / "running/2019-09-14-17-22-05.fit", anna_inbox)
    (tmp_path / "config.toml").write_text(
        f'[athlete]\ntime_zone = "Europe/Berlin"\nmax_hr = 190\n[sources.fit]\ninbox = "{coach_inbox}"\n'
        "settle_seconds = 0\n",
        encoding="utf-8",
    )
    settings = tmp_path / "anna.toml"
    settings.write_text(
        f'[athlete]\nmax_hr = 201\n[sources.fit]\ninbox = "{anna_inbox}"\nsettle_seconds = 0\n',
        encoding="utf-8",
    )
    added = run_main("athletes", "add", "anna", "--name", "Anna", "--settings", str(settings))
    assert added.returncode == 0, added.stderr
    assert "/feed/" in added.stdout and "feeds/anna.ics" in added.stdout
    duplicate = run_main("athletes", "add", "anna")
    assert duplicate.returncode == ExitStatus.CONFIG and "exists already" in duplicate.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text("[planner]\nmax_sessions = 9\n", encoding="utf-8")
    refused = run_main("athletes", "add", "bert", "--settings", str(bad))
    assert refused.returncode == ExitStatus.CONFIG and "planner.max_sessions" in refused.stderr

    synced = run_main("--today", "2026-11-25", "sync")
    assert synced.returncode == 0, synced.stderr

    listing = json.loads(run_main("athletes", "list", "--json").stdout)
    assert {a["key"]: a["activities"] for a in listing} == {"anna": 1, "default": 1}
    tokens = {a["key"]: a["feed_url"] for a in listing}
    assert tokens["anna"] != tokens["default"]

    anna = json.loads(run_main("--athlete", "anna", "activities", "--json").stdout)
    coach = json.loads(run_main("activities", "--json").stdout)
    assert [a["source_ref"] for a in anna] == [str(anna_inbox / "2019-09-14-17-22-05.fit")]
    assert [a["source_ref"] for a in coach] == [str(coach_inbox / "run_with_coordinates.fit")]
    zones = run_main("--athlete", "anna", "zones", "--json")
    assert zones.returncode == 0 and "201" in zones.stdout  # her own max HR, not the coach's 190

    feeds = {a["key"]: Path(a["feed_path"]) for a in listing}
    uids = {
        key: {str(e["uid"]) for e in Calendar.from_ical(path.read_bytes()).walk("VEVENT")}
        for key, path in feeds.items()
    }
    assert uids["anna"] and uids["default"] and not uids["anna"] & uids["default"]

    only_anna = run_main("--athlete", "anna", "--today", "2026-11-26", "sync")
    assert only_anna.returncode == 0
    status = json.loads(run_main("status", "--json").stdout)
    by_key = {a["key"]: a for a in status["athletes"]}
    assert by_key["anna"]["feed_url"] == tokens["anna"]
    assert {r["source"]: r["outcome"] for r in by_key["anna"]["sources"]} == {"fit": "ok", "pipeline": "ok"}
    assert by_key["default"]["files_waiting"] == 0
    assert status["database"].split(":")[0] in ("sqlite", "postgresql+psycopg")

    missing = run_main("--athlete", "nobody", "activities")
    assert missing.returncode == ExitStatus.CONFIG and "athletes add" in missing.stderr
    removed = run_main("athletes", "remove", "anna", "--yes")
    assert removed.returncode == 0 and "1 activities" in removed.stdout
    assert [a["key"] for a in json.loads(run_main("athletes", "list", "--json").stdout)] == ["default"]


def test_status_reports_waiting_and_rejected_files(inbox: Path) -> None:
    (inbox / "broken.fit").write_text("not a FIT file", encoding="utf-8")
    synced = run_main("--today", "2026-11-25", "sync")
    assert synced.returncode == ExitStatus.REJECTED_INPUT
    shutil.copy(FIT / "running/activity-small-fenix2-run.fit", inbox)
    text = run_main("status")
    assert text.returncode == 0, text.stderr
    assert "files waiting: 1" in text.stdout
    assert "rejected: 1 recorded, 1 in the rejected folder" in text.stdout
    item = json.loads(run_main("status", "--json").stdout)["athletes"][0]
    assert item["files_waiting"] == 1 and item["rejected"] == {"recorded": 1, "in_folder": 1}
    assert {r["source"]: r["outcome"] for r in item["sources"]} == {"fit": "rejected", "pipeline": "ok"}


def test_a_squad_is_one_line_per_athlete_in_status_and_athletes_list(inbox: Path, env: Path) -> None:
    from runstrong_sync.cli.ops import SQUAD_AT

    synced = run_main("--today", "2026-11-25", "sync")
    assert synced.returncode == 0, synced.stderr
    keys = [f"runner{n:02d}" for n in range(SQUAD_AT)]
    for key in keys:
        assert run_main("athletes", "add", key, "--name", f"Runner {key[-2:]}").returncode == 0
    text = run_main("status")
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert f"{SQUAD_AT + 1} athletes:" in lines
    rows = {line.split()[0]: line for line in lines if line.split() and line.split()[0] in {"default", *keys}}
    assert set(rows) == {"default", *keys}  # each athlete once, on one line
    assert "ok" in rows["default"].split() and "no sync yet" in rows["runner00"]
    assert "Europe/Berlin" in rows["default"] and "--athlete KEY status" in text.stdout
    listing = run_main("athletes", "list")
    assert listing.returncode == 0, listing.stderr
    shown = {line.split()[0]: line for line in listing.stdout.splitlines()[2:]}
    urls = {a["key"]: a["feed_url"] for a in json.loads(run_main("athletes", "list", "--json").stdout)}
    assert set(shown) == set(urls) and all(urls[k] in shown[k] for k in urls)  # whole URLs, never cut
