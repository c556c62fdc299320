"""Whether the chat platforms are really there: tokens tried at start, connections watched.

`verify_tokens` tries each bot token once before `editbot run` (or `editbot worker`)
serves anything: a token the platform rejects is a ConfigError naming the variable, with the
platform's own word (`invalid_auth`), and the process exits 2. A platform that cannot be
reached at start is not a rejection: it is logged and shows as disconnected.

`PlatformHealth` is what /healthz reports once running: each configured platform's state
(`connecting`, `connected`, `disconnected`, `failed`) and since when. The answer is healthy
while every platform is connected or has been away for less than EDITBOT_HEALTH_GRACE_S;
`supervise` runs a platform so that its failing marks it failed instead of ending the process
(the other platform, the workers and the web endpoints keep running).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import SecretStr

from bot.core.config import Settings
from bot.core.errors import ConfigError

log = logging.getLogger(__name__)

Runner = Callable[[], Coroutine[Any, Any, None]]

CONNECTING, CONNECTED, DISCONNECTED, FAILED = "connecting", "connected", "disconnected", "failed"


@dataclass
class _State:
    state: str
    since: float
    error: str | None = None


class PlatformHealth:
    """Each configured platform's connection state, as /healthz shows it."""

    def __init__(self, *, grace_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.grace_s = grace_s
        self._clock = clock
        self._states: dict[str, _State] = {}
        self._before_start: list[Callable[[], Coroutine[Any, Any, None]]] = []

    def before_start(self, check: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """A platform's first contact, run by `start` before anything else runs (a rejection
        then stops the process before workers or the web server started)."""
        self._before_start.append(check)

    async def start(self) -> None:
        for check in self._before_start:
            await check()

    def set(self, platform: str, state: str, error: str | None = None) -> None:
        """Record a state; the time it started is kept while the state stays the same."""
        current = self._states.get(platform)
        if current is not None and current.state == state:
            current.error = error or current.error
            return
        level = {DISCONNECTED: logging.WARNING, FAILED: logging.ERROR}.get(state, logging.INFO)
        log.log(level, "%s: %s%s", platform, state, f" ({error})" if error else "")
        self._states[platform] = _State(state, self._clock(), error)

    def report(self) -> tuple[bool, dict[str, Any]]:
        """(healthy, each platform's state with seconds in it and the last error)."""
        now = self._clock()
        healthy = True
        platforms: dict[str, Any] = {}
        for name, st in sorted(self._states.items()):
            away = now - st.since
            if st.state == FAILED or (st.state != CONNECTED and away >= self.grace_s):
                healthy = False
            platforms[name] = {"state": st.state, "for_s": round(away, 1)}
            if st.error and st.state != CONNECTED:
                platforms[name]["error"] = st.error
        return healthy, platforms

    def supervise(self, platform: str, runner: Runner) -> Runner:
        """`runner` whose failure marks `platform` failed (one log line) and then waits, so
        the rest of the process keeps serving; /healthz says 503 from then on."""

        async def run() -> None:
            try:
                await runner()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.set(platform, FAILED, f"{type(exc).__name__}: {exc}"[:200])
                await asyncio.Event().wait()

        return run

    async def watch(
        self, platform: str, connected: Callable[[], Coroutine[Any, Any, bool]], every_s: float
    ) -> None:
        """Poll `connected()` until cancelled (Slack's Socket Mode client has no events)."""
        while True:
            error: str | None = None
            try:
                up = await connected()
            except Exception as exc:  # a probe that fails says "not connected"
                up, error = False, type(exc).__name__
            if self._states.get(platform, _State("", 0)).state != FAILED:
                self.set(platform, CONNECTED if up else DISCONNECTED, error)
            await asyncio.sleep(every_s)


async def verify_tokens(settings: Settings, http: httpx.AsyncClient) -> None:
    """Try the bot tokens once; raise one ConfigError naming each one rejected.

    SLACK_APP_TOKEN is tried by the first apps.connections.open of Socket Mode itself
    (adapters.slack.serve.first_socket_url), so no URL is asked for twice.
    """
    problems: list[str] = []
    if settings.slack_bot_token is not None:
        word = await _slack_word(settings, http, "auth.test", settings.slack_bot_token)
        if word is not None:
            problems.append(f"SLACK_BOT_TOKEN: Slack rejected the token ({word})")
    if settings.discord_token is not None:
        status = await _discord_status(settings, http, settings.discord_token)
        if status == 401:
            problems.append("DISCORD_TOKEN: Discord rejected the token (401 Unauthorized)")
    if problems:
        raise ConfigError("\n".join(problems))


async def _slack_word(
    settings: Settings, http: httpx.AsyncClient, method: str, token: SecretStr
) -> str | None:
    """Slack's error word when it answers ok=false; None when it is ok or not reachable."""
    url = settings.slack_api_url.rstrip("/") + "/" + method
    headers = {"Authorization": f"Bearer {token.get_secret_value()}"}
    try:
        body = (await http.post(url, headers=headers)).json()
    except (httpx.HTTPError, ValueError) as exc:
        log.warning("slack: %s at start failed (%s); going on", method, type(exc).__name__)
        return None
    if isinstance(body, dict) and body.get("ok") is False:
        return str(body.get("error") or "not ok")
    return None


async def _discord_status(settings: Settings, http: httpx.AsyncClient, token: SecretStr) -> int:
    """The HTTP status of Discord's `GET /users/@me` for the token (0: not reachable)."""
    url = settings.discord_api_url.rstrip("/") + "/users/@me"
    try:
        resp = await http.get(url, headers={"Authorization": f"Bot {token.get_secret_value()}"})
    except httpx.HTTPError as exc:
        log.warning("discord: GET /users/@me at start failed (%s); going on", type(exc).__name__)
        return 0
    return resp.status_code
