"""Slack's search query language, parsed into a `SearchQuery`.

Whitespace separates the parts of a query:

- ``word`` must appear; ``"a phrase"`` must appear as adjacent words (an unbalanced quote
  takes the rest of the query as the phrase); ``-word`` and ``-"a phrase"`` must not appear;
- ``in:#channel``, ``in:channel``, ``in:<#C123|name>``, ``in:@user`` (the DM with that user),
  ``in:<@U123>``: all ``in:`` values together form one OR: a message in any of them matches;
- ``from:@user``, ``from:user``, ``from:<@U123>``, ``from:me``: another OR;
- ``before:``, ``after:``, ``on:`` take ``YYYY-MM-DD``, ``today`` or ``yesterday``; ``during:``
  also ``YYYY-MM`` and ``YYYY``. Days are UTC; several dates intersect;
- ``has:link``, ``has:reaction``, ``has:file``, ``is:thread``.

The OR groups, the dates and the flags combine with AND. Anything that merely looks like a
modifier (``foo:bar``, ``http://x.y``) is searched as words. A known modifier with a value it
cannot use raises `SearchQueryError`, whose message the API returns to the user.
"""

from __future__ import annotations

import re
import unicodedata
from calendar import monthrange
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Final

FROM_ME: Final = "me"
"""Marker in `SearchQuery.from_users` (and `in_users`) for the searching user."""

DAY_US: Final = 86_400_000_000
_EPOCH_ORDINAL: Final = date(1970, 1, 1).toordinal()

_PART = re.compile(r'(-?)"([^"]*)"?|(\S+)')
_MODIFIER = re.compile(r"([A-Za-z]+):(.*)", re.DOTALL)
_MENTION = re.compile(r"<([#@])([A-Za-z0-9]+)(?:\|[^<>]*)?>")
_NAME = re.compile(r'[^\s<>"#@|]+')
_DAY = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})")
_MONTH = re.compile(r"([0-9]{4})-([0-9]{1,2})")
_YEAR = re.compile(r"[0-9]{4}")
_DAY_FORMATS: Final = "YYYY-MM-DD"
_PERIOD_FORMATS: Final = "YYYY-MM-DD, YYYY-MM or YYYY"


class SearchQueryError(ValueError):
    """A query the user must fix; the message says what is wrong (API: invalid_arguments)."""


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """A parsed query; words and names are kept as written, resolution happens later."""

    terms: tuple[str, ...] = ()
    """Positive words; a word of several tokens (``e-mail``) acts as a phrase."""
    phrases: tuple[str, ...] = ()
    """Positive quoted phrases, whitespace collapsed."""
    excluded: tuple[str, ...] = ()
    """Excluded words and phrases."""
    in_channels: tuple[str, ...] = ()
    """Channel names or ids (without ``#``); OR-ed together with `in_users`."""
    in_users: tuple[str, ...] = ()
    """DM partners, names or ids (without ``@``)."""
    from_users: tuple[str, ...] = ()
    """Authors, names or ids (without ``@``) or `FROM_ME`; OR-ed together."""
    ts_from: int | None = None
    """Inclusive lower bound of ts, microseconds since the epoch."""
    ts_to: int | None = None
    """Exclusive upper bound of ts, microseconds since the epoch."""
    has_link: bool = False
    has_reaction: bool = False
    has_file: bool = False
    is_thread: bool = False

    @property
    def positive(self) -> tuple[str, ...]:
        """Every word and phrase a message must contain."""
        return self.terms + self.phrases

    @property
    def has_filters(self) -> bool:
        """Whether anything besides the words narrows the search."""
        return bool(
            self.in_channels
            or self.in_users
            or self.from_users
            or self.ts_from is not None
            or self.ts_to is not None
            or self.has_link
            or self.has_reaction
            or self.has_file
            or self.is_thread
        )


