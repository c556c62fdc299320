"""Edit threads (versions, undo) and platform event dedupe, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

from bot.core.jobs import StoredImage
from storage.db import Sessions, write_session
from storage.events import claim_event
from storage.threads import (
    add_versions,
    add_versions_to_thread,
    choose_image,
    current_version,
    find_thread,
    get_or_create_thread,
    get_version,
    list_versions,
    undo,
    version_images,
)

PLACE = {"platform": "slack", "workspace": "T1", "channel": "C1", "thread": "1700000000.1"}


def image(tag: str) -> StoredImage:
    return StoredImage(sha256=tag * 64, mime="image/png", width=1024, height=1024)


async def test_duplicate_events_are_claimed_once_under_concurrency(sessions: Sessions) -> None:
    async def handle(key: str) -> bool:
        async with write_session(sessions) as session:
            return await claim_event(session, key)

    results = await asyncio.gather(*(handle(f"Ev{i % 3}") for i in range(30)))
    claimed = {f"Ev{i % 3}" for i, won in enumerate(results) if won}
    assert sum(results) == 3 and claimed == {"Ev0", "Ev1", "Ev2"}
    assert await handle("Ev0") is False
    assert await handle("Ev-new") is True


async def test_a_rolled_back_claim_leaves_the_event_free(sessions: Sessions) -> None:
    try:
        async with write_session(sessions) as session:
            assert await claim_event(session, "Ev9")
            raise RuntimeError("crash before the job was written")
    except RuntimeError:
        pass
    async with write_session(sessions) as session:
        assert await claim_event(session, "Ev9")


async def test_threads_number_versions_and_undo_steps_back(sessions: Sessions) -> None:
    async with write_session(sessions) as session:
        thread = await get_or_create_thread(session, **PLACE)
        same = await get_or_create_thread(session, **PLACE)
        assert same.id == thread.id
        assert thread.id is not None
        tid = thread.id
        assert await current_version(session, thread_id=tid) is None
        v1 = await add_versions(
            session, thread_id=tid, job_id="j1", images=[image("a")], prompt="one"
        )
        two = await add_versions(
            session, thread_id=tid, job_id="j2", images=[image("b"), image("c")], prompt="two"
        )
    # A batch of two images is ONE version: v2, its first image chosen.
    assert [(v.version, v.position, v.chosen) for v in v1 + two] == [
        (1, 0, True),
        (2, 0, True),
        (2, 1, False),
    ]
    async with write_session(sessions) as session:
        current = await current_version(session, thread_id=tid)
        assert current is not None and (current.version, current.sha256) == (2, "b" * 64)
        # Use 2: the batch's second image becomes the one v2 stands for.
        picked = await choose_image(session, thread_id=tid, version=2, position=1)
        assert picked is not None and picked.sha256 == "c" * 64
        assert await choose_image(session, thread_id=tid, version=2, position=5) is None
        current = await current_version(session, thread_id=tid)
        assert current is not None and current.sha256 == "c" * 64
        batch = await version_images(session, thread_id=tid, version=2)
        assert [(v.position, v.chosen) for v in batch] == [(0, False), (1, True)]
        # Undo after the batch goes back to the version before it, never to a sibling.
        back = await undo(session, thread_id=tid)
        assert back is not None and back.version == 1
        assert await undo(session, thread_id=tid) is None  # at version 1
        # A new edit after undo gets the next number, not a reused one.
        v3 = await add_versions(
            session, thread_id=tid, job_id="j3", images=[image("d")], prompt="3", author="U7"
        )
        assert v3[0].version == 3 and v3[0].author == "U7"
        listed = await list_versions(session, thread_id=tid)
        got = await get_version(session, thread_id=tid, version=2)
    assert [v.version for v in listed] == [1, 2, 2, 3]
    assert [v.prompt for v in listed] == ["one", "two", "two", "3"]
    assert got is not None and got.job_id == "j2" and got.position == 1


async def test_concurrent_edits_in_a_thread_get_distinct_versions(sessions: Sessions) -> None:
    async with write_session(sessions) as session:
        thread = await get_or_create_thread(session, **PLACE)
    assert thread.id is not None

    async def edit(i: int) -> int:
        async with write_session(sessions) as session:
            added = await add_versions(
                session, thread_id=thread.id, job_id=f"j{i}", images=[image("e")], prompt=str(i)
            )
        return added[0].version

    versions = await asyncio.gather(*(edit(i) for i in range(12)))
    assert sorted(versions) == list(range(1, 13))


async def test_concurrent_first_use_creates_one_thread(sessions: Sessions) -> None:
    async def open_thread() -> int | None:
        async with write_session(sessions) as session:
            return (await get_or_create_thread(session, **PLACE)).id

    ids = await asyncio.gather(*(open_thread() for _ in range(10)))
    assert len(set(ids)) == 1 and ids[0] is not None


async def test_concurrent_first_results_in_a_thread_share_one_edit_thread(
    sessions: Sessions,
) -> None:
    # Two jobs finishing at once in a platform thread that has no edit thread yet: one upsert
    # each creates or finds it and takes distinct version numbers.
    image = StoredImage(sha256="c" * 64, mime="image/png", width=4, height=4)

    async def finish(job_id: str, n: int) -> tuple[int, list[int]]:
        async with write_session(sessions) as session:
            found, added = await add_versions_to_thread(
                session,
                platform="slack",
                workspace="T9",
                channel="C9",
                thread="new-thread",
                job_id=job_id,
                images=[image] * n,
                prompt=f"edit {job_id}",
            )
        return found, [v.version for v in added]

    (first_id, first), (second_id, second) = await asyncio.gather(finish("a", 1), finish("b", 2))
    assert first_id == second_id
    assert sorted(set(first + second)) == [1, 2]  # the batch of two is one version
    async with sessions() as session:
        stored = await list_versions(session, thread_id=first_id)
        thread = await find_thread(
            session, platform="slack", workspace="T9", channel="C9", thread="new-thread"
        )
    assert [v.version for v in stored] == sorted(first + second)
    assert thread is not None and (thread.current_version, thread.last_version) == (2, 2)
