"""One shard's search index on local disk: tantivy, with the words split as `matches` splits them.

Documents are messages (kind ``m``) and the files shared in them (kind ``f``). The text is
tokenized here, by `origin.search.query.tokens` (case and accents folded, the unicode61
rules), and handed to tantivy split on spaces, so the index agrees with `matches` word for
word; phrases use the positions. Every document carries its workspace, conversation, author,
``ts`` (fast field: the timestamp sort) and flags (``link``, ``reaction``, ``thread``,
``file``). A message document also stores what its match object is rendered from
(`origin.search.engine.Stored`: text, author, thread, blocks, attachments), so a page of
hits needs no message rows from the database; the indexer replaces the document on every
edit and removes it on delete, as it does for the words.

The index holds no membership: a query names the conversations the caller may read (a term
set, computed at query time by `origin.service.search.scope`) and the workspace, so a
member leaving or a channel made private needs nothing re-indexed.

Blocking calls (commit, search) are plain methods: the indexer runs the writes in a thread.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import orjson
import tantivy

from origin.search.engine import HitRow, SearchRequest, Stored
from origin.search.query import SearchQuery, tokens

SCHEMA_VERSION: Final = 2
"""Bumped when the schema changes: an index of another version is rebuilt (see the indexer)."""
KIND_MESSAGE: Final = "m"
KIND_FILE: Final = "f"
WRITER_HEAP: Final = 32_000_000
_WORDS: Final = "words"


@dataclass(frozen=True, slots=True)
class MessageDoc:
    """What a message is searched by."""

    team_id: str
    channel_id: str
    ts: int
    user_id: str | None
    text: str  # the text, then its blocks' and attachments' text
    thread: bool
    reaction: bool
    file: bool
    stored: Stored | None = None  # what its match object is rendered from

    @property
    def key(self) -> str:
        return message_key(self.channel_id, self.ts)

    @property
    def link(self) -> bool:
        low = self.text.lower()
        return "http://" in low or "https://" in low


@dataclass(frozen=True, slots=True)
class FileDoc:
    """A file shared in a message, searched by its name and title."""

    team_id: str
    channel_id: str
    ts: int  # of the message that shared it
    user_id: str | None
    file: dict[str, Any] = field(default_factory=dict)

    @property
    def file_id(self) -> str:
        return str(self.file.get("id", ""))


def message_key(channel_id: str, ts: int) -> str:
    return f"{channel_id}/{ts}"


def _schema() -> tantivy.Schema:
    b = tantivy.SchemaBuilder()
    b.add_text_field("key", stored=True, tokenizer_name="raw")  # message: C/ts; file: F id
    b.add_text_field("msg", tokenizer_name="raw")  # the message a file doc belongs to
    b.add_text_field("kind", tokenizer_name="raw")
    b.add_text_field("team", tokenizer_name="raw")
    b.add_text_field("channel", stored=True, tokenizer_name="raw")
    b.add_text_field("user", tokenizer_name="raw")
    b.add_text_field("flag", tokenizer_name="raw")
    b.add_text_field("text", tokenizer_name=_WORDS)
    b.add_text_field("file", stored=True, tokenizer_name="raw", index_option="basic")
    b.add_integer_field("ts", stored=True, indexed=True, fast=True)
    b.add_bytes_field("view", stored=True)  # a message's `Stored`, as JSON
    return b.build()


SCHEMA: Final = _schema()


def _words(text: str) -> str:
    return " ".join(tokens(text))


class ShardIndex:
    """The index of one shard's workspaces, in ``path`` (created when missing)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self._index = tantivy.Index(SCHEMA, path=str(self.path), reuse=True)
        words = tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace()).build()
        self._index.register_tokenizer(_WORDS, words)
        self._writer: tantivy.IndexWriter | None = None
        self._lock = threading.Lock()  # one writing thread at a time
        self._index.reload()
        self._searcher = self._index.searcher()

    # -- writing (called from the indexer's thread) ----------------------------------------------

    def _w(self) -> tantivy.IndexWriter:
        if self._writer is None:
            self._writer = self._index.writer(WRITER_HEAP, 1)
        return self._writer

    def put_message(self, doc: MessageDoc, *, replace: bool = True) -> None:
        """Add or replace the message (``replace=False``: known to be absent, as in a rebuild)."""
        w = self._w()
        if replace:
            w.delete_documents_by_term("key", doc.key)
        d = tantivy.Document()
        d.add_text("key", doc.key)
        d.add_text("kind", KIND_MESSAGE)
        d.add_text("team", doc.team_id)
        d.add_text("channel", doc.channel_id)
        if doc.user_id:
            d.add_text("user", doc.user_id)
        flags = {"link": doc.link, "reaction": doc.reaction, "thread": doc.thread, "file": doc.file}
        for flag, on in flags.items():
            if on:
                d.add_text("flag", flag)
        d.add_text("text", _words(doc.text))
        d.add_integer("ts", doc.ts)
        if doc.stored is not None:
            d.add_bytes("view", _dump_stored(doc.stored))
        w.add_document(d)

    def delete_message(self, channel_id: str, ts: int) -> None:
        """Remove the message and the files it shared."""
        w = self._w()
        key = message_key(channel_id, ts)
        w.delete_documents_by_term("key", key)
        w.delete_documents_by_term("msg", key)

    def put_file(self, doc: FileDoc) -> None:
        w = self._w()
        key = "F:" + doc.file_id
        w.delete_documents_by_term("key", key)
        d = tantivy.Document()
        d.add_text("key", key)
        d.add_text("msg", message_key(doc.channel_id, doc.ts))
        d.add_text("kind", KIND_FILE)
        d.add_text("team", doc.team_id)
        d.add_text("channel", doc.channel_id)
        if doc.user_id:
            d.add_text("user", doc.user_id)
        names = [str(doc.file.get(k) or "") for k in ("name", "title")]
        d.add_text("text", _words(" \n ".join(names)))
        d.add_text("file", orjson.dumps(doc.file).decode())
        d.add_integer("ts", doc.ts)
        w.add_document(d)

    def delete_file(self, file_id: str) -> None:
        self._w().delete_documents_by_term("key", "F:" + file_id)

    def delete_team(self, team_id: str) -> None:
        self._w().delete_documents_by_term("team", team_id)

    def commit(self) -> None:
        """Make the writes durable and visible to the next searches."""
        with self._lock:
            if self._writer is None:
                return
            self._writer.commit()
            self._index.reload()
            self._searcher = self._index.searcher()

    def close(self) -> None:
        with self._lock:
            if self._writer is not None:
                self._writer.wait_merging_threads()
                self._writer = None

    # -- reading ---------------------------------------------------------------------------------

    def has_file_flag(self, channel_id: str, ts: int) -> bool:
        """Whether the indexed message is marked as sharing a file."""
        q = tantivy.Query.boolean_query(
            [
                (tantivy.Occur.Must, tantivy.Query.term_query(SCHEMA, "key", message_key(channel_id, ts))),
                (tantivy.Occur.Must, tantivy.Query.term_query(SCHEMA, "flag", "file")),
            ]
        )
        return _count(self._searcher.search(q, 1, count=True)) > 0

    def pin(self) -> tantivy.Searcher:
        """The searcher answering now: the same view for one search's queries."""
        return self._searcher

    def num_docs(self) -> int:
        return int(self._searcher.num_docs)

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.path.rglob("*") if p.is_file())

    def search(
        self, kind: str, request: SearchRequest, searcher: tantivy.Searcher | None = None
    ) -> tuple[int, list[HitRow], list[dict[str, Any]]]:
        """``(total, hits, stored files)`` of one page; at most ``request.cap`` results are
        reachable. Message hits carry their `Stored` fields when the document has them.

        Without positive words the order is by ``ts`` and the score 0. Ascending relevance
        (Slack's ``sort=score&sort_dir=asc``) reads the reachable results and reverses them.

        ``request.team_channels`` (every conversation of the workspace, read after
        `searcher` was pinned, see :meth:`pin`) lets the scope run as its complement: a term
        set costs in proportion to the documents of its terms, and a member of most
        conversations can see most messages, so excluding the few conversations they cannot
        see is cheaper than listing the many they can. It is exact only because every
        conversation with documents in the pinned searcher existed before the pin; a hit
        outside ``request.channels`` is dropped all the same.
        """
        r = request
        searcher = searcher or self._searcher
        hidden = _hidden(searcher, r.channels, r.team_channels)
        q = build_query(kind, r.team_id, r.channels, r.authors, r.query, hidden=hidden)
        end = min(r.offset + r.limit, r.cap)
        if r.offset >= end:
            return _count(searcher.search(q, 1, count=True)), [], []
        scored = r.by_score and bool(r.query.positive)
        if scored and r.descending:
            result = searcher.search(q, end - r.offset, count=True, offset=r.offset)
        elif scored:
            result = searcher.search(q, r.cap, count=True)
        else:
            order = tantivy.Order.Desc if r.descending else tantivy.Order.Asc
            result = searcher.search(
                q, end - r.offset, count=True, order_by_field="ts", order=order, offset=r.offset
            )
        pairs = list(result.hits)
        if scored and not r.descending:
            pairs = pairs[::-1][r.offset : end]
        hits: list[HitRow] = []
        files: list[dict[str, Any]] = []
        for key, address in pairs:
            doc = searcher.doc(address)
            channel = str(doc.get_first("channel"))
            if channel not in r.channels:  # cannot happen (see above); never shown if it did
                continue
            ts = int(doc.get_first("ts") or 0)
            view = doc.get_first("view") if kind == KIND_MESSAGE else None
            stored = _load_stored(view) if view is not None else None
            hits.append((channel, ts, float(key) if scored else 0.0, stored))
            if kind == KIND_FILE:
                files.append(orjson.loads(str(doc.get_first("file"))))
        return _count(result), hits, files


