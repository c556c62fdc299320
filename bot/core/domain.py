"""Core types shared by the edit pipeline, storage and the chat adapters.

Nothing here does I/O. Adapters build these from platform events; the core passes them around.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum


class Quality(StrEnum):
    """How much effort (and money) the model spends on the output."""

    LOW = "low"
    """Cheapest and fastest."""
    MEDIUM = "medium"
    """The default."""
    HIGH = "high"
    """Best detail; about 4-6x the price of medium."""
    AUTO = "auto"
    """The provider chooses; priced as high (an upper bound)."""


class Resolution(StrEnum):
    """Output resolution class; with the aspect ratio it decides the output size."""

    R1K = "1k"
    """Short side about 1024 px."""
    R2K = "2k"
    """Short side about 2048 px."""
    R4K = "4k"
    """Long side up to 3824 px (the safe 4K)."""


class OutputFormat(StrEnum):
    """Encoding of the result images."""

    PNG = "png"
    """Lossless; keeps transparency."""
    JPEG = "jpeg"
    """Smallest; no transparency."""
    WEBP = "webp"
    """Small; keeps transparency."""


class Background(StrEnum):
    """Background handling of the output."""

    AUTO = "auto"
    """The model decides."""
    OPAQUE = "opaque"
    """Always an opaque background."""
    TRANSPARENT = "transparent"
    """Transparent background; needs png or webp output."""


class Mode(StrEnum):
    """What to do with several input images."""

    COMPOSE = "compose"
    """One edit that uses all the images together (the default)."""
    EACH = "each"
    """The same edit applied to each image separately: one job per image."""


class ProviderName(StrEnum):
    """Which service runs gpt-image-2."""

    OPENAI = "openai"
    """OpenAI's Images API, multipart edits."""
    WAVESPEED = "wavespeed"
    """WaveSpeedAI's submit-and-poll API."""


ASPECTS: tuple[str, ...] = ("1:1", "3:2", "2:3", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")
"""Aspect ratios both providers accept, in the order they are shown to users."""


@dataclass(frozen=True)
class EditOptions:
    """What the person asked for besides the prompt.

    `aspect` None means "auto": the supported ratio nearest the first input image's.
    `size` (WxH) excludes aspect and resolution. `mask` is the 1-based attachment index.
    """

    quality: Quality = Quality.MEDIUM
    aspect: str | None = None
    resolution: Resolution = Resolution.R1K
    size: tuple[int, int] | None = None
    n: int = 1
    format: OutputFormat = OutputFormat.PNG
    background: Background = Background.AUTO
    mask: int | None = None
    mode: Mode = Mode.COMPOSE
    region: str | None = None
    """`region=`: `top`, `bottom`, `left`, `right`, `center` or `x,y,w,h` in percent of the
    first image; the mask is built from it (bot.core.options.region_box)."""

    def describe(self) -> str:
        """Short human summary, for captions: `quality=high aspect=4:5 1k n=2`."""
        parts = [f"quality={self.quality.value}"]
        if self.size:
            parts.append(f"size={self.size[0]}x{self.size[1]}")
        else:
            parts.append(f"aspect={self.aspect or 'auto'}")
            parts.append(f"resolution={self.resolution.value}")
        if self.n != 1:
            parts.append(f"n={self.n}")
        if self.format is not OutputFormat.PNG:
            parts.append(f"format={self.format.value}")
        if self.background is not Background.AUTO:
            parts.append(f"background={self.background.value}")
        if self.region:
            parts.append(f"region={self.region}")
        return " ".join(parts)


@dataclass(frozen=True)
class NormalizedImage:
    """An input image as the provider will get it: decoded, oriented, resized, re-encoded."""

    data: bytes = field(repr=False)
    mime: str
    width: int
    height: int
    sha256: str
    name: str = "image"

    @property
    def extension(self) -> str:
        return {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}.get(self.mime, "bin")


@dataclass(frozen=True)
class Place:
    """Where a request came from and where its answer goes.

    `thread` is the platform's thread handle (Slack: the root message ts; Discord: the thread
    channel id), None before a thread exists.
    """

    platform: str
    workspace: str
    channel: str
    user: str
    thread: str | None = None

    @property
    def scope(self) -> str:
        """Budget scope key of the channel: `platform:workspace:channel`."""
        return f"{self.platform}:{self.workspace}:{self.channel}"


Downloader = Callable[[], Awaitable[bytes]]
"""Adapter-supplied coroutine that fetches an attachment's bytes (enforcing host and size)."""


@dataclass(frozen=True)
class Attachment:
    """A file the person attached, not downloaded yet."""

    name: str
    fetch: Downloader = field(repr=False, compare=False)
    size: int | None = None
    mime: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class OptionPicks:
    """Options a person chose in a form (Slack modal selects, Discord command choices).

    None means "not chosen". The core merges them with the options typed in the prompt
    (bot.core.options.parse_options): a pick at its default value counts as no choice, and a
    pick that contradicts a typed option is the same error as typing both.
    """

    quality: Quality | None = None
    aspect: str | None = None
    resolution: Resolution | None = None
    n: int | None = None


@dataclass(frozen=True)
class IncomingEdit:
    """A request to edit, translated from a platform event by an adapter.

    `event_key` is unique per platform event (Slack: event_id or the message ts; Discord: the
    message or interaction id); a second IncomingEdit with the same key does nothing.
    `message_id` is the platform id of the request message (Slack ts, Discord message id): the
    anchor of a new edit thread when `place.thread` is None. `text` is what the person wrote
    (prompt and inline options); `picks` what they chose in a form, handed over as data.
    """

    place: Place
    text: str
    event_key: str
    attachments: tuple[Attachment, ...] = ()
    message_id: str | None = None
    picks: OptionPicks = field(default_factory=OptionPicks)


@dataclass(frozen=True)
class Estimate:
    """Upper bound of what a run will cost, before it runs."""

    micros: int
    detail: str


@dataclass(frozen=True)
class Cost:
    """What a run cost, from the provider's answer."""

    micros: int
    detail: str


def format_usd(micros: int) -> str:
    """Micro-dollars as dollars for people, one way everywhere: whole cents from $1 up
    (4_850_000 -> `$4.85`), three decimals below (44_000 -> `$0.044`); zero is `$0.00`.

    Rounds half up; a positive amount under half a tenth of a cent shows as `$0.001`, so a
    charge never reads as nothing.
    """
    sign = "-" if micros < 0 else ""
    micros = abs(micros)
    thousandths = (micros + 500) // 1000
    if micros == 0:
        return "$0.00"
    if thousandths >= 1000:
        cents = (micros + 5_000) // 10_000
        return f"{sign}${cents // 100:,}.{cents % 100:02d}"
    return f"{sign}$0.{max(thousandths, 1):03d}"