class _Builder:
    """Mutable accumulator behind `parse`."""

    def __init__(self, today: date) -> None:
        self.today = today
        self.terms: list[str] = []
        self.phrases: list[str] = []
        self.excluded: list[str] = []
        self.in_channels: list[str] = []
        self.in_users: list[str] = []
        self.from_users: list[str] = []
        self.ts_from: int | None = None
        self.ts_to: int | None = None
        self.flags: set[str] = set()

    def word(self, word: str, negated: bool) -> None:
        if tokens(word):  # punctuation alone ("-", "...") searches nothing
            (self.excluded if negated else self.terms).append(word)

    def phrase(self, phrase: str, negated: bool) -> None:
        phrase = " ".join(phrase.split())
        if tokens(phrase):
            (self.excluded if negated else self.phrases).append(phrase)

    def modifier(self, key: str, value: str) -> None:
        if key == "in":
            self._in(value)
        elif key == "from":
            self.from_users.append(_user(key, value))
        elif key in ("has", "is"):
            self._flag(key, value)
        else:
            self._dates(key, value)

    def _in(self, value: str) -> None:
        if not value:
            raise SearchQueryError("in: needs a channel (in:#channel) or a user (in:@user)")
        kind, name = _target(value)
        if kind == "@":
            self.in_users.append(name)
        elif kind == "#" or kind == "":
            self.in_channels.append(name)
        else:
            raise SearchQueryError(f'in: "{value}" is not a channel (in:#channel) or a user (in:@user)')

    def _flag(self, key: str, value: str) -> None:
        allowed = _FLAGS[key]
        if value.lower() not in allowed:
            choices = ", ".join(f"{key}:{v}" for v in allowed)
            if not value:
                raise SearchQueryError(f"{key}: needs a value ({choices})")
            raise SearchQueryError(f'{key}: "{value}" is not supported ({choices})')
        self.flags.add(f"{key}:{value.lower()}")

    def _dates(self, key: str, value: str) -> None:
        """Narrow the [ts_from, ts_to) range; after:D starts the day after D, as in Slack."""
        first: int | None
        end: int | None
        if key == "during":
            first, end = _period(key, value, self.today)
        else:
            day = _day(key, value, self.today)
            first, end = {"before": (None, day), "after": (day + 1, None)}.get(key, (day, day + 1))
        if first is not None:
            lo = _ordinal_us(first)
            self.ts_from = lo if self.ts_from is None else max(self.ts_from, lo)
        if end is not None:
            hi = _ordinal_us(end)
            self.ts_to = hi if self.ts_to is None else min(self.ts_to, hi)

    def build(self) -> SearchQuery:
        return SearchQuery(
            terms=_unique(self.terms),
            phrases=_unique(self.phrases),
            excluded=_unique(self.excluded),
            in_channels=_unique(self.in_channels),
            in_users=_unique(self.in_users),
            from_users=_unique(self.from_users),
            ts_from=self.ts_from,
            ts_to=self.ts_to,
            has_link="has:link" in self.flags,
            has_reaction="has:reaction" in self.flags,
            has_file="has:file" in self.flags,
            is_thread="is:thread" in self.flags,
        )


_FLAGS: Final[dict[str, tuple[str, ...]]] = {"has": ("link", "reaction", "file"), "is": ("thread",)}
_MODIFIERS: Final = frozenset({"in", "from", "before", "after", "on", "during", "has", "is"})


def parse(q: str, today: date) -> SearchQuery:
    """Parse a Slack search query; `today` (UTC) resolves ``today`` and ``yesterday``."""
    b = _Builder(today)
    for m in _PART.finditer(q):
        dash, phrase, bare = m.groups()
        if bare is None:
            b.phrase(phrase, negated=bool(dash))
            continue
        negated = bare.startswith("-")
        body = bare[1:] if negated else bare
        mod = _MODIFIER.fullmatch(body)
        if mod is None or mod[1].lower() not in _MODIFIERS:
            b.word(body, negated)
        elif negated:
            raise SearchQueryError(f"-{mod[1].lower()}: excluding by a modifier is not supported")
        else:
            b.modifier(mod[1].lower(), mod[2])
    query = b.build()
    if not query.positive and not query.has_filters:
        if query.excluded:
            raise SearchQueryError("search query has only excluded words; add a word or a filter")
        raise SearchQueryError("search query is empty")
    return query


def _target(value: str) -> tuple[str, str]:
    """Split an in:/from: value into its sigil ('#', '@' or '') and the name or id."""
    if (m := _MENTION.fullmatch(value)) is not None:
        return m[1], m[2]
    sigil = value[:1] if value[:1] in ("#", "@") else ""
    name = value[len(sigil) :]
    if not _NAME.fullmatch(name):
        return "?", name
    return sigil, name


