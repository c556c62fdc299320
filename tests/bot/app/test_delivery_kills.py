"""A paid result reaches its thread exactly once, even when its process is SIGKILLed while
posting it: real `editbot run` processes, the fake Slack Web API holding the post's requests
open so the kill lands exactly where the test says.

- Killed after the finish commit, before Slack took the post (the result's file upload is
  held): the restart takes the dead process's delivery over, finds nothing in the thread and
  posts it, once; the edit was paid once.
- Killed after Slack took the post, before the process heard back (and so before it confirmed
  the post): the restart finds the result in the thread (conversations.replies) and confirms
  it without posting it again. The same on Discord: the thread's messages (GET
  /channels/{id}/messages) show the result's buttons with its job id.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.bot.app.test_durability import LONG_LEASE, ledger_kinds, results, served, setup
from tests.kit.discord.live import Posted, discord_env
from tests.kit.discord.posts import PostsFakeDiscord
from tests.kit.editbot import OPENAI_KEY, editbot, editbot_env, wait_until
from tests.kit.emulator import ProviderEmulator
from tests.kit.emulator.server import EmulatorServer
from tests.kit.images import split
from tests.kit.slack.api import FakeSlackApi
from tests.kit.slack.harness import TOKEN

pytestmark = pytest.mark.slow

TS = "1700000700.000001"


def job_row(env: dict[str, str]) -> dict[str, Any]:
    """The one job's delivery columns, read from the processes' SQLite database."""
    path = Path(env["EDITBOT_DATA_DIR"]) / "editbot.db"
    with sqlite3.connect(path) as db:
        db.row_factory = sqlite3.Row
        [row] = db.execute(
            "SELECT status, delivered_at, delivering_by, posted_at FROM jobs"
        ).fetchall()
    return dict(row)


async def killed_while_posting(
    api: FakeSlackApi, env: dict[str, str], tmp_path: Path, *, held: str
) -> None:
    """`editbot run` takes one mention and is SIGKILLed once the Slack call `held` (its
    request held open by the fake) arrives while it posts the result."""
    async with editbot(["run"], env, tmp_path, "victim", http=True) as victim:
        assert (await victim.mention(api, ts=TS, text="sky quality=low")).status_code == 200
        await api.wait_calls(held, timeout=120)
        victim.kill()
        await victim.proc.wait()
    row = job_row(env)
    # Finished, charged and marked as being delivered by the dead process; never confirmed.
    assert row["status"] == "succeeded" and row["delivered_at"] is not None
    assert row["delivering_by"] and row["posted_at"] is None


async def restart_until_confirmed(env: dict[str, str], tmp_path: Path) -> None:
    """A second `editbot run`, until the delivery it took over is confirmed; then stopped."""
    async with editbot(["run"], env, tmp_path, "restart", http=True) as restart:
        try:
            await wait_until(lambda: job_row(env)["posted_at"] is not None, timeout=120)
        except AssertionError:
            raise AssertionError(restart.output()[-6000:]) from None
        assert await restart.stop() == 0, restart.output()
    assert job_row(env)["delivering_by"] is None


async def test_a_kill_before_slack_took_the_post_is_posted_once_by_the_restart(
    tmp_path: Path,
) -> None:
    emu = ProviderEmulator(openai_key=OPENAI_KEY, latency_s=0.3)
    async with EmulatorServer(emu) as emulator_url, FakeSlackApi(token=TOKEN) as api:
        await setup(api)
        env = editbot_env(api, emulator_url, tmp_path / "data", **LONG_LEASE)
        gate = api.upload_gate = asyncio.Event()  # the result's bytes never get through
        await killed_while_posting(api, env, tmp_path, held="upload")
        assert results(api, TS) == []
        gate.set()
        api.upload_gate = None
        looked = len(api.named("conversations.replies"))
        await restart_until_confirmed(env, tmp_path)
        [result] = results(api, TS)
        assert result.data and result.blocks  # the image with its caption and buttons
        assert len(api.named("conversations.replies")) > looked  # it looked before posting
    assert served(emu) == 1  # one edit at the provider, one settle, nothing lost
    kinds = ledger_kinds(env, tmp_path)
    assert (kinds["settle"], kinds["lost"]) == (1, 0)


async def test_a_kill_after_slack_took_the_post_is_not_posted_again(tmp_path: Path) -> None:
    emu = ProviderEmulator(openai_key=OPENAI_KEY, latency_s=0.3)
    async with EmulatorServer(emu) as emulator_url, FakeSlackApi(token=TOKEN) as api:
        await setup(api)
        env = editbot_env(api, emulator_url, tmp_path / "data", **LONG_LEASE)
        # The share lands in the thread; its answer never reaches the process.
        gate = api.answer_gates["files.completeUploadExternal"] = asyncio.Event()
        await killed_while_posting(api, env, tmp_path, held="files.completeUploadExternal")
        assert len(results(api, TS)) == 1
        gate.set()
        del api.answer_gates["files.completeUploadExternal"]
        looked = len(api.named("conversations.replies"))
        await restart_until_confirmed(env, tmp_path)
        assert len(results(api, TS)) == 1  # found in the thread: not posted twice
        assert len(api.named("conversations.replies")) > looked
        assert len(api.named("files.completeUploadExternal")) == 1
    assert served(emu) == 1
    kinds = ledger_kinds(env, tmp_path)
    assert (kinds["settle"], kinds["lost"]) == (1, 0)


def discord_results(fake: PostsFakeDiscord) -> list[Posted]:
    """Messages with an image editbot posted anywhere that are still there."""
    return [m for m in fake.messages if m.files and not m.deleted]


async def test_discord_a_kill_after_discord_took_the_post_is_not_posted_again(
    tmp_path: Path,
) -> None:
    emu = ProviderEmulator(openai_key=OPENAI_KEY)
    async with PostsFakeDiscord(token="discord-delivery-0001") as fake, EmulatorServer(emu) as url:
        fake.cdn["photo.png"] = split((320, 240), fmt="PNG")
        env = discord_env(fake, url, tmp_path / "data", **LONG_LEASE)
        gate = fake.hold_file_posts = asyncio.Event()  # the result is stored, unanswered
        async with editbot(["run"], env, tmp_path, "victim", http=True) as victim:
            await wait_until(lambda: fake.live_sessions() == 1, timeout=60, what="the gateway")
            await fake.slash_edit("make the sky purple", image="photo.png", options="quality=low")
            await wait_until(lambda: discord_results(fake), timeout=120, what="the result")
            victim.kill()
            await victim.proc.wait()
        assert job_row(env)["delivering_by"] and job_row(env)["posted_at"] is None
        gate.set()
        fake.hold_file_posts = None
        await restart_until_confirmed(env, tmp_path)
        [result] = discord_results(fake)
        looked = [path for method, path, _ in fake.calls if method == "GET"]
        assert f"/channels/{result.channel}/messages" in looked  # the thread, looked at
    assert served(emu) == 1
