"""The fast canonical JSON path writes exactly the reference implementation's bytes."""

from __future__ import annotations

from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from verifier.signing.jcs import canonical_bytes

text = st.text(alphabet=st.characters(codec="utf-8"), max_size=12)
keys = st.text(alphabet=st.characters(codec="utf-8"), max_size=6)
scalars = st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | text
documents = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=30,
)


@settings(max_examples=600)
@given(documents)
def test_same_bytes_as_rfc8785(doc: Any) -> None:
    assert canonical_bytes(doc) == bytes(rfc8785.dumps(doc))


@pytest.mark.parametrize(
    "doc",
    [
        {"\U0001f600": 1, "\uffff": 2, "a": 3},  # UTF-16 vs code point key order differs
        {"k": '\u2028\u2029\x00\x1f\x7f"\\/'},  # escapes
        {"n": [True, False, None, 0, -0, "é家"]},
    ],
)
def test_edge_cases_match(doc: Any) -> None:
    assert canonical_bytes(doc) == bytes(rfc8785.dumps(doc))


def test_floats_are_refused_with_their_place() -> None:
    with pytest.raises(TypeError, match=r"\$\.a\[1\]"):
        canonical_bytes({"a": [1, 2.5]})


def test_integers_beyond_exact_doubles_are_refused_like_the_reference() -> None:
    for doc in ({"big": 2**53}, {"small": -(2**53)}):
        with pytest.raises(ValueError, match="safe integer"):
            rfc8785.dumps(doc)
        with pytest.raises(ValueError, match="safe integer"):
            canonical_bytes(doc)
