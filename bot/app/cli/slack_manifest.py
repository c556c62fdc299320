"""`editbot slack-manifest`: print the Slack app manifest to paste into api.slack.com/apps."""

from __future__ import annotations

import argparse
import sys
from importlib.resources import files
from typing import Any


def manifest_text() -> str:
    """The manifest shipped in the adapters.slack package."""
    return files("adapters.slack").joinpath("manifest.yaml").read_text(encoding="utf-8")


def _run(_: argparse.Namespace) -> int:
    sys.stdout.write(manifest_text())
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "slack-manifest", help="print the Slack app manifest (scopes, events, commands)"
    )
    parser.set_defaults(func=_run)
