"""Three machines: one `editbot run` front door and two `editbot worker` processes that share
only PostgreSQL and an S3 server, each with a data directory of its own (no shared disk).

The front door is Slack HTTP mode with EDITBOT_WORKERS=0, so every job runs on a worker and
every input it reads comes from the object store. 50 mentions, each with its own picture in
its own thread, go in; one worker is SIGKILLed midway (its running jobs are taken over by
the other worker); all 50 jobs succeed, and their results are posted once each in their own
thread with the provider's pixels for that picture and prompt. None is lost: a result the
killed worker had finished but not confirmed posting is taken over by the other worker (its
delivery lease, bot.jobs.sweep), which posts it unless it is in the thread already.
"""

from __future__ import annotations

import asyncio
import io
import os
import signal
import sys
from collections import Counter
from pathlib import Path

import httpx
import psycopg
import pytest
from PIL import Image
from sqlalchemy.engine import make_url

from tests.kit.core import OPENAI_KEY
from tests.kit.emulator import ProviderEmulator
from tests.kit.emulator.images import tint
from tests.kit.emulator.server import EmulatorServer
from tests.kit.images import solid
from tests.kit.paths import REPO
from tests.kit.s3 import S3Server, free_port
from tests.kit.slack.api import FakeSlackApi, Upload
from tests.kit.slack.harness import (
    CHANNEL,
    TOKEN,
    event_callback,
    file_object,
    mention,
    signed_headers,
    slack_env,
)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

MENTIONS = 50
KILL_AFTER = 12
WORKER_SLOTS = 4
"""Each worker's EDITBOT_WORKERS."""
# Short, so the killed worker's jobs come back quickly even where heartbeats would not say so.
LEASE_S = "5"
WAIT_S = 300
SHARE = "files.completeUploadExternal"
"""The Web API call that puts a result into its thread."""


def _colour(i: int) -> tuple[int, int, int]:
    return (40 + (i * 37) % 180, 30 + (i * 53) % 190, 20 + (i * 71) % 200)


def _ts(i: int) -> str:
    return f"1700000000.{i:06d}"


def _prompt(i: int) -> str:
    return f"picture {i} made purple"


async def _start(command: str, env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("EDITBOT_", "SLACK_", "AWS_", "DISCORD_", "OPENAI_"))
    }
    with log.open("wb") as sink:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.app.cli",
            command,
            env={**base, "PYTHONPATH": str(REPO), **env},
            cwd=log.parent,
            stdout=sink,
            stderr=asyncio.subprocess.STDOUT,
        )


