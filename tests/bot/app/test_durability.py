"""Nothing acknowledged is lost: real `editbot run` / `editbot worker` processes, killed.

Signed mentions go into `editbot run` in Slack HTTP mode (the fake Web API records what a
person would see), the provider is the emulator over HTTP (it records every edit it served).
Leases are 600 s throughout: whatever finishes within a test was taken over through the
heartbeats and the inbox, not because a lease ran out.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import subprocess
import sys
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from tests.kit.editbot import OPENAI_KEY, editbot, editbot_env, wait_until
from tests.kit.emulator import ProviderEmulator
from tests.kit.emulator.server import EmulatorServer
from tests.kit.images import split
from tests.kit.paths import REPO
from tests.kit.slack.api import FakeSlackApi, Upload
from tests.kit.slack.harness import CHANNEL, TOKEN, event_callback, file_object, mention
from tests.kit.slack.socket import FakeSocketMode, SocketSlackApi

pytestmark = pytest.mark.slow

LONG_LEASE = {"EDITBOT_LEASE_S": "600", "EDITBOT_PREVIEWS": "0"}


def results(api: FakeSlackApi, ts: str) -> list[Upload]:
    """Result posts in the thread of the mention sent at `ts`."""
    return [u for u in api.uploads if u.thread_ts == ts and u.channel == CHANNEL]


def stamps(first: int, count: int) -> list[str]:
    return [f"1700000{first:03d}.{i:06d}" for i in range(count)]


def served(emu: ProviderEmulator) -> int:
    """Edits the provider worked on (and bills), whether or not anyone got the answer."""
    return sum(1 for r in emu.routes("openai_edit") if r.authorized)


def usage(env: dict[str, str], tmp_path: Path, *flags: str) -> list[dict[str, str]]:
    """`editbot usage --since today --csv FLAGS`, as an operator runs it: the rows."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("EDITBOT_", "SLACK_"))}
    since = date.today().isoformat()
    out = subprocess.run(
        [sys.executable, "-m", "bot.app.cli", "usage", "--since", since, "--csv", *flags],
        env={**base, "PYTHONPATH": str(REPO), **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return list(csv.DictReader(io.StringIO(out.stdout)))


def ledger_kinds(env: dict[str, str], tmp_path: Path) -> Counter[str]:
    """The raw ledger (`editbot usage --ledger`): rows per kind."""
    return Counter(row["kind"] for row in usage(env, tmp_path, "--ledger"))


async def setup(api: FakeSlackApi) -> None:
    api.files["photo.jpg"] = split((320, 240), fmt="JPEG")


async def test_mentions_acked_then_killed_are_each_answered_once_by_the_restart(
    tmp_path: Path,
) -> None:
    emu = ProviderEmulator(openai_key=OPENAI_KEY, latency_s=0.3)
    async with EmulatorServer(emu) as emulator_url, FakeSlackApi(token=TOKEN) as api:
        await setup(api)
        env = editbot_env(api, emulator_url, tmp_path / "data", **LONG_LEASE)
        sent = stamps(100, 4)
        api.download_gate = asyncio.Event()  # each request is still fetching its photo
        async with editbot(["run"], env, tmp_path, "first", http=True) as first:
            acks = await asyncio.gather(
                *(
                    first.mention(api, ts=ts, text=f"edit {i} quality=low")
                    for i, ts in enumerate(sent)
                )
            )
            await api.wait_for(lambda: len(api.download_requests) == 4)
            first.kill()  # after the 200s: Slack will not send these again
            await first.proc.wait()
        assert [a.status_code for a in acks] == [200] * 4
        assert served(emu) == 0  # nothing got further than the intake
        api.download_gate.set()
        api.download_gate = None
        async with editbot(["run"], env, tmp_path, "second", http=True) as second:
            await wait_until(lambda: all(results(api, ts) for ts in sent), timeout=240)
            assert await second.stop() == 0, second.output()
        assert {ts: len(results(api, ts)) for ts in sent} == dict.fromkeys(sent, 1)
        kinds = ledger_kinds(env, tmp_path)
        assert kinds["settle"] == 4 and kinds["settle"] + kinds["lost"] >= served(emu)


async def test_a_kill_mid_call_is_charged_as_lost_and_the_restart_answers_at_once(
    tmp_path: Path,
) -> None:
    emu = ProviderEmulator(openai_key=OPENAI_KEY, latency_s=3.0)
    async with EmulatorServer(emu) as emulator_url, FakeSlackApi(token=TOKEN) as api:
        await setup(api)
        env = editbot_env(api, emulator_url, tmp_path / "data", **LONG_LEASE)
        sent = stamps(200, 3)
        async with editbot(["run"], env, tmp_path, "first", http=True) as first:
            for i, ts in enumerate(sent):
                assert (
                    await first.mention(api, ts=ts, text=f"hat {i} quality=low")
                ).status_code == 200
            await wait_until(lambda: served(emu) == 3, timeout=60, what="3 calls in flight")
            first.kill()  # the provider is working on all three: it bills them
            await first.proc.wait()
        assert not any(results(api, ts) for ts in sent)
        async with editbot(["run"], env, tmp_path, "second", http=True) as second:
            # The dead process's leases (600 s) are taken back at the restart's first beat.
            await wait_until(lambda: all(results(api, ts) for ts in sent), timeout=240)
            assert await second.stop() == 0, second.output()
        assert {ts: len(results(api, ts)) for ts in sent} == dict.fromkeys(sent, 1)
        # Six edits served, six paid: three answers lost with their process, three delivered.
        assert served(emu) == 6
        kinds = ledger_kinds(env, tmp_path)
        assert (kinds["settle"], kinds["lost"]) == (3, 3)
        # The report finance reads shows them too, each at its estimate.
        report = usage(env, tmp_path)
        lost = [row for row in report if "lost" in row["status"]]
        assert len(lost) == 3 and all(float(row["usd"]) > 0 for row in lost)


@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_a_live_worker_takes_over_what_a_killed_process_held(
    db: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    emu = ProviderEmulator(openai_key=OPENAI_KEY, latency_s=2.0)
    async with EmulatorServer(emu) as emulator_url, FakeSlackApi(token=TOKEN) as api:
        await setup(api)
        env = editbot_env(api, emulator_url, tmp_path / "data", **LONG_LEASE)
        if db == "postgres":  # two processes, one database server
            env["EDITBOT_DATABASE_URL"] = request.getfixturevalue("empty_pg_url")
        at_provider, in_intake = stamps(300, 2), stamps(301, 2)
        async with (
            editbot(["run"], env, tmp_path, "victim", http=True) as victim,
            editbot(["worker"], env, tmp_path, "survivor", http=False) as survivor,
        ):
            await wait_until(lambda: "concurrent jobs" in survivor.output(), timeout=60)
            for i, ts in enumerate(at_provider):
                assert (
                    await victim.mention(api, ts=ts, text=f"sky {i} quality=low")
                ).status_code == 200
            await wait_until(lambda: served(emu) >= 2, timeout=60, what="2 calls in flight")
            for i, ts in enumerate(in_intake):
                assert (
                    await victim.mention(api, ts=ts, text=f"sea {i} quality=low")
                ).status_code == 200
            victim.kill()
            await victim.proc.wait()
            # The survivor sees the victim's heartbeat go stale: its running jobs and its
            # inbox move over (a lease of 600 s would still hold them).
            sent = at_provider + in_intake
            try:
                await wait_until(lambda: all(results(api, ts) for ts in sent), timeout=240)
            except AssertionError:
                done = {ts: len(results(api, ts)) for ts in sent}
                raise AssertionError(f"{done}\n{survivor.output()[-6000:]}") from None
            assert await survivor.stop() == 0, survivor.output()
        assert {ts: len(results(api, ts)) for ts in sent} == dict.fromkeys(sent, 1)
        kinds = ledger_kinds(env, tmp_path)
        assert kinds["settle"] == 4 and kinds["settle"] + kinds["lost"] >= served(emu)


async def test_a_stop_lets_the_calls_in_flight_finish_and_delivers_them(tmp_path: Path) -> None:
    emu = ProviderEmulator(openai_key=OPENAI_KEY, latency_s=2.0)
    async with EmulatorServer(emu) as emulator_url, FakeSlackApi(token=TOKEN) as api:
        await setup(api)
        env = editbot_env(api, emulator_url, tmp_path / "data", **LONG_LEASE)
        sent = stamps(400, 2)
        async with editbot(["run"], env, tmp_path, "run", http=True) as bot:
            for i, ts in enumerate(sent):
                assert (
                    await bot.mention(api, ts=ts, text=f"moon {i} quality=low")
                ).status_code == 200
            await wait_until(lambda: served(emu) == 2, timeout=60, what="2 calls in flight")
            assert await bot.stop() == 0, bot.output()  # the grace period (30 s) covers them
        assert {ts: len(results(api, ts)) for ts in sent} == dict.fromkeys(sent, 1)
        assert served(emu) == 2
        kinds = ledger_kinds(env, tmp_path)
        assert (kinds["settle"], kinds["lost"]) == (2, 0)


async def test_socket_mode_events_acked_then_killed_are_answered_by_the_restart(
    tmp_path: Path,
) -> None:
    emu = ProviderEmulator(openai_key=OPENAI_KEY, latency_s=0.3)
    app_token = "xapp-1-A0001-durable-test"
    async with (
        EmulatorServer(emu) as emulator_url,
        FakeSocketMode() as sm,
        SocketSlackApi(token=TOKEN, app_token=app_token, socket=sm) as api,
    ):
        await setup(api)
        env = editbot_env(api, emulator_url, tmp_path / "data", **LONG_LEASE)
        del env["SLACK_SIGNING_SECRET"]
        env["SLACK_APP_TOKEN"] = app_token
        sent = stamps(500, 2)
        api.download_gate = asyncio.Event()
        async with editbot(["run"], env, tmp_path, "first", http=True) as first:
            await sm.wait_connected(timeout=30)
            for i, ts in enumerate(sent):
                files = [file_object(api, "photo.jpg", mimetype="image/jpeg")]
                event = mention(f"star {i} quality=low", ts=ts, files=files)
                body = json.loads(event_callback(event, event_id=f"Ev{ts}"))
                await sm.wait_ack(await sm.push("events_api", body), timeout=30)
            await api.wait_for(lambda: len(api.download_requests) == 2)
            first.kill()  # acked over the socket: Slack will not send these again
            await first.proc.wait()
        api.download_gate.set()
        api.download_gate = None
        async with editbot(["run"], env, tmp_path, "second", http=True) as second:
            await wait_until(lambda: all(results(api, ts) for ts in sent), timeout=240)
            assert await second.stop() == 0, second.output()
        assert {ts: len(results(api, ts)) for ts in sent} == dict.fromkeys(sent, 1)
