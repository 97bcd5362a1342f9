"""Every problem a user can act on, in one tree, and the exit statuses the CLI documents.

    RunstrongError(message, problems=[...], exit_status=...)
     |  raised anywhere; the CLI's single handler prints the message and each problem, and exits
     |  with ``exit_status``. Tracebacks only with ``-v``.
     +-- ConfigError                the configuration file or a RUNSTRONG_* variable is wrong (3)
     +-- DatabaseError              the database cannot be opened or written (8)
     +-- LockedError                another run holds the lock (7)
     +-- StopRequestedError         SIGTERM/SIGINT: what was committed stays, the rest waits (1)
     +-- UpcomingRunsError          the training plan's calendar cannot be read (1)
     +-- SourceError                a connector's service refuses or fails (1)
     |    +-- SourceAccessError         the user must act: authorize again, reactivate the app (5)
     |    +-- SourceRateLimitedError    the request budget is spent; the next run resumes (6)
     |    +-- SourceUnavailableError    the service kept failing after the retries (1)
     +-- InputError                 one input cannot be imported; the message is the reason,
          |                         stored beside the file set aside; the run goes on (4 at the end)
          +-- FitReadError              the bytes are not a readable activity file (FIT, GPX, TCX)
          +-- ArchiveRejectedError      a zip refused as a whole (unreadable, too large, a bomb)

Connectors subclass the Source* errors (``StravaAccessError(SourceAccessError)``) so that the
pipeline and the CLI handle every connector's failures alike. Problems name where: the file, the
record, the field, and what to do.
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


class LockedError(RunstrongError):
    exit_status = ExitStatus.LOCKED


class StopRequestedError(RunstrongError):
    """A stop was asked for (SIGTERM, SIGINT); what was committed stays, the rest waits for next time."""


class UpcomingRunsError(RunstrongError):
    """The training plan's calendar cannot be read; the planner falls back to the last good copy."""


class SourceError(RunstrongError):
    """A connector's service refuses or fails; the connector's subclass says which service."""


class SourceAccessError(SourceError):
    """The service refuses access until the user acts (authorize again, reactivate the app)."""

    exit_status = ExitStatus.REAUTHORIZE


class SourceRateLimitedError(SourceError):
    """The request budget is spent for now; the place is saved and the next run resumes."""

    exit_status = ExitStatus.RATE_LIMITED


class SourceUnavailableError(SourceError):
    """The service kept failing (5xx, timeouts) after the retries."""


class InputError(RunstrongError):
    """One input (a file, an archive entry) cannot be imported; the message says why, for a person."""

    exit_status = ExitStatus.REJECTED_INPUT


class FitReadError(InputError):
    """The bytes are not a readable activity file (FIT, GPX or TCX); the message says why."""


class ArchiveRejectedError(InputError):
    """The whole archive is refused (unreadable, too large, too many entries)."""
