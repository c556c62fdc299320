"""What a command needs before it starts, and start failures said as the setting to change.

A check takes the parsed arguments and the settings and returns its problems, one line
each, naming the variable or the option: bot.app.cli.spine reports them all in one run.
`start_failure` turns what fails while a command opens its resources (a port in use, an
unwritable data directory, a database that cannot be reached, a rejected token) into such a
line too.
"""

from __future__ import annotations

import argparse
import errno
import socket
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from bot.core.config import Settings
from bot.core.domain import ProviderName
from bot.core.errors import ConfigError

Check = Callable[[argparse.Namespace, Settings], list[str]]
"""A command's precondition: its problems, one line each (empty: fine)."""

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

_KEYS = {
    ProviderName.OPENAI: ("openai_api_key", "OPENAI_API_KEY"),
    ProviderName.WAVESPEED: ("wavespeed_api_key", "WAVESPEED_API_KEY"),
}


def log_level(args: argparse.Namespace, _: Settings) -> list[str]:
    level = str(getattr(args, "log_level", "INFO"))
    if level.upper() in LOG_LEVELS:
        return []
    return [f"--log-level: {level!r} is not one of {', '.join(LOG_LEVELS)}"]


def provider_key(args: argparse.Namespace, settings: Settings) -> list[str]:
    """The chosen provider's key (none needed for `edit --dry-run`)."""
    if getattr(args, "dry_run", False):
        return []
    chosen = getattr(args, "provider", None)
    provider = ProviderName(chosen) if chosen else settings.provider
    field, env = _KEYS[provider]
    key = getattr(settings, field)
    if key is None or not key.get_secret_value().strip():
        return [f"{env} is not set: the {provider.value} provider needs an API key"]
    return []


def chat_platform(_: argparse.Namespace, settings: Settings) -> list[str]:
    """`editbot run` needs a platform, and Slack needs one way to receive events."""
    if not settings.slack_configured and settings.discord_token is None:
        return [
            "no chat platform configured: set SLACK_BOT_TOKEN (with SLACK_APP_TOKEN or "
            "SLACK_SIGNING_SECRET), or SLACK_CLIENT_ID + SLACK_CLIENT_SECRET + "
            "SLACK_SIGNING_SECRET for installs in many workspaces, and/or DISCORD_TOKEN; "
            "`editbot doctor` checks the setup"
        ]
    if settings.slack_bot_token is not None and not (
        settings.slack_app_token or settings.slack_signing_secret
    ):
        return [
            "SLACK_BOT_TOKEN is set but neither SLACK_APP_TOKEN (Socket Mode) nor "
            "SLACK_SIGNING_SECRET (HTTP mode) is"
        ]
    return []


def worker_options(args: argparse.Namespace, _: Settings) -> list[str]:
    problems = []
    if args.concurrency is not None and args.concurrency < 1:
        problems.append(f"--concurrency: must be at least 1, got {args.concurrency}")
    if args.lease is not None and args.lease < 1:
        problems.append(f"--lease: must be at least 1 second, got {args.lease:g}")
    if args.grace < 0:
        problems.append(f"--grace: must be 0 or more seconds, got {args.grace:g}")
    return problems


def free_port(_: argparse.Namespace, settings: Settings) -> list[str]:
    """EDITBOT_HTTP_PORT must be free to listen on (bound and let go at once, as aiohttp
    will bind it: with SO_REUSEADDR, so only a live listener makes it fail)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("0.0.0.0", settings.http_port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return [f"EDITBOT_HTTP_PORT: port {settings.http_port} is already in use"]
            return [f"EDITBOT_HTTP_PORT: cannot listen on port {settings.http_port} ({exc})"]
    return []


def writable_data_dir(_: argparse.Namespace, settings: Settings) -> list[str]:
    """The data directory holds SQLite and the image files: it must be a writable folder."""
    if settings.database_url and settings.blob_url:
        return []
    where = settings.data_dir
    try:
        where.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=where):
            pass
    except OSError as exc:
        return [f"EDITBOT_DATA_DIR: {where} is not a writable folder ({exc.strerror or exc})"]
    return []


def existing_database(_: argparse.Namespace, settings: Settings) -> list[str]:
    """Commands that only read: a SQLite database nobody created is a step to run, not a crash."""
    if settings.database_url:
        return []
    path = sqlite_path(settings)
    if path.is_file():
        return []
    return [
        f"no database at {path} (EDITBOT_DATA_DIR): run `editbot db upgrade` first "
        "(`editbot run` also creates it), or point EDITBOT_DATA_DIR / EDITBOT_DATABASE_URL "
        "at the one in use"
    ]


def sqlite_path(settings: Settings) -> Path:
    return (settings.data_dir / "editbot.db").resolve()


def start_failure(exc: BaseException, settings: Settings) -> str | None:
    """The setting to change for a failure while resources open, or None (not ours to say)."""
    for cause in _chain(exc):
        if isinstance(cause, ConfigError):
            return str(cause)
        if isinstance(cause, OSError) and cause.errno == errno.EADDRINUSE:
            return f"EDITBOT_HTTP_PORT: port {settings.http_port} is already in use"
        if isinstance(cause, sqlite3.OperationalError) and not settings.database_url:
            return (
                f"EDITBOT_DATA_DIR: cannot open the database in {settings.data_dir} ({cause}); "
                "is it a writable folder?"
            )
        if type(cause).__module__.startswith("psycopg") and settings.database_url:
            return f"EDITBOT_DATABASE_URL: cannot connect ({_first_line(cause, settings)})"
        if type(cause).__name__ == "LoginFailure" and type(cause).__module__.startswith("discord"):
            return f"DISCORD_TOKEN: Discord rejected the token ({cause})"
    return None


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _first_line(exc: BaseException, settings: Settings) -> str:
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    url = settings.database_url or ""
    if "@" in url and ":" in url.split("@")[0].split("//")[-1]:
        password = url.split("@")[0].split("//")[-1].split(":", 1)[1]
        text = text.replace(password, "***") if password else text
    return text
