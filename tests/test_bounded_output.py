"""`activities` shows a window in the terminal and everything in JSON; the window is chosen in SQL."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.support import FIXTURES, run_cli

DEMO = FIXTURES / "demo"


def _import_demo(tmp_path: Path) -> int:
    folder = tmp_path / "files"
    shutil.copytree(DEMO, folder)
    result = run_cli("--today", "2026-11-23", "import", str(folder))
    assert result.exit_code in (0, 4), result.output
    return len(json.loads(run_cli("--today", "2026-11-23", "activities", "--json").output))


def _ids(*args: str) -> list[int]:
    return [item["id"] for item in json.loads(run_cli("--today", "2026-11-23", "activities", *args).output)]


def test_terminal_shows_the_last_eight_weeks_json_everything(env: Path, tmp_path: Path) -> None:
    total = _import_demo(tmp_path)
    assert total >= 20
    everything = _ids("--json")
    # The demo's six weeks end in late November; 2026-12-31 as today puts part of them out of reach.
    terminal = run_cli("--today", "2026-12-31", "activities")
    shown = sum(1 for line in terminal.output.splitlines() if line.startswith("│") and "2026-" in line)
    json_late = json.loads(run_cli("--today", "2026-12-31", "activities", "--json").output)
    assert len(json_late) == len(everything) == total
    assert 0 < shown < total
    starts = [item["start"][:10] for item in json_late]
    assert shown == sum(1 for day in starts if day >= "2026-11-05")
    assert "--all" in terminal.output  # the note says how to see more
    everything_shown = run_cli("--today", "2026-12-31", "activities", "--all").output
    assert (
        sum(1 for line in everything_shown.splitlines() if line.startswith("│") and "2026-" in line) == total
    )


def test_since_and_limit(env: Path, tmp_path: Path) -> None:
    _import_demo(tmp_path)
    items = json.loads(run_cli("--today", "2026-11-23", "activities", "--json").output)
    newest_three = [item["id"] for item in items[-3:]]
    assert _ids("--json", "--limit", "3") == newest_three
    day = items[10]["start"][:10]
    since = _ids("--json", "--since", day)
    assert since == [item["id"] for item in items if item["start"][:10] >= day]
    assert _ids("--json", "--since", day, "--limit", "2") == since[-2:]


def test_effective_configs_equal_each_athletes_own(tmp_path: Path) -> None:
    from runstrong_sync import athletes
    from runstrong_sync.config import Config
    from runstrong_sync.storage.models import Athlete

    config = Config.model_validate({"data_dir": str(tmp_path), "athlete": {"time_zone": "Europe/Berlin"}})
    rows = [
        Athlete(key="default", name="Coach", settings_json={}),
        Athlete(key="anna", name="Anna", settings_json={}),
        Athlete(key="ben", name="Ben", settings_json={}),
        Athlete(key="cleo", name="Cleo", settings_json={"athlete": {"max_hr": 190}}),
        Athlete(key="dan", name="Dan", settings_json={"athlete": {"max_hr": 190}}),
        Athlete(key="eve", name="Eve", settings_json={"feed": {"path": str(tmp_path / "eve.ics")}}),
    ]
    shared = athletes.effective_configs(config, rows)
    for row in rows:
        own = athletes.effective_config(config, row.key, row.name, row.settings_json)
        assert shared[row.key] == own, row.key
