"""`editbot doctor`: check the setup an operator gave editbot, one line per fact, secrets hidden."""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from dataclasses import dataclass
from typing import Any

import httpx

from bot.app.cli.spine import command
from bot.core.config import Settings
from bot.core.domain import ProviderName, format_usd


@dataclass(frozen=True)
class Check:
    """One fact about the setup: ok, warn (works, but worth a look) or fail (fix it)."""

    level: str
    what: str
    detail: str = ""


def register(subparsers: Any) -> None:
    """Add the `doctor` subcommand."""
    parser = subparsers.add_parser("doctor", help="check configuration, database and services")
    parser.set_defaults(func=command("doctor", run_doctor))


def run_doctor(args: argparse.Namespace, settings: Settings) -> int:
    """Print every check; exit 1 when any failed."""
    checks = asyncio.run(diagnose(settings))
    for check in checks:
        line = f"{check.level.upper():<5} {check.what}"
        print(f"{line}: {check.detail}" if check.detail else line)
    return 1 if any(c.level == "fail" for c in checks) else 0


async def diagnose(settings: Settings, *, timeout_s: float = 5.0) -> list[Check]:
    """All checks, in the order an operator would fix them."""
    checks = [_data_dir(settings), await _database(settings)]
    async with httpx.AsyncClient(timeout=timeout_s, follow_redirects=False) as http:
        checks.append(await _provider(settings, http))
        checks.extend(await _slack(settings, http))
    checks.append(_discord(settings))
    if not (settings.slack_bot_token or settings.discord_token):
        checks.append(Check("fail", "chat", "set SLACK_BOT_TOKEN and/or DISCORD_TOKEN"))
    checks.append(
        Check(
            "ok",
            "budgets",
            f"default cap {format_usd(settings.default_budget_micros)} per "
            f"{settings.budget_period} per channel; confirm above "
            f"{format_usd(settings.confirm_above_micros)}",
        )
    )
    return checks


def _data_dir(settings: Settings) -> Check:
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=settings.data_dir):
            pass
    except OSError as exc:
        return Check("fail", "data dir", f"{settings.data_dir} is not writable ({exc.strerror})")
    return Check("ok", "data dir", str(settings.data_dir.resolve()))


async def _database(settings: Settings) -> Check:
    from storage.db import schema_revisions

    kind = "PostgreSQL" if settings.database_url else "SQLite"
    try:
        current, head = await schema_revisions(settings.sqlalchemy_url)
    except Exception as exc:  # the URL may hold a password: name the error type only
        return Check("fail", "database", f"{kind}: cannot connect ({type(exc).__name__})")
    if current != head:
        return Check(
            "warn",
            "database",
            f"{kind} at revision {current or 'none'}, newest is {head}: "
            "`editbot db upgrade` (editbot run also upgrades on start)",
        )
    return Check("ok", "database", f"{kind}, schema at {head}")


async def _provider(settings: Settings, http: httpx.AsyncClient) -> Check:
    if settings.provider is ProviderName.OPENAI:
        key, env, url = settings.openai_api_key, "OPENAI_API_KEY", settings.openai_base_url
    else:
        key, env, url = settings.wavespeed_api_key, "WAVESPEED_API_KEY", settings.wavespeed_base_url
    name = settings.provider.value
    if key is None or not key.get_secret_value().strip():
        return Check("fail", f"provider {name}", f"{env} is not set")
    try:
        # Any HTTP answer proves the host is reachable; the key is not sent.
        await http.get(url)
    except httpx.HTTPError as exc:
        return Check("fail", f"provider {name}", f"{url} unreachable ({type(exc).__name__})")
    return Check("ok", f"provider {name}", f"{env} set, {url}")


async def _slack(settings: Settings, http: httpx.AsyncClient) -> list[Check]:
    token = settings.slack_bot_token
    if token is None:
        return [Check("warn", "slack", "SLACK_BOT_TOKEN not set: Slack is off")]
    checks: list[Check] = []
    if settings.slack_app_token is not None:
        checks.append(Check("ok", "slack mode", "Socket Mode (SLACK_APP_TOKEN set)"))
    elif settings.slack_signing_secret is not None:
        checks.append(
            Check("ok", "slack mode", f"HTTP mode: POST :{settings.http_port}/slack/events")
        )
    else:
        checks.append(
            Check("fail", "slack mode", "set SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET")
        )
    try:
        resp = await http.post(
            settings.slack_api_url.rstrip("/") + "/auth.test",
            headers={"Authorization": f"Bearer {token.get_secret_value()}"},
        )
        body = resp.json()
    except (httpx.HTTPError, ValueError) as exc:
        checks.append(Check("fail", "slack auth", f"auth.test failed ({type(exc).__name__})"))
        return checks
    if body.get("ok"):
        checks.append(
            Check("ok", "slack auth", f"bot {body.get('user', '?')} in {body.get('team', '?')}")
        )
    else:
        checks.append(Check("fail", "slack auth", f"auth.test said {body.get('error', '?')}"))
    return checks


def _discord(settings: Settings) -> Check:
    if settings.discord_token is None:
        return Check("warn", "discord", "DISCORD_TOKEN not set: Discord is off")
    where = f"guild {settings.discord_guild_id}" if settings.discord_guild_id else "globally"
    return Check("ok", "discord", f"token set; commands sync {where}")
