"""The text part of a `SearchQuery` as full-text match expressions, and as a Python predicate.

- SQLite: `to_fts5` gives the string for ``messages_fts MATCH ?``; the FTS table must be
  created with ``tokenize = 'unicode61 remove_diacritics 2'`` (`FTS5_TOKENIZE`) so that case
  and accents are ignored as `matches` ignores them. Every word is double-quoted, so nothing a
  user types is read as FTS5 syntax (``NEAR``, ``*``, ``^``, ``:``, parentheses).
- MariaDB/MySQL: `to_mysql` gives the string for ``MATCH(text, extra_text) AGAINST(? IN
  BOOLEAN MODE)`` (a message's text and its blocks' and attachments' text).
  InnoDB does not index words shorter than ``innodb_ft_min_token_size`` (3), longer than
  ``innodb_ft_max_token_size`` (84), or stopwords, and a required ``+word`` it did not index
  makes the whole match empty. Such words are therefore left out (`MysqlMatch.residual`), and
  `MysqlMatch.needs_post_filter` tells the caller to check the rows with `matches`.
- `matches` is the reference semantics: every positive word and phrase appears as adjacent
  words, no excluded one does; case- and accent-insensitive. The engines agree with it up to
  their tokenizers: InnoDB keeps ``foo_bar`` as one word, so there ``foo`` does not find it.

Neither engine can run a query without a positive word: both functions then return no match
expression and the caller scans by the other filters, checking rows with `matches`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from origin.search.query import SearchQuery, token_spans, tokens

FTS5_TOKENIZE: Final = "unicode61 remove_diacritics 2"

INNODB_STOPWORDS: Final = frozenset(
    "a about an are as at be by com de en for from how i in is it la of on or that the this "
    "to was what when where who will with und www".split()
)
"""InnoDB's default stopword list (information_schema.INNODB_FT_DEFAULT_STOPWORD)."""


def to_fts5(query: SearchQuery) -> str | None:
    """FTS5 MATCH string, e.g. ``("deploy" AND "build failed") NOT ("flaky")``.

    None when the query has no positive word, since FTS5 cannot match on NOT alone.
    """
    positive = [_fts5_string(w) for w in _token_lists(query.positive, underscore=False)]
    if not positive:
        return None
    expr = " AND ".join(positive)
    negative = [_fts5_string(w) for w in _token_lists(query.excluded, underscore=False)]
    if negative:
        expr = f"({expr}) NOT ({' OR '.join(negative)})"
    return expr


@dataclass(frozen=True, slots=True)
class MysqlMatch:
    """What MariaDB's FULLTEXT index can decide of a query's text part."""

    against: str | None
    """For ``MATCH(text, extra_text) AGAINST(? IN BOOLEAN MODE)``; None: the index cannot narrow."""
    residual: tuple[str, ...]
    """Positive words and phrases (lowercase, words joined by a space) left out of `against`;
    a cheap ``LIKE '%word%'`` pre-filter for them is sound before `matches`."""
    needs_post_filter: bool
    """Whether rows matched by `against` (or by the filters alone) must still pass `matches`."""


def to_mysql(
    query: SearchQuery,
    *,
    min_token_size: int = 3,
    max_token_size: int = 84,
    stopwords: frozenset[str] = INNODB_STOPWORDS,
) -> MysqlMatch:
    """Boolean-mode string: ``+word``, ``+"a phrase"``, ``-word``, ``-"a phrase"``.

    A phrase needs one indexed word to be required; InnoDB then checks the other words only
    loosely, so a phrase with unindexed words also needs the post-filter. An exclusion is
    emitted only when all of its words are indexed: InnoDB ignores unindexed ones and would
    exclude too much.
    """

    def indexed(word: str) -> bool:
        return min_token_size <= len(word) <= max_token_size and word not in stopwords

    parts: list[str] = []
    residual: list[str] = []
    inexact = False
    for words in _token_lists(query.positive, underscore=True):
        hits = sum(map(indexed, words))
        if hits == 0:
            residual.append(" ".join(words))
            continue
        inexact = inexact or hits < len(words)
        parts.append("+" + _mysql_words(words))
    if not parts:
        return MysqlMatch(None, tuple(residual), bool(residual or query.excluded))
    for words in _token_lists(query.excluded, underscore=True):
        if all(map(indexed, words)):
            parts.append("-" + _mysql_words(words))
        else:
            inexact = True
    return MysqlMatch(" ".join(parts), tuple(residual), inexact or bool(residual))


def matches(query: SearchQuery, text: str) -> bool:
    """Whether `text` satisfies the words, phrases and exclusions of `query` (not its filters)."""
    words = tokens(text)
    present = set(words)
    for item in query.positive:
        needle = tokens(item)
        if needle and not _contains(words, present, needle):
            return False
    return not any(
        needle and _contains(words, present, needle) for needle in (tokens(item) for item in query.excluded)
    )


def _contains(words: tuple[str, ...], present: set[str], needle: tuple[str, ...]) -> bool:
    """Whether `needle` occurs as adjacent words in `words`."""
    if not present.issuperset(needle):
        return False
    if len(needle) == 1:
        return True
    n = len(needle)
    return any(words[i : i + n] == needle for i in range(len(words) - n + 1))


def _token_lists(items: Iterable[str], *, underscore: bool) -> list[tuple[str, ...]]:
    """Each item's lowercase words as the engine splits them; items without words dropped."""
    lists = []
    for item in items:
        words = tuple(item[a:b].lower() for a, b in token_spans(item, underscore=underscore))
        if words and words not in lists:
            lists.append(words)
    return lists


def _fts5_string(words: tuple[str, ...]) -> str:
    """An FTS5 string literal: one word, or a phrase when there are several."""
    return '"' + " ".join(words).replace('"', '""') + '"'


def _mysql_words(words: tuple[str, ...]) -> str:
    return words[0] if len(words) == 1 else '"' + " ".join(words) + '"'
