"""Marking the matched words in a message, as Slack does for ``search.messages?highlight=true``."""

from __future__ import annotations

import re
from typing import Final

from origin.search.query import SearchQuery, fold, token_spans, tokens

HIGHLIGHT_START: Final = "\ue000"
HIGHLIGHT_END: Final = "\ue001"

_MARKUP = re.compile(r"<[^<>\n]*>|&(?:amp|lt|gt);")
"""Slack markup (``<@U1>``, ``<https://x|label>``) and escapes; marking inside would break them."""


def highlight(
    text: str, query: SearchQuery, *, start: str = HIGHLIGHT_START, end: str = HIGHLIGHT_END
) -> str:
    """Wrap each occurrence of a positive word or phrase of `query` in `start` ... `end`.

    Matching is word-bounded, case- and accent-insensitive (as `matches`); the text between
    the markers is left as written. Overlapping occurrences merge into one marked span.
    """
    needles = {t for t in map(tokens, query.positive) if t}
    if not needles:
        return text
    spans = token_spans(text)
    words = [fold(text[a:b]) for a, b in spans]
    protected = [m.span() for m in _MARKUP.finditer(text)]
    found: list[tuple[int, int]] = []
    for needle in needles:
        n = len(needle)
        for i in range(len(words) - n + 1):
            if words[i] == needle[0] and tuple(words[i : i + n]) == needle:
                a, b = spans[i][0], spans[i + n - 1][1]
                if not any(pa < b and a < pb for pa, pb in protected):
                    found.append((a, b))
    if not found:
        return text
    out: list[str] = []
    cut = 0
    for a, b in _merge(found):
        out += (text[cut:a], start, text[a:b], end)
        cut = b
    out.append(text[cut:])
    return "".join(out)


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted spans with overlapping ones joined."""
    merged: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if merged and a < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged
