"""What the provider emulator records of a request and how it answers: both APIs' error shapes."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from tests.kit.emulator.images import Part


@dataclass
class Recorded:
    """One request as the emulator saw it (never the Authorization header's value)."""

    method: str
    path: str
    route: str
    authorized: bool
    content_type: str = ""
    fields: dict[str, str] = field(default_factory=dict)
    files: list[Part] = field(default_factory=list)
    json: dict[str, Any] | None = None
    body: bytes = field(default=b"", repr=False)
    arrived: float = field(default_factory=time.monotonic, repr=False)
    sent_events: list[tuple[str, float]] = field(default_factory=list, repr=False)
    """A streamed answer's events as sent: (type, time.monotonic() when written)."""


@dataclass
class Reply:
    """What the emulator answers; `hang` means: do not answer in time; `stream`, when set,
    is the body as chunks written over time (server-sent events) instead of `body`."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False
    stream: AsyncIterator[bytes] | None = field(default=None, repr=False)

    @classmethod
    def json(cls, status: int, obj: object, **headers: str) -> Reply:
        return cls(status, json.dumps(obj).encode(), headers=headers)


def openai_error(status: int, message: str, *, param: str | None, code: str, **kw: str) -> Reply:
    """OpenAI's error body; `type` defaults to invalid_request_error, other keywords are headers."""
    kind = kw.pop("type", "invalid_request_error")
    error = {"message": message, "type": kind, "param": param, "code": code}
    return Reply.json(status, {"error": error}, **kw)


def wavespeed_reply(status: int, code: int, message: str, data: object = None) -> Reply:
    """WaveSpeed's envelope (`code`, `message`, `data`): its errors and its successes alike."""
    return Reply.json(status, {"code": code, "message": message, "data": data})


def unauthorized(route: str, authorization: str) -> Reply:
    """The 401 of either API for a wrong key.

    It echoes the key as given: worse than the real APIs (they mask it), so tests can show the
    clients never pass a provider's message on with the key in it.
    """
    given = authorization.removeprefix("Bearer ")
    if route.startswith("openai"):
        return openai_error(
            401, f"Incorrect API key provided: {given}.", param=None, code="invalid_api_key"
        )
    return wavespeed_reply(401, 401, f"Unauthorized: invalid API key {given}")
