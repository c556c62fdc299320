"""The status message is on the job row before any worker can claim it (SQLite and PostgreSQL).

A worker in another process edits that message (progress, "Done"); it reads its id from the
row it claims, so the id has to be written with the job, not after the job became claimable.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.core.jobs import JobWithInputs
from bot.core.messages import status_queued
from bot.core.ports import MessageRef
from storage.claims import claim
from storage.db import Sessions
from tests.kit.chat import FakeChat, attachment
from tests.kit.images import solid
from tests.kit.rig import make_rig

CLAIM_WAIT_S = 0.3


def claiming_chat(sessions: Sessions) -> tuple[FakeChat, list[JobWithInputs]]:
    """A FakeChat on which a worker tries to claim a job while each message is being posted."""
    chat = FakeChat("slack")
    claimed: list[JobWithInputs] = []

    async def claim_meanwhile(ref: MessageRef) -> None:
        # What another process may do at this moment. A claim that cannot get in (SQLite's
        # write turn is taken) or finds nothing to claim has simply lost the race.
        try:
            async with asyncio.timeout(CLAIM_WAIT_S):
                job = await claim(sessions, owner="other-worker", lease_s=60)
        except TimeoutError:
            job = None
        if job is not None:
            claimed.append(job)

    chat.after_post = claim_meanwhile
    return chat, claimed


async def test_a_job_claimed_at_any_time_knows_its_status_message(
    sessions: Sessions, tmp_path: Path
) -> None:
    chat, claimed = claiming_chat(sessions)
    rig = make_rig(sessions=sessions, tmp_path=tmp_path, chat=chat)

    await rig.submit("make the sky purple", attachment("a.png", solid((200, 30, 30))))
    # Whatever the claim during the post saw, a worker claiming now takes the job.
    late = await claim(sessions, owner="late-worker", lease_s=60)
    if late is not None:
        claimed.append(late)

    [status] = chat.in_thread("msg-1")
    assert status.text == status_queued(0)
    [first] = claimed
    assert first.spec.status_message_id == status.ref.message_id


async def test_a_status_message_that_cannot_be_posted_queues_and_charges_nothing(
    sessions: Sessions, tmp_path: Path
) -> None:
    down = FakeChat("slack")
    down.down.add("post_text")  # every post fails, as when the platform is down
    rig = make_rig(sessions=sessions, tmp_path=tmp_path, chat=down)
    await rig.submit("make the sky purple", attachment("a.png", solid((200, 30, 30))))
    assert await rig.jobs() == []
    assert await rig.ledger() == []
    assert rig.wakes == []
