"""Run the command line of another git revision beside this one, for before/after figures in one run.

    tree = source_tree("main", folder)   # the project's files at that revision
    argv, env = cli_at(tree, env)        # `python -P -m runstrong_sync` reading that tree first

Both sides run as `python -P` with the tree first on PYTHONPATH (the installed dependencies are
shared), so neither gets the current directory's copy by accident.
"""

from __future__ import annotations

import compileall
import io
import subprocess
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BEFORE = "main"


def default_before() -> str | None:
    """Where this branch left main (the code before its changes), or None outside such a clone."""
    done = subprocess.run(
        ["git", "-C", str(ROOT), "merge-base", "HEAD", DEFAULT_BEFORE],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() or None if done.returncode == 0 else None


def exists(rev: str) -> bool:
    done = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"],
        capture_output=True,
        check=False,
    )
    return done.returncode == 0


def source_tree(rev: str, into: Path) -> Path:
    """The project's committed files at ``rev`` (a commit, branch or tag), extracted into ``into``."""
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    # connectors/ is installed as runstrong_sync.connectors: found there first, the tree's own are
    # used, not those of the installed (editable) checkout.
    inside = into / "runstrong_sync" / "connectors"
    if (into / "connectors").is_dir() and not inside.exists():
        inside.symlink_to(Path("..") / "connectors", target_is_directory=True)
    compileall.compile_dir(into, quiet=1)  # as the tree in use: no first run pays for compiling
    return into


def cli_at(tree: Path, env: dict[str, str], python: str) -> tuple[list[str], dict[str, str]]:
    """The argv prefix and environment that run ``tree``'s command line."""
    return [python, "-P", "-m", "runstrong_sync"], {**env, "PYTHONPATH": str(tree)}
