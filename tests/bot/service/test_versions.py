"""Edit threads: refine from the current version, `vN ...`, and the free `undo` / `versions` /
`compare` (no reservation, no ledger row)."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from bot.core.jobs import StoredImage
from bot.core.messages import no_versions_yet, undo_done, undo_nothing, version_missing
from bot.core.ports import Action
from storage.db import Sessions, write_session
from storage.threads import add_versions, choose_image
from tests.kit.images import solid
from tests.kit.rig import CHANNEL, Rig, images, make_rig

THREAD = replace(CHANNEL, thread="msg-1")


@pytest.fixture
def rig(sessions: Sessions, tmp_path: Path) -> Rig:
    return make_rig(sessions=sessions, tmp_path=tmp_path)


async def _thread_with_versions(rig: Rig, count: int) -> tuple[int, list[bytes]]:
    """An edit thread whose first job produced `count` versions (as the worker would)."""
    await rig.submit("make it blue", *images((250, 0, 0)))
    [job] = await rig.jobs()
    assert job.edit_thread_id is not None
    outputs = [solid((40 * i % 256, 90, 200), (256 + 64 * i, 256)) for i in range(count)]
    for data in outputs:
        await rig.add_version(thread_id=job.edit_thread_id, job_id=job.id, data=data)
    return job.edit_thread_id, outputs


def _size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as im:
        return im.size


async def test_refinement_without_attachments_starts_from_the_current_version(rig: Rig) -> None:
    _, outputs = await _thread_with_versions(rig, 2)
    await rig.submit("now add a hat", place=THREAD, message_id="r1")
    jobs = await rig.jobs()
    assert len(jobs) == 2
    refine = jobs[1]
    assert refine.base_version == 2 and refine.thread == "msg-1"
    assert refine.edit_thread_id == jobs[0].edit_thread_id
    [stored] = await rig.inputs(refine.id)
    assert await rig.blobs.get(stored.sha256) == outputs[1]
    assert rig.chat.threads_opened == [("msg-1", "make it blue")]  # no second thread


async def test_v1_starts_from_version_one(rig: Rig) -> None:
    _, outputs = await _thread_with_versions(rig, 3)
    await rig.submit("v1 make it red quality=low", place=THREAD)
    refine = (await rig.jobs())[-1]
    assert refine.base_version == 1 and refine.prompt == "make it red"
    [stored] = await rig.inputs(refine.id)
    assert await rig.blobs.get(stored.sha256) == outputs[0]


async def test_missing_version_is_explained_and_free(rig: Rig) -> None:
    await _thread_with_versions(rig, 2)
    ledger = len(await rig.ledger())
    await rig.submit("v7 make it red", place=THREAD)
    assert rig.texts()[-1] == version_missing(7, 2)
    assert len(await rig.jobs()) == 1
    assert len(await rig.ledger()) == ledger


async def test_undo_steps_back_and_costs_nothing(rig: Rig) -> None:
    thread_id, _ = await _thread_with_versions(rig, 2)
    ledger = await rig.ledger()
    await rig.submit("undo", place=THREAD)
    assert rig.texts()[-1] == undo_done(1)
    found = await rig.thread("msg-1")
    assert found is not None and found.current_version == 1
    await rig.submit("undo", place=THREAD)
    assert rig.texts()[-1] == undo_nothing()
    assert await rig.ledger() == ledger
    assert len(await rig.jobs()) == 1
    # The next refinement builds on v1 again.
    await rig.submit("add a hat", place=THREAD)
    assert (await rig.jobs())[-1].base_version == 1
    del thread_id


async def test_undo_button_does_the_same(rig: Rig) -> None:
    await _thread_with_versions(rig, 2)
    [job] = await rig.jobs()
    await rig.press(Action.UNDO, job.id, thread="msg-1")
    assert rig.texts()[-1] == undo_done(1)


async def test_commands_before_any_version(rig: Rig) -> None:
    await rig.submit("make it blue", *images((250, 0, 0)))
    ledger = await rig.ledger()
    for command in ("undo", "versions", "compare"):
        await rig.submit(command, place=THREAD)
        assert rig.texts()[-1] == no_versions_yet()
    assert await rig.ledger() == ledger


async def test_versions_is_one_contact_sheet_that_grows(rig: Rig) -> None:
    thread_id, _ = await _thread_with_versions(rig, 1)
    await rig.submit("versions", place=THREAD)
    [one] = rig.chat.results("msg-1")
    assert one.text.startswith("1 version; v1 is current.")
    [first_sheet] = one.images
    [job] = await rig.jobs()
    for i in range(5):
        await rig.add_version(thread_id=thread_id, job_id=job.id, data=solid((9, 9 * i, 200)))
    await rig.submit("versions", place=THREAD)
    sheet = rig.chat.results("msg-1")[-1]
    assert "6 versions; v6 is current" in sheet.text
    [second_sheet] = sheet.images
    assert second_sheet.mime == "image/png"
    assert (second_sheet.width, second_sheet.height) == _size(second_sheet.data)
    # As wide as Slack previews well, growing downwards as versions are added.
    assert second_sheet.width == first_sheet.width == 720
    assert second_sheet.height > first_sheet.height
    assert len(await rig.ledger()) == 1 and len(await rig.jobs()) == 1


async def test_compare_shows_current_against_the_one_before(rig: Rig) -> None:
    await _thread_with_versions(rig, 3)  # widths 256, 320, 384 at height 256
    await rig.submit("compare", place=THREAD)
    result = rig.chat.results("msg-1")[-1]
    assert result.text.startswith("v2 (left) and v3 (right)")
    [image] = result.images
    assert image.filename == "compare-v2-v3.png"
    await rig.submit("compare 1 3", place=THREAD)
    wide = rig.chat.results("msg-1")[-1].images[0]
    assert rig.chat.results("msg-1")[-1].text.startswith("v1 (left) and v3 (right)")
    # Both fill the same width; v1 is narrower than v2, so v1 and v3 are shown taller.
    assert wide.width == image.width and wide.height > image.height
    await rig.submit("compare 1 9", place=THREAD)
    assert rig.texts()[-1] == version_missing(9, 3)
    assert len(await rig.ledger()) == 1


async def test_refinement_words_are_not_commands(rig: Rig) -> None:
    await _thread_with_versions(rig, 2)
    await rig.submit("undo the colour change but keep the crop", place=THREAD)
    assert (await rig.jobs())[-1].prompt == "undo the colour change but keep the crop"


async def test_commands_in_a_thread_editbot_never_answered_are_not_paid_edits(rig: Rig) -> None:
    rig.chat.thread_files["other"] = list(images((250, 0, 0)))
    place = replace(CHANNEL, thread="other")
    await rig.submit("undo", place=place)
    assert rig.texts() == [no_versions_yet()]
    # A real instruction there still edits the thread's newest image.
    await rig.submit("make it blue", place=place)
    assert len(await rig.jobs()) == 1


async def test_a_batch_is_one_version_on_the_sheet_and_its_chosen_image_is_compared(
    rig: Rig,
) -> None:
    await rig.submit("make it blue", *images((250, 0, 0)))
    [job] = await rig.jobs()
    assert job.edit_thread_id is not None
    await rig.add_version(thread_id=job.edit_thread_id, job_id=job.id, data=solid((9, 9, 200)))
    batch = [solid((200, 9, 9), (300, 200)), solid((9, 200, 9), (200, 300))]
    blobs = [await rig.blobs.put(data) for data in batch]
    async with write_session(rig.sessions) as session:
        await add_versions(
            session,
            thread_id=job.edit_thread_id,
            job_id=job.id,
            images=[
                StoredImage(sha256=blobs[0], mime="image/png", width=300, height=200),
                StoredImage(sha256=blobs[1], mime="image/png", width=200, height=300),
            ],
            prompt="two of them",
            author="U1",
        )
        await choose_image(session, thread_id=job.edit_thread_id, version=2, position=1)
    rig.chat.names["U1"] = "Maya"
    await rig.submit("versions", place=THREAD)
    sheet = rig.chat.results("msg-1")[-1]
    assert sheet.text.startswith("2 versions; v2 is current.")  # the batch counts once
    await rig.submit("compare", place=THREAD)
    [pair] = rig.chat.results("msg-1")[-1].images
    with Image.open(io.BytesIO(pair.data)) as im:
        right = im.convert("RGB").getpixel((im.width * 3 // 4, im.height * 2 // 3))
    assert right == (9, 200, 9)  # v2 stands for its chosen (second) image
