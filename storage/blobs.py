"""Content-addressed blob stores (bot.core.ports.BlobStore): the filesystem, or S3.

EDITBOT_BLOB_URL picks one (`open_blob_store`): unset or `file:///path` is the filesystem
(the data directory's `blobs/` by default), `s3://bucket/prefix` is object storage
(storage/s3_blobs.py). Both keep a blob at `ab/cd/<sha256>` and can list their blobs by age,
which is what prune's sweep of unreferenced blobs needs (`SweepableBlobStore`).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import tempfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable
from urllib.parse import unquote, urlsplit

from bot.core.config import Settings
from bot.core.errors import ConfigError

if TYPE_CHECKING:
    from storage.s3_blobs import S3BlobStore

_SHA256 = re.compile(r"[0-9a-f]{64}")
_KEY = re.compile(r"(?:.*/)?([0-9a-f]{2})/([0-9a-f]{2})/([0-9a-f]{64})")


def blob_key(sha256: str) -> str:
    """A blob's address inside a store: `ab/cd/<sha256>`; ValueError for anything else."""
    if not _SHA256.fullmatch(sha256):
        raise ValueError(f"not a sha256 hex digest: {sha256!r}")
    return f"{sha256[:2]}/{sha256[2:4]}/{sha256}"


def is_blob_key(key: str) -> bool:
    """Whether `key` (a path, perhaps under a prefix) is a blob at its own address."""
    match = _KEY.fullmatch(key)
    return match is not None and match.group(3)[:4] == match.group(1) + match.group(2)


@runtime_checkable
class SweepableBlobStore(Protocol):
    """A blob store that can list its blobs by age: what prune's orphan sweep needs."""

    async def older_than(self, limit: datetime) -> list[str]:
        """Hashes of the blobs last written before `limit`."""
        ...

    async def delete_older_than(self, hashes: Sequence[str], limit: datetime) -> int:
        """Delete those of `hashes` still last written before `limit`; returns how many."""
        ...

    async def check(self) -> str:
        """A cheap write-read-delete round trip for `editbot doctor`; raises on failure."""
        ...


class FileBlobStore:
    """Bytes stored as root/ab/cd/<sha256>; writes are atomic (temp file + os.replace)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def where(self) -> str:
        """The directory, for people."""
        return str(self.root.resolve())

    def path_of(self, sha256: str) -> Path:
        """Where the blob with this hash lives (or would)."""
        return self.root / blob_key(sha256)

    async def put(self, data: bytes) -> str:
        """Store `data`; returns its sha256 hex. Storing the same bytes twice is a no-op."""
        return await asyncio.to_thread(self._put, data)

    async def get(self, sha256: str) -> bytes:
        """The bytes stored under `sha256`; FileNotFoundError when absent."""
        return await asyncio.to_thread(self.path_of(sha256).read_bytes)

    async def delete(self, sha256: str) -> None:
        """Remove a blob; deleting a missing blob is not an error."""
        await asyncio.to_thread(self.path_of(sha256).unlink, missing_ok=True)

    async def exists(self, sha256: str) -> bool:
        """Whether a blob is stored under `sha256`."""
        return await asyncio.to_thread(self.path_of(sha256).is_file)

    async def older_than(self, limit: datetime) -> list[str]:
        """Hashes of the blobs whose file's mtime is before `limit`."""
        return await asyncio.to_thread(self._older_than, limit.timestamp())

    async def delete_older_than(self, hashes: Sequence[str], limit: datetime) -> int:
        """Delete those of `hashes` whose file is still older than `limit`; returns how many.

        Each file's age is checked again just before it is removed: a put since the listing
        refreshed it.
        """
        paths = [self.path_of(sha) for sha in hashes]
        return await asyncio.to_thread(_unlink_older_than, paths, limit.timestamp())

    async def check(self) -> str:
        """Write and remove a temp file in the store's directory; raises OSError on failure."""

        def probe() -> None:
            self.root.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.root, prefix=".tmp-doctor-"):
                pass

        await asyncio.to_thread(probe)
        return f"{self.where} (writable)"

    def _older_than(self, limit: float) -> list[str]:
        found: list[str] = []
        for path in self.root.glob("*/*/*"):
            # Skips a put's temp files and anything that is not at its own address.
            if not is_blob_key(path.relative_to(self.root).as_posix()):
                continue
            try:
                if path.is_file() and path.stat().st_mtime < limit:
                    found.append(path.name)
            except FileNotFoundError:
                continue
        return found

    def _put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        path = self.path_of(digest)
        if path.is_file():
            # The same bytes stored again are wanted again: a fresh mtime keeps prune's sweep
            # of old unreferenced blobs off them until the rows that name them are written.
            try:
                os.utime(path)
                return digest
            except FileNotFoundError:  # pruned just now: store it afresh
                pass
        try:
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        except FileNotFoundError:  # the directory's first blob: a mkdir then, not every time
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return digest


def _unlink_older_than(paths: Sequence[Path], limit: float) -> int:
    deleted = 0
    for path in paths:
        try:
            if path.stat().st_mtime >= limit:
                continue  # stored again since it was listed
            path.unlink()
        except FileNotFoundError:
            continue
        deleted += 1
    return deleted


def blob_root(data_dir: Path) -> Path:
    """The blob directory under EDITBOT_DATA_DIR."""
    return data_dir / "blobs"


def open_blob_store(settings: Settings) -> FileBlobStore | S3BlobStore:
    """The store EDITBOT_BLOB_URL names: unset = `blobs/` in the data directory,
    `file:///path` = that directory, `s3://bucket/prefix` = object storage configured by
    AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_REGION."""
    url = (settings.blob_url or "").strip()
    if not url:
        return FileBlobStore(blob_root(settings.data_dir))
    parts = urlsplit(url)
    if parts.scheme == "file" and parts.netloc in ("", "localhost") and parts.path:
        return FileBlobStore(Path(unquote(parts.path)))
    if parts.scheme == "s3" and parts.netloc:
        from storage.s3_blobs import S3BlobStore

        key_id, secret = settings.aws_access_key_id, settings.aws_secret_access_key
        return S3BlobStore.connect(
            bucket=parts.netloc,
            prefix=unquote(parts.path),
            endpoint=settings.aws_endpoint_url,
            access_key_id=key_id.get_secret_value() if key_id else None,
            secret_access_key=secret.get_secret_value() if secret else None,
            region=settings.aws_region,
        )
    raise ConfigError(
        "EDITBOT_BLOB_URL: expected file:///absolute/path or s3://bucket/prefix "
        f"(got a {parts.scheme or 'schemeless'} URL)"
    )
