"""End to end in Slack: a batch (n=2) is one version with Use N / Vary N, `region=` builds the
mask the provider gets, and the caption and file names read as a person reads them. Signed
requests into the real Bolt app, the real EditService and Worker, the emulator as provider."""

from __future__ import annotations

import asyncio
import hashlib
import io
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from PIL import Image
from sqlmodel import select

from storage.models import EditThread, Job, JobImage, ThreadVersion
from tests.kit.slack.api import Upload
from tests.kit.slack.e2e import SlackWorld, real_slack
from tests.kit.slack.harness import (
    button_press,
    event_callback,
    file_object,
    mention,
)

TS = "1699999999.000100"


class Rig(SlackWorld):
    async def run(self) -> None:
        """Let the worker finish what is queued."""
        await self.drain()

    async def mention(self, text: str, *, n: int, files: bool = False) -> None:
        ts = TS if files else f"1699999999.{n:06d}"
        attached = [file_object(self.api, "photo.png")] if files else None
        thread = None if files else TS
        event = mention(text, ts=ts, files=attached, thread_ts=thread)
        assert (await self.h.post(event_callback(event, event_id=f"Ev{n}"))).status_code == 200

    async def press(self, action_id: str, job_id: str, *, n: int) -> None:
        payload = button_press(action_id, job_id, thread_ts=TS, action_ts=f"7.{n}")
        assert (await self.h.interact(payload)).status_code == 200

    async def jobs(self) -> list[Job]:
        async with self.sessions() as session:
            return list((await session.exec(select(Job).order_by(Job.created_at))).all())

    async def versions(self) -> list[ThreadVersion]:
        async with self.sessions() as session:
            rows = await session.exec(
                select(ThreadVersion).order_by(ThreadVersion.version, ThreadVersion.position)
            )
            return list(rows.all())

    async def job_count(self) -> int:
        return len(await self.jobs())

    async def chosen_position(self, version: int) -> int | None:
        rows = [v for v in await self.versions() if v.version == version and v.chosen]
        return rows[0].position if rows else None

    async def current_version(self) -> int:
        return (await self.thread()).current_version

    async def thread(self) -> EditThread:
        async with self.sessions() as session:
            found = (await session.exec(select(EditThread))).first()
        assert found is not None
        return found

    async def input_sha(self, job_id: str) -> str:
        async with self.sessions() as session:
            rows = await session.exec(
                select(JobImage).where(JobImage.job_id == job_id, JobImage.role == "input")
            )
            [row] = rows.all()
        return row.sha256


@asynccontextmanager
async def rig(sqlite_url: str, tmp_path: Path) -> AsyncIterator[Rig]:
    async with real_slack(sqlite_url, tmp_path) as w:
        yield Rig(w.h, w.api, w.emu, w.sessions, w.cores)


async def eventually(read: Callable[[], Awaitable[object]], expected: object) -> None:
    """Wait until `read()` (database state a press or a message changes) gives `expected`.

    The database has no change event to await, so this polls, with a generous deadline.
    """
    deadline = asyncio.get_running_loop().time() + 15
    while (got := await read()) != expected:
        assert asyncio.get_running_loop().time() < deadline, f"still {got!r}, not {expected!r}"
        await asyncio.sleep(0.02)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def buttons(blocks: list[dict[str, Any]]) -> dict[str, str]:
    """action_id -> label of every button in a message's blocks."""
    return {
        element["action_id"]: element["text"]["text"]
        for block in blocks
        if block.get("type") == "actions"
        for element in block["elements"]
    }


def caption(blocks: list[dict[str, Any]]) -> str:
    return next(b["text"]["text"] for b in blocks if b.get("type") == "section")


async def batch_of_two(r: Rig) -> tuple[Upload, Upload]:
    """`sunset glow over the bay n=2`, run: the two uploaded images of its v1."""
    await r.mention("sunset glow over the bay n=2 quality=low", n=1, files=True)
    await eventually(r.job_count, 1)
    await r.run()
    await r.api.wait_for(lambda: len(r.api.uploads) >= 2)
    first, second = r.api.uploads
    return first, second


