"""What edits cost: an upper-bound estimate before a run, the settled cost after.

Money is integer micro-dollars throughout; rates are micro-dollars per million tokens (OpenAI)
or per output image (WaveSpeed). Token arithmetic uses Fraction and rounds up, so no float ever
touches money and every rounding step errs towards the higher amount.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from fractions import Fraction
from types import MappingProxyType

from bot.core.config import Settings
from bot.core.domain import Cost, Estimate, ProviderName, Quality, Resolution, format_usd
from bot.core.edits import EditRequest, EditResult, Usage
from bot.core.errors import ConfigError

# Output token factor q of gpt-image-2 per quality; auto is priced as high (an upper bound).
_OUTPUT_Q = {Quality.LOW: 16, Quality.MEDIUM: 48, Quality.HIGH: 96, Quality.AUTO: 96}

# WaveSpeed takes low|medium|high only; auto is priced as high (an upper bound).
_WAVESPEED_QUALITY = {
    Quality.LOW: Quality.LOW,
    Quality.MEDIUM: Quality.MEDIUM,
    Quality.HIGH: Quality.HIGH,
    Quality.AUTO: Quality.HIGH,
}

_WAVESPEED_DEFAULTS: dict[str, int] = {
    "low.1k": 30_000,
    "low.2k": 60_000,
    "low.4k": 90_000,
    "medium.1k": 60_000,
    "medium.2k": 120_000,
    "medium.4k": 180_000,
    "high.1k": 220_000,
    "high.2k": 440_000,
    "high.4k": 660_000,
}

# Headroom on the input-token bounds. OpenAI wraps the prompt and each image in a few
# formatting tokens we cannot see; a fixed allowance keeps the estimate an upper bound for a
# fraction of a cent.
TEXT_TOKEN_HEADROOM = 64
IMAGE_TOKEN_HEADROOM = 64


@dataclass(frozen=True)
class PriceTable:
    """Every rate editbot charges by, in micro-dollars; operators override via EDITBOT_PRICES.

    `wavespeed` maps `quality.resolution` (e.g. `high.2k`) to the price of one output image.
    """

    openai_output_per_mtok: int = 30_000_000
    # REFERENCE.md quotes $8/M and (one reseller) $5/M: the higher keeps estimates upper bounds.
    openai_image_input_per_mtok: int = 8_000_000
    openai_text_input_per_mtok: int = 5_000_000
    wavespeed: Mapping[str, int] = field(
        default_factory=lambda: MappingProxyType(dict(_WAVESPEED_DEFAULTS))
    )
    # Partial images an OpenAI edit of one output streams (EDITBOT_PREVIEWS, not a price).
    previews: int = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> PriceTable:
        """The default table with `settings.prices` applied; an unknown key is a ConfigError."""
        openai_fields = {f.name.removeprefix("openai_"): f.name for f in fields(cls)}
        openai_fields.pop("wavespeed")
        openai_fields.pop("previews")
        overrides: dict[str, int] = {}
        wavespeed = dict(_WAVESPEED_DEFAULTS)
        for key, value in settings.prices.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(
                    f"EDITBOT_PRICES: {key} must be a whole number of micro-dollars >= 0 "
                    f"(got {value!r})."
                )
            group, _, rest = key.partition(".")
            if group == "openai" and rest in openai_fields:
                overrides[openai_fields[rest]] = value
            elif group == "wavespeed" and rest in wavespeed:
                wavespeed[rest] = value
            else:
                known = sorted(
                    [f"openai.{k}" for k in openai_fields] + [f"wavespeed.{k}" for k in wavespeed]
                )
                raise ConfigError(
                    f"EDITBOT_PRICES has an unknown key {key!r}; known keys: {', '.join(known)}."
                )
        return cls(**overrides, wavespeed=MappingProxyType(wavespeed), previews=settings.previews)

    def wavespeed_image_price(self, quality: Quality, resolution: Resolution) -> int:
        """Micro-dollars for one WaveSpeed output image at this quality and resolution."""
        return self.wavespeed[f"{_WAVESPEED_QUALITY[quality].value}.{resolution.value}"]


def _round_half_up(x: Fraction) -> int:
    # Python's round() is banker's rounding; half-up can only make the token count larger.
    return math.floor(x + Fraction(1, 2))


def openai_output_tokens(quality: Quality, width: int, height: int) -> int:
    """gpt-image-2 output tokens for one image (REFERENCE.md); 1024x1024 high = 7,024."""
    q = _OUTPUT_Q[quality]
    long, short = max(width, height), min(width, height)
    tiles = _round_half_up(Fraction(q * short, long))
    return math.ceil(Fraction(q * tiles * (2_000_000 + width * height), 4_000_000))


def input_image_tokens_bound(width: int, height: int) -> int:
    """Upper bound of the tokens one input image (or mask) is billed as.

    OpenAI does not publish gpt-image-2's input-image formula. We bound it with the output
    formula at high quality for the image's own size (the most detail the model represents at
    that size) plus IMAGE_TOKEN_HEADROOM. The provider emulator reports its usage with the same
    formula, without the headroom, so estimate >= settle is tested against it. settle() always
    uses the real `usage`: a wrong bound can misjudge the estimate, never the charge.
    """
    return openai_output_tokens(Quality.HIGH, width, height) + IMAGE_TOKEN_HEADROOM


def text_tokens_bound(prompt: str) -> int:
    """Upper bound of the prompt's text tokens: a token is at least one UTF-8 byte."""
    return len(prompt.encode("utf-8")) + TEXT_TOKEN_HEADROOM


