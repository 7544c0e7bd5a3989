"""Parsing Slack's search query language."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from origin.search import FROM_ME, SearchQuery, SearchQueryError, parse
from origin.search.query import fold, token_spans, tokens

TODAY = date(2024, 3, 1)
ARABIC_DATE = "on:\u0662\u0660\u0662\u0664-\u0660\u0661-\u0660\u0661"  # other digits


def us(y: int, m: int, d: int) -> int:
    """Start of a UTC day in microseconds."""
    return int(datetime(y, m, d, tzinfo=UTC).timestamp()) * 1_000_000


def p(q: str, today: date = TODAY) -> SearchQuery:
    return parse(q, today)


def error(q: str, today: date = TODAY) -> str:
    with pytest.raises(SearchQueryError) as exc:
        parse(q, today)
    return str(exc.value)


# --- words, phrases, exclusions ----------------------------------------------------------


def test_words_phrases_and_exclusions() -> None:
    q = p('deploy "build failed" -flaky -"known issue" Deploy')
    assert q.terms == ("deploy", "Deploy")
    assert q.phrases == ("build failed",)
    assert q.excluded == ("flaky", "known issue")
    assert q.positive == ("deploy", "Deploy", "build failed")
    assert not q.has_filters


def test_exact_duplicates_collapse_and_phrase_whitespace_is_normalized() -> None:
    q = p('a1 a1 "  x   y " "x y"')
    assert q.terms == ("a1",)
    assert q.phrases == ("x y",)


def test_words_keep_their_punctuation() -> None:
    assert p("e-mail don't v1.2").terms == ("e-mail", "don't", "v1.2")


def test_unicode_words() -> None:
    assert p("Café 日本語 हिन्दी").terms == ("Café", "日本語", "हिन्दी")


def test_unbalanced_quote_searches_the_rest_as_a_phrase() -> None:
    q = p('release "notes for  version 2')
    assert q.terms == ("release",)
    assert q.phrases == ("notes for version 2",)
    assert p('x -"broken build').excluded == ("broken build",)


def test_quote_inside_a_word_does_not_open_a_phrase() -> None:
    assert p('say"hello world"').terms == ('say"hello', 'world"')


def test_lone_dash_and_punctuation_are_ignored() -> None:
    q = p("release - -- ... !!! ___ -?")
    assert q.terms == ("release",)
    assert q.excluded == ()


def test_empty_phrases_are_ignored() -> None:
    assert p('release "" "?!" -""').phrases == ()


# --- literal fallbacks ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "word",
    ["foo:bar", "http://x.y", "https://example.com/in:foo", "login:alice", "10:30", "in", "a:"],
)
def test_unknown_modifiers_and_urls_are_words(word: str) -> None:
    assert p(word).terms == (word,)


def test_excluded_unknown_modifier_is_an_excluded_word() -> None:
    assert p("x -foo:bar").excluded == ("foo:bar",)


def test_modifier_inside_a_phrase_is_text() -> None:
    q = p('"in:#general from:@bob"')
    assert q.phrases == ("in:#general from:@bob",)
    assert not q.has_filters


# --- in: and from: ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("q", "channels", "users"),
    [
        ("in:#general", ("general",), ()),
        ("in:general", ("general",), ()),
        ("in:<#C123|general>", ("C123",), ()),
        ("in:<#C123>", ("C123",), ()),
        ("in:@alice", (), ("alice",)),
        ("in:<@U42>", (), ("U42",)),
        ("in:<@U42|alice>", (), ("U42",)),
        ("IN:#Random", ("Random",), ()),
        ("in:#general in:#random in:@bob in:#general", ("general", "random"), ("bob",)),
    ],
)
def test_in(q: str, channels: tuple[str, ...], users: tuple[str, ...]) -> None:
    parsed = p(q)
    assert (parsed.in_channels, parsed.in_users) == (channels, users)
    assert parsed.terms == ()
    assert parsed.has_filters


@pytest.mark.parametrize(
    ("q", "users"),
    [
        ("from:@alice", ("alice",)),
        ("from:alice", ("alice",)),
        ("from:<@U123>", ("U123",)),
        ("from:<@U123|alice>", ("U123",)),
        ("from:me", (FROM_ME,)),
        ("from:Me", (FROM_ME,)),
        ("from:@me", (FROM_ME,)),
        ("from:@alice from:@bob from:me from:@alice", ("alice", "bob", FROM_ME)),
    ],
)
def test_from(q: str, users: tuple[str, ...]) -> None:
    assert p(q).from_users == users


def test_modifiers_with_words() -> None:
    q = p('from:@alice deploy in:#ops "prod db" -staging')
    assert q == SearchQuery(
        terms=("deploy",),
        phrases=("prod db",),
        excluded=("staging",),
        in_channels=("ops",),
        from_users=("alice",),
    )


@pytest.mark.parametrize(
    ("q", "message"),
    [
        ("in:", "in: needs a channel"),
        ("in:#", 'in: "#" is not a channel (in:#channel) or a user (in:@user)'),
        ("in:<#C1", 'in: "<#C1" is not a channel'),
        ("in:<!here>", 'in: "<!here>" is not a channel'),
        ('in:"general"', "is not a channel"),
        ("in:#a#b", 'in: "#a#b" is not a channel'),
        ("from:", "from: needs a user (from:@user or from:me)"),
        ("from:#general", 'from: "#general" is not a user (from:@user or from:me)'),
        ("from:<#C1|x>", 'from: "<#C1|x>" is not a user'),
        ("from:@", 'from: "@" is not a user'),
    ],
)
def test_bad_in_and_from(q: str, message: str) -> None:
    assert message in error(q)


def test_empty_in_message() -> None:
    assert error("in:") == "in: needs a channel (in:#channel) or a user (in:@user)"


@pytest.mark.parametrize("q", ["-in:#general", "-from:@bob", "-has:link", "x -before:2024-01-01"])
def test_excluding_by_modifier_is_an_error(q: str) -> None:
    assert "excluding by a modifier is not supported" in error(q)


# --- has: and is: ----------------------------------------------------------------------------


def test_flags() -> None:
    q = p("has:link HAS:Reaction is:thread")
    assert (q.has_link, q.has_reaction, q.is_thread) == (True, True, True)
    assert q.has_filters
    assert p("has:link").has_reaction is False


@pytest.mark.parametrize(
    ("q", "message"),
    [
        ("has:pin", 'has: "pin" is not supported (has:link, has:reaction, has:file)'),
        ("has:", "has: needs a value (has:link, has:reaction, has:file)"),
        ("is:saved", 'is: "saved" is not supported (is:thread)'),
    ],
)
def test_bad_flags(q: str, message: str) -> None:
    assert error(q) == message


# --- dates -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("q", "ts_from", "ts_to"),
    [
        ("before:2024-05-10", None, us(2024, 5, 10)),
        ("after:2024-05-10", us(2024, 5, 11), None),
        ("on:2024-05-10", us(2024, 5, 10), us(2024, 5, 11)),
        ("during:2024-05-10", us(2024, 5, 10), us(2024, 5, 11)),
        ("during:2024-05", us(2024, 5, 1), us(2024, 6, 1)),
        ("during:2024", us(2024, 1, 1), us(2025, 1, 1)),
        ("on:2024-5-7", us(2024, 5, 7), us(2024, 5, 8)),
        # month ends and leap years
        ("after:2024-02-28", us(2024, 2, 29), None),
        ("after:2023-02-28", us(2023, 3, 1), None),
        ("on:2024-02-29", us(2024, 2, 29), us(2024, 3, 1)),
        ("during:2024-02", us(2024, 2, 1), us(2024, 3, 1)),
        ("during:2023-02", us(2023, 2, 1), us(2023, 3, 1)),
        ("during:1900-02", us(1900, 2, 1), us(1900, 3, 1)),
        ("during:2000-02", us(2000, 2, 1), us(2000, 3, 1)),
        ("after:2024-04-30", us(2024, 5, 1), None),
        ("after:2024-12-31", us(2025, 1, 1), None),
        ("during:2024-12", us(2024, 12, 1), us(2025, 1, 1)),
        ("on:2024-12-31", us(2024, 12, 31), us(2025, 1, 1)),
        # before the epoch: negative microseconds
        ("before:1969-12-31", None, -86_400_000_000),
        ("on:1970-01-01", 0, 86_400_000_000),
    ],
)
def test_dates(q: str, ts_from: int | None, ts_to: int | None) -> None:
    parsed = p(q)
    assert (parsed.ts_from, parsed.ts_to) == (ts_from, ts_to)
    assert parsed.has_filters


def test_leap_year_lengths() -> None:
    for year, days in [(2024, 366), (2023, 365), (2000, 366), (1900, 365)]:
        q = p(f"during:{year}")
        assert q.ts_from is not None and q.ts_to is not None
        assert q.ts_to - q.ts_from == days * 86_400_000_000


def test_extreme_years() -> None:
    q = p("after:9999-12-31 during:9999")
    assert q.ts_from is not None and q.ts_to is not None and q.ts_from == q.ts_to
    assert p("during:0001").ts_from == us(1, 1, 1)


def test_today_and_yesterday() -> None:
    assert p("on:today") == p("on:2024-03-01")
    assert p("on:Yesterday") == p("on:2024-02-29")
    assert p("after:yesterday") == p("after:2024-02-29")
    assert p("before:TODAY") == p("before:2024-03-01")
    assert p("during:today") == p("on:2024-03-01")
    assert p("on:yesterday", date(2025, 1, 1)) == p("on:2024-12-31")


def test_dates_intersect() -> None:
    q = p("after:2024-01-01 before:2024-02-01 during:2024")
    assert (q.ts_from, q.ts_to) == (us(2024, 1, 2), us(2024, 2, 1))
    q = p("during:2024-02 on:2024-02-10")
    assert (q.ts_from, q.ts_to) == (us(2024, 2, 10), us(2024, 2, 11))
    q = p("before:2024-06-01 before:2024-03-01 after:2023-01-01 after:2023-06-01")
    assert (q.ts_from, q.ts_to) == (us(2023, 6, 2), us(2024, 3, 1))


def test_disjoint_dates_give_an_empty_range() -> None:
    q = p("after:2024-05-01 before:2024-05-01")
    assert q.ts_from is not None and q.ts_to is not None and q.ts_from > q.ts_to


@pytest.mark.parametrize(
    ("q", "message"),
    [
        ("before:2024-13-40", 'before: "2024-13-40" is not a date (YYYY-MM-DD)'),
        ("after:2023-02-29", 'after: "2023-02-29" is not a date (YYYY-MM-DD)'),
        ("on:2024-04-31", 'on: "2024-04-31" is not a date (YYYY-MM-DD)'),
        ("on:0000-01-01", 'on: "0000-01-01" is not a date (YYYY-MM-DD)'),
        ("on:2024/01/01", 'on: "2024/01/01" is not a date (YYYY-MM-DD)'),
        ("on:2024-01", 'on: "2024-01" is not a date (YYYY-MM-DD)'),
        ("before:2024", 'before: "2024" is not a date (YYYY-MM-DD)'),
        ("on:tomorrow", 'on: "tomorrow" is not a date (YYYY-MM-DD)'),
        ("on:", "on: needs a date (YYYY-MM-DD)"),
        (ARABIC_DATE, f'on: "{ARABIC_DATE[3:]}" is not a date (YYYY-MM-DD)'),
        ("during:2024-13", 'during: "2024-13" is not a date (YYYY-MM-DD, YYYY-MM or YYYY)'),
        ("during:2024-00", 'during: "2024-00" is not a date (YYYY-MM-DD, YYYY-MM or YYYY)'),
        ("during:0000", 'during: "0000" is not a date (YYYY-MM-DD, YYYY-MM or YYYY)'),
        ("during:june", 'during: "june" is not a date (YYYY-MM-DD, YYYY-MM or YYYY)'),
        ("during:2024-02-30", 'during: "2024-02-30" is not a date (YYYY-MM-DD, YYYY-MM or YYYY)'),
        ("during:", "during: needs a date (YYYY-MM-DD, YYYY-MM or YYYY)"),
        ("deploy before:yesterday", None),
    ],
)
def test_bad_dates(q: str, message: str | None) -> None:
    if message is None:  # a valid neighbour, to be sure the table is not all errors
        assert p(q).ts_to == us(2024, 2, 29)
    else:
        assert error(q) == message


def test_yesterday_of_the_first_day_is_an_error() -> None:
    assert "is not a date" in error("on:yesterday", date.min)


# --- empty queries ---------------------------------------------------------------------------


@pytest.mark.parametrize("q", ["", "   ", "\t\n", "-", '""', "...", "- -- ?"])
def test_empty_query_is_an_error(q: str) -> None:
    assert error(q) == "search query is empty"


def test_only_excluded_words_is_an_error() -> None:
    assert "only excluded words" in error('-flaky -"known issue"')


@pytest.mark.parametrize(
    "q", ["from:@alice in:#general", "has:link", "is:thread", "on:today", "-flaky in:#ops"]
)
def test_filters_without_words_are_valid(q: str) -> None:
    parsed = p(q)
    assert parsed.positive == () and parsed.has_filters


# --- tokens ------------------------------------------------------------------------------------


def test_tokens_fold_case_and_accents() -> None:
    assert tokens("Café CAFÉ cafe\u0301 İstanbul Ǆ") == ("cafe", "cafe", "cafe", "istanbul", "ǆ")


def test_tokens_split_on_punctuation_and_underscore() -> None:
    assert tokens("e-mail foo_bar don't <@U1|bob> x.y/z") == (
        "e",
        "mail",
        "foo",
        "bar",
        "don",
        "t",
        "u1",
        "bob",
        "x",
        "y",
        "z",
    )


def test_tokens_keep_marks_inside_words() -> None:
    assert tokens("हिन्दी भाषा") == ("हिन्दी", "भाषा")
    assert tokens("日本語テキスト です") == ("日本語テキスト", "です")
    assert fold("한국어") == "한국어"


def test_token_spans_with_underscore() -> None:
    assert token_spans("foo_bar baz", underscore=True) == [(0, 7), (8, 11)]
    assert token_spans("föo_bar", underscore=True) == [(0, 7)]
    assert token_spans("föo_bar") == [(0, 3), (4, 7)]


def test_ascii_and_unicode_paths_agree() -> None:
    text = "Hello, wörld_x 42 a-b"
    ascii_text = text.replace("ö", "o")
    assert token_spans(text) == token_spans(ascii_text)
    assert token_spans(text, underscore=True) == token_spans(ascii_text, underscore=True)


# --- properties --------------------------------------------------------------------------------

_QUERYISH = st.text(
    alphabet=st.sampled_from(list('abcXYZé1 -":#@<>|_.*()^in:from:before:during:has:is:on:'))
    | st.characters(),
    max_size=60,
)


@given(_QUERYISH, st.dates())
def test_parse_raises_only_search_query_error(q: str, today: date) -> None:
    try:
        parsed = parse(q, today)
    except SearchQueryError as exc:
        assert str(exc)
    else:
        assert parsed.positive or parsed.has_filters
        assert all(tokens(w) for w in parsed.positive + parsed.excluded)


_WORD = st.from_regex(r"[a-z][a-z0-9]{0,8}", fullmatch=True).filter(
    lambda w: w not in ("in", "from", "before", "after", "on", "during", "has", "is")
)


@given(st.lists(_WORD, min_size=1, max_size=6), st.lists(_WORD, max_size=3))
def test_plain_words_round_trip(words: list[str], excluded: list[str]) -> None:
    q = parse(" ".join(words + [f"-{w}" for w in excluded]), TODAY)
    assert q.terms == tuple(dict.fromkeys(words))
    assert q.excluded == tuple(dict.fromkeys(excluded))
