"""The provider port: one protocol, implemented by the OpenAI and WaveSpeed clients."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from bot.domain import EditOptions, NormalizedImage, ProviderName


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
    """One progress event: the stage, seconds since the edit started, and a short detail."""

    stage: Stage
    elapsed_s: float
    detail: str = ""


OnProgress = Callable[[Progress], Awaitable[None]]
OnTaskId = Callable[[str], Awaitable[None]]


class Provider(Protocol):
    """Runs gpt-image-2 edits. Implementations take an injected httpx.AsyncClient."""

    name: ProviderName

    async def edit(
        self,
        request: EditRequest,
        *,
        on_progress: OnProgress | None = None,
        on_task_id: OnTaskId | None = None,
    ) -> EditResult:
        """Run the edit to the end (or raise a bot.errors error).

        `on_task_id` is awaited with the provider's task id before polling starts, where the
        provider has task ids, so a restarted process can `resume` instead of paying twice.
        """
        ...

    def preview(self, request: EditRequest) -> dict[str, object]:
        """The request as it would go on the wire, image bytes replaced by a short summary."""
        ...

    async def resume(
        self,
        task_id: str,
        request: EditRequest,
        *,
        on_progress: OnProgress | None = None,
    ) -> EditResult:
        """Finish an edit already submitted as `task_id` (without submitting again).

        Providers without task ids raise NotImplementedError; the caller submits again.
        """
        ...
