"""How soon a person sees an edit working: from the Slack event to the first visible status
message, and to the first preview in it, against the emulator's own time to its first partial
image (measured from the provider request's arrival), in one run.

The real Bolt app (HTTP mode, signed events), the real EditService and Worker on SQLite, the
fake Slack Web API and the provider emulator streaming 2 partial images over its latency.

    python -m bench.bench_live [--edits 5] [--latency 6]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from adapters.slack.chat import UPDATE_INTERVAL_S, SlackChatPort
from bot.app.root import Core
from bot.core.config import Settings
from bot.core.ports import ChatPort, EditServicePort
from bot.providers.openai import OpenAIProvider
from bot.providers.retry import RetryPolicy
from storage.blobs import FileBlobStore
from storage.db import create_engine, session_factory, upgrade
from tests.kit.core import EMULATOR, OPENAI_KEY, emulated, real_core
from tests.kit.emulator import ProviderEmulator
from tests.kit.images import split
from tests.kit.slack.api import FakeSlackApi
from tests.kit.slack.harness import CHANNEL, event_callback, file_object, mention, slack_harness


def _has_preview(args: dict[str, Any], ts: str) -> bool:
    blocks = args.get("blocks") or []
    return args.get("ts") == ts and any(b.get("type") == "image" for b in blocks)


async def _first(api: FakeSlackApi, predicate: Any, start: float) -> float:
    """Seconds from `start` until `predicate()` holds (polled every millisecond)."""
    async with asyncio.timeout(120):
        while not predicate():
            await asyncio.sleep(0.001)
    return time.monotonic() - start


async def one_edit(h: Any, emu: ProviderEmulator, n: int) -> tuple[float, float, float, float]:
    """(event -> status, event -> first preview, emulator arrival -> first partial, event ->
    the emulator writing its first partial), seconds."""
    ts = f"1700000100.{n:06d}"
    posted = len(h.api.named("chat.postMessage"))
    body = event_callback(
        mention(f"make it pop {n}", ts=ts, files=[file_object(h.api, "photo.png")]),
        event_id=f"EvLive{n:04d}",
    )
    start = time.monotonic()
    assert (await h.post(body)).status_code == 200
    to_status = await _first(h.api, lambda: len(h.api.named("chat.postMessage")) > posted, start)
    status_ts = str(h.api.bot_messages(CHANNEL, ts)[0]["ts"])
    to_preview = await _first(
        h.api, lambda: any(_has_preview(a, status_ts) for a in h.api.named("chat.update")), start
    )
    await _first(
        h.api,
        lambda: (
            h.api.bot_messages(CHANNEL, ts)[-1:] != []
            and any(d.get("ts") == status_ts for d in h.api.named("chat.delete"))
        ),
        start,
    )
    rec = emu.routes("openai_edit")[-1]
    partial = next(t for kind, t in rec.sent_events if kind == "image_edit.partial_image")
    return to_status, to_preview, partial - rec.arrived, partial - start


async def run(edits: int, latency: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        await upgrade(url)
        engine = create_engine(url)
        sessions = session_factory(engine)
        emu = ProviderEmulator(latency_s=latency)
        provider = OpenAIProvider(
            client=emulated(emu),
            base_url=f"{EMULATOR}/v1",
            api_key=OPENAI_KEY,
            retry=RetryPolicy(max_retries=1),
            deadline_s=120,
            partial_images=2,
        )
        cores: list[Core] = []

        def make_service(chat: SlackChatPort, settings: Settings) -> EditServicePort:
            chats: dict[str, ChatPort] = {"slack": chat}
            blobs = FileBlobStore(Path(tmp) / "blobs")
            core = real_core(
                settings, sessions=sessions, blobs=blobs, chats=chats, provider=provider
            )
            cores.append(core)
            return core.service

        try:
            async with slack_harness(
                make_service=make_service, update_interval=UPDATE_INTERVAL_S, EDITBOT_DATA_DIR=tmp
            ) as h:
                h.api.files["photo.png"] = split((320, 256))
                worker = asyncio.create_task(cores[0].worker.run())
                rows = [await one_edit(h, emu, n) for n in range(edits)]
                await cores[0].worker.stop()
                worker.cancel()
        finally:
            await engine.dispose()
    report(rows, latency)


def report(rows: list[tuple[float, float, float, float]], latency: float) -> None:
    status = statistics.median(r[0] for r in rows)
    preview = statistics.median(r[1] for r in rows)
    partial = statistics.median(r[2] for r in rows)
    behind = statistics.median(r[1] - r[3] for r in rows)
    print(f"{len(rows)} edits, emulator latency {latency:g} s, 2 partial images each")
    print(f"event -> first status message   median {status * 1000:7.0f} ms")
    print(f"event -> first preview shown    median {preview * 1000:7.0f} ms")
    print(f"emulator -> its first partial   median {partial * 1000:7.0f} ms")
    print(f"ratio preview / emulator's partial: {preview / partial:.2f}")
    print(f"ratio status / emulator's partial:  {status / partial:.3f}")
    print(f"preview shown after the emulator wrote it: median {behind * 1000:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--edits", type=int, default=5)
    parser.add_argument("--latency", type=float, default=6.0)
    args = parser.parse_args()
    asyncio.run(run(args.edits, args.latency))


if __name__ == "__main__":
    main()
