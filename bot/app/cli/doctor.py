"""`editbot doctor`: check the setup an operator gave editbot, one line per fact, secrets hidden."""

from __future__ import annotations

import argparse
import asyncio
import os
from dataclasses import dataclass
from typing import Any

import httpx

from bot.app.cli.checks import sqlite_path
from bot.app.cli.spine import command
from bot.core.config import Settings
from bot.core.domain import ProviderName, format_usd
from bot.core.errors import ConfigError


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
    """All checks, in the order an operator would fix them. Creates nothing, costs nothing:
    each key is tried on a free authenticated GET of its service."""
    checks = [_data_dir(settings), await _database(settings), await _blobs(settings)]
    async with httpx.AsyncClient(timeout=timeout_s, follow_redirects=False) as http:
        checks.append(await _provider(settings, http))
        checks.extend(await _slack(settings, http))
        checks.append(await _discord(settings, http))
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
    path = settings.data_dir
    if path.is_dir():
        if os.access(path, os.W_OK | os.X_OK):
            return Check("ok", "data dir", str(path.resolve()))
        return Check("fail", "data dir", f"{path} is not writable (EDITBOT_DATA_DIR)")
    if path.exists():
        return Check("fail", "data dir", f"{path} is not a folder (EDITBOT_DATA_DIR)")
    parent = path.resolve().parent
    while not parent.exists():
        parent = parent.parent
    if parent.is_dir() and os.access(parent, os.W_OK | os.X_OK):
        return Check(
            "warn", "data dir", f"{path} does not exist yet: `editbot db upgrade` creates it"
        )
    return Check("fail", "data dir", f"{path} cannot be created: {parent} is not writable")


async def _database(settings: Settings) -> Check:
    from storage.db import schema_revisions

    kind = "PostgreSQL" if settings.database_url else "SQLite"
    if not settings.database_url and not sqlite_path(settings).is_file():
        return Check(
            "warn",
            "database",
            f"no SQLite database yet at {sqlite_path(settings)}: "
            "`editbot db upgrade` (editbot run also creates it on start)",
        )
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


async def _blobs(settings: Settings) -> Check:
    """Where images go: EDITBOT_BLOB_URL's store gets a write-read-delete probe; the default
    folder in the data directory is not created here (`editbot run` creates it)."""
    from storage.blobs import blob_root, open_blob_store

    if not (settings.blob_url or "").strip():
        root = blob_root(settings.data_dir)
        return Check("ok", "blob store", f"{root}" + ("" if root.is_dir() else " (made on start)"))
    try:
        store = open_blob_store(settings)
    except ConfigError as exc:
        return Check("fail", "blob store", str(exc))
    try:
        where = await store.check()
    except Exception as exc:  # credentials may be in the message: the type only
        return Check("fail", "blob store", f"{store.where}: probe failed ({type(exc).__name__})")
    return Check("ok", "blob store", where)


async def _provider(settings: Settings, http: httpx.AsyncClient) -> Check:
    """The key on the provider's free keyed GET: OpenAI's model list, WaveSpeed's balance."""
    name = settings.provider.value
    if settings.provider is ProviderName.OPENAI:
        key, env, base_env = settings.openai_api_key, "OPENAI_API_KEY", "OPENAI_BASE_URL"
        url = settings.openai_base_url.rstrip("/") + "/models"
    else:
        key, env, base_env = settings.wavespeed_api_key, "WAVESPEED_API_KEY", "WAVESPEED_BASE_URL"
        url = settings.wavespeed_base_url.rstrip("/") + "/api/v3/balance"
    if key is None or not key.get_secret_value().strip():
        return Check("fail", f"provider {name}", f"{env} is not set")
    try:
        resp = await http.get(url, headers={"Authorization": f"Bearer {key.get_secret_value()}"})
    except httpx.HTTPError as exc:
        return Check("fail", f"provider {name}", f"{url} unreachable ({type(exc).__name__})")
    # The provider's words are not repeated: an error message may quote the key.
    if resp.status_code in (401, 403):
        return Check("fail", f"provider {name}", f"{env} was rejected ({resp.status_code})")
    if resp.status_code != 200:
        return Check(
            "fail", f"provider {name}", f"{url} answered {resp.status_code}: is {base_env} right?"
        )
    return Check("ok", f"provider {name}", f"{env} accepted; {_account(settings, resp)}")


