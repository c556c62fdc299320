"""Socket Mode over the real protocol: apps.connections.open, hello, envelopes, acks.

The app side is slack_sdk's SocketModeClient under bolt's AsyncSocketModeHandler, exactly as
editbot builds it (adapters.slack.socket); Slack's side is a local websocket server
(tests/kit/slack/socket.py) next to the fake Web API. First in-process with the fake core,
then the real `editbot run` process.
"""

from __future__ import annotations

import asyncio
import io
import json
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

from adapters.slack.app import build_slack_app, build_slack_client
from adapters.slack.chat import SlackChatPort
from adapters.slack.downloads import SlackDownloader, allowed_hosts
from adapters.slack.socket import socket_mode_handler, uses_socket_mode
from bot.core.metrics import Registry
from bot.core.ports import Action
from tests.bot.app.cli.test_run import editbot_run
from tests.kit.emulator import ProviderEmulator
from tests.kit.emulator.server import EmulatorServer
from tests.kit.images import split
from tests.kit.service import FakeEditService
from tests.kit.settings import make_settings
from tests.kit.slack.api import TEAM_ID
from tests.kit.slack.harness import CHANNEL, TOKEN, USER, event_callback, file_object, mention
from tests.kit.slack.socket import FakeSocketMode, SocketSlackApi, wait_until

APP_TOKEN = "xapp-1-A0001-socket-test-token"
OPENAI_KEY = "sk-socket-test-0001"
TS = "1699999999.000100"


@dataclass
class SocketRig:
    socket: FakeSocketMode
    api: SocketSlackApi
    service: FakeEditService
    handler: AsyncSocketModeHandler


@asynccontextmanager
async def socket_rig(
    *, gate: asyncio.Event | None = None, metrics: Registry | None = None
) -> AsyncIterator[SocketRig]:
    """editbot's AsyncApp (fake core) connected in Socket Mode to the fake Slack."""
    async with (
        FakeSocketMode() as sm,
        SocketSlackApi(token=TOKEN, app_token=APP_TOKEN, socket=sm) as api,
        httpx.AsyncClient(timeout=10) as http,
    ):
        # No signing secret: Socket Mode alone must be enough to build and run the app.
        settings = make_settings(
            SLACK_BOT_TOKEN=SecretStr(TOKEN),
            SLACK_APP_TOKEN=SecretStr(APP_TOKEN),
            SLACK_API_URL=api.api_url,
        )
        assert uses_socket_mode(settings) and settings.slack_signing_secret is None
        client = build_slack_client(settings)
        downloader = SlackDownloader(
            http=http,
            token=TOKEN,
            max_bytes=settings.max_input_bytes,
            hosts=allowed_hosts(settings.slack_api_url),
        )
        service = FakeEditService(
            chats={"slack": SlackChatPort(client=client, downloader=downloader)}, gate=gate
        )
        app = build_slack_app(
            settings=settings, client=client, service=service, downloader=downloader
        )
        handler = socket_mode_handler(app, settings, metrics=metrics)
        await handler.connect_async()
        try:
            await sm.wait_connected()
            yield SocketRig(sm, api, service, handler)
        finally:
            await handler.close_async()


def events_payload(event: dict[str, Any], *, event_id: str) -> dict[str, Any]:
    """The events_api envelope's payload: the same event_callback body HTTP mode posts."""
    payload: dict[str, Any] = json.loads(event_callback(event, event_id=event_id))
    return payload


