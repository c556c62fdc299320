"""multipart/form-data bodies, encoded once as bytes.

httpx builds a multipart body as a stream of parts, and OpenAIProvider streams its own copy
of it (to see when the upload is done), so httpx's encoding was a request built only to be
read back. This encodes the same bytes directly, the way httpx does (RFC 7578 with HTML5's
escaping of names and file names); bench/bench_queue.py measured httpx's way at about a
tenth of a provider call's CPU.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping

FilePart = tuple[str, tuple[str, bytes, str]]
"""(field name, (file name, bytes, content type)), as httpx's `files=` takes them."""

_ESCAPES = {chr(c): f"%{c:02X}" for c in range(0x20) if c != 0x1B}
_ESCAPES.update({'"': "%22", "\\": "\\\\"})
_ESCAPED = re.compile("|".join(re.escape(c) for c in _ESCAPES))


def _param(name: str, value: str) -> str:
    return f'{name}="{_ESCAPED.sub(lambda m: _ESCAPES[m.group(0)], value)}"'


def encode_multipart(
    fields: Mapping[str, str], files: Iterable[FilePart], *, boundary: str | None = None
) -> tuple[bytes, str]:
    """(the body, its Content-Type) of text `fields` then `files`, in that order."""
    boundary = boundary or os.urandom(16).hex()
    dash = f"--{boundary}\r\n".encode()
    chunks: list[bytes] = []
    for name, value in fields.items():
        head = f"Content-Disposition: form-data; {_param('name', name)}\r\n\r\n"
        chunks += [dash, head.encode(), value.encode(), b"\r\n"]
    for name, (filename, data, mime) in files:
        disposition = f"form-data; {_param('name', name)}; {_param('filename', filename)}"
        head = f"Content-Disposition: {disposition}\r\nContent-Type: {mime}\r\n\r\n"
        chunks += [dash, head.encode(), data, b"\r\n"]
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"
