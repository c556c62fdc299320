"""The Slack app manifest editbot ships (manifest.yaml), for Socket Mode or for HTTP mode.

`manifest_for(None)` is the file as shipped: Socket Mode, one workspace. `manifest_for(url)`
is the same app served at `url`: events, interactivity and slash commands on
`url/slack/events`, the OAuth redirect on `url/slack/oauth_redirect` (installs in many
workspaces), Socket Mode off.
"""

from __future__ import annotations

from importlib.resources import files

from adapters.slack.oauth import REDIRECT_PATH

EVENTS_PATH = "/slack/events"


def manifest_text() -> str:
    """manifest.yaml as shipped in the adapters.slack package."""
    return files("adapters.slack").joinpath("manifest.yaml").read_text(encoding="utf-8")


def manifest_for(url: str | None) -> str:
    """The manifest, for HTTP mode at `url` (https://host, no path) when given."""
    text = manifest_text()
    if not url:
        return text
    base = url.rstrip("/")
    events, redirect = base + EVENTS_PATH, base + REDIRECT_PATH
    out: list[str] = []
    for line in text.splitlines():
        if line.startswith("#"):
            continue  # the header explains the Socket Mode file
        if line.strip() == "socket_mode_enabled: true":
            line = line.replace("true", "false")
        out.append(line)
        stripped = line.strip()
        if stripped.startswith("- command: "):
            out.append(f"      url: {events}")
        elif stripped == "event_subscriptions:":
            out.append(f"    request_url: {events}")
        elif stripped == "interactivity:":
            out.append(f"    request_url: {events}")
        elif stripped == "oauth_config:":
            out += ["  redirect_urls:", f"    - {redirect}"]
    header = f"# editbot's Slack app manifest for HTTP mode at {base} (see docs/slack.md).\n"
    return header + "\n".join(out) + "\n"
