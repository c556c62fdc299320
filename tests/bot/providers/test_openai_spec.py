"""The multipart request OpenAIProvider sends validates against OpenAI's published schema.

The body is parsed back from the wire bytes and checked with jsonschema against the
CreateImageEditRequest schema of OpenAI's spec, vendored beside this file as
data/openai-images-edits.openapi.yaml so that the check runs in every clone, plus what the
schema cannot say on its own: no property outside it, and none the spec's descriptions rule
out for gpt-image-2 (`response_format` is dall-e only; `input_fidelity` not for gpt-image-2).
"""

from __future__ import annotations

from typing import Any

import httpx
import jsonschema
import pytest
import yaml

from bot.providers.openai import OpenAIProvider
from bot.providers.retry import RetryPolicy
from tests.kit.emulator import ProviderEmulator
from tests.kit.emulator.fixtures import half_mask, request, solid_png
from tests.kit.emulator.images import Part, parse_multipart
from tests.kit.paths import DATA

SPEC_PATH = DATA / "openai-images-edits.openapi.yaml"
NOT_FOR_GPT_IMAGE_2 = {"response_format", "input_fidelity"}


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return yaml.safe_load(SPEC_PATH.read_text())


def to_instance(parts: list[Part], schema: dict[str, Any]) -> dict[str, Any]:
    """Multipart parts as the JSON-like object the schema describes (`image[]` -> `image`)."""
    props = schema["properties"]
    out: dict[str, Any] = {}
    for part in parts:
        name = "image" if part.name == "image[]" else part.name
        value: Any = "<binary>" if part.filename is not None else part.data.decode()
        kind = props.get(name, {}).get("type")
        if kind == "integer" and value.lstrip("-").isdigit():
            value = int(value)
        elif kind == "boolean":
            value = value == "true"
        if part.name == "image[]":
            out.setdefault("image", []).append(value)
        else:
            out[name] = value
    return out


def violations(body: bytes, content_type: str, spec: dict[str, Any]) -> list[str]:
    """Every way this multipart body breaks the edit schema; [] when it is valid."""
    schema = spec["components"]["schemas"]["CreateImageEditRequest"]
    instance = to_instance(parse_multipart(body, content_type), schema)
    root = {"$ref": "#/components/schemas/CreateImageEditRequest", **spec}
    validator = jsonschema.Draft202012Validator(root)
    found = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(instance)]
    found += [f"{k}: not in the schema" for k in sorted(set(instance) - set(schema["properties"]))]
    if str(instance.get("model", "")).startswith("gpt-image"):
        found += [f"{k}: not for gpt-image-2" for k in sorted(NOT_FOR_GPT_IMAGE_2 & set(instance))]
    return found


async def sent_request(req: Any) -> httpx.Request:
    emu = ProviderEmulator()
    seen: list[httpx.Request] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        await request.aread()
        seen.append(request)
        return await emu.handler(request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        provider = OpenAIProvider(
            client=client,
            base_url="http://emulator/v1",
            api_key=emu.openai_key,
            retry=RetryPolicy(max_retries=0),
            deadline_s=10,
        )
        await provider.edit(req)
    return seen[0]


@pytest.mark.parametrize(
    "req",
    [
        request(solid_png("red")),
        request(
            solid_png("red"),
            solid_png("blue"),
            mask=half_mask((96, 64)),
            n=3,
            quality="high",
            format="webp",
            background="transparent",
            size=(1536, 1024),
        ),
    ],
    ids=["minimal", "everything"],
)
async def test_provider_request_validates_against_the_spec(spec, req):
    sent = await sent_request(req)
    assert sent.url.path == "/v1/images/edits"
    assert violations(sent.content, sent.headers["content-type"], spec) == []


def hand_made(**fields: str) -> tuple[bytes, str]:
    built = httpx.Request(
        "POST",
        "http://x/v1/images/edits",
        data={"model": "gpt-image-2", "prompt": "p", **fields},
        files=[("image[]", ("a.png", solid_png("red").data, "image/png"))],
    )
    return built.read(), built.headers["content-type"]


def test_validator_catches_forbidden_unknown_and_out_of_range_fields(spec):
    assert violations(*hand_made(), spec) == []
    assert violations(*hand_made(response_format="b64_json"), spec) == [
        "response_format: not for gpt-image-2"
    ]
    assert violations(*hand_made(input_fidelity="high"), spec) == [
        "input_fidelity: not for gpt-image-2"
    ]
    assert violations(*hand_made(moderation="low"), spec) == ["moderation: not in the schema"]
    assert any("10" in v for v in violations(*hand_made(n="11"), spec))
    assert violations(*hand_made(quality="ultra"), spec) != []
