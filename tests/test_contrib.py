"""The systemd units shipped in contrib/ are valid and agree with the documented exit statuses."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from runstrong_sync.errors import ExitStatus
from tests.support import ROOT

CONTRIB = ROOT / "contrib"
UNITS = ("runstrong-sync.service", "runstrong-sync-sync.service", "runstrong-sync-sync.timer")


def _value(unit: str, key: str) -> str:
    for line in (CONTRIB / unit).read_text(encoding="utf-8").splitlines():
        if line.startswith(f"{key}="):
            return line.split("=", 1)[1]
    raise AssertionError(f"{key} missing in {unit}")


def test_units_use_the_documented_statuses_and_commands() -> None:
    assert _value("runstrong-sync.service", "ExecStart").endswith("runstrong-sync daemon")
    assert _value("runstrong-sync-sync.service", "ExecStart").endswith("runstrong-sync sync")
    prevent = {int(s) for s in _value("runstrong-sync.service", "RestartPreventExitStatus").split()}
    assert prevent == {ExitStatus.CONFIG, ExitStatus.LOCKED}
    success = {int(s) for s in _value("runstrong-sync-sync.service", "SuccessExitStatus").split()}
    assert success == {ExitStatus.REJECTED_INPUT, ExitStatus.RATE_LIMITED}
    assert _value("runstrong-sync-sync.timer", "Persistent") == "true"


def test_units_pass_systemd_analyze(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    command = str(Path(sys.executable).with_name("runstrong-sync"))
    for unit in UNITS:
        text = (CONTRIB / unit).read_text(encoding="utf-8")
        (tmp_path / unit).write_text(text.replace("%h/.venv/runstrong-sync/bin/runstrong-sync", command))
    result = subprocess.run(
        [analyze, "verify", "--man=no", *(str(tmp_path / u) for u in UNITS)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