def image_at(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


def near(pixel: object, want: tuple[int, ...], tol: int = 3) -> bool:
    """Equal within a few levels (the core's intake re-encodes the input)."""
    assert isinstance(pixel, tuple) and len(pixel) == len(want)
    return all(abs(a - b) <= tol for a, b in zip(pixel, want, strict=True))


async def test_connects_with_the_app_token_and_gets_hello() -> None:
    async with socket_rig() as rig:
        # One connections.open, made with the xapp- token (the fake refuses any other), then
        # exactly one websocket on the ticket it handed out.
        assert rig.api.connection_opens == [f"Bearer {APP_TOKEN}"]
        [conn] = rig.socket.connections
        assert conn.hello_sent and conn.ticket == "ticket-0001"
        assert rig.socket.refused == [] and rig.socket.unexpected == []
        # close_async really closes the websocket (Slack would otherwise keep sending to it).
        await rig.handler.close_async()
        await asyncio.wait_for(conn.closed.wait(), 5)
        assert conn.ws.close_code == 1000


async def test_mention_envelope_is_acked_first_then_edited_into_its_thread() -> None:
    gate = asyncio.Event()
    async with socket_rig(gate=gate) as rig:
        rig.api.files["photo.png"] = split((64, 48))
        event = mention("make it moody", files=[file_object(rig.api, "photo.png")])
        envelope = await rig.socket.push("events_api", events_payload(event, event_id="EvS1"))

        ack = await rig.socket.wait_ack(envelope)
        # Acked while the core is still held at the gate: the ack never waits for the work.
        assert ack.payload is None
        await wait_until(lambda: len(rig.service.accepted) == 1)
        assert rig.api.uploads == []
        gate.set()

        # Finished, not just uploaded: the buttons message follows the upload.
        await wait_until(lambda: len(rig.service.finished) == 1)
        [upload] = rig.api.uploads
        assert (upload.channel, upload.thread_ts) == (CHANNEL, TS)
        assert upload.initial_comment == "v1 · make it moody"
        im = image_at(upload.data)
        assert im.size == (64, 48)
        # The input's red and blue halves, inverted: the result was made from the download.
        assert near(im.getpixel((0, 0)), (0, 255, 255))
        assert near(im.getpixel((63, 47)), (255, 255, 0))
        assert rig.api.download_requests == [("photo.png", f"Bearer {TOKEN}")]
        [edit] = rig.service.accepted
        assert edit.event_key == f"slack:{TEAM_ID}:{CHANNEL}:{TS}"
        assert edit.text == "make it moody"


async def test_each_envelope_ack_is_timed_in_ack_seconds() -> None:
    registry = Registry()
    async with socket_rig(metrics=registry) as rig:
        acks = registry.histogram("ack_seconds")
        rig.api.files["photo.png"] = split((64, 48))
        event = mention("timed", files=[file_object(rig.api, "photo.png")])
        envelope = await rig.socket.push("events_api", events_payload(event, event_id="EvS9"))
        await rig.socket.wait_ack(envelope)
        # Observed right after the ack was sent (the handler's last step).
        await wait_until(lambda: acks.count(platform="slack") >= 1)
        await wait_until(lambda: len(rig.service.finished) == 1)
    assert acks.count(platform="slack") == 1
    assert acks.count(platform="discord") == 0


async def test_redelivered_envelope_is_acked_again_but_edited_once() -> None:
    async with socket_rig() as rig:
        rig.api.files["photo.png"] = split((64, 48))
        payload = events_payload(
            mention("again", files=[file_object(rig.api, "photo.png")]), event_id="EvS2"
        )
        first = await rig.socket.push("events_api", payload)
        await rig.socket.wait_ack(first)
        await wait_until(lambda: len(rig.service.finished) == 1)

        # Slack redelivers an event it thinks was lost: a new envelope, the same event.
        again = await rig.socket.push(
            "events_api", payload, retry_attempt=1, retry_reason="timeout"
        )
        await rig.socket.wait_ack(again)
        # And the very same envelope once more (a replay after a reconnect).
        await rig.socket.push("events_api", payload, envelope_id=again)
        await wait_until(lambda: len(rig.socket.acks_for(again)) == 2)
        await wait_until(lambda: len(rig.service.duplicates) == 2)

        assert len(rig.service.accepted) == 1
        assert rig.service.duplicates == [rig.service.accepted[0].event_key] * 2
        assert len(rig.api.uploads) == 1
        assert len(rig.api.download_requests) == 1


async def test_budget_command_envelope_is_acked_and_answered_ephemerally() -> None:
    gate = asyncio.Event()
    async with socket_rig(gate=gate) as rig:
        payload = {
            "token": "legacy",
            "team_id": TEAM_ID,
            "team_domain": "editbot-test",
            "channel_id": CHANNEL,
            "channel_name": "design",
            "user_id": USER,
            "user_name": "ana",
            "command": "/edit-budget",
            "text": "show",
            "api_app_id": "A0001",
            "is_enterprise_install": "false",
            "response_url": "https://hooks.slack.com/commands/T0001/1/x",
            "trigger_id": "trig.socket",
        }
        envelope = await rig.socket.push("slash_commands", payload)

        ack = await rig.socket.wait_ack(envelope)
        assert ack.payload is None  # an empty ack: the answer comes as an ephemeral message
        await wait_until(lambda: len(rig.service.budget_calls) == 1)
        assert rig.api.named("chat.postEphemeral") == []
        gate.set()

        await rig.api.wait_calls("chat.postEphemeral")
        [answer] = rig.api.named("chat.postEphemeral")
        assert (answer["channel"], answer["user"]) == (CHANNEL, USER)
        assert answer["text"] == "cap 20000000"
        [(place, args, platform_admin)] = rig.service.budget_calls
        assert (place.channel, place.user, args, platform_admin) == (CHANNEL, USER, "show", False)
        assert rig.api.named("chat.postMessage") == []  # nothing public


async def test_button_press_envelope_reaches_the_core() -> None:
    async with socket_rig() as rig:
        payload = {
            "type": "block_actions",
            "team": {"id": TEAM_ID},
            "user": {"id": USER},
            "api_app_id": "A0001",
            "channel": {"id": CHANNEL},
            "trigger_id": "t",
            "container": {"type": "message", "message_ts": "5.6", "channel_id": CHANNEL},
            "message": {"ts": "5.6", "thread_ts": "5.0", "text": "What next?"},
            "actions": [
                {
                    "action_id": "editbot:retry",
                    "value": "job-17",
                    "type": "button",
                    "block_id": "b",
                    "action_ts": "7.7",
                }
            ],
        }
        envelope = await rig.socket.push("interactive", payload)

        await rig.socket.wait_ack(envelope)
        await wait_until(lambda: len(rig.service.presses) == 1)
        [press] = rig.service.presses
        assert (press.action, press.job_id, press.place.thread) == (Action.RETRY, "job-17", "5.0")
        await rig.api.wait_calls("chat.postMessage")
        assert rig.api.named("chat.postMessage")[0]["thread_ts"] == "5.0"


async def test_disconnect_request_reconnects_and_keeps_serving() -> None:
    async with socket_rig() as rig:
        first = rig.socket.live
        assert first is not None
        # Slack asks clients to move every few hours; the app must reconnect on a new ticket.
        await first.ws.send_str(json.dumps({"type": "disconnect", "reason": "refresh_requested"}))
        await wait_until(lambda: len(rig.socket.connections) == 2 and first.closed.is_set())
        assert rig.api.connection_opens == [f"Bearer {APP_TOKEN}"] * 2
        assert rig.socket.connections[1].ticket == "ticket-0002"

        rig.api.files["photo.png"] = split((32, 32))
        event = mention("after the move", files=[file_object(rig.api, "photo.png")])
        envelope = await rig.socket.push("events_api", events_payload(event, event_id="EvS3"))
        await rig.socket.wait_ack(envelope)
        await wait_until(lambda: len(rig.service.finished) == 1)
        assert image_at(rig.api.uploads[0].data).size == (32, 32)


# ---- the real process


async def test_editbot_run_in_socket_mode_edits_a_mention_end_to_end(tmp_path: Path) -> None:
    emu = ProviderEmulator(openai_key=OPENAI_KEY)
    async with (
        EmulatorServer(emu) as emulator_url,
        FakeSocketMode() as sm,
        SocketSlackApi(token=TOKEN, app_token=APP_TOKEN, socket=sm) as api,
    ):
        api.files["photo.jpg"] = split((320, 240), fmt="JPEG")
        env = {
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_APP_TOKEN": APP_TOKEN,  # and no SLACK_SIGNING_SECRET
            "SLACK_API_URL": api.api_url,
            "OPENAI_API_KEY": OPENAI_KEY,
            "OPENAI_BASE_URL": f"{emulator_url}/v1",
            "EDITBOT_DATA_DIR": str(tmp_path / "data"),
            "EDITBOT_CONFIRM_ABOVE_USD": "5",
        }
        async with editbot_run(env, tmp_path, "socket") as bot:
            conn = await sm.wait_connected(timeout=30)
            assert api.connection_opens == [f"Bearer {APP_TOKEN}"]
            async with httpx.AsyncClient() as http:
                health = await http.get(bot.url + "/healthz")
                assert health.status_code == 200
                # Socket Mode serves no events endpoint: nothing can be injected over HTTP.
                assert (await http.post(bot.url + "/slack/events", content="{}")).status_code == 404

            ts = "1700000003.000100"
            files = [file_object(api, "photo.jpg")]
            event = mention("make it blue quality=low", ts=ts, files=files)
            envelope = await sm.push("events_api", events_payload(event, event_id="EvRun1"))
            await sm.wait_ack(envelope, timeout=10)
            await wait_until(lambda: any(u.thread_ts == ts for u in api.uploads), timeout=60)

            [upload] = [u for u in api.uploads if u.channel is not None]  # not the previews
            assert (upload.channel, upload.thread_ts) == (CHANNEL, ts)
            image = image_at(upload.data)
            assert image.size == (1360, 1024)  # 4:3 at 1k, as editbot asks for it
            left, right = image.getpixel((200, 512)), image.getpixel((1160, 512))
            assert isinstance(left, tuple) and isinstance(right, tuple)
            assert left[0] > left[2] and right[2] > right[0]  # the input's halves survive
            assert upload.alt_txt and "make it blue" in upload.alt_txt
            assert len(emu.routes("openai_edit")) == 1
            # /metrics of the process: the one envelope's ack was timed.
            async with httpx.AsyncClient() as http:
                text = (await http.get(bot.url + "/metrics")).text
            acks = [
                s.value
                for family in text_string_to_metric_families(text)
                for s in family.samples
                if s.name == "editbot_ack_seconds_count" and s.labels == {"platform": "slack"}
            ]
            assert acks == [1]

            bot.proc.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(bot.proc.wait(), 30) == 0, bot.output()
            # The process closed its websocket on the way out.
            await asyncio.wait_for(conn.closed.wait(), 5)
            assert conn.ws.close_code == 1000, conn.ws.close_code
        output = bot.output()
        assert APP_TOKEN not in output and TOKEN not in output and OPENAI_KEY not in output