def _account(settings: Settings, resp: httpx.Response) -> str:
    """What the provider's answer says about the account, in a few words."""
    try:
        body = resp.json()
    except ValueError:
        return "(the answer was not JSON)"
    if settings.provider is ProviderName.OPENAI:
        models = {m.get("id") for m in body.get("data", []) if isinstance(m, dict)}
        has = settings.openai_model in models
        listed = "available" if has else "NOT in the models this key may use"
        return f"model {settings.openai_model} {listed}"
    balance = (body.get("data") or {}).get("balance")
    return f"balance ${float(balance):.2f}" if isinstance(balance, int | float) else "balance ?"


async def _slack(settings: Settings, http: httpx.AsyncClient) -> list[Check]:
    token = settings.slack_bot_token
    if token is None:
        return [Check("warn", "slack", "SLACK_BOT_TOKEN not set: Slack is off")]
    checks: list[Check] = []
    if settings.slack_app_token is not None:
        checks.append(await _slack_call(settings, http, "apps.connections.open", "slack app token"))
    elif settings.slack_signing_secret is not None:
        checks.append(
            Check("ok", "slack mode", f"HTTP mode: POST :{settings.http_port}/slack/events")
        )
    else:
        checks.append(
            Check("fail", "slack mode", "set SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET")
        )
    checks.append(await _slack_call(settings, http, "auth.test", "slack auth"))
    return checks


async def _slack_call(settings: Settings, http: httpx.AsyncClient, method: str, what: str) -> Check:
    """auth.test with the bot token; apps.connections.open with the app token (Socket Mode):
    both free, and the URL the second hands out expires unused."""
    secret = settings.slack_app_token if method == "apps.connections.open" else None
    token = secret or settings.slack_bot_token
    assert token is not None
    url = settings.slack_api_url.rstrip("/") + "/" + method
    try:
        resp = await http.post(url, headers={"Authorization": f"Bearer {token.get_secret_value()}"})
    except httpx.HTTPError as exc:
        return Check("fail", what, f"{method} failed ({type(exc).__name__})")
    try:
        body = resp.json() if resp.status_code == 200 else None
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return Check("fail", what, f"{url} answered {resp.status_code}: is SLACK_API_URL right?")
    if not body.get("ok"):
        return Check("fail", what, f"{method} said {body.get('error', '?')}")
    if method == "auth.test":
        return Check("ok", what, f"bot {body.get('user', '?')} in {body.get('team', '?')}")
    return Check("ok", what, "Socket Mode (SLACK_APP_TOKEN accepted)")


async def _discord(settings: Settings, http: httpx.AsyncClient) -> Check:
    """The token on Discord's `GET /users/@me`: the bot's own user, free."""
    if settings.discord_token is None:
        return Check("warn", "discord", "DISCORD_TOKEN not set: Discord is off")
    url = settings.discord_api_url.rstrip("/") + "/users/@me"
    headers = {"Authorization": f"Bot {settings.discord_token.get_secret_value()}"}
    try:
        resp = await http.get(url, headers=headers)
    except httpx.HTTPError as exc:
        return Check("fail", "discord", f"{url} unreachable ({type(exc).__name__})")
    if resp.status_code == 401:
        return Check("fail", "discord", "DISCORD_TOKEN was rejected (401 Unauthorized)")
    if resp.status_code != 200:
        return Check("fail", "discord", f"{url} answered {resp.status_code}")
    try:
        user = resp.json().get("username", "?")
    except (ValueError, AttributeError):
        user = "?"
    where = f"guild {settings.discord_guild_id}" if settings.discord_guild_id else "globally"
    return Check("ok", "discord", f"bot {user}; commands sync {where}")
