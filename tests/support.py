"""What the tests share besides fixtures: paths, free ports, running the command line.

Fixtures live in conftest.py; everything a test imports comes from here (``from tests.support
import FIT, run_main``).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner, Result

from runstrong_sync.cli import cli

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
FIT = FIXTURES / "fit"
POSTGRES_URL = os.environ.get("RUNSTRONG_TEST_POSTGRES_URL") or None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_cli(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def run_main(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """The real command in its own process: exit statuses and output as cron sees them."""
    environ = dict(os.environ)
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "runstrong_sync", *args],
        capture_output=True,
        text=True,
        env=environ,
        cwd=cwd,
        timeout=300,
        check=False,
    )
