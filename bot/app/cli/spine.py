"""What every `editbot` command shares: settings read one way, one line per failure, and one
set of exit codes.

Exit codes everywhere: 0 ok, 2 the user's or the configuration's mistake (a UserError or a
ConfigError: the message says what to change), 1 anything else (the provider or a platform
failed, a bug), 130 interrupted. A failure is one line on stderr, `editbot <command>: ...`;
the settings' values (secrets) never appear in it.
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from collections.abc import Callable

from bot.core.config import Settings, load_settings
from bot.core.errors import ConfigError, ProviderError, UserError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_MISTAKE = 2
EXIT_INTERRUPTED = 130

Action = Callable[[argparse.Namespace, Settings], int | None]
"""A command's body: the parsed arguments and the settings in, an exit code (None: 0) out."""
CommandFunc = Callable[[argparse.Namespace], int]

_NOISY_LOGGERS = ("httpx", "httpcore", "aiohttp.access", "discord.gateway", "sqlalchemy")


def command(name: str, action: Action) -> CommandFunc:
    """`action` as an argparse `func`: settings loaded, errors mapped to exit codes."""
    prog = f"editbot {name}"

    def run(args: argparse.Namespace) -> int:
        try:
            code = action(args, load_settings())
        except ConfigError as exc:
            fail(prog, f"configuration: {exc}")
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
            verbose = getattr(args, "verbose", None)
            if verbose:
                traceback.print_exc(file=sys.stderr)
            hint = " (run with --verbose for the traceback)" if verbose is False else ""
            fail(prog, f"failed: {type(exc).__name__}: {exc}{hint}")
            return EXIT_FAILED
        return EXIT_OK if code is None else code

    return run


def fail(prog: str, message: str) -> None:
    """One line on stderr: `editbot <command>: <message>`."""
    print(f"{prog}: {' '.join(message.split())}", file=sys.stderr)


def add_log_level(parser: argparse.ArgumentParser) -> None:
    """The `--log-level` option of the long-running commands."""
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING (default INFO)")


def setup_logging(level: str) -> None:
    """One line per record on stderr; third-party chatter kept at WARNING."""
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in _NOISY_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.WARNING)