def _dump_stored(s: Stored) -> bytes:
    return orjson.dumps([s.user_id, s.text, s.thread_ts, s.blocks, s.attachments])


def _load_stored(raw: Any) -> Stored:
    user_id, text, thread_ts, blocks, attachments = orjson.loads(bytes(raw))
    return Stored(user_id, text, thread_ts, blocks, attachments)


MAX_HIDDEN: Final = 4096
"""At most this many excluded conversations (a bigger term set costs more to build)."""


def _hidden(
    searcher: tantivy.Searcher, channels: Collection[str], team_channels: Collection[str] | None
) -> list[str] | None:
    """The workspace's conversations outside `channels`, when excluding them reads fewer
    postings than including `channels` (by their document frequencies); else None."""
    if team_channels is None:
        return None
    hidden = [c for c in team_channels if c not in channels]
    if len(hidden) > MAX_HIDDEN:
        return None

    def postings(ids: Iterable[str]) -> int:
        return sum(int(searcher.doc_freq("channel", c)) for c in ids)

    return hidden if postings(hidden) < postings(channels) else None


def _count(result: tantivy.SearchResult) -> int:
    return int(getattr(result, "count", 0) or 0)  # the stubs leave out ``count``


def build_query(
    kind: str,
    team_id: str,
    channels: Collection[str],
    authors: Collection[str],
    query: SearchQuery,
    *,
    hidden: Collection[str] | None = None,
) -> tantivy.Query:
    """The query: words and phrases scored (BM25), everything else a filter. The scope is
    `channels`, or the workspace without `hidden` when given (see `ShardIndex.search`)."""
    Q, must, must_not = tantivy.Query, tantivy.Occur.Must, tantivy.Occur.MustNot
    parts: list[tuple[tantivy.Occur, tantivy.Query]] = [
        (must, Q.term_query(SCHEMA, "kind", kind)),
        (must, Q.term_query(SCHEMA, "team", team_id)),
    ]
    if hidden is None:
        parts.append((must, Q.term_set_query(SCHEMA, "channel", sorted(channels))))
    if authors:
        parts.append((must, Q.term_set_query(SCHEMA, "user", sorted(authors))))
    if query.ts_from is not None or query.ts_to is not None:
        parts.append(
            (
                must,
                Q.range_query(
                    SCHEMA,
                    "ts",
                    tantivy.FieldType.Integer,
                    query.ts_from,
                    query.ts_to,
                    include_upper=query.ts_to is None,
                ),
            )
        )
    for flag, on in (
        ("link", query.has_link),
        ("reaction", query.has_reaction),
        ("thread", query.is_thread),
        ("file", query.has_file),
    ):
        if on:
            parts.append((must, Q.term_query(SCHEMA, "flag", flag)))
    filters = [(o, Q.const_score_query(q, 0.0)) for o, q in parts]
    words = [(must, q) for q in _text_queries(query.positive)]
    excluded = [(must_not, q) for q in _text_queries(query.excluded)]
    if hidden:
        excluded.append((must_not, Q.term_set_query(SCHEMA, "channel", sorted(hidden))))
    return Q.boolean_query([*words, *filters, *excluded])


def _text_queries(items: Iterable[str]) -> list[tantivy.Query]:
    out: list[tantivy.Query] = []
    seen: set[tuple[str, ...]] = set()
    for item in items:
        words = tokens(item)
        if not words or words in seen:
            continue
        seen.add(words)
        if len(words) == 1:
            out.append(tantivy.Query.term_query(SCHEMA, "text", words[0]))
        else:
            out.append(tantivy.Query.phrase_query(SCHEMA, "text", list(words)))
    return out
