"""A client's own ``x-flannel-after`` (and an answer's ``x-flannel-offset``) header: odd
values (non-digits, negative, huge, Unicode digits such as ``²``, which Starlette decodes
from the latin-1 byte 0xB2) are ignored, never a 500, and never make the edge wait."""

from __future__ import annotations

import time

import httpx
import pytest

from flannel.writes import asked_after, offset_of
from router.forward import edge_headers, written
from tests.flannel.harness import serve
from wire.http import AFTER_HEADER, OFFSET_HEADER
from wire.offsets import header_offset

ODD = ["abc", "-5", "", " 7", "7 ", "1e9", "²", "١٢٣", "0x10", "9" * 19, "9" * 400, "+3", "3.0"]


@pytest.mark.parametrize("raw", ODD)
def test_odd_header_values_are_no_offset(raw: str) -> None:
    assert header_offset(raw) is None
    assert offset_of({OFFSET_HEADER: raw}) is None
    assert asked_after({AFTER_HEADER: raw}) == 0
    assert written(httpx.Headers({OFFSET_HEADER: raw.encode("latin-1", "replace")})) is None


def test_good_values_are_kept() -> None:
    assert header_offset("0") == 0 and header_offset("42") == 42 and header_offset(None) is None


@pytest.mark.parametrize("raw", ODD)
def test_the_router_never_chokes_on_a_clients_after_header(raw: str) -> None:
    sent = edge_headers({AFTER_HEADER: raw}, 5)
    assert sent[AFTER_HEADER] == "5"  # the offset the router saw, the client's odd one dropped
    sent = edge_headers({AFTER_HEADER: raw}, None)
    assert AFTER_HEADER not in sent


def test_the_router_keeps_a_clients_larger_valid_offset() -> None:
    assert edge_headers({AFTER_HEADER: "9"}, 5)[AFTER_HEADER] == "9"
    assert edge_headers({AFTER_HEADER: "3"}, 5)[AFTER_HEADER] == "5"


async def test_the_edge_answers_odd_after_headers_from_memory_at_once() -> None:
    async with serve() as env, env.http() as http:
        for raw in (b"abc", b"-1", b"\xb2", b"9" * 400, b"1e9"):
            started = time.monotonic()
            got = await http.post(
                "/api/users.conversations",
                headers=[(b"authorization", b"Bearer xoxp-bob"), (AFTER_HEADER.encode(), raw)],
            )
            assert got.status_code == 200 and got.json()["ok"], (raw, got.status_code, got.text)
            assert time.monotonic() - started < 1.0, raw
