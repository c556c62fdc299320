"""A real S3-protocol server for tests: moto's server mode on 127.0.0.1 (HTTP, SigV4).

`S3Server` runs moto in this process's threads (`ThreadedMotoServer`) or, with
`subprocess=True`, as its own process (what the multi-process tests and the bench use, so
the server's CPU is not the test's). Either way editbot talks to it over real HTTP through
obstore, as it would to MinIO or AWS. Each test gets a bucket of its own (`new_bucket`).

Fixtures (a pytest plugin, listed in tests/conftest.py): `s3_server` (one per session) and
`s3_store` (an S3BlobStore on a fresh bucket), `any_blobs` (each store in turn).
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from storage.blobs import FileBlobStore
from storage.s3_blobs import S3BlobStore

KEY_ID = "editbot-test-key"
SECRET = "editbot-test-secret"
REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class S3Server:
    """moto's S3 server on 127.0.0.1:port; `start` / `stop`, or use it as a context."""

    subprocess: bool = False
    port: int = field(default_factory=free_port)
    _threaded: object | None = None
    _proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> S3Server:
        if self.subprocess:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        else:
            from moto.server import ThreadedMotoServer

            logging.getLogger("werkzeug").setLevel(logging.WARNING)
            server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
            server.start()
            self._threaded = server
        self._wait_ready()
        return self

    def _wait_ready(self, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                httpx.get(self.endpoint + "/moto-api/", timeout=2.0)
                return
            except httpx.TransportError:
                if self._proc is not None and self._proc.poll() is not None:
                    raise RuntimeError("moto server exited at start") from None
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)  # a process starting up: nothing to await but its port

    def stop(self) -> None:
        if self._threaded is not None:
            self._threaded.stop()  # type: ignore[attr-defined]
            self._threaded = None
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(timeout=10)
            self._proc = None

    def __enter__(self) -> S3Server:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def new_bucket(self, name: str | None = None) -> str:
        """Create a bucket (a fresh unique one by default) and return its name."""
        import boto3  # moto's own dependency: only the kit uses it, to set the server up

        bucket = name or f"editbot-{uuid.uuid4().hex[:12]}"
        client = boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=KEY_ID,
            aws_secret_access_key=SECRET,
            region_name=REGION,
        )
        client.create_bucket(Bucket=bucket)
        return bucket

    def backdate(self, bucket: str, key: str, when: datetime) -> None:
        """Make an object look written at `when`, as os.utime does for a file (threaded server
        only: it sets the time in moto's state, which S3 itself offers no call for)."""
        assert self._threaded is not None, "backdate needs the in-process server"
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.s3.models import s3_backends

        stored = s3_backends[DEFAULT_ACCOUNT_ID]["aws"].buckets[bucket].keys[key]
        stored.last_modified = when.astimezone(UTC).replace(tzinfo=None)

    def env(self, bucket: str, prefix: str = "blobs") -> dict[str, str]:
        """The variables that point an editbot process at `bucket` on this server."""
        return {
            "EDITBOT_BLOB_URL": f"s3://{bucket}/{prefix}",
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": KEY_ID,
            "AWS_SECRET_ACCESS_KEY": SECRET,
            "AWS_REGION": REGION,
        }

    def store(self, bucket: str, prefix: str = "blobs") -> S3BlobStore:
        """An S3BlobStore on `bucket`, configured as editbot would be from `env`."""
        return S3BlobStore.connect(
            bucket=bucket,
            prefix=prefix,
            endpoint=self.endpoint,
            access_key_id=KEY_ID,
            secret_access_key=SECRET,
            region=REGION,
        )


def without_aws_env() -> dict[str, str]:
    """This process's environment minus any AWS_* variable (a test's own wins)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """moto's S3 server, one for the whole session (each test takes its own bucket)."""
    with S3Server() as server:
        yield server


@pytest.fixture
async def s3_store(s3_server: S3Server) -> AsyncIterator[S3BlobStore]:
    """An S3BlobStore on a bucket of its own."""
    yield s3_server.store(s3_server.new_bucket())


@pytest.fixture(params=["file", "s3"])
def any_blobs(request: pytest.FixtureRequest, tmp_path: Path) -> FileBlobStore | S3BlobStore:
    """Each of editbot's blob stores in turn: the filesystem one, then S3 (on moto)."""
    if request.param == "file":
        return FileBlobStore(tmp_path / "blobs")
    server: S3Server = request.getfixturevalue("s3_server")
    return server.store(server.new_bucket())
