"""The `editbot` command line.

Each subcommand lives in its own module here that exposes `register(subparsers)`;
registering sets `func` on its parser: the command's body wrapped by
bot.app.cli.spine.command, which loads the settings and maps errors to the exit codes
(0 ok, 2 the user's or the configuration's mistake, 1 anything else).
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable

# Modules that add subcommands, in the order `editbot --help` lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "bot.app.cli.run",
    "bot.app.cli.worker",
    "bot.app.cli.edit",
    "bot.app.cli.doctor",
    "bot.app.cli.budget",
    "bot.app.cli.usage",
    "bot.app.cli.job",
    "bot.app.cli.db",
    "bot.app.cli.prune",
    "bot.app.cli.slack_manifest",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="editbot", description="Image edits for Slack and Discord, backed by gpt-image-2."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    return func(args)
