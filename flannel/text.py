"""Name normalisation shared by indexing and querying, so both sides fold text the same way.

Folding is accent stripping (NFKD, combining marks dropped), transliteration of the Latin
letters that do not decompose (ł, ø, đ, æ, œ, þ, ß: anyascii), case folding and whitespace
collapsing: "  José  NÚÑEZ" folds to "jose nunez", "Łódź" to "lodz", "Søren" to "soren".
Other scripts keep their letters (a CJK name is searched in CJK). Words split on whitespace, punctuation and
symbols (dots, dashes, underscores...) and on camel-case boundaries ("johnSmith", "HTTPServer"),
so a quick-switcher query can match the start of any word of a name.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from itertools import accumulate

from anyascii import anyascii

Span = tuple[int, int]
"""A word as [start, end) offsets into the folded text."""

# A word char, then chars that continue the word: lowercase and digits always; an uppercase only
# after an uppercase and not before a lowercase (so "HTTPServer" -> "HTTP", "Server").
_WORD = re.compile(r"[A-Za-z0-9](?:[a-z0-9]|(?<=[A-Z])[A-Z](?![a-z]))*")
_TABLE_LIMIT = 1 << 16


def fold(text: str) -> str:
    """Fold `text` for comparison: "ÉMILE  Zola" -> "emile zola" (:func:`tokenize`'s folded
    text, without locating the words: a query is folded on every search)."""
    if not text.isascii():
        text = text.translate(_DECOMPOSE)
        if not text.isascii():
            return "".join([_CASEFOLD[ord(ch)] for ch in " ".join(text.split())])
    return " ".join(text.split()).lower()


def split_words(text: str) -> list[str]:
    """The folded words of `text`: "jean-luc.PicardHQ" -> ["jean", "luc", "picard", "hq"]."""
    folded, spans = tokenize(text)
    return [folded[start:end] for start, end in spans]


def tokenize(text: str) -> tuple[str, list[Span]]:
    """Fold `text` and locate its words in the folded result.

    Offsets refer to the folded text because the index stores folded suffixes; the camel-case
    rule needs the letter case that folding erases, hence one function doing both.
    """
    if not text.isascii():
        text = text.translate(_DECOMPOSE)  # most accented Latin names become ASCII here
        if not text.isascii():
            return _tokenize_unicode(text)
    collapsed = " ".join(text.split())
    return collapsed.lower(), _word_spans(collapsed)


def _tokenize_unicode(text: str) -> tuple[str, list[Span]]:
    collapsed = " ".join(text.split())
    spans = _word_spans(collapsed.translate(_SHAPES))
    pieces = [_CASEFOLD[ord(ch)] for ch in collapsed]  # "ß" -> "ss": offsets shift
    offsets = list(accumulate(map(len, pieces), initial=0))
    return "".join(pieces), [(offsets[start], offsets[end]) for start, end in spans]


def _word_spans(shape: str) -> list[Span]:
    """Words of an ASCII text, or of the ASCII shape of a Unicode one (same offsets)."""
    return [m.span() for m in _WORD.finditer(shape)]


def _strip_marks(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(_latin(c) for c in decomposed if not unicodedata.combining(c))


def _latin(ch: str) -> str:
    """A Latin letter without a decomposition (ł, ø, æ...) as the ASCII letters it is read as."""
    if ch.isascii() or not ch.isalpha() or not unicodedata.name(ch, "").startswith("LATIN "):
        return ch
    return anyascii(ch) or ch


def _shape(ch: str) -> str:
    """ASCII stand-in carrying what word splitting needs: letter case, word char or not."""
    if ch.isspace():
        return " "
    category = unicodedata.category(ch)
    if category in ("Lu", "Lt"):
        return "A"
    if category == "Ll":
        return "a"
    if category[0] in "LNM":  # caseless letters (CJK...), digits, marks that NFKD keeps
        return "0"
    return "."


class _CharTable(dict[int, str]):
    """A str.translate table filled on first sight of each char, so later lookups stay in C.

    Folding char by char equals folding the string: NFKD only reorders combining marks, which
    are dropped, and case folding is context-free.
    """

    def __init__(self, convert: Callable[[str], str]) -> None:
        super().__init__()
        self._convert = convert

    def __missing__(self, codepoint: int) -> str:
        value = self._convert(chr(codepoint))
        if len(self) < _TABLE_LIMIT:  # bounded against hostile input
            self[codepoint] = value
        return value


_DECOMPOSE = _CharTable(_strip_marks)
_CASEFOLD = _CharTable(lambda ch: _strip_marks(ch.casefold()))
_SHAPES = _CharTable(_shape)
