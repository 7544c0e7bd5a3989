"""Marking matched words the way Slack's highlight=true does."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from origin.search import HIGHLIGHT_END, HIGHLIGHT_START, SearchQuery, highlight, matches, parse

S, E = HIGHLIGHT_START, HIGHLIGHT_END


def h(text: str, query: str) -> str:
    return highlight(text, parse(query, date(2024, 3, 1)))


@pytest.mark.parametrize(
    ("text", "query", "expected"),
    [
        ("deploy now", "deploy", f"{S}deploy{E} now"),
        ("Deploy, DEPLOY; deploy!", "deploy", f"{S}Deploy{E}, {S}DEPLOY{E}; {S}deploy{E}!"),
        ("the category of cats", "cat", "the category of cats"),
        ("a cat-like cat", "cat", f"a {S}cat{E}-like {S}cat{E}"),
        ("Café crème", "cafe", f"{S}Café{E} crème"),
        ("cafe\u0301!", "CAFÉ", f"{S}cafe\u0301{E}!"),
        ("the build failed, build it", '"build failed"', f"the {S}build failed{E}, build it"),
        ("send an E-Mail", "e-mail", f"send an {S}E-Mail{E}"),
        ("build  failed", '"build failed"', f"{S}build  failed{E}"),
        ("hello world", "hello world", f"{S}hello{E} {S}world{E}"),
        # overlapping matches merge into one span
        ("big red dog", '"big red" "red dog"', f"{S}big red dog{E}"),
        ("big red dog", '"big red" red', f"{S}big red{E} dog"),
        # exclusions and filters mark nothing
        ("deploy flaky", "deploy -flaky", f"{S}deploy{E} flaky"),
        ("deploy", "from:@alice", "deploy"),
        ("日本語テキスト です", "です", f"日本語テキスト {S}です{E}"),
    ],
)
def test_highlight(text: str, query: str, expected: str) -> None:
    assert h(text, query) == expected


def test_slack_markup_and_escapes_are_left_intact() -> None:
    text = "see <https://example.com/deploy|deploy docs> &amp; <@U1|deploy> deploy &lt;b&gt;"
    assert h(text, "deploy") == text.replace(" deploy &lt;", f" {S}deploy{E} &lt;")
    assert h(text, "amp") == text
    assert h("a &lt; b", "lt") == "a &lt; b"


def test_custom_markers() -> None:
    q = parse("deploy", date(2024, 3, 1))
    assert highlight("deploy it", q, start="<b>", end="</b>") == "<b>deploy</b> it"


def test_no_match_returns_text_unchanged() -> None:
    assert h("nothing here", "deploy") == "nothing here"
    assert highlight("x", SearchQuery(terms=("!!!",))) == "x"


_TEXT = st.text(alphabet=st.sampled_from(list("abcé AB-_.<>|&;\u0301")) | st.characters(), max_size=60)
_WORDS = st.lists(st.sampled_from(["a", "b", "ab", "é", "e", "a-b", "A B"]), min_size=1)


@given(_TEXT, _WORDS)
def test_markers_are_balanced_and_removable(text: str, words: list[str]) -> None:
    query = SearchQuery(terms=tuple(words))
    marked = highlight(text.replace(S, "").replace(E, ""), query)
    plain = marked.replace(S, "").replace(E, "")
    assert plain == text.replace(S, "").replace(E, "")
    depth = 0
    for ch in marked:
        depth += (ch == S) - (ch == E)
        assert depth in (0, 1)
    assert depth == 0


@given(_TEXT, _WORDS)
def test_every_term_of_a_matching_text_is_marked_unless_in_markup(text: str, words: list[str]) -> None:
    text = text.replace(S, "").replace(E, "")
    query = SearchQuery(terms=tuple(words))
    if matches(query, text) and "<" not in text and "&" not in text:
        assert S in highlight(text, query)
