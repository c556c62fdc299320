"""`editbot slack-manifest [--url https://host]`: print the Slack app manifest to paste into
api.slack.com/apps: Socket Mode by default, HTTP mode (and installs in many workspaces) with
--url."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from adapters.slack.manifest import manifest_for


def _run(args: argparse.Namespace) -> int:
    sys.stdout.write(manifest_for(args.url))
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "slack-manifest", help="print the Slack app manifest (scopes, events, commands)"
    )
    parser.add_argument(
        "--url",
        help="HTTP mode at this public base URL (https://host): request URLs and the OAuth "
        "redirect filled in, Socket Mode off",
    )
    parser.set_defaults(func=_run)
