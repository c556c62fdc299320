"""What a provider is asked and what it answers: the request, the result, progress events.

The Provider protocol itself is in bot.core.ports.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum

from bot.core.domain import EditOptions, NormalizedImage, ProviderName


@dataclass(frozen=True)
class EditRequest:
    """One edit as a provider runs it: prompt, inputs, optional mask, resolved options.

    `size` is the resolved output WxH; `aspect` the resolved ratio (WaveSpeed takes the ratio
    and the resolution class, OpenAI the size).
    """

    prompt: str
    images: tuple[NormalizedImage, ...]
    options: EditOptions
    size: tuple[int, int]
    aspect: str
    mask: NormalizedImage | None = None


@dataclass(frozen=True)
class Usage:
    """Token counts from OpenAI's `usage` (WaveSpeed prices per image and has none)."""

    input_text_tokens: int = 0
    input_image_tokens: int = 0
    output_tokens: int = 0


@dataclass(frozen=True)
class OutputImage:
    """One result image as the provider returned it."""

    data: bytes = field(repr=False)
    mime: str


@dataclass(frozen=True)
class EditResult:
    """What a provider returns for a finished edit."""

    provider: ProviderName
    images: tuple[OutputImage, ...]
    size: tuple[int, int]
    usage: Usage | None = None
    task_id: str | None = None
    request_id: str | None = None


class Stage(StrEnum):
    """Where a running edit is, for the status message."""

    UPLOADING = "uploading"
    """Sending the input images to the provider."""
    QUEUED = "queued"
    """Accepted by the provider, waiting to run."""
    RUNNING = "running"
    """The model is working."""
    RETRYING = "retrying"
    """A transient failure; waiting before trying again."""
    DOWNLOADING = "downloading"
    """Fetching the result images."""


@dataclass(frozen=True)
class Progress:
    """One progress event: the stage, seconds since the edit started, and a short detail
    (plus a preview image, or the retry's numbers, where the stage has them)."""

    stage: Stage
    elapsed_s: float
    detail: str = ""
    preview: bytes | None = field(default=None, repr=False)
    """A partial image (encoded, full size) when the provider streamed one."""
    retry: int = 0
    """With RETRYING: which retry this is (from 1), of `max_retries`, after `wait_s`."""
    max_retries: int = 0
    wait_s: float = 0.0


OnProgress = Callable[[Progress], Awaitable[None]]
OnTaskId = Callable[[str], Awaitable[None]]
