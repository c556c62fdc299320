"""HTTP helpers both provider clients share: Retry-After, error bodies, transport failures."""

from __future__ import annotations

import email.utils
import time
from typing import Any

import httpx

from bot.core.errors import ProviderError, ProviderRejected, ProviderRetryable

RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})


def retry_after_s(headers: httpx.Headers) -> float | None:
    """The delay a response asks for: `retry-after-ms`, else `retry-after` (seconds or a date)."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def json_body(response: httpx.Response) -> dict[str, Any]:
    """The response's JSON object, or {} when the body is not one (a gateway's HTML page)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def scrub(text: str, secret: str) -> str:
    """`text` with every occurrence of `secret` (and of its long tail) replaced."""
    if secret:
        text = text.replace(secret, "***")
        if len(secret) > 12:
            # Providers echo keys half-masked ("sk-abc***...wxyz"); hide any long fragment too.
            text = text.replace(secret[-8:], "***").replace(secret[:8], "***")
    return text


def status_error(
    response: httpx.Response, *, message: str, code: str | None, label: str
) -> ProviderError:
    """The error for a non-2xx status: retryable for 408/409/429/5xx, else final (rejected)."""
    status = response.status_code
    request_id = response.headers.get("x-request-id")
    text = f"{label} answered HTTP {status}: {message or response.reason_phrase}"
    if status in RETRYABLE_STATUS:
        return ProviderRetryable(
            text,
            retry_after=retry_after_s(response.headers),
            status=status,
            code=code,
            request_id=request_id,
        )
    return ProviderRejected(text, status=status, code=code, request_id=request_id)


def transport_error(exc: httpx.HTTPError, *, label: str) -> ProviderRetryable:
    """A timeout or connection failure as a retryable error, without the request's headers."""
    kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "connection failed"
    return ProviderRetryable(f"{label} {kind} ({type(exc).__name__})")


def surely_not_sent(exc: httpx.HTTPError) -> bool:
    """True when the request cannot have reached the server (no connection was made)."""
    return isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
