"""Jobs as the core sees them: their life cycle, the frozen spec a job row decodes to, and the
JSON a row keeps of its request.

A job row carries everything a worker in any process needs to run it: the place (so the result
reaches the right thread after a restart), the prompt, the resolved request (options, output
size, aspect) and its input images as blob hashes. Storage decodes a row into a JobSpec once;
the service and the workers only ever see JobSpecs.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.core.domain import (
    Background,
    EditOptions,
    Mode,
    NormalizedImage,
    OutputFormat,
    Place,
    Quality,
    Resolution,
)
from bot.core.edits import EditRequest


class JobStatus(StrEnum):
    """Where a job is in its life."""

    AWAITING_CONFIRM = "awaiting_confirm"
    """Estimate above the confirm threshold; nothing reserved until someone confirms."""
    QUEUED = "queued"
    """Budget reserved; waiting for a worker."""
    RUNNING = "running"
    """A worker holds its lease and is running it."""
    SUCCEEDED = "succeeded"
    """Finished with output images; charged its actual cost."""
    FAILED = "failed"
    """Finished without output; refunded; `error` says why."""
    CANCELLED = "cancelled"
    """Dropped before running (cancel, or no confirm within 10 minutes); nothing charged."""


FINISHED = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


def new_job_id() -> str:
    """A fresh job id: uuid4 hex."""
    return uuid.uuid4().hex


REF_CHARS = 8
"""A short reference is this many hex characters (shown as `3f9a-2c1b`, so it never reads as
an amount): what people see instead of a job id."""


def short_ref(key: str) -> str:
    """What a person quotes to the operator: a job id's first characters (`editbot job REF`
    finds the job), or for a request that never became a job, a digest of its event key (the
    logs carry it as `ref=...`)."""
    if len(key) == 32 and all(c in "0123456789abcdef" for c in key):
        digits = key[:REF_CHARS]
    else:
        digits = hashlib.sha256(key.encode()).hexdigest()[:REF_CHARS]
    return f"{digits[:4]}-{digits[4:]}"


@dataclass(frozen=True)
class StoredImage:
    """An image in the blob store: its sha256 and what it is."""

    sha256: str
    mime: str
    width: int
    height: int

    @classmethod
    def of(cls, image: NormalizedImage) -> StoredImage:
        """The stored form of a normalized image (stored under its own sha256)."""
        return cls(sha256=image.sha256, mime=image.mime, width=image.width, height=image.height)


@dataclass(frozen=True)
class JobSpec:
    """One job: where it came from, what it asks, and where it is in its life.

    `place.user` is the person who asked; `place.thread` the platform thread its answers go to
    (None until one is opened). A spec is a value: a stage that changes a job writes the row
    and hands on a new spec (`dataclasses.replace`), never patches this one.
    """

    id: str
    place: Place
    prompt: str
    options: EditOptions
    size: tuple[int, int]
    aspect: str
    provider: str
    status: JobStatus
    estimate_micros: int
    created_at: datetime
    attempts: int = 0
    provider_task_id: str | None = None
    status_message_id: str | None = None
    edit_thread_id: int | None = None
    base_version: int | None = None
    batch_id: str | None = None
    parent_job_id: str | None = None
    version: int | None = None
    cost_micros: int | None = None
    error: str | None = None
    finished_at: datetime | None = None

    @property
    def scope(self) -> str:
        """The budget scope the job is paid from (its channel)."""
        return self.place.scope

    def request(
        self, images: tuple[NormalizedImage, ...], mask: NormalizedImage | None
    ) -> EditRequest:
        """The EditRequest this job runs, given its input images (and mask) as stored."""
        return EditRequest(
            prompt=self.prompt,
            images=images,
            options=self.options,
            size=self.size,
            aspect=self.aspect,
            mask=mask,
        )


@dataclass(frozen=True)
class JobWithInputs:
    """A job with its input images and mask: what enqueue writes and a claim hands a worker."""

    spec: JobSpec
    inputs: tuple[StoredImage, ...] = ()
    mask: StoredImage | None = field(default=None)


def options_to_dict(options: EditOptions) -> dict[str, Any]:
    """EditOptions as plain JSON values."""
    raw = asdict(options)
    raw["size"] = list(options.size) if options.size else None
    return {k: (v.value if hasattr(v, "value") else v) for k, v in raw.items()}


def options_from_dict(raw: dict[str, Any]) -> EditOptions:
    """The inverse of options_to_dict."""
    size = raw.get("size")
    return EditOptions(
        quality=Quality(raw["quality"]),
        aspect=raw.get("aspect"),
        resolution=Resolution(raw["resolution"]),
        size=(int(size[0]), int(size[1])) if size else None,
        n=int(raw["n"]),
        format=OutputFormat(raw["format"]),
        background=Background(raw["background"]),
        mask=raw.get("mask"),
        mode=Mode(raw["mode"]),
        region=raw.get("region"),
    )


def encode_request(request: EditRequest) -> str:
    """What a job row keeps of a request besides prompt and images: options, size, aspect."""
    return json.dumps(
        {
            "options": options_to_dict(request.options),
            "size": list(request.size),
            "aspect": request.aspect,
        },
        sort_keys=True,
    )


def decode_request(text: str) -> tuple[EditOptions, tuple[int, int], str]:
    """(options, output size, aspect) from what encode_request wrote."""
    raw = json.loads(text)
    return (
        options_from_dict(raw["options"]),
        (int(raw["size"][0]), int(raw["size"][1])),
        str(raw["aspect"]),
    )
