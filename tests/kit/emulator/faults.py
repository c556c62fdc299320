"""The provider emulator's faults: which request gets one, and the reply a plain fault gives.

"refuse", "task_failed" and "timeout" are not answered here: the routes act them out (a
refusal after validation, a failed task, a hang), so this module only picks them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from tests.kit.emulator.replies import Reply, openai_error, wavespeed_reply

ONLY_ON = {"refuse": {"openai_edit", "submit"}, "task_failed": {"submit"}}
"""Routes a fault kind can happen on; kinds not listed apply to every route."""
ACTED_OUT = {"refuse", "task_failed", "timeout"}
"""Kinds the routes act out instead of answering with `fault_reply`."""


@dataclass
class Fault:
    """A queued fault: `times` more requests of route `on` (None: any) get `kind`."""

    kind: str
    times: int
    on: str | None
    retry_after_s: float
    header: str


def take_fault(
    route: str, *, queued: list[Fault], fail_rate: dict[str, float], rng: random.Random
) -> Fault | None:
    """The fault this request of `route` gets: the first queued one that applies, counted down,
    else one drawn at `fail_rate` (a queued fault leaves the random draw untouched)."""
    for fault in queued:
        if fault.on not in (None, route) or route not in ONLY_ON.get(fault.kind, {route}):
            continue
        fault.times -= 1
        if fault.times <= 0:
            queued.remove(fault)
        return fault
    for kind, p in fail_rate.items():
        if route in ONLY_ON.get(kind, {route}) and rng.random() < p:
            return Fault(kind, 1, route, 0.05, "ms")
    return None


def fault_reply(fault: Fault, route: str) -> Reply:
    """The answer of a 429, a 5xx or a gateway's HTML page, in the shape of the route's API."""
    if fault.kind == "429":
        return _rate_limited(fault, route)
    if fault.kind == "gateway":
        html = b"<html><body>502 Bad Gateway</body></html>"
        return Reply(502, html, content_type="text/html")
    status = int(fault.kind)
    if route == "openai_edit":
        return openai_error(
            status, "The server had an error.", param=None, code="server_error", type="server_error"
        )
    return wavespeed_reply(status, status, "internal server error")


def _rate_limited(fault: Fault, route: str) -> Reply:
    headers = {}
    if fault.header in {"ms", "both"}:
        headers["retry-after-ms"] = str(int(fault.retry_after_s * 1000))
    if fault.header in {"s", "both"}:
        headers["retry-after"] = str(max(1, round(fault.retry_after_s)))
    if route == "openai_edit":
        return openai_error(
            429, "Rate limit reached.", param=None, code="rate_limit_exceeded", **headers
        )
    reply = wavespeed_reply(429, 429, "Too many requests")
    reply.headers.update(headers)
    return reply
