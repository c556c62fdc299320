"""What every `editbot` command shares: settings read one way, one line per failure, and one
set of exit codes.

Exit codes everywhere: 0 ok, 2 the user's or the configuration's mistake (a UserError, a
ConfigError, a failed check of bot.app.cli.checks, or a resource the settings name that
cannot be used at start: the message says what to change), 1 anything else (the provider or
a platform failed, a bug), 130 interrupted. A failure is one line on stderr, `editbot
<command>: ...`, one per problem when the configuration has several (all of them, in one
run); the settings' values (secrets) never appear in it.
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from collections.abc import Callable, Sequence

from bot.app.cli.checks import LOG_LEVELS, Check, log_level, start_failure
from bot.core.config import Settings, read_settings
from bot.core.errors import ConfigError, ProviderError, UserError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_MISTAKE = 2
EXIT_INTERRUPTED = 130

Action = Callable[[argparse.Namespace, Settings], int | None]
"""A command's body: the parsed arguments and the settings in, an exit code (None: 0) out."""
CommandFunc = Callable[[argparse.Namespace], int]

_NOISY_LOGGERS = ("httpx", "httpcore", "aiohttp.access", "discord.gateway", "sqlalchemy")


def command(name: str, action: Action, *, checks: Sequence[Check] = ()) -> CommandFunc:
    """`action` as an argparse `func`: settings loaded and checked, errors mapped to exit codes.

    Args:
        checks: what the command needs (bot.app.cli.checks); `--log-level` is always checked
            where the command has it. Every problem is reported before anything runs.
    """
    prog = f"editbot {name}"

    def run(args: argparse.Namespace) -> int:
        settings: Settings | None = None
        try:
            settings = checked_settings(args, [log_level, *checks])
            code = action(args, settings)
        except ConfigError as exc:
            for line in str(exc).splitlines():
                fail(prog, f"configuration: {line}")
            return EXIT_MISTAKE
        except UserError as exc:
            fail(prog, str(exc))
            return EXIT_MISTAKE
        except ProviderError as exc:
            request_id = f" (request id {exc.request_id})" if exc.request_id else ""
            fail(prog, f"the provider failed: {exc}{request_id}")
            return EXIT_FAILED
        except KeyboardInterrupt:
            fail(prog, "interrupted")
            return EXIT_INTERRUPTED
        except Exception as exc:  # the operator sees the cause; never the settings' secrets
            problem = start_failure(exc, settings) if settings is not None else None
            if problem is not None:
                fail(prog, f"configuration: {problem}")
                return EXIT_MISTAKE
            verbose = getattr(args, "verbose", None)
            if verbose:
                traceback.print_exc(file=sys.stderr)
            hint = " (run with --verbose for the traceback)" if verbose is False else ""
            fail(prog, f"failed: {type(exc).__name__}: {exc}{hint}")
            return EXIT_FAILED
        return EXIT_OK if code is None else code

    return run


def checked_settings(args: argparse.Namespace, checks: Sequence[Check]) -> Settings:
    """The settings, or one ConfigError listing every bad setting and every failed check."""
    settings, problems = read_settings()
    for check in checks:
        problems.extend(check(args, settings))
    if problems:
        raise ConfigError("\n".join(problems))
    return settings


def fail(prog: str, message: str) -> None:
    """One line on stderr: `editbot <command>: <message>`."""
    print(f"{prog}: {' '.join(message.split())}", file=sys.stderr)


def add_log_level(parser: argparse.ArgumentParser) -> None:
    """The `--log-level` option of the long-running commands."""
    parser.add_argument(
        "--log-level", default="INFO", help=f"{', '.join(LOG_LEVELS)} (default INFO)"
    )


def setup_logging(level: str) -> None:
    """One line per record on stderr; third-party chatter kept at WARNING."""
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in _NOISY_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.WARNING)
