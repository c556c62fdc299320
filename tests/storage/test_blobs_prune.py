"""Blob store round trip, and retention: prune forgets old images and prompts, not money."""

from __future__ import annotations

import asyncio
import hashlib
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app.cli import main as cli_main
from bot.app.cli.prune import parse_age
from bot.core.budgets import BudgetDefaults
from bot.core.domain import EditOptions, Place
from bot.core.errors import ConfigError
from bot.core.jobs import JobSpec, JobStatus, JobWithInputs, StoredImage, new_job_id
from storage.blobs import FileBlobStore, blob_root, open_blob_store
from storage.budgets import reserve_many, settle_usage
from storage.claims import claim
from storage.db import Sessions, upgrade, write_session
from storage.images import add_outputs, job_images
from storage.models import LedgerEntry
from storage.prune import prune
from storage.queue import enqueue, finish, get_job
from storage.s3_blobs import S3BlobStore
from storage.threads import add_versions, get_or_create_thread, list_versions
from tests.kit.s3 import KEY_ID, REGION, SECRET, S3Server
from tests.kit.settings import make_settings

AnyBlobs = FileBlobStore | S3BlobStore

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


async def test_blob_store_round_trip(any_blobs: AnyBlobs) -> None:
    store = any_blobs
    data = b"\x89PNG fake image bytes" * 10_000  # large enough to hash in a thread
    sha = await store.put(data)
    assert sha == hashlib.sha256(data).hexdigest()
    assert await store.get(sha) == data
    assert await store.put(data) == sha  # same bytes, same address
    others = await asyncio.gather(*(store.put(bytes([i]) * 10) for i in range(5)))
    assert len(set(others)) == 5
    assert [await store.get(s) for s in others] == [bytes([i]) * 10 for i in range(5)]
    await store.delete(sha)
    assert not await store.exists(sha)
    await store.delete(sha)  # deleting twice is fine
    with pytest.raises(FileNotFoundError):
        await store.get(sha)
    with pytest.raises(ValueError):
        await store.get("../../etc/passwd")
    assert await store.check()  # what doctor runs


async def test_file_store_layout(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path / "blobs")
    sha = await store.put(b"bytes")
    assert store.path_of(sha) == tmp_path / "blobs" / sha[:2] / sha[2:4] / sha
    await asyncio.gather(*(store.put(bytes([i]) * 10) for i in range(5)))
    assert not list((tmp_path / "blobs").rglob(".tmp-*"))  # no temp files left behind
    with pytest.raises(ValueError):
        store.path_of("../../etc/passwd")
    # A directory that went away (emptied, removed) is made again by the next put into it.
    alone = FileBlobStore(tmp_path / "alone")
    assert await alone.put(b"bytes") == sha
    await alone.delete(sha)
    alone.path_of(sha).parent.rmdir()
    alone.path_of(sha).parent.parent.rmdir()
    assert await alone.put(b"bytes") == sha and await alone.get(sha) == b"bytes"


async def test_s3_store_keys_are_the_file_layout_under_the_prefix(s3_server: S3Server) -> None:
    bucket = s3_server.new_bucket()
    store = s3_server.store(bucket, prefix="team/blobs")
    sha = await store.put(b"an image")
    keys = _bucket_keys(s3_server, bucket)
    assert keys == [f"team/blobs/{sha[:2]}/{sha[2:4]}/{sha}"]
    assert await store.check()
    assert _bucket_keys(s3_server, bucket) == keys  # doctor's probe cleans up after itself


