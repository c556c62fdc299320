"""The manifest and `editbot slack-manifest`, the web app (/healthz, /metrics), Socket Mode."""

from __future__ import annotations

import asyncio

import yaml
from aiohttp.test_utils import TestClient, TestServer

from adapters.slack.listeners import BUDGET_COMMAND, EDIT_COMMAND, EVENTS
from adapters.slack.socket import uses_socket_mode
from adapters.slack.views import SHORTCUT_CALLBACK
from bot.app.cli import main
from bot.app.web import build_web_app
from bot.core.metrics import Registry
from tests.kit.settings import make_settings
from tests.kit.slack.api import FakeSlackApi
from tests.kit.slack.harness import TOKEN, slack_env


def test_slack_manifest_prints_what_the_code_listens_for(capsys) -> None:
    assert main(["slack-manifest"]) == 0
    manifest = yaml.safe_load(capsys.readouterr().out)
    events = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    assert {"app_mention", "message.channels", "message.groups"} <= events
    assert {e.split(".")[0] for e in events} == set(EVENTS)
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    needed = {
        "app_mentions:read",
        "chat:write",
        "files:read",
        "files:write",
        "commands",
        "channels:history",
        "groups:history",
        "users:read",
    }
    assert needed <= scopes
    commands = {c["command"] for c in manifest["features"]["slash_commands"]}
    assert commands == {EDIT_COMMAND, BUDGET_COMMAND}
    [shortcut] = manifest["features"]["shortcuts"]
    assert (shortcut["type"], shortcut["callback_id"]) == ("message", SHORTCUT_CALLBACK)
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert manifest["settings"]["socket_mode_enabled"] is True


async def test_healthz_and_metrics() -> None:
    registry = Registry()
    registry.counter("slack_events_total", "events").inc(kind="app_mention")
    registry.counter("slack_events_total").inc(2, kind="app_mention")
    registry.gauge("jobs_running", "jobs").set(3)

    async def health() -> dict:
        return {"queued": 4}

    async with TestClient(TestServer(build_web_app(health=health, metrics=registry))) as client:
        resp = await client.get("/healthz")
        assert resp.status == 200 and await resp.json() == {"ok": True, "queued": 4}
        text = await (await client.get("/metrics")).text()
        assert 'editbot_slack_events_total{kind="app_mention"} 3' in text
        assert "# TYPE editbot_jobs_running gauge\neditbot_jobs_running 3" in text
        assert (await client.post("/slack/events")).status == 404  # not mounted without a handler


async def test_healthz_is_503_when_a_dependency_fails() -> None:
    async def health() -> dict:
        raise OSError("database gone")

    async with TestClient(TestServer(build_web_app(health=health, metrics=Registry()))) as client:
        resp = await client.get("/healthz")
        assert resp.status == 503 and (await resp.json())["ok"] is False


def test_socket_mode_only_with_an_app_token() -> None:
    async def run() -> None:
        async with FakeSlackApi(token=TOKEN) as api:
            assert not uses_socket_mode(make_settings(**slack_env(api)))
            assert uses_socket_mode(make_settings(**slack_env(api), SLACK_APP_TOKEN="xapp-1"))

    asyncio.run(run())