def _user(key: str, value: str) -> str:
    if not value:
        raise SearchQueryError(f"{key}: needs a user ({key}:@user or {key}:me)")
    kind, name = _target(value)
    if kind not in ("@", ""):
        raise SearchQueryError(f'{key}: "{value}" is not a user ({key}:@user or {key}:me)')
    return FROM_ME if name.lower() == FROM_ME else name


def _day(key: str, value: str, today: date) -> int:
    """The proleptic ordinal of a day value."""
    named = _named_day(value, today)
    if named is not None:
        return named
    if (m := _DAY.fullmatch(value)) is not None:
        try:
            return date(int(m[1]), int(m[2]), int(m[3])).toordinal()
        except ValueError:
            pass
    raise _date_error(key, value, _DAY_FORMATS)


def _period(key: str, value: str, today: date) -> tuple[int, int]:
    """First and past-the-end ordinals of a day, month or year."""
    if (m := _MONTH.fullmatch(value)) is not None:
        year, month = int(m[1]), int(m[2])
        if year >= 1 and 1 <= month <= 12:
            first = date(year, month, 1).toordinal()
            return first, first + monthrange(year, month)[1]
    elif _YEAR.fullmatch(value) is not None:
        if int(value) >= 1:
            year = int(value)
            return date(year, 1, 1).toordinal(), date(year, 12, 31).toordinal() + 1
    else:
        try:
            day = _day(key, value, today)
        except SearchQueryError:
            pass
        else:
            return day, day + 1
    raise _date_error(key, value, _PERIOD_FORMATS)


def _named_day(value: str, today: date) -> int | None:
    word = value.lower()
    if word == "today":
        return today.toordinal()
    if word == "yesterday":
        return (today - timedelta(days=1)).toordinal() if today > date.min else None
    return None


def _date_error(key: str, value: str, formats: str) -> SearchQueryError:
    if not value:
        return SearchQueryError(f"{key}: needs a date ({formats})")
    return SearchQueryError(f'{key}: "{value}" is not a date ({formats})')


def _ordinal_us(ordinal: int) -> int:
    """Start of a UTC day as microseconds since the epoch."""
    return (ordinal - _EPOCH_ORDINAL) * DAY_US


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


# --- tokens: how messages and queries split into words -------------------------------------

_ASCII_WORD = re.compile(r"[A-Za-z0-9]+")
_ASCII_WORD_UNDERSCORE = re.compile(r"[A-Za-z0-9_]+")
_SEP, _START, _MARK = 0, 1, 2


def token_spans(text: str, *, underscore: bool = False) -> list[tuple[int, int]]:
    """Offsets of the words of `text`, split as SQLite's unicode61 tokenizer does.

    A word is a run of letters, digits and private-use characters (combining marks continue
    a word); everything else separates words. ``underscore=True`` also joins on ``_``, as
    InnoDB FULLTEXT does.
    """
    if text.isascii():
        rx = _ASCII_WORD_UNDERSCORE if underscore else _ASCII_WORD
        return [m.span() for m in rx.finditer(text)]
    spans: list[tuple[int, int]] = []
    start = -1
    for i, ch in enumerate(text):
        kind = _kind(ch, underscore)
        if kind == _START or (kind == _MARK and start >= 0):
            if start < 0:
                start = i
        elif start >= 0:
            spans.append((start, i))
            start = -1
    if start >= 0:
        spans.append((start, len(text)))
    return spans


def fold(word: str) -> str:
    """Lowercase and drop accents, so that "Café" and "cafe" compare equal."""
    if word.isascii():
        return word.lower()
    decomposed = unicodedata.normalize("NFD", word.lower())
    stripped = "".join(ch for ch in decomposed if not "\u0300" <= ch <= "\u036f")
    return unicodedata.normalize("NFC", stripped)


def tokens(text: str) -> tuple[str, ...]:
    """The folded words of `text`, as `matches` and `highlight` compare them."""
    return tuple(fold(text[a:b]) for a, b in token_spans(text))


@lru_cache(maxsize=8192)
def _kind(ch: str, underscore: bool) -> int:
    if ch == "_":
        return _START if underscore else _SEP
    cat = unicodedata.category(ch)
    if cat[0] in "LN" or cat == "Co":
        return _START
    return _MARK if cat[0] == "M" else _SEP
