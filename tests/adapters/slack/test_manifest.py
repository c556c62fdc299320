"""`editbot slack-manifest` in both modes: Socket Mode as shipped, HTTP mode with --url."""

from __future__ import annotations

import yaml

from adapters.slack.oauth import BOT_SCOPES
from bot.app.cli import main


def manifest(capsys, *args: str) -> dict:
    assert main(["slack-manifest", *args]) == 0
    return yaml.safe_load(capsys.readouterr().out)


def test_the_shipped_manifest_asks_for_what_installs_ask_for_and_has_a_home_tab(capsys) -> None:
    shipped = manifest(capsys)
    assert shipped["oauth_config"]["scopes"]["bot"] == list(BOT_SCOPES)
    assert shipped["features"]["app_home"]["home_tab_enabled"] is True
    assert "app_home_opened" in shipped["settings"]["event_subscriptions"]["bot_events"]
    assert shipped["settings"]["socket_mode_enabled"] is True
    assert "redirect_urls" not in shipped["oauth_config"]


def test_with_a_url_the_manifest_is_for_http_mode_and_oauth_installs(capsys) -> None:
    http = manifest(capsys, "--url", "https://edit.example.com/")
    events = "https://edit.example.com/slack/events"
    assert http["settings"]["socket_mode_enabled"] is False
    assert http["settings"]["event_subscriptions"]["request_url"] == events
    assert http["settings"]["interactivity"]["request_url"] == events
    assert {c["url"] for c in http["features"]["slash_commands"]} == {events}
    assert http["oauth_config"]["redirect_urls"] == [
        "https://edit.example.com/slack/oauth_redirect"
    ]
    assert http["oauth_config"]["scopes"]["bot"] == list(BOT_SCOPES)
