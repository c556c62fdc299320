"""Ack latency of editbot's Slack app under 200 concurrent app_mention events with images.

Against a bare AsyncApp that acks the same events, in the same run. A child process plays
Slack (the fake Web API and the sender), so the measured process holds only the bot.
editbot's listener hands each event to a fake core whose submit does real work after
the ack (download, intake, Pillow invert in a thread, upload into the thread).

    python -m bench.bench_slack_ack [--events 200] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import statistics
import time
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

import aiohttp
import httpx
from aiohttp import web
from slack_bolt.async_app import AsyncApp

from adapters.slack.app import build_slack_app, build_slack_client
from adapters.slack.chat import SlackChatPort
from adapters.slack.downloads import SlackDownloader, allowed_hosts
from adapters.slack.http import slack_events_handler
from bot.app.web import build_web_app
from bot.core.config import Settings
from bot.core.metrics import Registry
from tests.kit.images import split
from tests.kit.service import FakeEditService
from tests.kit.settings import make_settings
from tests.kit.slack.api import FakeSlackApi
from tests.kit.slack.harness import (
    SECRET,
    TOKEN,
    event_callback,
    file_object,
    mention,
    signed_headers,
)


async def serve(app: AsyncApp) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(
        build_web_app(health=None, metrics=Registry(), slack_handler=slack_events_handler(app))
    )
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}/slack/events"


async def fire(http: httpx.AsyncClient, url: str, bodies: list[str]) -> list[float]:
    """POST every body at once; each one's latency in ms (status must be 200)."""

    async def one(body: str) -> float:
        headers = signed_headers(body)
        start = time.perf_counter()
        resp = await http.post(url, content=body, headers=headers)
        elapsed = (time.perf_counter() - start) * 1000
        if resp.status_code != 200:
            raise RuntimeError(f"status {resp.status_code}")
        return elapsed

    return await asyncio.gather(*(one(b) for b in bodies))


def slack_side(conn: Connection, events: int) -> None:
    """Child process playing Slack: the fake Web API, and the sender of the signed events."""

    async def run() -> None:
        loop = asyncio.get_running_loop()
        async with FakeSlackApi(token=TOKEN) as api:
            api.files["photo.png"] = split((512, 384))
            conn.send((api.api_url, file_object(api, "photo.png")))
            limits = httpx.Limits(max_connections=events, max_keepalive_connections=events)
            async with httpx.AsyncClient(timeout=60, limits=limits) as http:
                while True:
                    msg = await loop.run_in_executor(None, conn.recv)
                    if msg is None:
                        return
                    url, bodies = msg
                    conn.send(await fire(http, url, bodies))

    asyncio.run(run())


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


Latencies = dict[str, list[tuple[float, float]]]
"""App name -> (p50, p99) ack latency in ms of each round."""


async def recv(conn: Connection) -> Any:
    """The child's next message, without blocking the loop that serves the apps meanwhile."""
    return await asyncio.get_running_loop().run_in_executor(None, conn.recv)


def start_slack_side(events: int) -> tuple[Connection, BaseProcess]:
    """The child process that plays Slack, and our end of the pipe to it."""
    conn, child_conn = mp.Pipe()
    child = mp.get_context("spawn").Process(target=slack_side, args=(child_conn, events))
    child.start()
    return conn, child


def build_editbot(
    settings: Settings, *, http: httpx.AsyncClient, session: aiohttp.ClientSession
) -> tuple[AsyncApp, FakeEditService]:
    """editbot's Slack app as the composition root wires it, over a fake core."""
    # One pooled session for the Web API, as the composition root should pass it.
    client = build_slack_client(settings, session=session)
    downloader = SlackDownloader(
        http=http,
        token=TOKEN,
        max_bytes=settings.max_input_bytes,
        hosts=allowed_hosts(settings.slack_api_url),
    )
    service = FakeEditService(chats={"slack": SlackChatPort(client=client, downloader=downloader)})
    editbot = build_slack_app(
        settings=settings, client=client, service=service, downloader=downloader
    )
    return editbot, service


def build_bare(settings: Settings) -> AsyncApp:
    """The baseline: an AsyncApp that acks app_mention and does nothing else."""
    bare = AsyncApp(client=build_slack_client(settings), signing_secret=SECRET)

    @bare.event("app_mention")
    async def noop() -> None:
        return None

    return bare


def mention_bodies(round_: int, name: str, *, events: int, photo: dict[str, Any]) -> list[str]:
    """`events` app_mention callbacks with the photo; ts and event ids unique per round and app."""
    return [
        event_callback(
            mention("bench", ts=f"17{round_}{len(name)}.{i:06d}", files=[photo]),
            event_id=f"Ev{round_}{name}{i}",
        )
        for i in range(events)
    ]


async def measure(
    conn: Connection,
    *,
    urls: dict[str, str],
    photo: dict[str, Any],
    service: FakeEditService,
    events: int,
    rounds: int,
) -> Latencies:
    """Each round, the child fires `events` mentions at bare, then at editbot."""
    results: Latencies = {"bare": [], "editbot": []}
    for r in range(rounds):
        for name in ("bare", "editbot"):
            bodies = mention_bodies(r, name, events=events, photo=photo)
            done_before = len(service.finished)
            conn.send((urls[name], bodies))
            lat = await recv(conn)
            results[name].append((pct(lat, 0.5), pct(lat, 0.99)))
            if name == "editbot":
                # Let the work after the ack finish before the next round measures.
                while len(service.finished) < done_before + events:
                    await asyncio.sleep(0.05)
    return results


def report(results: Latencies, *, events: int, rounds: int, finished: int) -> None:
    med = {
        n: (statistics.median(p[0] for p in v), statistics.median(p[1] for p in v))
        for n, v in results.items()
    }
    print(f"{events} concurrent signed app_mention events, {rounds} rounds (median of rounds)")
    for name, (p50, p99) in med.items():
        print(f"  {name:8s} ack p50 {p50:7.1f} ms   p99 {p99:7.1f} ms")
    ratio = med["editbot"][1] / med["bare"][1]
    print(f"  p99 ratio editbot/bare: {ratio:.2f} (target <= 1.5)")
    print(f"  edits finished after the ack: {finished}")


async def main(events: int, rounds: int) -> None:
    conn, child = start_slack_side(events)
    api_url, photo = await recv(conn)
    settings = make_settings_for(api_url)
    async with httpx.AsyncClient(timeout=60) as http, aiohttp.ClientSession() as session:
        editbot, service = build_editbot(settings, http=http, session=session)
        bare = build_bare(settings)
        runners = []
        urls = {}
        for name, app in (("bare", bare), ("editbot", editbot)):
            runner, urls[name] = await serve(app)
            runners.append(runner)
        results = await measure(
            conn, urls=urls, photo=photo, service=service, events=events, rounds=rounds
        )
        for runner in runners:
            await runner.cleanup()
    conn.send(None)
    child.join()
    report(results, events=events, rounds=rounds, finished=len(service.finished))


def make_settings_for(api_url: str) -> Settings:
    return make_settings(SLACK_BOT_TOKEN=TOKEN, SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=api_url)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.events, args.rounds))
