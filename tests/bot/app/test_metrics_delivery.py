"""/metrics counts the posts of finished jobs that failed, by platform.

The real wiring (build_core with a Registry, the Worker, the sweep) runs one job whose first
post fails; the web app's /metrics, parsed as Prometheus parses it, shows one failure for
that platform and none for another, while the sweep's retry (which posts) adds none.
"""

from __future__ import annotations

import httpx
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from bot.app.web import build_web_app
from bot.core.metrics import Registry
from storage.blobs import FileBlobStore
from storage.db import Sessions
from tests.kit.chat import FakeChat
from tests.kit.core import openai_provider, real_core
from tests.kit.settings import make_settings
from tests.kit.workers import WORKER_CAP_USD, enqueue_jobs


async def scraped(registry: Registry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    async with TestClient(TestServer(build_web_app(health=None, metrics=registry))) as client:
        resp = await client.get("/metrics")
        assert resp.status == 200
        text = await resp.text()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_a_failed_post_of_a_finished_job_counts_one_delivery_failure(
    sessions: Sessions, blobs: FileBlobStore, client: httpx.AsyncClient
) -> None:
    chat = FakeChat("slack")
    chat.fail_next["post_result"] = 1
    [q] = await enqueue_jobs(sessions, blobs, count=1, chat=chat)
    registry = Registry()
    core = real_core(
        make_settings(default_budget_usd=WORKER_CAP_USD),
        sessions=sessions,
        blobs=blobs,
        chats={"slack": chat},
        provider=openai_provider(client, "http://emulator"),
        owner="w1",
        concurrency=1,
        metrics=registry,
    )
    await core.worker.drain()

    assert chat.attempts["post_result"] == 2  # inline (failed), then the sweep (posted)
    assert [r.actions[0].job_id for r in chat.results()] == [q.job_id]
    samples = await scraped(registry)
    assert samples[("editbot_delivery_failures_total", (("platform", "slack"),))] == 1
    assert ("editbot_delivery_failures_total", (("platform", "discord"),)) not in samples
