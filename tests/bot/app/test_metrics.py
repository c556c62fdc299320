"""/metrics of a real `editbot run` after real jobs: parsed as Prometheus parses it.

One mention edits and succeeds, one is refused by the provider's safety system: the numbers
scraped must be the ones those two jobs make (jobs by status, provider calls and errors by
kind, spend per channel, acks, queue, deliveries).
"""

from __future__ import annotations

import asyncio

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.bot.app.cli.test_run import _env, _results, _send_mention, editbot_run
from tests.kit.emulator import ProviderEmulator
from tests.kit.emulator.server import EmulatorServer
from tests.kit.images import split
from tests.kit.slack.api import TEAM_ID, FakeSlackApi
from tests.kit.slack.harness import CHANNEL, TOKEN

OPENAI_KEY = "sk-run-test-0001"

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(url: str) -> Samples:
    async with httpx.AsyncClient() as http:
        resp = await http.get(url + "/metrics")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain; version=")
    samples: Samples = {}
    for family in text_string_to_metric_families(resp.text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_count_what_the_jobs_did(tmp_path):
    emu = ProviderEmulator(openai_key=OPENAI_KEY)
    async with EmulatorServer(emu) as emulator_url, FakeSlackApi(token=TOKEN) as api:
        api.files["photo.jpg"] = split((320, 240), fmt="JPEG")
        async with editbot_run(_env(api, emulator_url, tmp_path), tmp_path, "metrics") as bot:
            before = await scrape(bot.url)
            assert value(before, "editbot_jobs", status="succeeded") == 0
            await _send_mention(bot, api, ts="1700000011.000100", text="make it blue quality=low")
            await _send_mention(
                bot, api, ts="1700000012.000100", text="something forbidden quality=low"
            )
            await api.wait_for(lambda: bool(_results(api, "1700000011.000100")), timeout=60)
            async with asyncio.timeout(60):
                while True:
                    samples = await scrape(bot.url)
                    done = value(samples, "editbot_jobs", status="succeeded") + value(
                        samples, "editbot_jobs", status="failed"
                    )
                    if done == 2 and value(samples, "editbot_undelivered_jobs") == 0:
                        break
                    await asyncio.sleep(0.2)

    assert value(samples, "editbot_jobs", status="succeeded") == 1
    assert value(samples, "editbot_jobs", status="failed") == 1
    assert value(samples, "editbot_jobs", status="queued") == 0
    assert value(samples, "editbot_queue_depth") == 0
    assert value(samples, "editbot_queue_oldest_age_seconds") == 0
    # The provider: one edit answered, one refused by its safety system.
    ok = {"provider": "openai", "outcome": "ok"}
    refused = {"provider": "openai", "outcome": "content"}
    assert value(samples, "editbot_provider_seconds_count", **ok) == 1
    assert value(samples, "editbot_provider_seconds_sum", **ok) > 0
    assert value(samples, "editbot_provider_seconds_count", **refused) == 1
    assert value(samples, "editbot_provider_errors_total", provider="openai", kind="content") == 1
    assert value(samples, "editbot_provider_errors_total", provider="openai", kind="rejected") == 0
    # Money: only the edit that succeeded was spent, in its channel.
    spend = {k: v for k, v in samples.items() if k[0] == "editbot_spend_usd"}
    assert list(spend) == [("editbot_spend_usd", (("scope", f"slack:{TEAM_ID}:{CHANNEL}"),))]
    assert 0 < next(iter(spend.values())) < 1
    # Slack: two events, two acks timed, the scrapes themselves not counted as events.
    assert value(samples, "editbot_slack_events_total", kind="app_mention") == 2
    assert value(samples, "editbot_ack_seconds_count", platform="slack") == 2


async def test_a_waiting_job_shows_in_the_queue_depth_and_age(tmp_path):
    emu = ProviderEmulator(openai_key=OPENAI_KEY)
    async with EmulatorServer(emu) as emulator_url, FakeSlackApi(token=TOKEN) as api:
        api.files["photo.jpg"] = split((320, 240), fmt="JPEG")
        # No workers in this process: the job waits for an `editbot worker` that never comes.
        env = {**_env(api, emulator_url, tmp_path), "EDITBOT_WORKERS": "0"}
        async with editbot_run(env, tmp_path, "queue") as bot:
            await _send_mention(bot, api, ts="1700000021.000100", text="make it blue quality=low")
            async with asyncio.timeout(60):
                while value(samples := await scrape(bot.url), "editbot_queue_depth") < 1:
                    await asyncio.sleep(0.1)
            later = await scrape(bot.url)
    assert value(samples, "editbot_queue_depth") == 1
    assert value(samples, "editbot_jobs", status="queued") == 1
    age = value(samples, "editbot_queue_oldest_age_seconds")
    assert 0 < age <= value(later, "editbot_queue_oldest_age_seconds")
    assert not emu.routes("openai_edit")
