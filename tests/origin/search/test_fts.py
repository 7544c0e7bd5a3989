"""Compiling the text part to FTS5 and InnoDB match strings, and the `matches` oracle.

SQLite's FTS5 (stdlib, in memory) checks that the strings are valid and agree with `matches`.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from origin.search import (
    FTS5_TOKENIZE,
    MysqlMatch,
    SearchQuery,
    SearchQueryError,
    matches,
    parse,
    to_fts5,
    to_mysql,
)

TODAY = date(2024, 3, 1)

# A valid FTS5 string here: string literals (with "" escapes), AND/OR/NOT, parentheses.
_FTS5_SHAPE = re.compile(r'(?:"(?:[^"]|"")*"|AND|OR|NOT|[() ])*')

DOCS = [
    "Deploy finished: build failed on prod",
    "the build did not fail",
    "Café au lait at 10:30",
    "cafe\u0301 crème",
    "send me an e-mail, or an email",
    "foo_bar is a snake",
    "foo bar is two words",
    "don't stop NEAR the AND gate",
    "stars * and carets ^ and (parens)",
    "http://x.y/in:general",
    "日本語テキスト です",
    "हिन्दी भाषा",
    'quote " inside',
]


def q(text: str) -> SearchQuery:
    return parse(text, TODAY)


def fts5_db(docs: list[str]) -> sqlite3.Connection:
    db = sqlite3.connect(":memory:")
    db.execute(f"CREATE VIRTUAL TABLE m USING fts5(text, tokenize = '{FTS5_TOKENIZE}')")
    db.executemany("INSERT INTO m(rowid, text) VALUES (?, ?)", enumerate(docs))
    return db


def fts5_hits(db: sqlite3.Connection, expr: str) -> set[int]:
    return {row[0] for row in db.execute("SELECT rowid FROM m WHERE m MATCH ?", (expr,))}


@pytest.fixture(scope="module")
def db() -> Iterator[sqlite3.Connection]:
    conn = fts5_db(DOCS)
    yield conn
    conn.close()


def oracle(query: SearchQuery, docs: list[str]) -> set[int]:
    return {i for i, d in enumerate(docs) if matches(query, d)}


# --- FTS5 ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("deploy", '"deploy"'),
        ("Deploy BUILD", '"deploy" AND "build"'),
        ('"build failed" deploy', '"deploy" AND "build failed"'),
        ("e-mail", '"e mail"'),
        ("foo_bar", '"foo bar"'),
        ("build -fail", '("build") NOT ("fail")'),
        ('build -fail -"did not"', '("build") NOT ("fail" OR "did not")'),
        ("Café", '"café"'),
        ("NEAR AND OR NOT", '"near" AND "and" AND "or" AND "not"'),
        ("e-mail e.mail", '"e mail"'),
    ],
)
def test_to_fts5(text: str, expected: str) -> None:
    assert to_fts5(q(text)) == expected


def test_to_fts5_without_positive_words_is_none() -> None:
    assert to_fts5(q("from:@alice")) is None
    assert to_fts5(q("-flaky in:#ops")) is None


def test_to_fts5_escapes_quotes_in_hand_made_queries() -> None:
    # parse never leaves a quote inside a word, but a SearchQuery can be built directly
    assert to_fts5(SearchQuery(terms=('a"b',))) == '"a b"'
    assert to_fts5(SearchQuery(terms=("!!!",))) is None


@pytest.mark.parametrize(
    "text",
    [
        "deploy",
        "build -fail",
        '"build failed"',
        "cafe",
        "CAFÉ crème",
        "e-mail",
        "e-mail -foo",
        "foo_bar",
        "foo",
        "NEAR",
        "AND gate",
        "don't",
        "stars*",
        "^carets",
        "(parens)",
        "http://x.y/in:general",
        "10:30",
        "日本語テキスト",
        "हिन्दी",
        'quote " inside',
    ],
)
def test_fts5_agrees_with_matches(db: sqlite3.Connection, text: str) -> None:
    query = q(text)
    expr = to_fts5(query)
    assert expr is not None
    hits = fts5_hits(db, expr)
    assert hits == oracle(query, DOCS)
    assert hits  # each example finds something


INJECTIONS = [
    '"*():^-NEAR AND OR NOT',
    'NEAR(a b, 2) OR "x" AND NOT y',
    "text:deploy",
    "{text}: deploy",
    "^deploy*",
    '"" """ """"',
    'a"b"c"d',
    "-(- (-) -)",
    "deploy OR 1=1 --",
    "NOT NOT NOT deploy",
    "* AND *",
    "+deploy -build ~gate <near >and @x",
    "rowid:1",
    "m MATCH deploy",
]


@pytest.mark.parametrize("text", INJECTIONS)
def test_fts5_syntax_in_queries_is_searched_literally(db: sqlite3.Connection, text: str) -> None:
    try:
        query = q(text)
    except SearchQueryError:
        return
    expr = to_fts5(query)
    if expr is None:
        assert not query.positive
        return
    assert _FTS5_SHAPE.fullmatch(expr), expr
    assert fts5_hits(db, expr) == oracle(query, DOCS)


@settings(max_examples=300)
@given(st.text(max_size=80))
def test_fts5_string_is_always_well_formed(text: str) -> None:
    try:
        query = parse(text, TODAY)
    except SearchQueryError:
        return
    expr = to_fts5(query)
    if expr is None:
        return
    assert _FTS5_SHAPE.fullmatch(expr), expr
    # no quote is left unescaped: strip the literals and no quote remains
    assert '"' not in re.sub(r'"(?:[^"]|"")*"', "", expr)
    db = fts5_db(["x"])
    try:
        fts5_hits(db, expr)  # FTS5 accepts it
    finally:
        db.close()


_VOCAB = ["cafe", "Café", "CAFE\u0301", "e-mail", "email", "foo_bar", "foo", "bar", "x", "日本"]
_PUNCT = [" ", " ", ", ", "-", ".", "!", "_", "'"]


def _text(words: list[str], seps: list[str]) -> str:
    return "".join(w + s for w, s in zip(words, seps, strict=False))


_DOC = st.builds(
    _text,
    st.lists(st.sampled_from(_VOCAB), max_size=6),
    st.lists(st.sampled_from(_PUNCT), min_size=6, max_size=6),
)
_QUERY_PART = st.sampled_from(_VOCAB).flatmap(
    lambda w: st.sampled_from([w, f"-{w}", f'"{w}"', f'"{w} foo"', f'-"bar {w}"'])
)


@settings(max_examples=200)
@given(st.lists(_DOC, min_size=1, max_size=8), st.lists(_QUERY_PART, min_size=1, max_size=4))
def test_fts5_agrees_with_matches_on_generated_data(docs: list[str], parts: list[str]) -> None:
    try:
        query = parse(" ".join(parts), TODAY)
    except SearchQueryError:
        return
    expr = to_fts5(query)
    if expr is None:
        return
    db = fts5_db(docs)
    try:
        assert fts5_hits(db, expr) == oracle(query, docs)
    finally:
        db.close()


# --- MariaDB / MySQL -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("deploy", MysqlMatch("+deploy", (), False)),
        ("Deploy build", MysqlMatch("+deploy +build", (), False)),
        ('"build failed" -flaky', MysqlMatch('+"build failed" -flaky', (), False)),
        ('deploy -"known issue"', MysqlMatch('+deploy -"known issue"', (), False)),
        ("foo_bar", MysqlMatch("+foo_bar", (), False)),
        ("e-mail", MysqlMatch('+"e mail"', (), True)),  # "e" is too short to be indexed
        ("don't", MysqlMatch('+"don t"', (), True)),
        # short words and stopwords are never required: they come back as residual
        ("ok deploy", MysqlMatch("+deploy", ("ok",), True)),
        ("the deploy", MysqlMatch("+deploy", ("the",), True)),
        ('"out of the box"', MysqlMatch('+"out of the box"', (), True)),
        ('"of the" deploy', MysqlMatch("+deploy", ("of the",), True)),
        ("ok go", MysqlMatch(None, ("ok", "go"), True)),
        # exclusions InnoDB cannot decide are left to the post-filter
        ("deploy -ok", MysqlMatch("+deploy", (), True)),
        ('deploy -"out of the box"', MysqlMatch("+deploy", (), True)),
        ("Café", MysqlMatch("+café", (), False)),
        ("from:@alice", MysqlMatch(None, (), False)),
        ("-flaky in:#ops", MysqlMatch(None, (), True)),
    ],
)
def test_to_mysql(text: str, expected: MysqlMatch) -> None:
    assert to_mysql(q(text)) == expected


def test_to_mysql_token_limits_are_configurable() -> None:
    assert to_mysql(q("abc deploy"), min_token_size=4) == MysqlMatch("+deploy", ("abc",), True)
    assert to_mysql(q("the"), stopwords=frozenset()) == MysqlMatch("+the", (), False)
    assert to_mysql(q("abcdef"), max_token_size=5) == MysqlMatch(None, ("abcdef",), True)


@pytest.mark.parametrize("text", [*INJECTIONS, '+a -b ~c <d >e (f) "g* @8'])
def test_mysql_string_has_only_words_and_operators(text: str) -> None:
    try:
        against = to_mysql(q(text)).against
    except SearchQueryError:
        return
    if against is not None:
        assert re.fullmatch(r'(?:[+-](?:\w+|"\w+(?: \w+)+")(?: |$))+', against), against


@settings(max_examples=300)
@given(st.text(max_size=80))
def test_mysql_string_is_always_well_formed(text: str) -> None:
    try:
        query = parse(text, TODAY)
    except SearchQueryError:
        return
    against = to_mysql(query).against
    if against is not None:
        for part in against.split(" +"):
            assert "<" not in part and ">" not in part and "*" not in part and "~" not in part
        assert against.count('"') % 2 == 0
        assert against.startswith("+")


# --- matches -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message", "expected"),
    [
        ("deploy", "Deploy finished", True),
        ("DEPLOY", "deploy", True),
        ("cafe", "Café", True),
        ("café", "CAFE", True),
        ("cafe", "cafe\u0301", True),
        ("cat", "category", False),
        ("cat", "cat-egory", True),
        ('"build failed"', "the build failed", True),
        ('"build failed"', "the build has failed", False),
        ('"build failed"', "failed build", False),
        ('"build failed"', "BUILD, failed!", True),
        ("e-mail", "e mail", True),
        ("e-mail", "email", False),
        ("build -failed", "build ok", True),
        ("build -failed", "build Failed", False),
        ('build -"has failed"', "build failed, has it", True),
        ('build -"has failed"', "build has failed", False),
        ("a b", "b a", True),
        ("hindi हिन्दी", "हिन्दी hindi", True),
        ("from:@alice", "anything", True),
        ("-x in:#ops", "y", True),
        ("-x in:#ops", "x", False),
    ],
)
def test_matches(text: str, message: str, expected: bool) -> None:
    assert matches(q(text), message) is expected


def test_matches_ignores_wordless_items_of_hand_made_queries() -> None:
    assert matches(SearchQuery(terms=("!!!",), excluded=("?",)), "anything")
