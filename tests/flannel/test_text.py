"""Folding and word splitting: the contract the prefix index and its queries share."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flannel.text import _tokenize_unicode, fold, split_words, tokenize


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("José", "jose"),
        ("ÉMILE", "emile"),
        ("  Zoë   O'Brien \t", "zoe o'brien"),
        ("Straße", "strasse"),
        ("İstanbul", "istanbul"),
        ("\uff2a\uff4f\uff48\uff4e\u3000\uff33\uff4d\uff49\uff54\uff48", "john smith"),  # fullwidth (NFKD)
        ("e\u0301mile", "emile"),  # already decomposed
        ("Иван Петров", "иван петров"),
        ("日本", "日本"),
        # Latin letters without a Unicode decomposition are transliterated, as readers read them
        ("Søren Kierkegaard", "soren kierkegaard"),
        ("Łódź", "lodz"),
        ("Đorđe", "dorde"),
        ("Ægir Œuvre", "aegir oeuvre"),
        ("Þór", "thor"),
        ("Weiß", "weiss"),
        ("", ""),
        (" \t\n", ""),
    ],
)
def test_fold(text: str, folded: str) -> None:
    assert fold(text) == folded


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("John Smith", ["john", "smith"]),
        ("jean-luc.picard", ["jean", "luc", "picard"]),
        ("ops_team__eu", ["ops", "team", "eu"]),
        ("johnSmith", ["john", "smith"]),
        ("HTTPServer", ["http", "server"]),
        ("ÉmileZola", ["emile", "zola"]),
        ("user42Bot", ["user42", "bot"]),
        ("ALLCAPS", ["allcaps"]),
        ("_bot", ["bot"]),
        ("C-3PO", ["c", "3", "po"]),  # a digit then a capital starts a word, as in "user42Bot"
        ("Zoë (PTO)", ["zoe", "pto"]),
        ("Иван.Петров", ["иван", "петров"]),
        ("", []),
    ],
)
def test_split_words(text: str, words: list[str]) -> None:
    assert split_words(text) == words


def test_spans_index_the_folded_text_even_when_folding_changes_length() -> None:
    folded, spans = tokenize("Weiß Straße.Nord")
    assert folded == "weiss strasse.nord"
    assert [folded[a:b] for a, b in spans] == ["weiss", "strasse", "nord"]


ascii_text = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=127), max_size=20)
any_text = st.text(max_size=20)


@given(ascii_text)
def test_ascii_fast_path_agrees_with_unicode_path(text: str) -> None:
    assert tokenize(text) == _tokenize_unicode(text)


@given(any_text)
def test_tokenize_is_well_formed(text: str) -> None:
    folded, spans = tokenize(text)
    assert folded == folded.strip() and "  " not in folded
    ends = [0]
    for start, end in spans:
        assert ends[-1] <= start < end <= len(folded)
        ends.append(end)
    assert fold(text.upper()) == fold(text.lower()) or not text.isascii()


@given(any_text)
def test_fold_is_idempotent(text: str) -> None:
    assert fold(fold(text)) == fold(text)


def test_transliterated_names_split_into_whole_words() -> None:
    assert split_words("ÆgirSøren") == ["aegir", "soren"]
    assert split_words("Łukasz Żółć") == ["lukasz", "zolc"]


@given(any_text)
def test_fold_is_the_folded_text_of_tokenize(text: str) -> None:
    assert fold(text) == tokenize(text)[0]