async def test_a_batch_is_one_message_with_use_and_vary_buttons(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with rig(sqlite_url, tmp_path) as r:
        first, second = await batch_of_two(r)
        # One message: both files in one share, named from the prompt, caption and buttons.
        assert (first.filename, second.filename) == (
            "sunset-glow-bay-v1-1.png",
            "sunset-glow-bay-v1-2.png",
        )
        assert first.data != second.data
        blocks = first.blocks or second.blocks
        assert blocks
        text = caption(blocks)
        assert text.startswith('v1 · "sunset glow over the bay" for <@U0001> · 2 images')
        assert "left this month" in text
        labels = buttons(blocks)
        assert labels["editbot:use:1"] == "Use 1" and labels["editbot:use:2"] == "Use 2"
        assert labels["editbot:vary:2"].startswith("Vary 2 ~$")
        assert "editbot:retry" not in labels and "editbot:undo" not in labels
        versions = await r.versions()
        assert [(v.version, v.position, v.chosen) for v in versions] == [
            (1, 0, True),
            (1, 1, False),
        ]


async def test_use_2_continues_from_image_2_and_undo_after_a_batch_skips_its_siblings(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with rig(sqlite_url, tmp_path) as r:
        first, second = await batch_of_two(r)
        [batch_job] = await r.jobs()
        # Use 2: image 2 is what v1 stands for; the next refinement starts from it.
        await r.press("editbot:use:2", batch_job.id, n=1)
        await eventually(lambda: r.chosen_position(1), 1)
        await r.mention("now add a small boat quality=low", n=2)
        await eventually(r.job_count, 2)
        refine = (await r.jobs())[-1]
        assert refine.base_version == 1
        assert await r.input_sha(refine.id) == sha(second.data)
        await r.run()
        await r.api.wait_for(lambda: len(r.api.uploads) >= 3)
        v2 = r.api.uploads[2]
        assert v2.filename == "now-small-boat-v2.png"
        v2_labels = buttons(v2.blocks or [])
        assert [k for k in v2_labels] == ["editbot:retry", "editbot:undo", "editbot:hq"]
        assert v2_labels["editbot:hq"].startswith("High quality ~$")
        assert v2_labels["editbot:retry"].startswith("Retry ~$")

        # Vary 1 under the batch: the same prompt again from image 1, a new paid edit.
        await r.press("editbot:vary:1", batch_job.id, n=2)
        await eventually(r.job_count, 3)
        vary = (await r.jobs())[-1]
        assert vary.prompt == "sunset glow over the bay" and vary.base_version == 1
        assert await r.input_sha(vary.id) == sha(first.data)
        await r.run()
        thread = await r.thread()
        assert (thread.current_version, thread.last_version) == (3, 3)  # a batch: one number

        # Undo after a batch goes back to the version before it, not to a sibling image.
        await r.mention("undo", n=3)
        await eventually(r.current_version, 2)
        assert len(await r.jobs()) == 3  # undo is free: no job


async def test_region_builds_the_mask_the_provider_gets_and_the_caption_says_so(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with rig(sqlite_url, tmp_path) as r:
        await r.mention("make the sky purple region=top quality=low", n=1, files=True)
        await eventually(r.job_count, 1)
        await r.run()
        await r.api.wait_for(lambda: len(r.api.uploads) >= 1)
        [request] = r.emu.routes("openai_edit")
        [image] = [p.data for p in request.files if p.name in ("image", "image[]")]
        [mask] = [p.data for p in request.files if p.name == "mask"]
        with Image.open(io.BytesIO(image)) as im:
            size = im.size
        with Image.open(io.BytesIO(mask)) as m:
            assert m.size == size and m.mode == "RGBA"
            alpha = m.getchannel("A")
        width, height = size
        # Transparent (edit here) exactly over the top half, opaque below it.
        assert alpha.crop((0, 0, width, height // 2)).getextrema() == (0, 0)
        assert alpha.crop((0, (height + 1) // 2, width, height)).getextrema() == (255, 255)
        # The emulator paints its tint fully where the mask is transparent: the result shows
        # the edit in the top half only.
        [up] = r.api.uploads
        with Image.open(io.BytesIO(up.data)) as out:
            top, bottom = (
                out.convert("RGB").getpixel((5, 5)),
                out.convert("RGB").getpixel((5, out.height - 40)),
            )
        assert top != bottom
        assert "only the top half edited" in caption(up.blocks or [])
        assert up.filename == "sky-purple-v1.png"


async def test_a_bad_region_is_explained_and_nothing_runs(sqlite_url: str, tmp_path: Path) -> None:
    async with rig(sqlite_url, tmp_path) as r:
        await r.mention("make the sky purple region=60,0,50,10", n=1, files=True)
        await r.api.wait_for(
            lambda: any(
                "region=x,y,w,h" in str(call.get("text") or "")
                for method in ("chat.postMessage", "chat.postEphemeral")
                for call in r.api.named(method)
            )
        )
        assert await r.job_count() == 0


async def test_versions_posts_one_legible_sheet_where_the_batch_is_one_version(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with rig(sqlite_url, tmp_path) as r:
        await batch_of_two(r)
        await r.mention("versions", n=2)
        await r.api.wait_for(lambda: any(u.filename == "versions.png" for u in r.api.uploads))
        [sheet] = [u for u in r.api.uploads if u.filename == "versions.png"]
        with Image.open(io.BytesIO(sheet.data)) as im:
            assert im.width == 720  # twice Slack's inline preview: its text stays legible there
        shown = " ".join(
            str(x) for x in (sheet.initial_comment, sheet.blocks and caption(sheet.blocks)) if x
        )
        assert "1 version; v1 is current." in shown
        assert await r.job_count() == 1  # free
