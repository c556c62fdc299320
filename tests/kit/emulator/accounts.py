"""The providers' free, keyed GETs that `editbot doctor` checks a key with.

OpenAI: `GET /v1/models` (the models the key may use). WaveSpeed: `GET /api/v3/balance` (the
account's balance in dollars). Neither costs anything; both need the key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.kit.emulator.replies import Reply, wavespeed_reply

if TYPE_CHECKING:
    from tests.kit.emulator.provider import ProviderEmulator

ROUTES = {("GET", "/v1/models"): "openai_models", ("GET", "/api/v3/balance"): "balance"}
"""(method, path) to route name."""


def answer(emu: ProviderEmulator, route: str) -> Reply:
    if route == "openai_models":
        models = [
            {"id": emu_model, "object": "model", "owned_by": "openai"} for emu_model in MODELS
        ]
        return Reply.json(200, {"object": "list", "data": models})
    return wavespeed_reply(200, 200, "success", {"balance": BALANCE_USD})


MODELS = ("gpt-image-2", "gpt-image-1")
BALANCE_USD = 12.5
