"""Quick-switcher prefix search over a workspace's users or channels, held in memory.

Ranking is exact field match, then field prefix, then word prefix ("smi" -> "John Smith"), each
ordered by (length of the matching field, folded field, key). Entries live in sorted lists, one
per field length: a search bisects to the prefix range in each length in increasing order and can
stop as soon as `limit` keys pass the filter, instead of collecting every key that starts with a
common letter. Entries are parallel lists of pointers, not tuples, to keep 100k users cheap.

Unfiltered answers are kept (:data:`MEMO_SEARCHES` of them, the oldest dropped first) until the
index next changes: a quick switcher asks the same few prefixes over and over, and any change
to the index (a key added, removed or renamed) drops them all.
"""

from __future__ import annotations

import sys
from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Generic, Protocol, TypeVar

from flannel.text import fold, tokenize


class _Orderable(Protocol):
    def __lt__(self, other: Any, /) -> bool: ...


K = TypeVar("K", bound=_Orderable)

#: Unfiltered search answers kept per index, until it next changes.
MEMO_SEARCHES = 2048

# Sizes for estimate_bytes, checked against tracemalloc on 100k synthetic users (within ~5%).
_PTR = 8
_ITEM_OVERHEAD = 40 + 40  # slot and index in the key dict; header of the tuple of raw fields
_STR_HEADER = 52  # CPython's 49 bytes for an ASCII str, plus allocator rounding on average


class _Bucket(Generic[K]):
    """Parallel lists sorted by (token, key, field); `fields` is what matches are ranked by.

    For whole fields the token is the field, so `fields` is the `tokens` list itself.
    """

    __slots__ = ("fields", "keys", "tokens")

    def __init__(self, tokens_are_fields: bool) -> None:
        self.tokens: list[str] = []
        self.keys: list[K] = []
        self.fields: list[str] = self.tokens if tokens_are_fields else []

    def _locate(self, token: str, key: K, field: str) -> int:
        lo = bisect_left(self.tokens, token)
        hi = bisect_right(self.tokens, token, lo)
        if lo < hi:
            lo = bisect_left(self.keys, key, lo, hi)
            hi = bisect_right(self.keys, key, lo, hi)
            lo = bisect_left(self.fields, field, lo, hi)
        return lo

    def insert(self, token: str, key: K, field: str) -> None:
        i = self._locate(token, key, field)
        self.tokens.insert(i, token)
        self.keys.insert(i, key)
        if self.fields is not self.tokens:
            self.fields.insert(i, field)

    def delete(self, token: str, key: K, field: str) -> None:
        i = self._locate(token, key, field)
        if i == len(self.tokens) or self.tokens[i] != token or self.fields[i] != field:
            raise AssertionError(f"index entry missing: {token!r}")
        if self.fields is not self.tokens:
            del self.fields[i]
        del self.tokens[i], self.keys[i]

    def extend_sorted(self, rows: list[tuple[str, K, str]]) -> None:
        """Bulk insert: one sort instead of one O(n) list insert per entry."""
        rows.extend(zip(self.tokens, self.keys, self.fields, strict=True))
        rows.sort()
        aliased = self.fields is self.tokens
        self.tokens = [row[0] for row in rows]
        self.keys = [row[1] for row in rows]
        self.fields = self.tokens if aliased else [row[2] for row in rows]

    def prefix_range(self, prefix: str) -> tuple[int, int]:
        tokens = self.tokens
        lo = bisect_left(tokens, prefix)
        last = ord(prefix[-1])
        if last < sys.maxunicode:  # strings starting with p sort in [p, p[:-1] + succ(p[-1]))
            return lo, bisect_left(tokens, prefix[:-1] + chr(last + 1), lo)
        hi = lo
        while hi < len(tokens) and tokens[hi].startswith(prefix):
            hi += 1
        return lo, hi


class _Table(Generic[K]):
    """Buckets by field length plus the sorted list of lengths present, for in-order walks."""

    __slots__ = ("buckets", "lengths", "tokens_are_fields")

    def __init__(self, tokens_are_fields: bool) -> None:
        self.tokens_are_fields = tokens_are_fields
        self.buckets: dict[int, _Bucket[K]] = {}
        self.lengths: list[int] = []

    def bucket(self, length: int) -> _Bucket[K]:
        bucket = self.buckets.get(length)
        if bucket is None:
            bucket = self.buckets[length] = _Bucket(self.tokens_are_fields)
            insort(self.lengths, length)
        return bucket

    def delete(self, token: str, key: K, field: str) -> None:
        bucket = self.buckets[len(field)]
        bucket.delete(token, key, field)
        if not bucket.tokens:
            del self.buckets[len(field)]
            self.lengths.remove(len(field))

    def walk(self, min_length: int) -> Iterable[_Bucket[K]]:
        for length in self.lengths[bisect_left(self.lengths, min_length) :]:
            yield self.buckets[length]


