"""Content-addressed blob store on the local filesystem (bot.core.ports.BlobStore)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import tempfile
from pathlib import Path

_SHA256 = re.compile(r"[0-9a-f]{64}")


class FileBlobStore:
    """Bytes stored as root/ab/cd/<sha256>; writes are atomic (temp file + os.replace)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_of(self, sha256: str) -> Path:
        """Where the blob with this hash lives (or would)."""
        if not _SHA256.fullmatch(sha256):
            raise ValueError(f"not a sha256 hex digest: {sha256!r}")
        return self.root / sha256[:2] / sha256[2:4] / sha256

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


def blob_root(data_dir: Path) -> Path:
    """The blob directory under EDITBOT_DATA_DIR."""
    return data_dir / "blobs"
