"""The provider emulator's request checks: the 400s the real APIs give, as pure functions."""

from __future__ import annotations

import re
from typing import Any

from bot.core.domain import ASPECTS
from bot.core.sizes import size_problem
from tests.kit.emulator.images import sniff
from tests.kit.emulator.replies import Recorded, Reply, openai_error

OPENAI_FIELDS = {
    "image", "image[]", "mask", "prompt", "model", "n", "quality", "size", "background",
    "output_format", "output_compression", "user", "stream", "partial_images",
}  # fmt: skip
OPENAI_MODELS = {"gpt-image-2", "gpt-image-2-2026-04-21", "gpt-image-1.5", "gpt-image-1"}
OPENAI_ENUMS = {
    "quality": {"low", "medium", "high", "auto"},
    "output_format": {"png", "jpeg", "webp"},
    "background": {"transparent", "opaque", "auto"},
}
WAVESPEED_FIELDS = {
    "images", "prompt", "aspect_ratio", "resolution", "quality", "enable_sync_mode",
    "enable_base64_output",
}  # fmt: skip


def forbidden(prompt: str) -> bool:
    """Both APIs refuse a prompt with the word "forbidden" in it (moderation, emulated)."""
    return re.search(r"\bforbidden\b", prompt, re.IGNORECASE) is not None


def openai_problem(rec: Recorded) -> Reply | None:
    """The 400 the real endpoint gives for this request, or None when it is acceptable."""
    return _openai_name_problem(rec) or _openai_image_problem(rec) or _openai_value_problem(rec)


def _openai_name_problem(rec: Recorded) -> Reply | None:
    """Fields the endpoint does not take, then the prompt and the model."""
    f = rec.fields
    names = set(f) | {p.name for p in rec.files}
    model = f.get("model", "gpt-image-1.5")
    if "input_fidelity" in names and model.startswith("gpt-image-2"):
        return openai_error(
            400,
            f"input_fidelity is not supported for model '{model}'.",
            param="input_fidelity",
            code="invalid_input_fidelity_model",
        )
    for name in sorted(names - OPENAI_FIELDS):
        return openai_error(
            400, f"Unknown parameter: '{name}'.", param=name, code="unknown_parameter"
        )
    if not f.get("prompt"):
        return openai_error(
            400, "Missing required parameter: 'prompt'.", param="prompt", code="missing"
        )
    if len(f["prompt"]) > 32_000:
        return openai_error(400, "Prompt too long.", param="prompt", code="string_above_max")
    if model not in OPENAI_MODELS:
        return openai_error(400, f"Invalid model '{model}'.", param="model", code="invalid_value")
    return None


def _openai_image_problem(rec: Recorded) -> Reply | None:
    images = [p for p in rec.files if p.name in {"image", "image[]"}]
    if not 1 <= len(images) <= 16:
        return openai_error(400, "Provide 1 to 16 images.", param="image", code="invalid_value")
    for p in images:
        if sniff(p.data) is None:
            return openai_error(
                400,
                f"Invalid file '{p.filename}': unsupported mimetype. Supported: png, jpeg, webp.",
                param="image",
                code="invalid_image_format",
            )
    return None


def _openai_value_problem(rec: Recorded) -> Reply | None:
    """Enums, their combinations, n and size."""
    f = rec.fields
    for name, allowed in OPENAI_ENUMS.items():
        if name in f and f[name] not in allowed:
            return openai_error(
                400, f"Invalid value for '{name}'.", param=name, code="invalid_value"
            )
    if f.get("background") == "transparent" and f.get("output_format", "png") == "jpeg":
        return openai_error(
            400, "Transparent background needs png or webp.", param="background", code="invalid"
        )
    if not f.get("n", "1").isdigit() or not 1 <= int(f.get("n", "1")) <= 10:
        return openai_error(400, "n must be 1..10.", param="n", code="invalid_value")
    size = f.get("size", "auto")
    if size != "auto":
        m = re.fullmatch(r"(\d+)x(\d+)", size)
        why = size_problem(int(m.group(1)), int(m.group(2))) if m else "expected WIDTHxHEIGHT"
        if why:
            return openai_error(
                400, f"Invalid size '{size}': {why}.", param="size", code="invalid_value"
            )
    return None


def wavespeed_problem(payload: dict[str, Any] | None) -> str | None:
    """Why WaveSpeed would reject this submit body (its 1401 message), or None."""
    if payload is None:
        return "body must be a JSON object"
    unknown = sorted(set(payload) - WAVESPEED_FIELDS)
    if unknown:
        return f"unknown parameter(s): {', '.join(unknown)}"
    images = payload.get("images")
    if not isinstance(images, list) or not images or not all(isinstance(u, str) for u in images):
        return "images must be a non-empty list of URLs"
    if not isinstance(payload.get("prompt"), str) or not payload["prompt"].strip():
        return "prompt is required"
    if payload.get("aspect_ratio") not in (None, *ASPECTS):
        return f"aspect_ratio must be one of {', '.join(ASPECTS)}"
    if payload.get("resolution", "1k") not in {"1k", "2k", "4k"}:
        return "resolution must be 1k, 2k or 4k"
    if payload.get("quality", "medium") not in {"low", "medium", "high"}:
        return "quality must be low, medium or high"
    return None
