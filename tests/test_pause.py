"""`pause` and `resume`: a runner who says they are not running gets maintenance, then a return."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.support import run_cli

TODAY = "2026-11-23"
DEMO = Path(__file__).resolve().parents[1] / "fixtures" / "demo"


def _import_demo(tmp_path: Path) -> None:
    staged = tmp_path / "files"
    staged.mkdir()
    for path in sorted(DEMO.glob("*.fit")):
        shutil.copy(path, staged / path.name)
    assert run_cli("--today", TODAY, "import", str(staged)).exit_code == 0


def _plan(day: str) -> list[dict[str, object]]:
    result = run_cli("--today", day, "plan", "--json", "--days", "28")
    assert result.exit_code == 0, result.output
    data: list[dict[str, object]] = json.loads(result.stdout)
    return data


def test_pause_until_a_date_then_the_usual_week(env: Path, tmp_path: Path) -> None:
    _import_demo(tmp_path)
    usual = _plan(TODAY)
    assert usual
    paused = run_cli("--today", TODAY, "pause", "--until", "2026-12-06")
    assert paused.exit_code == 0 and "Paused from 2026-11-23 until 2026-12-06" in paused.output
    during = _plan(TODAY)
    for session in during:
        day = str(session["start"])[:10]
        if day <= "2026-12-06":
            assert "Short session (paused)" in str(session["why"])
            groups = {e["group"] for e in session["exercises"]}  # type: ignore[attr-defined]
            assert "plyometrics" not in groups
    paused_days = [str(s["start"])[:10] for s in during if str(s["start"])[:10] <= "2026-12-06"]
    assert len([d for d in paused_days if d < "2026-11-30"]) <= 1
    assert len([d for d in paused_days if "2026-11-30" <= d <= "2026-12-06"]) <= 1
    # After the pause: a short return block.
    back = [s for s in _plan("2026-12-07") if "2026-12-07" <= str(s["start"])[:10] <= "2026-12-20"]
    assert back and all("back from a pause" in str(s["why"]) for s in back)
    assert run_cli("--today", TODAY, "sync").exit_code == 0
    assert run_cli("--today", "2026-11-25", "resume").exit_code == 0
    resumed = _plan("2026-11-25")
    assert not any("(paused)" in str(s["why"]) for s in resumed if str(s["start"])[:10] >= "2026-11-25")


def test_pause_refuses_a_date_in_the_past(env: Path) -> None:
    result = run_cli("--today", TODAY, "pause", "--until", "2026-11-01")
    assert result.exit_code == 2
    assert "before today" in result.output
