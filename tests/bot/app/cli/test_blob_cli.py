"""`editbot doctor` and `editbot prune` on an S3 blob store (moto's server over HTTP)."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from storage.blobs import blob_key
from storage.db import upgrade
from tests.kit.s3 import SECRET, S3Server

CLI_TIMEOUT_S = 120


async def _cli(args: list[str], env: dict[str, str], tmp_path: Path) -> tuple[int, str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("EDITBOT_", "SLACK_", "AWS_", "DISCORD_"))
    }
    base.pop("OPENAI_API_KEY", None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.app.cli",
        *args,
        env={**base, "EDITBOT_DATA_DIR": str(tmp_path / "data"), **env},
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), CLI_TIMEOUT_S)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def test_doctor_probes_the_s3_store(s3_server: S3Server, tmp_path: Path) -> None:
    bucket = s3_server.new_bucket()
    code, out = await _cli(["doctor"], s3_server.env(bucket, "team"), tmp_path)
    assert f"OK    blob store: s3://{bucket}/team (write, read and delete work)" in out, out
    # The probe object is gone again: the bucket holds nothing a sweep would have to skip.
    assert await s3_server.store(bucket, "").older_than(datetime.now(UTC) + timedelta(1)) == []

    env = {**s3_server.env("no-such-bucket", "team")}
    code, out = await _cli(["doctor"], env, tmp_path)
    assert code == 1
    assert "FAIL  blob store: s3://no-such-bucket/team: probe failed" in out, out
    assert SECRET not in out


async def test_doctor_says_a_bad_blob_url(tmp_path: Path) -> None:
    code, out = await _cli(["doctor"], {"EDITBOT_BLOB_URL": "ftp://x/y"}, tmp_path)
    assert code == 1
    assert "FAIL  blob store: EDITBOT_BLOB_URL: expected file:///absolute/path" in out, out


async def test_prune_sweeps_the_s3_store(s3_server: S3Server, tmp_path: Path) -> None:
    bucket = s3_server.new_bucket()
    store = s3_server.store(bucket)
    old = await store.put(b"left behind by a refused request")
    fresh = await store.put(b"stored a moment ago")
    s3_server.backdate(bucket, f"blobs/{blob_key(old)}", datetime.now(UTC) - timedelta(days=31))
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    await upgrade(url)
    env = {**s3_server.env(bucket), "EDITBOT_DATABASE_URL": url}

    code, out = await _cli(["prune", "--older-than", "30d"], env, tmp_path)

    assert code == 0, out
    assert "1 unreferenced blobs deleted" in out
    assert not await store.exists(old)
    assert await store.exists(fresh)
