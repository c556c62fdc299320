"""Content-addressed blob store on S3-compatible object storage (bot.core.ports.BlobStore).

EDITBOT_BLOB_URL=s3://bucket/prefix, with the standard AWS variables (AWS_ENDPOINT_URL for
MinIO, R2, Ceph and the like). The client is obstore: async without a thread per call, its
requests signed and parsed in Rust (object_store), so a put or a get costs the event loop
little; and it reads the standard AWS variables itself for anything editbot does not pass.

Keys are `prefix/ab/cd/<sha256>`, the file store's layout, so `editbot-data/blobs` can be
copied into a bucket as it is.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import obstore
from obstore.store import S3Store

from storage.blobs import blob_key, is_blob_key

# Listing page size: S3's own maximum per ListObjectsV2 request.
_LIST_CHUNK = 1000
# Hashing moves to a thread above this size (hashlib then releases the GIL).
_HASH_INLINE_MAX = 64 * 1024


class S3BlobStore:
    """Bytes stored as objects named by their sha256 in one bucket, under one prefix.

    A put always writes, even when the object exists: the write refreshes its last-modified
    time, which keeps prune's sweep of old unreferenced blobs off bytes wanted again (the
    file store touches the file's mtime for the same reason).
    """

    def __init__(self, store: S3Store, *, where: str) -> None:
        self._store = store
        self.where = where
        """`s3://bucket/prefix`, for people (never a credential)."""

    @classmethod
    def connect(
        cls,
        *,
        bucket: str,
        prefix: str = "",
        endpoint: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        region: str | None = None,
    ) -> S3BlobStore:
        """A store on `bucket`; what is None here obstore reads from the AWS variables."""
        config: dict[str, Any] = {}
        for key, value in (
            ("endpoint", endpoint),
            ("access_key_id", access_key_id),
            ("secret_access_key", secret_access_key),
            ("region", region),
        ):
            if value:
                config[key] = value
        store = S3Store(
            bucket,
            prefix=prefix.strip("/") or None,
            config=config,  # type: ignore[arg-type]
            # A local MinIO or test server speaks plain HTTP; AWS itself is HTTPS.
            client_options={"allow_http": bool(endpoint and endpoint.startswith("http://"))},
        )
        where = f"s3://{bucket}/{prefix.strip('/')}".rstrip("/")
        return cls(store, where=where)

    async def put(self, data: bytes) -> str:
        """Store `data`; returns its sha256 hex. Storing the same bytes twice is a no-op."""
        if len(data) > _HASH_INLINE_MAX:
            digest = await asyncio.to_thread(_sha256, data)
        else:
            digest = _sha256(data)
        await obstore.put_async(self._store, blob_key(digest), data)
        return digest

    async def get(self, sha256: str) -> bytes:
        """The bytes stored under `sha256`; FileNotFoundError when absent."""
        result = await obstore.get_async(self._store, blob_key(sha256))
        return bytes(await result.bytes_async())

    async def delete(self, sha256: str) -> None:
        """Remove a blob; deleting a missing blob is not an error."""
        await obstore.delete_async(self._store, blob_key(sha256))

    async def exists(self, sha256: str) -> bool:
        """Whether a blob is stored under `sha256`."""
        try:
            await obstore.head_async(self._store, blob_key(sha256))
        except FileNotFoundError:
            return False
        return True

    async def older_than(self, limit: datetime) -> list[str]:
        """Hashes of the stored blobs last written before `limit` (one listing of the prefix)."""
        return sorted(await self._ages(limit))

    async def delete_older_than(self, hashes: Sequence[str], limit: datetime) -> int:
        """Delete those of `hashes` still last written before `limit`; returns how many.

        The prefix is listed again just before: a put since the first listing keeps its blob.
        Deletes go in bulk (DeleteObjects, up to 1,000 keys a request).
        """
        still_old = await self._ages(limit)
        doomed = [blob_key(sha) for sha in hashes if sha in still_old]
        for start in range(0, len(doomed), _LIST_CHUNK):
            await obstore.delete_async(self._store, doomed[start : start + _LIST_CHUNK])
        return len(doomed)

    async def _ages(self, limit: datetime) -> set[str]:
        found: set[str] = set()
        async for chunk in obstore.list(self._store, chunk_size=_LIST_CHUNK):
            for meta in chunk:
                path = meta["path"]
                if is_blob_key(path) and meta["last_modified"] < limit:
                    found.add(path.rsplit("/", 1)[-1])
        return found

    async def check(self) -> str:
        """Write, read back and delete a small probe object; raises when that fails.

        The probe is not at a blob's address, so a sweep never counts it.
        """
        key = f"doctor/probe-{secrets.token_hex(8)}"
        payload = b"editbot doctor probe"
        await obstore.put_async(self._store, key, payload)
        try:
            result = await obstore.get_async(self._store, key)
            if bytes(await result.bytes_async()) != payload:
                raise OSError("the probe object read back different bytes")
        finally:
            await obstore.delete_async(self._store, key)
        return f"{self.where} (write, read and delete work)"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
