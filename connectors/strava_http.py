"""Talking to Strava through the unmodified stravalib: rerouting, timeouts, rate limits, tokens, retries.

Glossary:
    origin       ``https://www.strava.com``, hard-coded in stravalib; a transport adapter mounted on it
                 sends the requests to ``sources.strava.api_base_url`` instead (a proxy, a test server).
    budget       what is left of the app's 15-minute and daily request windows, read from the
                 ``X-RateLimit-*`` / ``X-ReadRateLimit-*`` headers of every response. A run stops when
                 the reserve would be touched; it never sleeps waiting for a window to reset.
    token keeper the access/refresh token pair in the state table. A refreshed pair is committed
                 before the new access token is sent anywhere.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import requests
from requests.adapters import HTTPAdapter
from stravalib import Client, exc

from runstrong_sync.errors import (
    RunstrongError,
    SourceAccessError,
    SourceRateLimitedError,
    SourceUnavailableError,
)

log = logging.getLogger(__name__)

STRAVA_ORIGIN = "https://www.strava.com"
TOKENS_KEY = "strava.tokens"
RATE_KEY = "strava.rate"
REFRESH_MARGIN = timedelta(minutes=15)  # refresh this long before the access token expires
DEFAULT_TIMEOUT = (5.0, 30.0)  # connect, read (seconds); stravalib sets none
RETRIES = 3  # for 5xx answers and network failures
BACKOFF_S = 2.0  # doubled on each retry
REAUTHORIZE_HINT = "Run `runstrong-sync strava auth` to connect again."

T = TypeVar("T")
Clock = Callable[[], datetime]
StateUpdate = Callable[[str, Callable[[dict[str, Any] | None], dict[str, Any] | None]], dict[str, Any] | None]


def utc_now() -> datetime:
    return datetime.now(UTC)


class StravaAccessError(SourceAccessError):
    """Strava refuses access until the user acts (authorize again, reactivate the app)."""


class StravaRevokedError(StravaAccessError):
    """Strava answered 401 to the stored tokens: the authorization is gone (revoked or replaced)."""


class StravaRateLimitedError(SourceRateLimitedError):
    """The app's request budget is spent for now; the place is saved and the next run resumes."""


class StravaUnavailableError(SourceUnavailableError):
    """Strava kept failing (5xx, timeouts) after the retries."""


class RerouteAdapter(HTTPAdapter):
    """Sends requests meant for ``https://www.strava.com`` to ``target``, with default timeouts."""

    def __init__(self, target: str, timeout: tuple[float, float] = DEFAULT_TIMEOUT) -> None:
        super().__init__()
        self.target = target.rstrip("/")
        self.timeout = timeout

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        url = request.url or ""
        if url.startswith(STRAVA_ORIGIN) and self.target != STRAVA_ORIGIN:
            request.url = self.target + url[len(STRAVA_ORIGIN) :]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().send(request, **kwargs)


def public_url(url: str, api_base_url: str) -> str:
    """A Strava URL (such as the authorization page) as the configured server serves it."""
    base = api_base_url.rstrip("/")
    if url.startswith(STRAVA_ORIGIN) and base != STRAVA_ORIGIN:
        return base + url[len(STRAVA_ORIGIN) :]
    return url


def routed_session(
    api_base_url: str,
    session: requests.Session | None = None,
    timeout: tuple[float, float] = DEFAULT_TIMEOUT,
) -> requests.Session:
    """A session whose requests to Strava's origin go to ``api_base_url``."""
    session = session or requests.Session()
    if api_base_url.rstrip("/") != STRAVA_ORIGIN:
        session.trust_env = False  # a proxy from the environment must not catch loopback traffic
    session.mount(STRAVA_ORIGIN, RerouteAdapter(api_base_url, timeout))
    return session


