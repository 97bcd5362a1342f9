"""Garmin Connect through the garminconnect library: sign-in once, then stored tokens only.

The library (MIT, https://github.com/cyberjunky/python-garminconnect) signs in through Garmin's
SSO, exchanges the service ticket for OAuth2 ("DI") tokens and refreshes them itself when they are
about to expire. We keep exactly what ``Client.dumps()`` gives (access token, refresh token, client
id: never the password) in the ``state`` table under ``garmin.tokens``, and save it back whenever
the library has refreshed it.

Garmin rate-limits sign-ins hard, so only `runstrong-sync garmin auth` ever signs in; a sync that
finds its tokens refused stops with "run `runstrong-sync garmin auth`" (exit status 5).

Garmin Connect's API is unofficial: a response we do not understand is an error with a clear
message, never a guess written to the database.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime
from types import ModuleType
from typing import Any, TypeVar

from runstrong_sync.errors import ConfigError, ExitStatus, RunstrongError

SOURCE = "garmin"
TOKENS_KEY = "garmin.tokens"
REAUTHORIZE_HINT = "Run `runstrong-sync garmin auth` to sign in to Garmin Connect again."
INSTALL_HINT = "Install Garmin Connect support: pip install 'runstrong-sync[garmin]'."
_STATUS = re.compile(r"(?:API Error|status[= ]|\()\s*(\d{3})\b")

T = TypeVar("T")

# The library logs every failed call with a traceback; our errors say what happened instead.
logging.getLogger("garminconnect").setLevel(logging.CRITICAL)


class GarminAccessError(RunstrongError):
    """Garmin refuses our tokens (or there are none): the runner has to sign in again."""

    exit_status = ExitStatus.REAUTHORIZE


class GarminRateLimitedError(RunstrongError):
    exit_status = ExitStatus.RATE_LIMITED


class GarminUnavailableError(RunstrongError):
    """Garmin answered with an error, or something we do not understand."""


class GarminNotFoundError(RunstrongError):
    pass


def library() -> ModuleType:
    try:
        import garminconnect
    except ImportError as exc:
        raise ConfigError("Garmin Connect support is not installed.", [INSTALL_HINT]) from exc
    module: ModuleType = garminconnect
    return module


def status_of(error: BaseException) -> int | None:
    """The HTTP status the library wrote into its message ("API Error 401 - ...")."""
    response = getattr(error, "response", None)
    status = getattr(response, "status_code", None)
    if isinstance(status, int):
        return status
    match = _STATUS.search(str(error))
    return int(match.group(1)) if match else None


def translate(error: Exception, what: str) -> RunstrongError:
    """One of our errors for anything the library raised while doing ``what``."""
    gc = library()
    status = status_of(error)
    if isinstance(error, gc.GarminConnectTooManyRequestsError) or status == 429:
        return GarminRateLimitedError(
            f"Garmin Connect is rate-limiting requests ({what}).",
            ["Nothing was lost; the next sync goes on from here. Wait an hour or more before trying again."],
        )
    if isinstance(error, gc.GarminConnectAuthenticationError) or status in (401, 403):
        return GarminAccessError(
            f"Garmin Connect no longer accepts runstrong-sync's sign-in ({what}).", [REAUTHORIZE_HINT]
        )
    if status == 404:
        return GarminNotFoundError(f"Garmin Connect has no such thing ({what}).")
    detail = str(error).strip() or type(error).__name__
    return GarminUnavailableError(
        f"Garmin Connect could not be reached or answered with an error ({what}): {detail[:300]}",
        [
            "Try again later. Garmin Connect's API is unofficial and can change; if this keeps "
            "happening, a newer garminconnect release may be needed (pip install -U garminconnect)."
        ],
    )


class GarminLink:
    """The library's ``Garmin`` object loaded from stored tokens; tokens saved back when refreshed."""

    def __init__(
        self,
        load_state: Callable[[str], dict[str, Any] | None],
        save_state: Callable[[str, dict[str, Any]], None],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        gc = library()
        self.save_state = save_state
        self.clock = clock
        self.stored = load_state(TOKENS_KEY) or {}
        tokens = self.stored.get("tokens")
        if not isinstance(tokens, str) or not tokens:
            raise GarminAccessError("Garmin Connect is not connected.", [REAUTHORIZE_HINT])
        self.api: Any = gc.Garmin()
        try:
            self.api.client.loads(tokens)
        except Exception as exc:
            raise GarminAccessError(
                "The stored Garmin Connect tokens cannot be read.", [REAUTHORIZE_HINT]
            ) from exc
        self.tokens = tokens
        self.calls = 0
        self.refreshes = 0

    def call(self, what: str, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """One API call (the library refreshes an expiring token first, once)."""
        self.calls += 1
        try:
            return function(*args, **kwargs)
        except RunstrongError:
            raise
        except Exception as exc:
            raise translate(exc, what) from exc
        finally:
            self.keep_tokens()

    def keep_tokens(self) -> None:
        current = self.api.client.dumps()
        if current != self.tokens:
            self.refreshes += 1
            self.tokens = current
            self.stored = {**self.stored, "tokens": current, "refreshed_at": self.clock().isoformat()}
            self.save_state(TOKENS_KEY, self.stored)

    def get(self, path: str, what: str, **params: Any) -> Any:
        return self.call(what, self.api.connectapi, path, params=params)


def sign_in(email: str, password: str, prompt_mfa: Callable[[], str]) -> tuple[str, dict[str, Any]]:
    """Sign in once (MFA code asked through ``prompt_mfa`` when the account has it).

    Returns the library's token string and who signed in; the password is not kept anywhere.
    """
    gc = library()
    api: Any = gc.Garmin(email, password, prompt_mfa=prompt_mfa)
    try:
        api.login()
    except gc.GarminConnectAuthenticationError as exc:
        raise RunstrongError(
            "Garmin Connect refused the sign-in: wrong email, password or MFA code.",
            ["Check them (sign in at https://connect.garmin.com once if unsure) and run the command again."],
        ) from exc
    except Exception as exc:
        if not (isinstance(exc, gc.GarminConnectTooManyRequestsError) or "429" in str(exc)):
            raise translate(exc, "signing in") from exc
        raise GarminRateLimitedError(
            "Garmin is refusing sign-ins from this address for now (429).",
            [
                "Wait a few hours before running `runstrong-sync garmin auth` again; every attempt "
                "extends the block. Nothing was stored."
            ],
        ) from exc
    who = {"display_name": api.display_name, "full_name": api.full_name}
    return str(api.client.dumps()), who
