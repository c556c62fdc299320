"""Blob store round trip, and retention: prune forgets old images and prompts, not money."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.cli_prune import parse_age
from storage.blobs import FileBlobStore
from storage.budgets import BudgetDefaults, reserve, settle
from storage.db import Sessions, write_session
from storage.images import add_job_images, job_images
from storage.models import ImageRole, Job, JobStatus, LedgerEntry
from storage.prune import prune
from storage.queue import claim, enqueue, finish, get_job
from storage.threads import VersionImage, add_versions, get_or_create_thread, list_versions

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


async def test_blob_store_round_trip(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path / "blobs")
    data = b"\x89PNG fake image bytes" * 100
    sha = await store.put(data)
    assert sha == hashlib.sha256(data).hexdigest()
    assert store.path_of(sha) == tmp_path / "blobs" / sha[:2] / sha[2:4] / sha
    assert await store.get(sha) == data
    assert await store.put(data) == sha  # same bytes, same address
    others = await asyncio.gather(*(store.put(bytes([i]) * 10) for i in range(5)))
    assert len(set(others)) == 5
    assert [await store.get(s) for s in others] == [bytes([i]) * 10 for i in range(5)]
    assert not list((tmp_path / "blobs").rglob(".tmp-*"))  # no temp files left behind
    await store.delete(sha)
    assert not await store.exists(sha)
    await store.delete(sha)  # deleting twice is fine
    with pytest.raises(FileNotFoundError):
        await store.get(sha)
    with pytest.raises(ValueError):
        store.path_of("../../etc/passwd")


def test_prune_ages_parse() -> None:
    assert parse_age("30d") == timedelta(days=30)
    assert parse_age("12h") == timedelta(hours=12)
    assert parse_age("7") == timedelta(days=7)
    for bad in ("", "0d", "x", "3w", "-1d"):
        with pytest.raises(ValueError):
            parse_age(bad)


async def _finished_job(
    sessions: Sessions, store: FileBlobStore, *, name: str, finished: datetime, shared: bytes
) -> tuple[Job, list[str]]:
    """A job that ran and succeeded at `finished`, with one input, one output, a version."""
    job = Job(
        platform="slack",
        workspace="T1",
        channel="C1",
        user="U1",
        scope="slack:T1:C1",
        prompt=f"secret prompt {name}",
        provider="openai",
        estimate_micros=500,
        created_at=finished - timedelta(minutes=1),
        updated_at=finished,
    )
    own = await store.put(f"output of {name}".encode())
    common = await store.put(shared)
    async with write_session(sessions) as session:
        await reserve(
            session,
            job_id=job.id,
            scope=job.scope,
            user="U1",
            estimate_micros=500,
            defaults=BudgetDefaults(cap_micros=10_000, period="none"),
            now=finished,
        )
        await enqueue(session, [job])
        await add_job_images(
            session,
            job_id=job.id,
            role=ImageRole.INPUT,
            images=[VersionImage(sha256=common, mime="image/png", width=8, height=8)],
        )
        await add_job_images(
            session,
            job_id=job.id,
            role=ImageRole.OUTPUT,
            images=[VersionImage(sha256=own, mime="image/png", width=8, height=8)],
        )
        thread = await get_or_create_thread(
            session, platform="slack", workspace="T1", channel="C1", thread="t1"
        )
        assert thread.id is not None
        await add_versions(
            session,
            thread_id=thread.id,
            job_id=job.id,
            prompt=job.prompt,
            images=[VersionImage(sha256=own, mime="image/png", width=8, height=8)],
        )
    claimed = await claim(sessions, owner="w", lease_s=60, now=finished)
    assert claimed is not None and claimed.id == job.id
    async with write_session(sessions) as session:
        assert await finish(
            session,
            job_id=job.id,
            owner="w",
            status=JobStatus.SUCCEEDED,
            cost_micros=300,
            now=finished,
        )
        assert await settle(session, job_id=job.id, cost_micros=300, now=finished)
    return job, [own, common]


async def test_prune_forgets_old_images_and_prompts_but_keeps_money(
    sessions: Sessions, tmp_path: Path
) -> None:
    store = FileBlobStore(tmp_path / "blobs")
    shared = b"an input both jobs used"
    old, (old_out, common) = await _finished_job(
        sessions, store, name="old", finished=NOW - timedelta(days=40), shared=shared
    )
    new, (new_out, _) = await _finished_job(
        sessions, store, name="new", finished=NOW - timedelta(days=5), shared=shared
    )

    report = await prune(sessions, blobs=store, older_than=timedelta(days=30), now=NOW)

    assert (report.jobs, report.images, report.thread_versions, report.blobs) == (1, 2, 1, 1)
    assert not await store.exists(old_out)
    assert await store.exists(common)  # still used by the newer job
    assert await store.exists(new_out)
    async with sessions() as session:
        old_job = await get_job(session, old.id)
        new_job = await get_job(session, new.id)
        assert old_job is not None and new_job is not None
        assert (old_job.prompt, old_job.cost_micros) == ("", 300)
        assert new_job.prompt == "secret prompt new"
        assert await job_images(session, job_id=old.id) == []
        assert len(await job_images(session, job_id=new.id)) == 2
        thread = await get_or_create_thread(
            session, platform="slack", workspace="T1", channel="C1", thread="t1"
        )
        assert thread.id is not None
        assert [v.job_id for v in await list_versions(session, thread_id=thread.id)] == [new.id]
        ledger = (await session.exec(LedgerEntry.__table__.select())).all()  # type: ignore[attr-defined]
    assert sorted((row.job_id, row.kind, row.amount_micros) for row in ledger) == sorted(
        [
            (old.id, "reserve", 500),
            (old.id, "settle", 300),
            (new.id, "reserve", 500),
            (new.id, "settle", 300),
        ]
    )
    again = await prune(sessions, blobs=store, older_than=timedelta(days=30), now=NOW)
    assert (again.jobs, again.images, again.blobs) == (0, 0, 0)
