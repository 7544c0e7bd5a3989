"""PrefixIndex: ranking, folding, maintenance and a property test against a brute-force oracle."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flannel import prefix_index
from flannel.prefix_index import PrefixIndex
from flannel.text import tokenize


def index_of(items: dict[str, Sequence[str]]) -> PrefixIndex[str]:
    index: PrefixIndex[str] = PrefixIndex()
    for key, fields in items.items():
        index.add(key, fields)
    return index


def test_exact_then_prefix_then_word_prefix() -> None:
    index = index_of(
        {
            "U_word": ["zed", "", "Anna Smith"],
            "U_prefix": ["smithers"],
            "U_exact": ["smith"],
            "U_camel": ["bigSmith"],
        }
    )
    assert index.search("smith") == ["U_exact", "U_prefix", "U_camel", "U_word"]
    assert index.search("smi") == ["U_exact", "U_prefix", "U_camel", "U_word"]
    assert index.search("nobody") == []


def test_within_a_rank_shorter_field_then_field_then_key() -> None:
    index = index_of({"U3": ["anne"], "U2": ["ann b"], "U1": ["ann b"], "U0": ["ann c"], "U9": ["annabel"]})
    assert index.search("ann") == ["U3", "U1", "U2", "U0", "U9"]
    index = index_of({"U1": ["Zed Anna-Maria"], "U2": ["Al Annie"], "U3": ["Al Anna"]})
    assert index.search("ann") == ["U3", "U2", "U1"]


def test_a_key_appears_once_at_its_best_rank() -> None:
    index = index_of({"U1": ["bob.smith", "Bob", "Bob Smith"], "U2": ["bobby"]})
    assert index.search("bob") == ["U1", "U2"]
    assert index.search("smith") == ["U1"]


def test_case_and_accent_insensitive_both_ways() -> None:
    index = index_of({"U1": ["José Núñez"], "U2": ["emile"], "U3": ["ZOË"]})
    assert index.search("jose") == ["U1"]
    assert index.search("JOSÉ NÚ") == ["U1"]
    assert index.search("nunez") == ["U1"]
    assert index.search("ÉMILE") == ["U2"]
    assert index.search("zoe") == ["U3"]


def test_query_may_span_words() -> None:
    index = index_of({"U1": ["Mary Jane Watson"], "U2": ["mary.jane"]})
    assert index.search("mary  jane") == ["U1"]
    assert index.search("jane wat") == ["U1"]
    assert index.search("mary.j") == ["U2"]


def test_empty_or_blank_prefix_returns_nothing() -> None:
    index = index_of({"U1": ["alice"]})
    assert index.search("") == []
    assert index.search("  \t") == []


@pytest.mark.parametrize("limit", [0, -1, True, 1.5, None])
def test_limit_is_validated(limit: object) -> None:
    with pytest.raises(ValueError):
        index_of({"U1": ["alice"]}).search("a", limit=limit)  # type: ignore[arg-type]


def test_limit_truncates_in_rank_order() -> None:
    index = index_of({f"U{i:02d}": [f"dev{i:02d}"] for i in range(30)})
    assert index.search("dev", limit=3) == ["U00", "U01", "U02"]
    assert index.search("dev", limit=1) == ["U00"]
    assert len(index.search("dev", limit=100)) == 30


def test_filter_still_fills_the_limit_and_is_called_once_per_key() -> None:
    index = index_of({f"U{i:02d}": [f"dev{i:02d}", f"Dev Person{i}"] for i in range(30)})
    calls: list[str] = []

    def odd(key: str) -> bool:
        calls.append(key)
        return int(key[1:]) % 2 == 1

    assert index.search("dev", limit=5, filter=odd) == ["U01", "U03", "U05", "U07", "U09"]
    assert len(calls) == len(set(calls)) == 10
    assert index.search("person", limit=5, filter=odd) == ["U01", "U03", "U05", "U07", "U09"]
    assert index.search("dev", filter=lambda key: False) == []


def test_search_stops_once_the_limit_is_filled() -> None:
    index: PrefixIndex[int] = PrefixIndex()
    index.add_many((i, [f"user{i}", f"Zed Quinn{i}"]) for i in range(5000))
    calls = 0

    def count(key: int) -> bool:
        nonlocal calls
        calls += 1
        return True

    assert index.search("u", filter=count) == list(range(10))
    assert calls == 10
    calls = 0
    assert index.search("quinn", filter=count) == list(range(10))
    assert calls == 10


def test_update_moves_an_item() -> None:
    index = index_of({"U1": ["alice", "Zed"], "U2": ["alicent"]})
    index.update("U1", ["carol", "Zed"])
    assert index.search("alice") == ["U2"]
    assert index.search("carol") == index.search("zed") == ["U1"]
    index.update("U1", ["Big Alice"])
    assert index.search("ali") == ["U2", "U1"]  # word prefix now ranks after prefix
    assert index.search("zed") == []
    index.update("U1", ["ali"])
    assert index.search("ali") == ["U1", "U2"]  # exact first
    index.update("U1", ["ali"])  # unchanged: a no-op
    index.update("U3", ["alia"])  # absent: added
    assert index.search("ali") == ["U1", "U3", "U2"]
    assert len(index) == 3


def test_remove_add_contains_len() -> None:
    index = index_of({"U1": ["alice"], "U2": ["alice"]})
    assert len(index) == 2 and "U1" in index and "U9" not in index
    index.remove("U1")
    assert index.search("alice") == ["U2"]
    assert "U1" not in index and len(index) == 1
    with pytest.raises(KeyError):
        index.remove("U1")
    with pytest.raises(ValueError):
        index.add("U2", ["again"])
    index.add("U1", ["alice"])
    assert index.search("alice") == ["U1", "U2"]


def test_order_does_not_depend_on_insertion_order_or_bulk_loading() -> None:
    rng = random.Random(7)
    names = ["ann", "Ann", "anne", "Ann Lee", "lee ann", "ánn", "an.n", "AnnLee", "x"]
    items = [(f"U{i}", [rng.choice(names), rng.choice(names)]) for i in range(60)]
    one: PrefixIndex[str] = PrefixIndex()
    for key, fields in items:
        one.add(key, fields)
    rng.shuffle(items)
    two: PrefixIndex[str] = PrefixIndex()
    two.add_many(items[:30])
    two.add_many(items[30:])
    for query in ["a", "an", "ann", "lee", "ann l", "x", "n"]:
        assert one.search(query, limit=100) == two.search(query, limit=100)
    assert one.estimate_bytes() == two.estimate_bytes()


def test_estimate_bytes_tracks_contents() -> None:
    index: PrefixIndex[str] = PrefixIndex()
    assert index.estimate_bytes() == 0
    index.add("U1", ["alice", "Alice Liddell"])
    one = index.estimate_bytes()
    assert one > 100
    index.add("U2", ["bob", "Bob Builder"])
    assert index.estimate_bytes() > one
    index.update("U1", ["alice", "Alice Liddell"])
    index.remove("U2")
    assert index.estimate_bytes() == one
    index.remove("U1")
    assert index.estimate_bytes() == 0


def test_prefix_ending_in_the_last_code_point() -> None:
    top = chr(0x10FFFF)
    index = index_of({"U1": [f"a{top}b"], "U2": [f"a{top}"], "U3": ["ab"]})
    assert index.search(f"a{top}") == ["U2", "U1"]


# --- property test against a brute-force oracle ------------------------------------------------


def oracle(
    items: dict[int, list[str]], prefix: str, limit: int, keep: Callable[[int], bool] | None
) -> list[int]:
    """The spec, literally: rank every field of every item, then sort."""
    query = tokenize(prefix)[0]
    if not query:
        return []
    best: dict[int, tuple[int, int, str]] = {}
    for key, fields in items.items():
        for text in fields:
            field, spans = tokenize(text)
            if not field:
                continue
            if field == query:
                rank = 0
            elif field.startswith(query):
                rank = 1
            elif any(field[start:].startswith(query) for start, _ in spans if start > 0):
                rank = 2
            else:
                continue
            candidate = (rank, len(field), field)
            if key not in best or candidate < best[key]:
                best[key] = candidate
    ranked = sorted(best, key=lambda key: (best[key], key))
    return [key for key in ranked if keep is None or keep(key)][:limit]


names = st.text(alphabet="aAbBéÉß .-_", max_size=7)
fields_st = st.lists(names, max_size=3)
keys = st.integers(0, 12)
ops: st.SearchStrategy[tuple[str, int, list[str]]] = st.one_of(
    st.tuples(st.just("update"), keys, fields_st),
    st.tuples(st.just("remove"), keys, st.just([])),
    st.tuples(st.just("search"), st.integers(1, 6), st.lists(st.text("aAbé .-_B", max_size=4), max_size=1)),
)


@settings(max_examples=250, deadline=None)
@given(
    initial=st.dictionaries(keys, fields_st, max_size=10),
    operations=st.lists(ops, max_size=30),
    modulus=st.integers(1, 3),
)
def test_matches_brute_force_oracle(
    initial: dict[int, list[str]], operations: list[tuple[str, int, list[str]]], modulus: int
) -> None:
    index: PrefixIndex[int] = PrefixIndex()
    index.add_many(initial.items())
    model = dict(initial)

    def keep(key: int) -> bool:
        return key % modulus == 0

    for op, number, texts in operations:
        if op == "update":
            index.update(number, texts)
            model[number] = texts
        elif op == "remove":
            if number in model:
                index.remove(number)
                del model[number]
            else:
                with pytest.raises(KeyError):
                    index.remove(number)
        else:
            prefix = texts[0] if texts else "a"
            expected = oracle(model, prefix, number, None)
            assert index.search(prefix, number) == expected
            assert index.search(prefix, number) == expected  # kept, until the index changes
            assert index.search(prefix, number, keep) == oracle(model, prefix, number, keep)
    assert len(index) == len(model)
    assert all(key in index for key in model)
    fresh: PrefixIndex[int] = PrefixIndex()
    fresh.add_many(model.items())
    assert index.estimate_bytes() == fresh.estimate_bytes()
    for prefix in ["a", "b", "é", "ab", "a b", "ss", ".", "-a", "_"]:
        assert index.search(prefix, 20) == oracle(model, prefix, 20, None)


def test_letters_without_a_decomposition_are_found_by_their_ascii_reading() -> None:
    index = index_of({"U1": ["Søren Kierkegaard"], "U2": ["Łódź Office"], "U3": ["Ægir"], "U4": ["Sorel"]})
    assert set(index.search("Sor")) == {"U1", "U4"}
    assert index.search("lodz") == ["U2"]
    assert index.search("Łód") == ["U2"]
    assert index.search("aeg") == ["U3"]
    assert index.search("søren") == ["U1"]


def test_kept_answers_are_dropped_by_every_change_and_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    index = index_of({"U1": ["anna"], "U2": ["annabel"]})
    first = index.search("ann")
    first.append("tampered")  # a caller's copy: what is kept is not touched
    assert index.search("ann") == ["U1", "U2"]
    index.add("U3", ["ann"])
    assert index.search("ann") == ["U3", "U1", "U2"]
    index.update("U2", ["bel"])
    assert index.search("ann") == ["U3", "U1"]
    index.remove("U3")
    assert index.search("ann") == ["U1"]
    index.add_many([("U4", ["annie"])])
    assert index.search("ann") == ["U1", "U4"]
    assert index.search("ann", 1) == ["U1"]  # the limit is part of what is kept
    monkeypatch.setattr(prefix_index, "MEMO_SEARCHES", 3)
    for prefix in ["a", "an", "ann", "anni", "b"]:
        index.search(prefix)
    assert len(index._memo) == 3 and index.search("anni") == ["U4"]