async def _healthy(url: str, proc: asyncio.subprocess.Process, log: Path) -> None:
    async with httpx.AsyncClient() as http, asyncio.timeout(120):
        while True:
            assert proc.returncode is None, log.read_text(errors="replace")[-3000:]
            try:
                if (await http.get(url + "/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)  # a process starting: nothing to await but its port


async def test_one_front_door_and_two_workers_share_only_postgres_and_s3(
    empty_pg_url: str, tmp_path: Path
) -> None:
    emu = ProviderEmulator()
    emu.latency_s = 0.3
    with EmulatorServer(emu).in_thread() as base_url, S3Server(subprocess=True) as s3:
        bucket = s3.new_bucket()
        async with FakeSlackApi(token=TOKEN) as slack:
            shared = _shared_env(slack, s3, bucket, empty_pg_url, base_url)
            machines = {name: tmp_path / name for name in ("front", "w0", "w1")}
            for path in machines.values():
                path.mkdir()
            front, url = await _start_front(shared, machines["front"])
            workers = {
                name: await _start(
                    "worker",
                    {
                        **shared,
                        "EDITBOT_WORKERS": str(WORKER_SLOTS),
                        "EDITBOT_DATA_DIR": str(machines[name]),
                    },
                    machines[name] / "worker.log",
                )
                for name in ("w0", "w1")
            }
            try:
                await _send_mentions(slack, url)
                await slack.wait_for(lambda: len(_results(slack)) >= KILL_AFTER, timeout=WAIT_S)
                await _kill_mid_post(slack, shared, workers["w0"])
                await _all_finished(shared)
            finally:
                for proc in (front, *workers.values()):
                    if proc.returncode is None:
                        proc.send_signal(signal.SIGTERM)
                for proc in (front, *workers.values()):
                    await asyncio.wait_for(proc.wait(), 120)

            _check_results(slack, emu)
            logs = "".join(p.read_text(errors="replace") for p in tmp_path.rglob("*.log"))
            assert OPENAI_KEY not in logs and "editbot-test-secret" not in logs
            # No shared disk: the workers read every input from the bucket, and nothing but
            # each process's own files landed in its data directory.
            for path in machines.values():
                assert not (path / "blobs").exists()
            assert "running no jobs here" in (machines["front"] / "run.log").read_text()


def _shared_env(
    slack: FakeSlackApi, s3: S3Server, bucket: str, database: str, base_url: str
) -> dict[str, str]:
    """What all three machines are given: the platforms, PostgreSQL, S3 and the provider."""
    libpq = make_url(database).set(drivername="postgresql")
    return {
        **slack_env(slack),
        **s3.env(bucket),
        "EDITBOT_DATABASE_URL": libpq.render_as_string(hide_password=False),
        "EDITBOT_PROVIDER": "openai",
        "OPENAI_API_KEY": OPENAI_KEY,
        "OPENAI_BASE_URL": f"{base_url}/v1",
        "EDITBOT_LEASE_S": LEASE_S,
        "EDITBOT_PREVIEWS": "0",  # results only: previews are not what this counts
        "EDITBOT_CONFIRM_ABOVE_USD": "100",
        "EDITBOT_DEFAULT_BUDGET_USD": "1000",
    }


async def _start_front(
    shared: dict[str, str], machine: Path
) -> tuple[asyncio.subprocess.Process, str]:
    """`editbot run` with no workers, once its /healthz answers; and its URL."""
    port = free_port()
    env = {
        **shared,
        "EDITBOT_WORKERS": "0",
        "EDITBOT_HTTP_PORT": str(port),
        "EDITBOT_DATA_DIR": str(machine),
    }
    front = await _start("run", env, machine / "run.log")
    url = f"http://127.0.0.1:{port}"
    await _healthy(url, front, machine / "run.log")
    return front, url


async def _kill_mid_post(
    slack: FakeSlackApi, shared: dict[str, str], worker: asyncio.subprocess.Process
) -> None:
    """SIGKILL `worker` while it runs jobs and posts a result Slack took but has not answered
    yet (the fake holds the answers of file shares meanwhile): the other worker must take over
    both its jobs and its unconfirmed posts, posting none twice."""
    gate = slack.answer_gates[SHARE] = asyncio.Event()
    async with asyncio.timeout(WAIT_S):
        while not all(await asyncio.to_thread(_held_by, shared, worker.pid)):
            await asyncio.sleep(0.02)  # another process's progress: polled in the database
    os.kill(worker.pid, signal.SIGKILL)
    await worker.wait()
    gate.set()
    del slack.answer_gates[SHARE]


def _held_by(shared: dict[str, str], pid: int) -> tuple[int, int]:
    """Running jobs whose lease a process with this pid holds, and finished jobs it is posting
    unconfirmed (owners are host:pid:token)."""
    owner = f"%:{pid}:%"
    with psycopg.connect(shared["EDITBOT_DATABASE_URL"]) as conn:
        row = conn.execute(
            "SELECT count(*) FILTER (WHERE status = 'running' AND lease_owner LIKE %s),"
            " count(*) FILTER (WHERE posted_at IS NULL AND delivering_by LIKE %s) FROM jobs",
            (owner, owner),
        ).fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


async def _send_mentions(slack: FakeSlackApi, url: str) -> None:
    async with httpx.AsyncClient(timeout=60) as http:
        for i in range(MENTIONS):
            name = f"picture-{i}.png"
            slack.files[name] = solid(_colour(i), (320, 256))
            event = mention(
                f"{_prompt(i)} quality=low size=1024x640",
                ts=_ts(i),
                files=[file_object(slack, name)],
            )
            body = event_callback(event, event_id=f"Ev{i:04d}")
            headers = signed_headers(body, content_type="application/json")
            response = await http.post(url + "/slack/events", content=body, headers=headers)
            assert response.status_code == 200


def _results(slack: FakeSlackApi) -> list[Upload]:
    """Files shared into a thread: the results (a preview would be uploaded unshared)."""
    return [u for u in slack.uploads if u.thread_ts is not None]


async def _all_finished(shared: dict[str, str]) -> None:
    """Until every job has succeeded and its post been confirmed (posted_at)."""
    async with asyncio.timeout(WAIT_S):
        while await asyncio.to_thread(_finished, shared) < MENTIONS:
            await asyncio.sleep(0.2)  # other processes' progress: polled in the database


def _finished(shared: dict[str, str]) -> int:
    with psycopg.connect(shared["EDITBOT_DATABASE_URL"]) as conn:
        row = conn.execute(
            "SELECT count(*) FROM jobs WHERE status = 'succeeded' AND posted_at IS NOT NULL"
        ).fetchone()
    return int(row[0]) if row else 0


def _check_results(slack: FakeSlackApi, emu: ProviderEmulator) -> None:
    results = _results(slack)
    threads = Counter(u.thread_ts for u in results)
    # Each exactly once, in its own thread: none lost with the killed worker, none twice.
    assert threads == Counter({_ts(i): 1 for i in range(MENTIONS)}), threads
    assert {u.channel for u in results} == {CHANNEL}
    prompts = {r.fields["prompt"] for r in emu.routes("openai_edit")}
    for upload in results:
        assert upload.thread_ts is not None
        i = int(upload.thread_ts.split(".")[1])
        [prompt] = [p for p in prompts if p.startswith(_prompt(i))]
        # The emulator's output: the input blended 25% with its prompt's tint.
        expected = [
            round(0.75 * c + 0.25 * t) for c, t in zip(_colour(i), tint(prompt, 0), strict=True)
        ]
        with Image.open(io.BytesIO(upload.data)) as im:
            centre = im.convert("RGB").getpixel((im.width // 2, im.height // 2))
        assert isinstance(centre, tuple)
        assert all(abs(a - b) <= 3 for a, b in zip(centre, expected, strict=True)), (i, centre)
