"""Inputs and recorders for provider tests: solid-colour images, requests, a fake sleep."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
from PIL import Image

from bot.core.domain import (
    Background,
    EditOptions,
    NormalizedImage,
    OutputFormat,
    Quality,
    Resolution,
)
from bot.core.edits import EditRequest, Progress
from tests.kit.emulator import ProviderEmulator
from tests.kit.images import mask, normalized, solid


def solid_png(colour: str, size: tuple[int, int] = (96, 64), *, name: str = "") -> NormalizedImage:
    """A PNG of one colour, as intake would hand it to a provider."""
    return normalized(solid(colour, size), name=name or f"{colour}.png")


def half_mask(size: tuple[int, int]) -> NormalizedImage:
    """A PNG mask whose left half is transparent (the area to edit)."""
    return normalized(mask(size), name="mask.png")


def request(
    *images: NormalizedImage,
    prompt: str = "make it pop",
    size: tuple[int, int] = (1024, 1024),
    aspect: str = "1:1",
    mask: NormalizedImage | None = None,
    **options: object,
) -> EditRequest:
    enums = {"quality": Quality, "format": OutputFormat, "background": Background}
    enums["resolution"] = Resolution
    for key, kind in enums.items():
        if key in options:
            options[key] = kind(options[key])
    return EditRequest(
        prompt=prompt,
        images=images or (solid_png("red"),),
        options=EditOptions(**options),  # type: ignore[arg-type]
        size=size,
        aspect=aspect,
        mask=mask,
    )


def decode(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as im:
        return im.convert("RGB")


def mean_rgb(im: Image.Image, box: tuple[int, int, int, int] | None = None) -> tuple[int, ...]:
    region = im.crop(box) if box else im
    small = region.resize((1, 1), Image.Resampling.BOX)
    return tuple(small.getpixel((0, 0)))  # type: ignore[arg-type]


@dataclass
class FakeSleep:
    """Records the delays asked for and returns at once."""

    delays: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@dataclass
class ProgressLog:
    events: list[Progress] = field(default_factory=list)

    async def __call__(self, event: Progress) -> None:
        self.events.append(event)

    @property
    def stages(self) -> list[str]:
        return [e.stage.value for e in self.events]


# Fixtures for provider tests: an emulator, and an httpx client wired to it in memory.


@pytest.fixture
def emu() -> ProviderEmulator:
    return ProviderEmulator()


@pytest.fixture
async def client(emu: ProviderEmulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(emu.handler)) as c:
        yield c
