"""Strict JSON decoding: a key repeated in one object is found, with its path."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.api.input_rules import duplicate_key

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=12,
)


@pytest.mark.parametrize(
    ("body", "path"),
    [
        (b'{"amount": 1, "amount": 2}', "amount"),
        (b'{"a": {"b": 1, "c": {"d": 1, "d": 1}}}', "a.c.d"),
        (b'{"items": [{"x": 1}, {"y": 1, "y": 2}]}', "items.1.y"),
        (b'[{"k": 1, "k": 1}]', "0.k"),
        (b'{"": 1, "": 2}', ""),
    ],
)
def test_a_repeated_key_is_named_by_its_path(body: bytes, path: str) -> None:
    assert duplicate_key(body) == path


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b'{"amount": 1, "currency": "BRL"}',
        b'{"a": {"k": 1}, "b": {"k": 1}}',  # the same key in two objects is fine
        b'{"amount": 19',  # not JSON: left to the route
        b"[" * 100_000,  # nested deeper than the parser goes
        b"[" * 900 + b"]" * 900,
    ],
)
def test_no_repeated_key(body: bytes) -> None:
    assert duplicate_key(body) is None


@settings(max_examples=50)
@given(json_values)
def test_json_written_from_a_dict_has_no_repeated_key(value: Any) -> None:
    assert duplicate_key(json.dumps(value).encode()) is None


@settings(max_examples=50)
@given(st.dictionaries(st.text(max_size=3), json_values, min_size=1), st.data())
def test_writing_a_key_again_is_found(document: dict[str, Any], data: st.DataObject) -> None:
    key = data.draw(st.sampled_from(sorted(document)))
    written = json.dumps(document)
    repeated = written[:-1] + ", " + json.dumps(key) + ": null}"
    assert duplicate_key(repeated.encode()) == key
