"""Prepare an edit: text and files in, provider requests and their cost estimate out.

The one path from "what the person sent" to EditRequests, shared by `editbot edit` and the
bot's EditService, so both parse, validate, normalize and price the same way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from bot.core.domain import EditOptions, Estimate, Mode, NormalizedImage, ProviderName
from bot.core.edits import EditRequest
from bot.core.errors import OptionError, UserInputError
from bot.core.pricing import PriceTable, estimate, total_estimate
from bot.core.sizes import output_size, resolve_aspect
from bot.images.intake import ImageLimits, normalize_image, normalize_mask, pick_mask
from bot.images.regions import region_mask

MAX_INPUTS = 16
"""Input images one edit may use (OpenAI's limit for GPT image models)."""


@dataclass(frozen=True)
class InputFile:
    """A file as the person sent it: its name and raw bytes."""

    name: str
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class PreparedEdit:
    """An edit ready to run: the prompt, options, one request per job, and their estimates.

    `requests` has one entry, or one per input image with mode=each; `estimates` has the
    estimate of each request (priced once, here) and `estimate` sums them.
    """

    prompt: str
    options: EditOptions
    requests: tuple[EditRequest, ...]
    estimates: tuple[Estimate, ...]

    @property
    def estimate(self) -> Estimate:
        """The estimate of every request together."""
        return total_estimate(list(self.estimates))

    @property
    def inputs(self) -> tuple[NormalizedImage, ...]:
        """Every normalized input image, in the order they were sent (mask excluded)."""
        return tuple(im for req in self.requests for im in req.images)

    @property
    def mask(self) -> NormalizedImage | None:
        return self.requests[0].mask


async def prepare_edit(
    *,
    prompt: str,
    options: EditOptions,
    files: Sequence[InputFile],
    limits: ImageLimits,
    provider: ProviderName,
    table: PriceTable,
) -> PreparedEdit:
    """Normalize `files` and build the priced requests for the parsed `prompt` and `options`.

    Raises UserInputError (or a subclass) with a message the person can act on.
    """
    if not files:
        raise UserInputError("Attach at least one image to edit (PNG, JPEG, WebP or GIF).")
    # pick_mask refuses a mask index that names no attachment (or the only one).
    mask_index = pick_mask([(f.name, f.data) for f in files], options.mask)
    image_files = [f for i, f in enumerate(files) if i != mask_index]
    _check_counts(image_count=len(image_files), has_mask=mask_index is not None, options=options)

    # Each normalize_image runs its Pillow work in a thread; gather lets them overlap.
    images = await asyncio.gather(
        *(normalize_image(f.data, name=f.name, limits=limits) for f in image_files)
    )
    mask = await mask_of_region(options, images)
    if mask_index is not None:
        first = images[0]
        mask = await normalize_mask(
            files[mask_index].data,
            name=files[mask_index].name,
            size=(first.width, first.height),
            limits=limits,
        )
    return prepare_from_images(
        prompt=prompt,
        options=options,
        images=images,
        mask=mask,
        provider=provider,
        table=table,
    )


async def mask_of_region(
    options: EditOptions, images: Sequence[NormalizedImage]
) -> NormalizedImage | None:
    """The mask `region=` asks for, the size of the first image; None without a region."""
    if options.region is None or not images:
        return None
    return await region_mask((images[0].width, images[0].height), options.region)


def prepare_from_images(
    *,
    prompt: str,
    options: EditOptions,
    images: Sequence[NormalizedImage],
    mask: NormalizedImage | None,
    provider: ProviderName,
    table: PriceTable,
) -> PreparedEdit:
    """Build the priced requests from images already normalized (e.g. stored versions).

    With mode=each every image becomes its own request whose aspect (when not given) follows
    that image; otherwise one request uses all images and follows the first.
    """
    _check_counts(image_count=len(images), has_mask=mask is not None, options=options)
    if mask is not None and provider is ProviderName.WAVESPEED:
        # Refused here, before anything is reserved, rather than by the provider client.
        what = "region=" if options.region else "A mask"
        raise OptionError(f"{what} works with the openai provider only; WaveSpeed takes no mask.")
    groups = [(im,) for im in images] if options.mode is Mode.EACH else [tuple(images)]
    requests = tuple(
        _request(prompt=prompt, options=options, images=group, mask=mask) for group in groups
    )
    estimates = tuple(estimate(provider=provider, request=r, table=table) for r in requests)
    return PreparedEdit(prompt=prompt, options=options, requests=requests, estimates=estimates)


def _request(
    *,
    prompt: str,
    options: EditOptions,
    images: tuple[NormalizedImage, ...],
    mask: NormalizedImage | None,
) -> EditRequest:
    first = (images[0].width, images[0].height)
    aspect = resolve_aspect(options, first)
    # Pin the resolved aspect so output_size and the provider agree on it.
    resolved = options if options.size else replace(options, aspect=aspect)
    return EditRequest(
        prompt=prompt,
        images=images,
        options=options,
        size=output_size(resolved, first),
        aspect=aspect,
        mask=mask,
    )


def _check_counts(*, image_count: int, has_mask: bool, options: EditOptions) -> None:
    if image_count == 0:
        if has_mask:
            raise UserInputError(
                "Only a mask was attached: attach the image to edit as well as the mask."
            )
        raise UserInputError("Attach at least one image to edit (PNG, JPEG, WebP or GIF).")
    if image_count > MAX_INPUTS:
        raise UserInputError(
            f"Too many images: {image_count} attached, an edit can use at most {MAX_INPUTS}."
        )
    if has_mask and options.mode is Mode.EACH:
        raise OptionError(
            "A mask can't be used with mode=each: the mask applies to the first image only. "
            "Drop the mask or use mode=compose."
        )