class _StravalibRootWarnings(logging.Filter):
    """stravalib warns on the root logger when STRAVA_CLIENT_ID is unset; we never use that variable."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.name == "root" and "stravalib" in record.pathname)


def make_client(session: requests.Session) -> Client:
    """A stravalib Client without its sleeping rate limiter and without its silent auto-refresh."""
    root = logging.getLogger()
    quiet = _StravalibRootWarnings()
    root.addFilter(quiet)
    try:
        client = Client(rate_limit_requests=False, requests_session=session)
    finally:
        root.removeFilter(quiet)
    # Auto-refresh would replace the refresh token without telling us; the token keeper refreshes.
    client.protocol.client_id = None
    client.protocol.client_secret = None
    return client


def _error_codes(error: exc.Fault) -> list[tuple[str, str]]:
    response = error.response
    if response is None:
        return []
    try:
        body = response.json()
    except ValueError:
        return []
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, dict):
        errors = [errors]
    if not isinstance(errors, list):
        return []
    return [(str(e.get("field", "")), str(e.get("code", ""))) for e in errors if isinstance(e, dict)]


def status_of(error: BaseException) -> int | None:
    response = getattr(error, "response", None)
    return response.status_code if response is not None else None


def inactive_application_error() -> StravaAccessError:
    return StravaAccessError(
        "Strava answers 403 Inactive: your Strava API application is inactive.",
        [
            "The account that owns the API application needs an active Strava subscription.",
            "Log in with that account, subscribe, then reactivate the application at "
            "https://www.strava.com/settings/api; the stored authorization stays valid.",
        ],
    )


# --- rate limits -------------------------------------------------------------------------------------


@dataclass
class Usage:
    """One header pair: limits and usage for the 15-minute and the daily window."""

    limit_15: int
    limit_day: int
    used_15: int
    used_day: int


def _pair(value: str | None) -> tuple[int, int] | None:
    if not value:
        return None
    try:
        first, second = (int(part.strip()) for part in value.split(","))
    except ValueError:
        return None
    return first, second


def _quarter(moment: datetime) -> tuple[int, int, int, int]:
    moment = moment.astimezone(UTC)
    return moment.year, moment.month, moment.day, moment.hour * 4 + moment.minute // 15


def next_quarter(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC)
    start = moment.replace(minute=moment.minute - moment.minute % 15, second=0, microsecond=0)
    return start + timedelta(minutes=15)


class RateBudget:
    """The app's request budget as the last response reported it, aged by the clock."""

    def __init__(self, reserve: int, clock: Clock, saved: Mapping[str, Any] | None = None) -> None:
        self.reserve = reserve
        self.clock = clock
        self.overall: Usage | None = None
        self.read: Usage | None = None
        self.observed_at: datetime | None = None
        self.responses_429 = 0
        if saved:
            self._restore(saved)

    def _restore(self, saved: Mapping[str, Any]) -> None:
        try:
            self.observed_at = datetime.fromisoformat(saved["observed_at"])
            self.overall = Usage(*saved["overall"]) if saved.get("overall") else None
            self.read = Usage(*saved["read"]) if saved.get("read") else None
        except (KeyError, TypeError, ValueError):
            self.overall = self.read = self.observed_at = None

    def to_state(self) -> dict[str, Any]:
        def dump(u: Usage | None) -> list[int] | None:
            return [u.limit_15, u.limit_day, u.used_15, u.used_day] if u else None

        return {
            "observed_at": self.observed_at.isoformat() if self.observed_at else None,
            "overall": dump(self.overall),
            "read": dump(self.read),
        }

    def observe(self, response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
        """A requests response hook: every answer updates the budget (429s count too)."""
        headers = response.headers
        overall = self._usage(headers, "X-RateLimit")
        read = self._usage(headers, "X-ReadRateLimit")
        if overall or read:
            self.overall = overall or self.overall
            self.read = read or self.read
            self.observed_at = self.clock()
        if response.status_code == 429:
            self.responses_429 += 1
        return response

    @staticmethod
    def _usage(headers: Mapping[str, str], prefix: str) -> Usage | None:
        limit = _pair(headers.get(f"{prefix}-Limit"))
        used = _pair(headers.get(f"{prefix}-Usage"))
        if limit is None or used is None:
            return None
        return Usage(limit[0], limit[1], used[0], used[1])

    def _current(self, usage: Usage) -> tuple[int, int]:
        """Usage now: windows that have reset since the observation count from zero."""
        now = self.clock()
        seen = self.observed_at or now
        used_15 = usage.used_15 if _quarter(seen) == _quarter(now) else 0
        used_day = usage.used_day if seen.astimezone(UTC).date() == now.astimezone(UTC).date() else 0
        return used_15, used_day

    def check(self, read: bool = True) -> None:
        """Raise before a request that would eat into the reserve of any window."""
        now = self.clock()
        for name, usage in (("read", self.read if read else None), ("overall", self.overall)):
            if usage is None:
                continue
            used_15, used_day = self._current(usage)
            if usage.limit_day - used_day <= self.reserve:
                raise self._spent(name, "daily", used_day, usage.limit_day, _next_midnight(now))
            if usage.limit_15 - used_15 <= self.reserve:
                raise self._spent(name, "15-minute", used_15, usage.limit_15, next_quarter(now))

    def _spent(
        self, name: str, window: str, used: int, limit: int, resets: datetime
    ) -> StravaRateLimitedError:
        kind = "read requests" if name == "read" else "requests"
        return StravaRateLimitedError(
            f"Strava's {window} limit is nearly used up ({used} of {limit} {kind}; "
            f"{self.reserve} kept in reserve); stopped after saving the place.",
            [
                f"The next run resumes where this one stopped; the window resets at "
                f"{resets.strftime('%Y-%m-%d %H:%M')} UTC.",
                "The limit is shared by everything that uses your Strava API application.",
            ],
        )

    def describe(self) -> str:
        parts = []
        for name, usage in (("reads", self.read), ("all requests", self.overall)):
            if usage is not None:
                used_15, used_day = self._current(usage)
                parts.append(
                    f"{name}: {used_15}/{usage.limit_15} this 15 minutes, {used_day}/{usage.limit_day} today"
                )
        return "; ".join(parts) if parts else "not known yet (no request made)"


def _next_midnight(moment: datetime) -> datetime:
    day = moment.astimezone(UTC).date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


# --- tokens ------------------------------------------------------------------------------------------


class TokenKeeper:
    """The stored token pair; refreshes ahead of expiry and commits the new pair before using it."""

    def __init__(
        self,
        client: Client,
        load_state: Callable[[str], dict[str, Any] | None],
        save_state: Callable[[str, dict[str, Any]], None],
        client_id: str | None,
        client_secret: str | None,
        clock: Clock,
        *,
        on_token_received: Callable[[], None] | None = None,
        update_state: StateUpdate | None = None,
    ) -> None:
        self.client = client
        self.update_state = update_state
        self.save_state = save_state
        self.client_id = client_id
        self.client_secret = client_secret
        self.clock = clock
        self.on_token_received = on_token_received
        self.refreshes = 0
        stored = load_state(TOKENS_KEY)
        if not stored or not stored.get("refresh_token"):
            raise StravaAccessError(
                "Strava is not connected yet." if not stored else "Strava access was removed.",
                ["Run `runstrong-sync strava auth` to connect." if not stored else REAUTHORIZE_HINT],
            )
        self.stored: dict[str, Any] = dict(stored)
        client.access_token = stored.get("access_token")
        client.refresh_token = stored["refresh_token"]
        client.token_expires = int(stored.get("expires_at") or 0)

    @property
    def athlete_id(self) -> int | None:
        value = self.stored.get("athlete_id")
        return int(value) if value is not None else None

    def ensure_fresh(self) -> None:
        expires = int(self.stored.get("expires_at") or 0)
        due = expires - REFRESH_MARGIN.total_seconds()
        if not self.stored.get("access_token") or self.clock().timestamp() >= due:
            self.refresh()

    def refresh(self) -> None:
        """A new token pair, committed before the new access token is used anywhere. With
        ``update_state`` the refresh happens under the token row's lock, after reading the row
        again: when another worker refreshed meanwhile, its pair is taken instead (Strava's old
        refresh token may already be dead), so a rotated refresh token is never lost."""
        numeric_id = self._client_id()
        if self.update_state is None:
            updated = self._exchange(numeric_id, self.stored)
            self.save_state(TOKENS_KEY, updated)
            self._use(updated)
            return
        ours = self.stored.get("refresh_token")

        def change(current: dict[str, Any] | None) -> dict[str, Any] | None:
            if current and current.get("refresh_token") and current.get("refresh_token") != ours:
                return None  # refreshed by another worker after we read it: use that pair
            return self._exchange(numeric_id, current or self.stored)

        stored = self.update_state(TOKENS_KEY, change)
        if not stored or not stored.get("refresh_token"):
            raise StravaAccessError("Strava access was removed.", [REAUTHORIZE_HINT])
        self._use(stored)

    def _client_id(self) -> int:
        if not self.client_id or not self.client_secret:
            raise StravaAccessError(
                "The Strava access token needs refreshing, but no client id and secret are configured.",
                [
                    "Set sources.strava.client_id and client_secret, or RUNSTRONG_STRAVA_CLIENT_ID and "
                    "RUNSTRONG_STRAVA_CLIENT_SECRET, to your Strava API application's values."
                ],
            )
        try:
            return int(self.client_id)
        except ValueError as err:
            raise StravaAccessError(
                f"sources.strava.client_id must be the number Strava shows for your app, not "
                f"{self.client_id!r}.",
                ["See https://www.strava.com/settings/api."],
            ) from err

    def _exchange(self, numeric_id: int, stored: dict[str, Any]) -> dict[str, Any]:
        """Trade the stored refresh token for a new pair; the pair to store."""
        form = {
            "client_id": numeric_id,
            "client_secret": self.client_secret,
            "refresh_token": stored["refresh_token"],
            "grant_type": "refresh_token",
        }
        info = with_retries(
            lambda: self.client.protocol.post(f"{STRAVA_ORIGIN}/oauth/token", data=form),
            refusal=self._refused,
        )
        if self.on_token_received is not None:
            self.on_token_received()
        # Stored first: until the new access token is used, the old refresh token stays good.
        lifetime = info.get("expires_in")
        now = self.clock()
        updated = dict(stored)
        updated.update(
            access_token=info["access_token"],
            refresh_token=info["refresh_token"],
            # By our own clock, so a skewed clock does not make every request look due for a refresh.
            expires_at=int(now.timestamp()) + int(lifetime)
            if isinstance(lifetime, int)
            else int(info["expires_at"]),
            refreshed_at=now.isoformat(),
        )
        self.refreshes += 1
        return updated

    def _use(self, stored: dict[str, Any]) -> None:
        self.stored = dict(stored)
        self.client.access_token = stored["access_token"]
        self.client.refresh_token = stored["refresh_token"]
        self.client.token_expires = int(stored["expires_at"])

    @staticmethod
    def _refused(error: exc.Fault) -> RunstrongError | None:
        status = status_of(error)
        if isinstance(error, exc.ApplicationInactive):
            return inactive_application_error()
        if status in (400, 401):
            return StravaRevokedError(
                "Strava refused the stored refresh token (it was revoked, replaced or has expired).",
                [REAUTHORIZE_HINT, "If you removed the app in Strava's settings, that is why."],
            )
        return None


def with_retries(
    call: Callable[[], T],
    *,
    refusal: Callable[[exc.Fault], RunstrongError | None],
    sleep: Callable[[float], None] = time.sleep,
    retries: int = RETRIES,
    backoff_s: float = BACKOFF_S,
) -> T:
    """Retry 5xx answers and network failures a few times; turn other failures into messages."""
    attempt = 0
    while True:
        try:
            return call()
        except exc.Fault as error:
            problem = refusal(error)
            if problem is not None:
                raise problem from error
            status = status_of(error)
            if status == 429:
                raise StravaRateLimitedError(
                    "Strava answered 429 Too Many Requests: the app's rate limit is spent.",
                    ["The next run resumes where this one stopped (after the 15-minute window resets)."],
                ) from error
            if status is None or status < 500 or attempt >= retries:
                raise StravaUnavailableError(
                    f"Strava failed: {error}.",
                    ["The next run tries again; nothing stored was lost."],
                ) from error
        except (requests.ConnectionError, requests.Timeout) as error:
            if attempt >= retries:
                raise StravaUnavailableError(
                    f"Strava did not answer ({type(error).__name__}) after {retries + 1} attempts.",
                    ["Check the network (and sources.strava.api_base_url); the next run tries again."],
                ) from error
        sleep(backoff_s * 2**attempt)
        attempt += 1


# --- API calls ---------------------------------------------------------------------------------------


class StravaApi:
    """Every API call of a run: budget check, token freshness, one refresh on 401, retries."""

    def __init__(
        self,
        client: Client,
        tokens: TokenKeeper,
        budget: RateBudget,
        *,
        sleep: Callable[[float], None] = time.sleep,
        backoff_s: float = BACKOFF_S,
    ) -> None:
        self.client = client
        self.tokens = tokens
        self.budget = budget
        self.sleep = sleep
        self.backoff_s = backoff_s
        self.requests = 0

    def get(self, path: str, **params: Any) -> Any:
        return self._call(lambda: self.client.protocol.get(path, **params), read=True)

    def post(self, url: str) -> Any:
        return self._call(lambda: self.client.protocol.post(url), read=False)

    def _call(self, call: Callable[[], T], *, read: bool) -> T:
        refreshed = False
        while True:
            self.budget.check(read)
            self.tokens.ensure_fresh()
            try:
                return with_retries(
                    self._counted(call), refusal=self._refusal, sleep=self.sleep, backoff_s=self.backoff_s
                )
            except _UnauthorizedError as err:
                if refreshed:
                    raise StravaRevokedError(
                        "Strava refuses the access token even after refreshing it: the authorization "
                        "was revoked.",
                        [REAUTHORIZE_HINT],
                    ) from err.__cause__
                self.tokens.refresh()
                refreshed = True

    def _counted(self, call: Callable[[], T]) -> Callable[[], T]:
        def counted() -> T:
            self.requests += 1
            return call()

        return counted

    @staticmethod
    def _refusal(error: exc.Fault) -> RunstrongError | None:
        if isinstance(error, exc.ApplicationInactive):
            return inactive_application_error()
        if isinstance(error, exc.ObjectNotFound):
            return NotFoundError(str(error))
        if isinstance(error, exc.AccessUnauthorized):
            if ("activity:read_permission", "missing") in _error_codes(error):
                return StravaAccessError(
                    "Strava says the authorization lacks permission to read your activities.",
                    [
                        "Run `runstrong-sync strava auth` again and leave 'View data about your private "
                        "activities' (activity:read_all) ticked on Strava's page."
                    ],
                )
            return _UnauthorizedError(str(error))
        if status_of(error) == 403:
            return StravaAccessError(
                f"Strava refused the request (403 Forbidden): {error}.",
                [REAUTHORIZE_HINT],
            )
        return None


class _UnauthorizedError(RunstrongError):
    """A 401 the caller may cure by refreshing the token once."""


class NotFoundError(RunstrongError):
    """404: the activity is gone (deleted, or no longer visible to this app)."""


@contextmanager
def observed(session: requests.Session, budget: RateBudget) -> Iterator[None]:
    """Attach the budget's response hook to ``session`` for the duration of a run."""
    hooks = session.hooks.setdefault("response", [])
    hooks.append(budget.observe)
    try:
        yield
    finally:
        hooks.remove(budget.observe)
