"""One error type for everything a user can fix, and the exit statuses the CLI documents.

    RunstrongError(message, problems=[...], exit_status=...)
      raised anywhere; the CLI's single handler prints the message and each problem, and exits
      with ``exit_status``. Tracebacks only with ``-v``.

Problems name where: the file, the record, the field, and what to do.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable


class ExitStatus(enum.IntEnum):
    OK = 0
    FAILED = 1  # an unexpected error; a bug report is welcome
    USAGE = 2  # wrong command-line usage (click's own status)
    CONFIG = 3  # the configuration file or a RUNSTRONG_* variable is wrong
    REJECTED_INPUT = 4  # the run completed, but some input files were set aside
    REAUTHORIZE = 5  # Strava needs the user to authorize again
    RATE_LIMITED = 6  # Strava's rate limit was reached; the next run resumes
    LOCKED = 7  # another run holds the lock
    DATABASE = 8  # the database cannot be opened or written


class RunstrongError(Exception):
    """A problem the user can act on."""

    exit_status: ExitStatus = ExitStatus.FAILED

    def __init__(
        self,
        message: str,
        problems: Iterable[str] = (),
        *,
        exit_status: ExitStatus | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.problems = list(problems)
        if exit_status is not None:
            self.exit_status = exit_status

    def __str__(self) -> str:
        if not self.problems:
            return self.message
        return self.message + "\n" + "\n".join(f"  - {p}" for p in self.problems)


class ConfigError(RunstrongError):
    exit_status = ExitStatus.CONFIG


class DatabaseError(RunstrongError):
    exit_status = ExitStatus.DATABASE


class InputRejectedError(RunstrongError):
    """An input (a file, an archive entry, a payload) that cannot be imported, with the reason."""

    exit_status = ExitStatus.REJECTED_INPUT
