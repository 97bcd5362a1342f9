"""Moving input files: into the archive after import, or aside into rejected/ with the reason.

Nothing is deleted and nothing is overwritten: a name already taken gets a number.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

REASON_SUFFIX = ".reason.txt"


def display(path: Path | str) -> str:
    """A path as text that can be printed and stored, even when its name is not valid UTF-8."""
    return os.fsencode(str(path)).decode("utf-8", errors="replace")


def set_aside(path: Path, reason: str, rejected_dir: Path) -> Path:
    """Move ``path`` into ``rejected_dir`` with a .reason.txt beside it; never overwrite, never delete."""
    rejected_dir.mkdir(parents=True, exist_ok=True)
    target = free_name(rejected_dir / path.name)
    shutil.move(str(path), target)
    reason_file = target.with_name(target.name + REASON_SUFFIX)
    shown = display(path)
    reason_file.write_text(f"{shown}\n{reason}\n", encoding="utf-8", errors="replace")
    return target


def move_to(path: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = free_name(folder / path.name)
    shutil.move(str(path), target)
    return target


def free_name(target: Path) -> Path:
    if not target.exists():
        return target
    stem, suffix = target.name.split(".", 1) if "." in target.name else (target.name, "")
    for n in range(1, 10_000):
        candidate = target.with_name(f"{stem}-{n}.{suffix}" if suffix else f"{stem}-{n}")
        if not candidate.exists():
            return candidate
    raise FileExistsError(target)
