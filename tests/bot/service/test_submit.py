"""EditService.submit: dedupe, options, inputs, reserve and enqueue (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import timedelta
from pathlib import Path

import pytest

from bot.core.domain import Attachment, format_usd
from bot.core.errors import ImageRejected
from bot.core.jobs import JobStatus, JobWithInputs, short_ref
from bot.core.messages import status_queued
from bot.images.stored import load_request
from bot.service.inputs import ATTACH_AN_IMAGE
from storage.db import Sessions
from storage.images import job_inputs
from storage.models import LedgerKind
from storage.queue import get_job
from tests.kit.chat import attachment
from tests.kit.images import solid
from tests.kit.rig import CHANNEL, Rig, counted, images, make_rig


@pytest.fixture
def rig(sessions: Sessions, tmp_path: Path) -> Rig:
    return make_rig(sessions=sessions, tmp_path=tmp_path)


async def test_attachment_edit_is_reserved_queued_and_announced(rig: Rig) -> None:
    data = solid((200, 30, 30))
    await rig.submit("make the sky purple quality=low", attachment("a.png", data))

    [job] = await rig.jobs()
    assert job.status is JobStatus.QUEUED
    assert job.prompt == "make the sky purple"
    assert job.thread == "msg-1"  # the thread was opened on the request message
    assert rig.chat.threads_opened == [("msg-1", "make the sky purple quality=low")]
    assert job.estimate_micros > 0
    [row] = await rig.ledger()
    assert (row.kind, row.job_id, row.amount_micros) == (
        LedgerKind.RESERVE,
        job.id,
        job.estimate_micros,
    )
    [status] = rig.chat.in_thread("msg-1")
    assert status.text == status_queued(0)
    assert job.status_message_id == status.ref.message_id
    assert rig.wakes == [1]
    # The stored input is the normalized image, findable in the blob store.
    [stored] = await rig.inputs(job.id)
    assert hashlib.sha256(await rig.blobs.get(stored.sha256)).hexdigest() == stored.sha256
    assert (stored.width, stored.height) == (320, 256)
    assert job.edit_thread_id is not None
    assert (await rig.thread("msg-1")) is not None


async def test_second_job_in_channel_counts_the_one_ahead(rig: Rig) -> None:
    await rig.submit("one", *images((1, 2, 3)))
    await rig.submit("two", *images((4, 5, 6)), message_id="msg-2")
    assert rig.chat.in_thread("msg-2")[0].text == status_queued(1)


async def test_duplicate_event_key_does_nothing(rig: Rig) -> None:
    await rig.submit("make it blue", *images((0, 0, 200)), key="E1")
    before = list(rig.texts())
    await rig.submit("make it blue", *images((0, 0, 200)), key="E1")
    assert len(await rig.jobs()) == 1
    assert len(await rig.ledger()) == 1
    assert rig.texts() == before


async def test_concurrent_duplicates_make_one_job(rig: Rig) -> None:
    await asyncio.gather(
        *(rig.submit("make it blue", *images((0, 0, 200)), key="E2") for _ in range(3))
    )
    assert len(await rig.jobs()) == 1
    assert len(await rig.ledger()) == 1


async def test_bad_option_is_explained_nothing_fetched_or_charged(rig: Rig) -> None:
    file, fetches = counted("a.png", solid((1, 1, 1)))
    await rig.submit("make it blue qualty=high", file)
    [message] = rig.chat.messages
    assert "qualty" in message.text and "quality" in message.text
    # The mistake is the person's own: told to them only, and no thread was opened for it.
    assert message.to == "U1" and message.thread is None and rig.chat.threads_opened == []
    assert fetches == []
    assert await rig.jobs() == []
    assert await rig.ledger() == []


async def test_non_image_attachment_gets_the_intake_message(rig: Rig) -> None:
    await rig.submit("make it blue", attachment("notes.pdf", b"%PDF-1.7 not an image at all"))
    [message] = rig.chat.messages
    assert "notes.pdf" in message.text
    assert await rig.jobs() == []
    assert await rig.ledger() == []


async def test_download_refusal_from_the_adapter_is_shown(rig: Rig) -> None:
    async def too_big() -> bytes:
        raise ImageRejected("big.png is 80 MB; the limit is 50 MB.")

    await rig.submit("make it blue", Attachment(name="big.png", fetch=too_big))
    assert rig.texts() == ["big.png is 80 MB; the limit is 50 MB."]
    assert await rig.jobs() == []


async def test_exhausted_budget_refuses_with_numbers_and_makes_no_job(rig: Rig) -> None:
    await rig.set_cap(10_000)  # $0.01: below any edit's estimate
    await rig.submit("make it blue", *images((0, 0, 200)))
    [message] = rig.texts()
    assert "Not run" in message
    assert "$0.01" in message  # the cap
    assert "To raise the cap, ask" in message and "admin" in message
    assert await rig.jobs() == []
    assert await rig.ledger() == []
    assert rig.wakes == []


async def test_refusal_message_shows_the_estimate(rig: Rig) -> None:
    await rig.submit("make it blue", *images((0, 0, 200)), key="probe")
    [job] = await rig.jobs()
    await rig.set_cap(job.estimate_micros + job.estimate_micros // 2)
    await rig.submit("make it blue", *images((0, 0, 200)), message_id="msg-2")
    refusal = rig.chat.in_thread("msg-2")[0].text
    assert format_usd(job.estimate_micros) in refusal
    assert len(await rig.jobs()) == 1


async def test_mode_each_reserves_one_job_per_image_together(rig: Rig) -> None:
    await rig.submit("make it blue mode=each", *images((250, 0, 0), (0, 250, 0), (0, 0, 250)))
    jobs = await rig.jobs()
    assert len(jobs) == 3
    assert len({j.batch_id for j in jobs}) == 1 and jobs[0].batch_id is not None
    reserves = await rig.ledger()
    assert sorted(r.job_id for r in reserves) == sorted(j.id for j in jobs)
    # Each job has its own single input.
    shas = [[i.sha256 for i in await rig.inputs(j.id)] for j in jobs]
    assert all(len(s) == 1 for s in shas) and len({s[0] for s in shas}) == 3
    # One status message speaks for the batch.
    assert len({j.status_message_id for j in jobs}) == 1


async def test_mode_each_is_refused_whole_when_the_cap_fits_two(rig: Rig) -> None:
    await rig.submit("make it blue", *images((9, 9, 9)), key="probe")
    [probe] = await rig.jobs()
    each = probe.estimate_micros
    # Room for exactly two more of the same edit after the probe's reservation.
    await rig.set_cap(each * 3 + each // 2)
    await rig.submit(
        "make it blue mode=each", *images((250, 0, 0), (0, 250, 0), (0, 0, 250)), message_id="m3"
    )
    assert "Not run" in rig.chat.in_thread("m3")[0].text
    # Nothing of the three was queued or reserved (kept only as refused, for a cheaper run).
    assert [j.status for j in await rig.jobs()].count(JobStatus.QUEUED) == 1
    assert len(await rig.ledger()) == 1
    # Two images fit.
    await rig.submit("make it blue mode=each", *images((250, 0, 0), (0, 250, 0)), message_id="m2")
    assert [j.status for j in await rig.jobs()].count(JobStatus.QUEUED) == 3
    assert len(await rig.ledger()) == 3


async def test_warning_is_said_once_per_period(rig: Rig) -> None:
    await rig.submit("make it blue", *images((5, 5, 5)), key="probe")
    [probe] = await rig.jobs()
    await rig.set_cap(probe.estimate_micros * 10, warn_percent=25)
    heads_up = "Heads up"

    async def edit(n: int) -> None:
        await rig.submit("make it blue", *images((5, 5, 5)), message_id=f"w{n}")

    await edit(1)  # 20%
    assert not any(heads_up in t for t in rig.texts())
    await edit(2)  # 30%: crosses 25%
    await edit(3)  # 40%: already warned this month
    assert sum(heads_up in t for t in rig.texts()) == 1
    # Said in the channel itself (not only the thread that crossed it).
    assert any(heads_up in m.text for m in rig.chat.in_thread(None))
    rig.advance(timedelta(days=31))  # June: a new period
    await edit(4)
    await edit(5)
    await edit(6)
    assert sum(heads_up in t for t in rig.texts()) == 2


async def test_thread_images_are_the_fallback(rig: Rig) -> None:
    data = solid((10, 200, 10))
    rig.chat.thread_files["T9"] = [
        attachment("newest.png", data),
        attachment("older.png", solid((1, 1, 1))),
    ]
    place = CHANNEL.__class__(**{**CHANNEL.__dict__, "thread": "T9"})
    await rig.submit("make it blue", place=place)
    [job] = await rig.jobs()
    [stored] = await rig.inputs(job.id)
    assert job.thread == "T9" and rig.chat.threads_opened == []
    assert job.base_version is None
    # The input came from the newest image: its colour survives normalization.
    from io import BytesIO

    from PIL import Image

    with Image.open(BytesIO(await rig.blobs.get(stored.sha256))) as im:
        red, green, blue = im.convert("RGB").getpixel((5, 5))
    # JPEG re-encoding moves colours a little; the older image was near black.
    assert green > 150 and red < 60 and blue < 60


async def test_no_image_anywhere_asks_for_one(rig: Rig) -> None:
    await rig.submit("make it blue")
    assert rig.texts() == [ATTACH_AN_IMAGE]
    assert await rig.jobs() == []


async def test_internal_failure_is_summarised_never_shown(
    sessions: Sessions, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    class BrokenBlobs:
        async def put(self, data: bytes) -> str:
            raise RuntimeError("disk on fire at /secret/path")

        async def get(self, sha256: str) -> bytes:
            raise FileNotFoundError(sha256)

        async def delete(self, sha256: str) -> None:
            return None

    rig = make_rig(sessions=sessions, tmp_path=tmp_path, blobs=BrokenBlobs())
    await rig.submit("make it blue", *images((0, 0, 9)), key="E-broken")
    [message] = rig.texts()
    # A short reference, also in the log line the operator greps.
    assert "Something went wrong" in message and f"(reference {short_ref('E-broken')})" in message
    assert "disk on fire" not in message and "Traceback" not in message
    assert "E-broken" in caplog.text and "disk on fire" in caplog.text
    assert f"ref={short_ref('E-broken')}" in caplog.text
    assert await rig.jobs() == []
    assert await rig.ledger() == []


async def test_job_rows_round_trip_through_the_worker_codec(rig: Rig) -> None:
    await rig.submit("make it blue aspect=16:9", *images((0, 0, 9)))
    [job] = await rig.jobs()
    async with rig.sessions() as session:
        fresh = await get_job(session, job.id)
        assert fresh is not None
        inputs, mask = await job_inputs(session, job_id=job.id)
    request = await load_request(rig.blobs, JobWithInputs(fresh, inputs, mask))
    assert request.prompt == "make it blue"
    assert request.aspect == "16:9"
    assert len(request.images) == 1 and request.images[0].width == 320