def micros_for_tokens(tokens: int, per_mtok: int) -> int:
    """Micro-dollars for `tokens` at `per_mtok` micro-dollars per million, rounded up."""
    return -(-tokens * per_mtok // 1_000_000)


_RESOLUTION_ORDER = (Resolution.R1K, Resolution.R2K, Resolution.R4K)


def wavespeed_resolution(request: EditRequest) -> Resolution:
    """The resolution class WaveSpeed bills for this request.

    WaveSpeed takes a class, not a size. With an explicit size the class is also read from its
    short side (up to 1024 is 1k, up to 2048 is 2k, else 4k) and the higher of the two is
    priced, so the price holds whichever one the provider client sends.
    """
    resolution = request.options.resolution
    if request.options.size is None:
        return resolution
    short = min(request.size)
    by_size = (
        Resolution.R1K if short <= 1024 else Resolution.R2K if short <= 2048 else Resolution.R4K
    )
    return max(resolution, by_size, key=_RESOLUTION_ORDER.index)


def _rate(per_mtok: int) -> str:
    """`$30/M` for a per-million rate (whole dollars shown without cents)."""
    if per_mtok % 1_000_000 == 0:
        return f"${per_mtok // 1_000_000}/M"
    return f"{format_usd(per_mtok)}/M"


PARTIAL_IMAGE_TOKENS = 100
"""Extra output tokens OpenAI bills per streamed partial image (its image generation guide)."""


def streamed_previews(request: EditRequest, previews: int) -> int:
    """Partial images an OpenAI edit streams: `previews` for one output, none for several."""
    return previews if request.options.n == 1 else 0


def estimate(*, provider: ProviderName, request: EditRequest, table: PriceTable) -> Estimate:
    """Upper bound of what running `request` on `provider` will cost."""
    n = request.options.n
    if provider is ProviderName.WAVESPEED:
        quality = _WAVESPEED_QUALITY[request.options.quality]
        resolution = wavespeed_resolution(request)
        each = table.wavespeed_image_price(quality, resolution)
        return Estimate(
            micros=n * each,
            detail=f"{n} x {quality.value} {resolution.value} at {format_usd(each)}",
        )
    output = openai_output_tokens(request.options.quality, *request.size)
    previews = streamed_previews(request, table.previews)
    inputs = list(request.images) + ([request.mask] if request.mask else [])
    image_tokens = sum(input_image_tokens_bound(im.width, im.height) for im in inputs)
    text_tokens = text_tokens_bound(request.prompt)
    micros = (
        micros_for_tokens(
            n * output + previews * PARTIAL_IMAGE_TOKENS, table.openai_output_per_mtok
        )
        + micros_for_tokens(image_tokens, table.openai_image_input_per_mtok)
        + micros_for_tokens(text_tokens, table.openai_text_input_per_mtok)
    )
    return Estimate(
        micros=micros,
        detail=f"{n} x {output:,} output tokens at {_rate(table.openai_output_per_mtok)}"
        + (f" + {previews} previews" if previews else "")
        + " + inputs",
    )


def settle(
    *, provider: ProviderName, request: EditRequest, result: EditResult, table: PriceTable
) -> Cost:
    """What a finished run cost, from the provider's answer."""
    count = len(result.images)
    if provider is ProviderName.WAVESPEED:
        quality = _WAVESPEED_QUALITY[request.options.quality]
        resolution = wavespeed_resolution(request)
        each = table.wavespeed_image_price(quality, resolution)
        return Cost(
            micros=count * each,
            detail=f"{count} x {quality.value} {resolution.value} at {format_usd(each)}",
        )
    usage = result.usage
    note = ""
    if usage is None:
        # No usage in the answer: charge the estimate's bound for what came back, never zero.
        inputs = list(request.images) + ([request.mask] if request.mask else [])
        usage = Usage(
            input_text_tokens=text_tokens_bound(request.prompt),
            input_image_tokens=sum(input_image_tokens_bound(i.width, i.height) for i in inputs),
            output_tokens=count * openai_output_tokens(request.options.quality, *result.size),
        )
        note = " (no usage reported; bounded)"
    micros = (
        micros_for_tokens(usage.output_tokens, table.openai_output_per_mtok)
        + micros_for_tokens(usage.input_image_tokens, table.openai_image_input_per_mtok)
        + micros_for_tokens(usage.input_text_tokens, table.openai_text_input_per_mtok)
    )
    detail = (
        f"{usage.output_tokens:,} output tokens at {_rate(table.openai_output_per_mtok)}"
        f" + {usage.input_image_tokens:,} image and {usage.input_text_tokens:,} text input tokens"
        f"{note}"
    )
    return Cost(micros=micros, detail=detail)


def total_estimate(estimates: list[Estimate]) -> Estimate:
    """Sum of several estimates (mode=each runs one request per image)."""
    if len(estimates) == 1:
        return estimates[0]
    details = {e.detail for e in estimates}
    if len(details) == 1:
        detail = f"{len(estimates)} edits of {estimates[0].detail}"
    else:
        detail = "; ".join(e.detail for e in estimates)
    return Estimate(micros=sum(e.micros for e in estimates), detail=detail)
