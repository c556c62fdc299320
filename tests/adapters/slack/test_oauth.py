"""Installs in many workspaces: bolt's OAuth flow on editbot's database, each answered with its
own token, through the real AsyncApp and the fake Web API (oauth.v2.access)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from storage.db import create_engine
from storage.slack_installs import slack_bots
from tests.kit.images import split
from tests.kit.slack.harness import CHANNEL, USER, file_object, mention
from tests.kit.slack.installs import CLIENT_ID, OAuthHarness, oauth_harness

# slack_sdk sends oauth.v2.access's client credentials with aiohttp's BasicAuth, which aiohttp
# 3.14 deprecates (a warning, not a failure, outside the test suite's filterwarnings=error).
pytestmark = pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning")


def done_said(h: OAuthHarness) -> bool:
    """The fake core's last word on an edit (its status line says done) has been posted."""
    return any(str(c.get("text")).startswith("done") for c in h.api.named("chat.update"))


async def test_a_second_workspace_installs_and_its_edit_is_answered_with_its_own_token(
    db_url: str,
) -> None:
    async with oauth_harness(db_url) as h:
        for team in ("T0001", "T0002"):
            done = await h.install(team)
            assert done.status_code == 200, done.text
        [first, second] = h.api.named("oauth.v2.access")
        assert (first["code"], second["code"]) == ("code-T0001", "code-T0002")
        tokens = {team: token for token, team in h.api.teams.items()}
        assert set(tokens) == {"T0001", "T0002"}

        h.api.files["photo.png"] = split((48, 32))
        event = mention("make it warmer", files=[file_object(h.api, "photo.png")])
        assert await h.event("T0002", event, event_id="Ev-T2") == 200
        await h.api.wait_for(lambda: len(h.service.finished) == 1)
        await h.api.wait_for(lambda: done_said(h))

        [edit] = h.service.accepted
        assert edit.place.workspace == "T0002"
        [up] = h.api.uploads
        assert (up.channel, up.thread_ts) == (CHANNEL, event["ts"])
        answered = [c for c in h.api.calls if c.method in ("chat.postMessage", "chat.update")]
        answered += [c for c in h.api.calls if c.method.startswith("files.")]
        assert answered and {c.token for c in answered} == {tokens["T0002"]}
        assert h.api.download_requests == [("photo.png", f"Bearer {tokens['T0002']}")]


async def test_install_state_must_match_the_browsers_cookie(db_url: str) -> None:
    async with oauth_harness(db_url) as h:
        start = await h.http.get(h.url + "/slack/install")
        assert start.status_code == 200 and "slack-app-oauth-state=" in start.headers["set-cookie"]
        h.api.oauth_codes["code-x"] = "T0009"
        resp = await h.http.get(
            h.url + "/slack/oauth_redirect", params={"code": "code-x", "state": "forged"}
        )
        assert resp.status_code == 400
        assert h.api.named("oauth.v2.access") == [] and h.api.teams == {}


async def test_an_expiring_token_is_rotated_before_a_delivery(db_url: str) -> None:
    async with oauth_harness(db_url) as h:
        await h.install("T0002")
        [old] = list(h.api.teams)
        engine = create_engine(db_url)
        try:
            async with engine.begin() as conn:
                soon = datetime.now(UTC).replace(tzinfo=None) + timedelta(minutes=5)
                await conn.execute(
                    sa.update(slack_bots)
                    .where(slack_bots.c.team_id == "T0002", slack_bots.c.client_id == CLIENT_ID)
                    .values(bot_token_expires_at=soon)
                )
        finally:
            await engine.dispose()

        h.api.files["photo.png"] = split((48, 32))
        event = mention("add a hat", files=[file_object(h.api, "photo.png")])
        assert await h.event("T0002", event, event_id="Ev-rot") == 200
        await h.api.wait_for(lambda: len(h.service.finished) == 1)
        await h.api.wait_for(lambda: done_said(h))

        refresh = [c for c in h.api.named("oauth.v2.access") if c.get("grant_type")]
        assert refresh and refresh[0]["grant_type"] == "refresh_token"
        new = h.api.teams.keys() - {old}
        assert new
        posted = [c for c in h.api.calls if c.method == "chat.postMessage"]
        assert {c.token for c in posted} <= new and posted
        assert await h.installs.bot_token("T0002") in new


async def test_a_workspace_without_an_install_is_not_answered(db_url: str) -> None:
    async with oauth_harness(db_url) as h:
        await h.install("T0001")
        event = {**mention("hello"), "user": USER}
        assert await h.event("T0404", event, event_id="Ev-none") == 200
        assert h.service.accepted == []
        assert not [c for c in h.api.calls if c.method == "chat.postMessage"]


async def test_edit_command_in_an_installed_workspace_uses_its_token(db_url: str) -> None:
    async with oauth_harness(db_url) as h:
        for team in ("T0001", "T0002"):
            await h.install(team)
        tokens = {team: token for token, team in h.api.teams.items()}
        h.api.files["IMG_7.png"] = split((40, 30))
        ts = f"{time.time() - 90:.6f}"
        post = {
            "type": "message",
            "user": USER,
            "ts": ts,
            "files": [file_object(h.api, "IMG_7.png")],
        }
        h.api.post_in_channel(CHANNEL, post)

        assert await h.command("T0002", "/edit", "make it warmer") == 200
        await h.api.wait_for(lambda: len(h.service.finished) == 1)
        await h.api.wait_for(lambda: done_said(h))
        [edit] = h.service.accepted
        assert (edit.place.workspace, edit.place.thread) == ("T0002", ts)
        [note] = [c for c in h.api.calls if c.method == "chat.postEphemeral"]
        [history] = [c for c in h.api.calls if c.method == "conversations.history"]
        assert note.token == history.token == tokens["T0002"]
        assert note.args["text"] == "Editing IMG_7.png, posted 1 min ago."
        assert h.api.uploads[0].thread_ts == ts
