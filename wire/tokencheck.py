"""Checking many tokens in one call: the origin's batch endpoint.

A reconnect storm brings hundreds of tokens new to the router (or an edge) at once; asking the
origin's ``auth.test`` for each is one HTTP round trip and one request's overhead per token.
Instead, callers send the tokens waiting at that moment in one ``POST`` to
:data:`TOKEN_CHECK_PATH` (with the service secret)::

    {"tokens": ["xoxp-...", ...]}                      (at most MAX_TOKENS)
    {"ok": true, "results": [<auth.test answer>, ...]}  (one per token, in order)

Each result is exactly what ``auth.test`` would have answered for that token alone (``ok``
true with ``team_id``, ``user_id``..., or ``ok`` false with Slack's ``error``), so a caller
handles both the same way.

Callers batch their asks with :class:`wire.batching.BatchCalls`.
"""

from __future__ import annotations

from typing import Any

TOKEN_CHECK_PATH = "/internal/tokens/check"
MAX_TOKENS = 500


def check_request(body: Any) -> list[str]:
    """The tokens of a batch request, or ValueError saying what is wrong with it."""
    tokens = body.get("tokens") if isinstance(body, dict) else None
    if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
        raise ValueError("tokens must be a list of strings")
    if len(tokens) > MAX_TOKENS:
        raise ValueError(f"at most {MAX_TOKENS} tokens a call")
    return tokens


def check_answer(body: Any, n: int) -> list[dict[str, Any]]:
    """The per-token results of a batch answer, or ValueError when it is not one for ``n``."""
    results = body.get("results") if isinstance(body, dict) and body.get("ok") is True else None
    if not isinstance(results, list) or len(results) != n or not all(isinstance(r, dict) for r in results):
        raise ValueError("not a token-check answer")
    return results
