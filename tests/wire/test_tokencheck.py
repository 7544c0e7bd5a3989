"""The token-check batch contract: what a request and an answer may be."""

from __future__ import annotations

import pytest

from wire.tokencheck import MAX_TOKENS, check_answer, check_request


def test_request_and_answer_shapes() -> None:
    assert check_request({"tokens": ["x", "y"]}) == ["x", "y"]
    for bad in ({}, {"tokens": "x"}, {"tokens": [1]}, ["x"], {"tokens": ["x"] * (MAX_TOKENS + 1)}):
        with pytest.raises(ValueError):
            check_request(bad)
    assert check_answer({"ok": True, "results": [{"ok": True}]}, 1) == [{"ok": True}]
    for bad_answer in (
        {"ok": False, "error": "x"},
        {"ok": True, "results": []},
        {"ok": True, "results": [1]},
    ):
        with pytest.raises(ValueError):
            check_answer(bad_answer, 1)
