"""bot/providers/multipart.py: the same bytes httpx would send, without building a request."""

from __future__ import annotations

import httpx

from bot.providers.multipart import encode_multipart
from tests.kit.emulator.images import parse_multipart


def test_the_body_is_byte_for_byte_what_httpx_encodes() -> None:
    fields = {"model": "gpt-image-2", "prompt": 'make "it"\r\npop \\ ünïcode', "n": "2"}
    files = [
        ("image[]", ('odd"name\\\x01.png', b"\x89PNG\r\n--not-a-boundary", "image/png")),
        ("mask", ("mask.png", b"mask bytes", "image/png")),
    ]
    reference = httpx.Request("POST", "http://x/", data=fields, files=files)
    body, content_type = reference.read(), reference.headers["content-type"]
    boundary = content_type.split("boundary=", 1)[1]
    assert encode_multipart(fields, files, boundary=boundary) == (body, content_type)


def test_each_body_gets_its_own_boundary_and_parses_back() -> None:
    fields, files = {"prompt": "p"}, [("image[]", ("a.png", b"data", "image/png"))]
    (one, type_one), (two, type_two) = (
        encode_multipart(fields, files),
        encode_multipart(fields, files),
    )
    assert type_one != type_two and one != two
    parts = parse_multipart(one, type_one)
    assert [(p.name, p.filename, p.data) for p in parts] == [
        ("prompt", None, b"p"),
        ("image[]", "a.png", b"data"),
    ]