def _bucket_keys(server: S3Server, bucket: str) -> list[str]:
    """The keys in `bucket`, listed by another S3 client (boto3) than editbot's."""
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
        region_name=REGION,
    )
    return sorted(o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", []))


def test_blob_url_picks_the_store(tmp_path: Path) -> None:
    default = open_blob_store(make_settings(data_dir=tmp_path))
    assert isinstance(default, FileBlobStore) and default.root == blob_root(tmp_path)
    chosen = open_blob_store(make_settings(data_dir=tmp_path, blob_url=f"file://{tmp_path}/x"))
    assert isinstance(chosen, FileBlobStore) and chosen.root == tmp_path / "x"
    s3 = open_blob_store(
        make_settings(blob_url="s3://bucket/some/prefix/", aws_endpoint_url="http://127.0.0.1:1")
    )
    assert isinstance(s3, S3BlobStore) and s3.where == "s3://bucket/some/prefix"
    for bad in ("http://bucket/x", "s3:///no-bucket", "file://host/x", "blobs"):
        with pytest.raises(ConfigError, match="EDITBOT_BLOB_URL"):
            open_blob_store(make_settings(blob_url=bad))


def test_prune_ages_parse() -> None:
    assert parse_age("30d") == timedelta(days=30)
    assert parse_age("12h") == timedelta(hours=12)
    assert parse_age("7") == timedelta(days=7)
    for bad in ("", "0d", "x", "3w", "-1d"):
        with pytest.raises(ValueError):
            parse_age(bad)


async def _finished_job(
    sessions: Sessions, store: AnyBlobs, *, name: str, finished: datetime, shared: bytes
) -> tuple[JobSpec, list[str]]:
    """A job that ran and succeeded at `finished`, with one input, one output, a version."""
    job = JobSpec(
        id=new_job_id(),
        place=Place(platform="slack", workspace="T1", channel="C1", user="U1"),
        prompt=f"secret prompt {name}",
        options=EditOptions(),
        size=(1024, 1024),
        aspect="1:1",
        provider="openai",
        status=JobStatus.QUEUED,
        estimate_micros=500,
        created_at=finished - timedelta(minutes=1),
    )
    own = await store.put(f"output of {name}".encode())
    common = await store.put(shared)
    image = StoredImage(sha256=common, mime="image/png", width=8, height=8)
    async with write_session(sessions) as session:
        await reserve_many(
            session,
            scope=job.scope,
            user="U1",
            estimates={job.id: 500},
            defaults=BudgetDefaults(cap_micros=10_000, period="none"),
            now=finished,
        )
        await enqueue(session, [JobWithInputs(job, (image,))])
        await add_outputs(
            session,
            job_id=job.id,
            outputs=[StoredImage(sha256=own, mime="image/png", width=8, height=8)],
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
            images=[StoredImage(sha256=own, mime="image/png", width=8, height=8)],
        )
    claimed = await claim(sessions, owner="w", lease_s=60, now=finished)
    assert claimed is not None and claimed.spec.id == job.id
    async with write_session(sessions) as session:
        assert await finish(
            session,
            job_id=job.id,
            owner="w",
            status=JobStatus.SUCCEEDED,
            cost_micros=300,
            now=finished,
        )
        assert await settle_usage(session, job_id=job.id, cost_micros=300, now=finished) is not None
    return job, [own, common]


async def test_prune_forgets_old_images_and_prompts_but_keeps_money(
    sessions: Sessions, any_blobs: AnyBlobs
) -> None:
    store = any_blobs
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


def _age(store: FileBlobStore, sha: str, when: datetime) -> None:
    """Backdate a blob's file, as if it had been stored at `when`."""
    stamp = when.timestamp()
    os.utime(store.path_of(sha), (stamp, stamp))


async def _queued_job_with_input(sessions: Sessions, *, sha: str) -> JobSpec:
    """A job still in the queue whose input is `sha`."""
    job = JobSpec(
        id=new_job_id(),
        place=Place(platform="slack", workspace="T1", channel="C1", user="U1"),
        prompt="still wanted",
        options=EditOptions(),
        size=(1024, 1024),
        aspect="1:1",
        provider="openai",
        status=JobStatus.QUEUED,
        estimate_micros=500,
        created_at=NOW - timedelta(days=45),
    )
    image = StoredImage(sha256=sha, mime="image/png", width=8, height=8)
    async with write_session(sessions) as session:
        await enqueue(session, [JobWithInputs(job, (image,))])
    return job


async def test_prune_deletes_old_blobs_nothing_references_and_keeps_the_rest(
    sessions: Sessions, tmp_path: Path
) -> None:
    store = FileBlobStore(tmp_path / "blobs")
    long_ago = NOW - timedelta(days=40)
    # The input of a refused request: stored before the budget said no, never named by a row.
    orphan = await store.put(b"input of a refused request")
    _age(store, orphan, long_ago)
    # Just as old, but a queued job still needs it.
    wanted = await store.put(b"input of a job still in the queue")
    _age(store, wanted, long_ago)
    await _queued_job_with_input(sessions, sha=wanted)
    # Just as old, named only by a thread version (what a reply in the thread edits next).
    version_only = await store.put(b"a version the thread builds on")
    _age(store, version_only, long_ago)
    async with write_session(sessions) as session:
        edit_thread = await get_or_create_thread(
            session, platform="slack", workspace="T1", channel="C1", thread="t-version"
        )
        assert edit_thread.id is not None
        await add_versions(
            session,
            thread_id=edit_thread.id,
            job_id="j-not-finished",
            prompt="v1",
            images=[StoredImage(sha256=version_only, mime="image/png", width=8, height=8)],
        )
    # Put a minute ago by an enqueue whose transaction has not committed: no row names it yet.
    in_flight = await store.put(b"input of an enqueue in progress")
    _age(store, in_flight, NOW - timedelta(minutes=1))
    # A temp file a crashed put left behind is not a blob; prune leaves it alone.
    stray = store.path_of(orphan).parent / ".tmp-crashed"
    stray.write_bytes(b"partial")
    os.utime(stray, (long_ago.timestamp(), long_ago.timestamp()))

    report = await prune(sessions, blobs=store, older_than=timedelta(days=30), now=NOW)

    assert report.orphan_blobs == 1
    assert not await store.exists(orphan)
    assert await store.exists(wanted)
    assert await store.exists(version_only)
    assert await store.exists(in_flight)
    assert stray.exists()
    # Once the retention has passed for it too, the unreferenced one goes; referenced ones stay.
    later = await prune(sessions, blobs=store, older_than=timedelta(seconds=1), now=NOW)
    assert later.orphan_blobs == 1
    assert not await store.exists(in_flight)
    assert await store.exists(wanted) and await store.exists(version_only)


async def test_storing_the_same_bytes_again_keeps_an_old_orphan_from_prune(
    sessions: Sessions, tmp_path: Path
) -> None:
    store = FileBlobStore(tmp_path / "blobs")
    sha = await store.put(b"an image attached again")
    now = datetime.now(UTC)
    _age(store, sha, now - timedelta(days=40))
    # The same image attached again: its enqueue is about to write the rows that name it.
    assert await store.put(b"an image attached again") == sha

    report = await prune(sessions, blobs=store, older_than=timedelta(days=30), now=now)

    assert report.orphan_blobs == 0 and await store.exists(sha)
    assert store.path_of(sha).stat().st_mtime > (now - timedelta(minutes=5)).timestamp()


async def test_prune_sweeps_many_orphans_in_chunks(sessions: Sessions, any_blobs: AnyBlobs) -> None:
    store = any_blobs
    shas = list(await asyncio.gather(*(store.put(f"orphan {i}".encode()) for i in range(1_200))))
    keep = shas[1_100]
    await _queued_job_with_input(sessions, sha=keep)
    # Forty days on, every one of them is past a 30-day retention.
    later = datetime.now(UTC) + timedelta(days=40)

    report = await prune(sessions, blobs=store, older_than=timedelta(days=30), now=later)

    assert report.orphan_blobs == 1_199
    assert await store.older_than(later) == [keep]  # what is left, listed
    assert await store.exists(keep)


async def test_prune_sweeps_only_old_unreferenced_blobs_on_either_store(
    sessions: Sessions, any_blobs: AnyBlobs
) -> None:
    store = any_blobs
    orphan = await store.put(b"input of a refused request")
    wanted = await store.put(b"input of a job still in the queue")
    await _queued_job_with_input(sessions, sha=wanted)
    now = datetime.now(UTC)

    # Stored a moment ago (an enqueue in progress would be): younger than the retention.
    fresh = await prune(sessions, blobs=store, older_than=timedelta(days=30), now=now)
    assert fresh.orphan_blobs == 0 and await store.exists(orphan)

    later = await prune(
        sessions, blobs=store, older_than=timedelta(days=30), now=now + timedelta(days=31)
    )
    assert later.orphan_blobs == 1
    assert not await store.exists(orphan)
    assert await store.exists(wanted)


def test_cli_prune_reports_unreferenced_blobs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    asyncio.run(upgrade(url))
    monkeypatch.setenv("EDITBOT_DATABASE_URL", url)
    monkeypatch.setenv("EDITBOT_DATA_DIR", str(tmp_path))
    store = FileBlobStore(blob_root(tmp_path))
    old = asyncio.run(store.put(b"left behind by a refused request"))
    fresh = asyncio.run(store.put(b"stored a moment ago"))
    _age(store, old, datetime.now(UTC) - timedelta(days=31))

    assert cli_main(["prune", "--older-than", "30d"]) == 0

    assert "1 unreferenced blobs deleted" in capsys.readouterr().out
    assert not store.path_of(old).exists()
    assert store.path_of(fresh).exists()