class PrefixIndex(Generic[K]):
    """Keys (user or channel ids) searchable by the prefix of any of their names."""

    def __init__(self) -> None:
        self._raw: dict[K, tuple[str, ...]] = {}
        self._whole: _Table[K] = _Table(True)  # whole folded fields: exact and prefix matches
        self._words: _Table[K] = _Table(False)  # suffixes from inner words: word-prefix matches
        self._bytes = 0
        self._memo: dict[tuple[str, int], tuple[K, ...]] = {}

    def __len__(self) -> int:
        return len(self._raw)

    def __contains__(self, key: object) -> bool:
        return key in self._raw

    def estimate_bytes(self) -> int:
        """Approximate memory held by the index (not the caller's strings), kept as a counter."""
        return self._bytes

    def add(self, key: K, fields: Sequence[str]) -> None:
        """Index `key` under `fields`; empty fields are ignored. Raises if already present."""
        if key in self._raw:
            raise ValueError(f"key already indexed: {key!r}")
        self._memo.clear()
        raw = tuple(fields)
        self._raw[key] = raw
        self._bytes += _ITEM_OVERHEAD + _PTR * len(raw)
        for field, suffixes in _entries(raw).items():
            self._insert(key, field, suffixes)

    def add_many(self, items: Iterable[tuple[K, Sequence[str]]]) -> None:
        """Bulk `add`, e.g. loading a snapshot: sorts once per bucket instead of per entry."""
        self._memo.clear()
        whole: dict[int, list[tuple[str, K, str]]] = {}
        words: dict[int, list[tuple[str, K, str]]] = {}
        for key, fields in items:
            if key in self._raw:
                raise ValueError(f"key already indexed: {key!r}")
            raw = tuple(fields)
            self._raw[key] = raw
            self._bytes += _ITEM_OVERHEAD + _PTR * len(raw)
            for field, suffixes in _entries(raw).items():
                self._bytes += _entry_bytes(field, suffixes)
                whole.setdefault(len(field), []).append((field, key, field))
                rows = words.setdefault(len(field), [])
                rows.extend((suffix, key, field) for suffix in suffixes)
        for table, pending in ((self._whole, whole), (self._words, words)):
            for length, rows in pending.items():
                if rows:
                    table.bucket(length).extend_sorted(rows)

    def remove(self, key: K) -> None:
        """Forget `key`. Raises KeyError if absent."""
        raw = self._raw.pop(key)
        self._memo.clear()
        self._bytes -= _ITEM_OVERHEAD + _PTR * len(raw)
        for field, suffixes in _entries(raw).items():
            self._delete(key, field, suffixes)

    def update(self, key: K, fields: Sequence[str]) -> None:
        """Re-index `key` (adding it if absent), touching only the fields that changed."""
        old = self._raw.get(key)
        if old is None:
            self.add(key, fields)
            return
        raw = tuple(fields)
        if raw == old:
            return
        self._memo.clear()
        self._raw[key] = raw
        self._bytes += _PTR * (len(raw) - len(old))
        before, after = _entries(old), _entries(raw)
        for field in before.keys() - after.keys():
            self._delete(key, field, before[field])
        for field in after.keys() - before.keys():
            self._insert(key, field, after[field])

    def search(self, prefix: str, limit: int = 10, filter: Callable[[K], bool] | None = None) -> list[K]:
        """Up to `limit` keys matching `prefix`, best first, among those `filter` accepts."""
        if filter is None:
            return list(self.ranked(prefix, limit))
        _check_limit(limit)
        query = fold(prefix)
        return self._search(query, limit, filter) if query else []

    def ranked(self, prefix: str, limit: int = 10) -> tuple[K, ...]:
        """:meth:`search` without a filter, as the remembered tuple itself (no copy: a
        repeated search costs one dict get)."""
        if type(limit) is not int or limit < 1:  # a bool is refused before it matches 1 below
            _check_limit(limit)
        kept = self._memo.get((prefix, limit))
        if kept is not None:
            return kept
        query = fold(prefix)
        found = tuple(self._search(query, limit, None)) if query else ()
        memo = self._memo
        if len(memo) >= MEMO_SEARCHES:
            del memo[next(iter(memo))]
        memo[prefix, limit] = found
        return found

    def _search(self, query: str, limit: int, filter: Callable[[K], bool] | None) -> list[K]:
        found: list[K] = []
        seen: set[K] = set()  # each key once, at its best rank; filter called once per key
        for bucket in self._whole.walk(len(query)):
            lo, hi = bucket.prefix_range(query)
            keys = bucket.keys
            for i in range(lo, hi):  # already in (field, key) order within a length
                key = keys[i]
                if key not in seen:
                    seen.add(key)
                    if filter is None or filter(key):
                        found.append(key)
                        if len(found) == limit:
                            return found
        for bucket in self._words.walk(len(query) + 1):
            lo, hi = bucket.prefix_range(query)
            keys, fields = bucket.keys, bucket.fields
            # Ordered by suffix, not by field: sort this length's matches before taking any.
            matches = sorted((fields[i], keys[i]) for i in range(lo, hi) if keys[i] not in seen)
            for _, key in matches:
                if key not in seen:
                    seen.add(key)
                    if filter is None or filter(key):
                        found.append(key)
                        if len(found) == limit:
                            return found
        return found

    def _insert(self, key: K, field: str, suffixes: tuple[str, ...]) -> None:
        self._bytes += _entry_bytes(field, suffixes)
        self._whole.bucket(len(field)).insert(field, key, field)
        for suffix in suffixes:
            self._words.bucket(len(field)).insert(suffix, key, field)

    def _delete(self, key: K, field: str, suffixes: tuple[str, ...]) -> None:
        self._bytes -= _entry_bytes(field, suffixes)
        self._whole.delete(field, key, field)
        for suffix in suffixes:
            self._words.delete(suffix, key, field)


def _check_limit(limit: object) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limit must be an integer >= 1, got {limit!r}")


def _entries(fields: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """Distinct non-empty folded fields, each with its suffixes that start at an inner word."""
    entries: dict[str, tuple[str, ...]] = {}
    for text in fields:
        folded, spans = tokenize(text)
        if folded and folded not in entries:
            entries[folded] = tuple([folded[start:] for start, _ in spans if start > 0])
    return entries


def _entry_bytes(field: str, suffixes: tuple[str, ...]) -> int:
    """List slots (two per whole field, three per suffix) plus strings, sized as ASCII."""
    chars = len(field) + sum(map(len, suffixes))
    return 2 * _PTR + (1 + len(suffixes)) * _STR_HEADER + len(suffixes) * 3 * _PTR + chars
