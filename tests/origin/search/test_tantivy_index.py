"""The tantivy shard index on its own (no database): it agrees with `matches`, filters by
workspace and conversation, sorts, pages and counts."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from origin.search import SearchQuery, SearchQueryError, matches, parse
from origin.search.engine import SearchRequest, Stored
from origin.search.tantivy_index import KIND_FILE, KIND_MESSAGE, FileDoc, MessageDoc, ShardIndex
from tests.origin.search.test_fts import _DOC, _QUERY_PART, DOCS

TODAY = date(2024, 3, 1)
DAY = 86_400_000_000


def q(text: str) -> SearchQuery:
    return parse(text, TODAY)


def doc(
    text: str, ts: int, channel: str = "C1", team: str = "T1", user: str = "U1", **kw: bool
) -> MessageDoc:
    return MessageDoc(
        team,
        channel,
        ts,
        user,
        text,
        kw.get("thread", False),
        kw.get("reaction", False),
        kw.get("file", False),
    )


def req(
    query: SearchQuery,
    channels: tuple[str, ...] | list[str] = ("C1",),
    authors: tuple[str, ...] = (),
    *,
    by_score: bool = True,
    descending: bool = True,
    offset: int = 0,
    limit: int = 100,
    cap: int = 10_000,
    team_channels: list[str] | None = None,
) -> SearchRequest:
    return SearchRequest(
        "T1", channels, authors, query, by_score, descending, offset, limit, cap, team_channels
    )


def filled(path: Path, docs: list[MessageDoc]) -> ShardIndex:
    index = ShardIndex(path)
    for d in docs:
        index.put_message(d)
    index.commit()
    return index


def hits(
    index: ShardIndex, query: SearchQuery, channels: tuple[str, ...] = ("C1",), **kw: object
) -> set[int]:
    searcher = kw.pop("searcher", None)
    total, found, _ = index.search(KIND_MESSAGE, req(query, channels, **kw), searcher)  # type: ignore[arg-type]
    assert total == len(found)
    return {h[1] for h in found}


@pytest.fixture
def corpus(tmp_path: Path) -> Iterator[ShardIndex]:
    index = filled(tmp_path, [doc(text, ts) for ts, text in enumerate(DOCS)])
    yield index
    index.close()


@pytest.mark.parametrize(
    "text",
    ["build", "BUILD failed", '"build failed"', '"failed build"', "cafe", "CAFÉ", "e-mail", "foo",
     "foo_bar", '"foo bar"', "NEAR", "carets ^", "in:general", "日本語テキスト", "भाषा", "build -prod",
     '-"build failed" build', 'quote "inside'],
)  # fmt: skip
def test_agrees_with_matches(corpus: ShardIndex, text: str) -> None:
    query = q(text)
    if not query.positive:
        return
    assert hits(corpus, query) == {i for i, d in enumerate(DOCS) if matches(query, d)}


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_DOC, min_size=1, max_size=8), st.lists(_QUERY_PART, min_size=1, max_size=4))
def test_agrees_with_matches_on_generated_data(docs: list[str], parts: list[str]) -> None:
    try:
        query = parse(" ".join(parts), TODAY)
    except SearchQueryError:
        return
    with tempfile.TemporaryDirectory() as tmp:
        index = filled(Path(tmp), [doc(text, ts) for ts, text in enumerate(docs)])
        try:
            assert hits(index, query) == {i for i, d in enumerate(docs) if matches(query, d)}
        finally:
            index.close()


def test_only_the_named_workspace_and_conversations(tmp_path: Path) -> None:
    index = filled(
        tmp_path,
        [
            doc("secret plan", 1, channel="C1"),
            doc("secret plan", 2, channel="C2"),
            doc("secret plan", 3, channel="C1", team="T2"),
        ],
    )
    assert hits(index, q("secret"), ("C1",)) == {1}
    assert hits(index, q("secret"), ("C1", "C2")) == {1, 2}
    assert hits(index, q("secret"), ()) == set()
    assert hits(index, q("secret"), ("C9",)) == set()


def test_filters_flags_and_dates(tmp_path: Path) -> None:
    index = filled(
        tmp_path,
        [
            doc("see https://x.y now", DAY, thread=True),
            doc("plain words", 2 * DAY, reaction=True, user="U2"),
            doc("a file here", 3 * DAY, file=True),
            doc("HTTP://LOUD.example", 4 * DAY),
        ],
    )
    assert hits(index, q("has:link")) == {DAY, 4 * DAY}
    assert hits(index, q("has:reaction")) == {2 * DAY}
    assert hits(index, q("has:file")) == {3 * DAY}
    assert hits(index, q("is:thread")) == {DAY}
    assert hits(index, q("on:1970-01-03")) == {2 * DAY}
    assert hits(index, q("after:1970-01-02")) == {2 * DAY, 3 * DAY, 4 * DAY}  # from Jan 3
    assert hits(index, q("before:1970-01-03 -https")) == set()
    total, found, _ = index.search(KIND_MESSAGE, req(q("words"), ("C1",), ("U2",), limit=5, cap=9))
    assert (total, [h[1] for h in found]) == (1, [2 * DAY])


def test_replace_and_delete(tmp_path: Path) -> None:
    index = filled(tmp_path, [doc("kangaroo original", 1), doc("other", 2)])
    index.put_message(doc("wallaby edited", 1))
    index.delete_message("C1", 2)
    index.commit()
    assert hits(index, q("kangaroo")) == set()
    assert hits(index, q("wallaby")) == {1}
    assert hits(index, q("other")) == set()
    index.delete_team("T1")
    index.commit()
    assert index.num_docs() == 0


def test_hits_carry_what_the_match_is_rendered_from(tmp_path: Path) -> None:
    """A message document stores its text as written, author, thread and blocks; an edit
    replaces them; a document put without them (an older index) has none."""
    shown = Stored("U7", "Deploy *now* <@U2>", 40, '[{"type":"divider"}]', None)
    index = filled(tmp_path, [replace(doc("deploy now", 41), stored=shown), doc("deploy later", 42)])
    _, found, _ = index.search(KIND_MESSAGE, req(q("deploy"), by_score=False))
    assert [(h[1], h[3]) for h in found] == [(42, None), (41, shown)]
    edited = Stored("U7", "Deploy *tomorrow*", 40, None, '[{"text":"x"}]')
    index.put_message(replace(doc("deploy tomorrow", 41), stored=edited))
    index.commit()
    _, found, _ = index.search(KIND_MESSAGE, req(q("tomorrow")))
    assert [h[3] for h in found] == [edited]
    index.close()


def test_sorts_pages_and_counts(tmp_path: Path) -> None:
    docs = [doc("zebra " + "filler " * (i % 5), 100 + i) for i in range(30)]
    index = filled(tmp_path, docs)

    def page(offset: int, limit: int, **kw: object) -> tuple[int, list[int], list[float]]:
        options: dict[str, object] = {"by_score": False, "descending": True, "cap": 25}
        options.update(kw)
        request = req(q("zebra"), offset=offset, limit=limit, **options)  # type: ignore[arg-type]
        total, found, _ = index.search(KIND_MESSAGE, request)
        return total, [h[1] for h in found], [h[2] for h in found]

    total, first, _ = page(0, 10)
    assert total == 30 and first == list(range(129, 119, -1))
    assert page(10, 10)[1] == list(range(119, 109, -1))
    assert page(20, 10)[1] == list(range(109, 104, -1))  # the cap: 25 reachable
    assert page(30, 10)[1] == []
    assert page(0, 30, descending=False)[1] == list(range(100, 125))
    _, _, scores = page(0, 25, by_score=True)
    assert scores == sorted(scores, reverse=True) and scores[0] > scores[-1]
    _, worst_first, low = page(0, 25, by_score=True, descending=False)
    assert low == sorted(low) and set(worst_first) <= set(range(100, 130))


def test_files_by_name_and_title(tmp_path: Path) -> None:
    index = ShardIndex(tmp_path)
    index.put_file(FileDoc("T1", "C1", 5, "U1", {"id": "F1", "name": "Q3-roadmap.pdf", "title": "Roadmap"}))
    index.put_file(FileDoc("T1", "C2", 6, "U1", {"id": "F2", "name": "cat.png", "title": "Cat"}))
    index.commit()

    def files(text: str, channels: tuple[str, ...] = ("C1", "C2")) -> list[str]:
        _, _, found = index.search(KIND_FILE, req(q(text), channels, limit=10, cap=100))
        return sorted(f["id"] for f in found)

    assert files("roadmap") == ["F1"]
    assert files('"q3 roadmap"') == ["F1"]
    assert files("cat") == ["F2"]
    assert files("cat", ("C1",)) == []
    assert hits(index, q("roadmap")) == set()  # files are not messages
    index.delete_message("C1", 5)  # the message that shared it
    index.delete_file("F2")
    index.commit()
    assert files("roadmap") == files("cat") == []


def test_the_scope_as_its_complement_is_the_same_answer(tmp_path: Path) -> None:
    """A member of most conversations: excluding the few hidden ones (fewer postings) gives
    what listing the visible ones gives, page and total; a hit in a conversation outside the
    visible set (one the workspace list did not name) is never shown."""
    from origin.search.tantivy_index import _hidden

    docs = [doc(f"otter note {i}", i, channel=f"C{i % 4}") for i in range(40)]
    docs += [doc("otter secret", 100 + i, channel="CHIDDEN") for i in range(3)]
    docs += [doc("otter elsewhere", 200, team="T2", channel="COTHER")]
    index = filled(tmp_path, docs)
    visible = ("C0", "C1", "C2", "C3")
    team = [*visible, "CHIDDEN"]
    assert _hidden(index.pin(), visible, team) == ["CHIDDEN"]
    assert _hidden(index.pin(), ("CHIDDEN",), team) is None  # listing is cheaper there
    listed = hits(index, q("otter"), visible)
    complement = hits(index, q("otter"), visible, team_channels=team, searcher=index.pin())
    assert listed == complement == set(range(40))
    for sort in ({"by_score": False}, {"by_score": False, "descending": False}):
        assert hits(index, q("otter"), visible, team_channels=team, **sort) == listed
    # the workspace list missed CHIDDEN: its documents are left out of the page all the same
    request = req(q("secret"), visible, limit=10, cap=100, team_channels=list(visible))
    _total, found, _ = index.search(KIND_MESSAGE, request)
    assert found == [] and {h[0] for h in found} <= set(visible)
    index.close()
