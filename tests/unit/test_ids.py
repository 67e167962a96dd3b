"""Prefixed, time-sortable ids in Crockford base32."""

from __future__ import annotations

import itertools
import time
from typing import get_args

import pytest

from app.domain.ids import IdPrefix, looks_like_id, new_id

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
PREFIXES: tuple[IdPrefix, ...] = get_args(IdPrefix)
BODY_LENGTH = 26
TIMESTAMP_CHARS = 10


def _decode(chars: str) -> int:
    value = 0
    for char in chars:
        value = value * 32 + CROCKFORD.index(char)
    return value


def test_design_prefixes_are_all_supported() -> None:
    assert {"pi", "re", "evt", "we", "mer", "att"} <= set(PREFIXES)


@pytest.mark.parametrize("prefix", PREFIXES)
def test_shape(prefix: IdPrefix) -> None:
    value = new_id(prefix)
    head, sep, body = value.partition("_")
    assert head == prefix
    assert sep == "_"
    assert len(body) == BODY_LENGTH
    assert set(body) <= set(CROCKFORD)
    # 128 bits in 130: the leading character carries at most 3 bits.
    assert body[0] in "01234567"


@pytest.mark.parametrize("prefix", PREFIXES)
def test_new_id_looks_like_id(prefix: IdPrefix) -> None:
    assert looks_like_id(prefix, new_id(prefix))


def test_crockford_alphabet_excludes_ambiguous_letters() -> None:
    bodies = "".join(new_id("pi")[3:] for _ in range(500))
    assert not set(bodies) & set("ILOU")
    assert bodies == bodies.upper()


def test_ids_are_unique() -> None:
    ids = [new_id("evt") for _ in range(5000)]
    assert len(set(ids)) == len(ids)


def test_timestamp_prefix_is_creation_time_in_ms() -> None:
    before = time.time_ns() // 1_000_000
    body = new_id("pi")[3:]
    after = time.time_ns() // 1_000_000
    assert before <= _decode(body[:TIMESTAMP_CHARS]) <= after


def test_ids_in_sequence_are_non_decreasing_by_timestamp() -> None:
    heads = [new_id("pi")[3 : 3 + TIMESTAMP_CHARS] for _ in range(5000)]
    assert heads == sorted(heads)
    for earlier, later in itertools.pairwise(heads):
        assert _decode(earlier) <= _decode(later)


@pytest.mark.parametrize(
    ("prefix", "candidate"),
    [
        ("pi", "pi_01JD0000000000000000000000"),
        ("evt", "evt_7ZZZZZZZZZZZZZZZZZZZZZZZZZ"),
        ("mer", "mer_0123456789ABCDEFGHJKMNPQRS"),
    ],
)
def test_looks_like_id_accepts(prefix: IdPrefix, candidate: str) -> None:
    assert looks_like_id(prefix, candidate)


@pytest.mark.parametrize(
    ("prefix", "candidate"),
    [
        ("pi", "re_01JD0000000000000000000000"),  # other prefix
        ("pi", "pix_01JD0000000000000000000000"),  # prefix only starts the same
        ("pi", "pi01JD0000000000000000000000"),  # no separator
        ("pi", "pi_01JD000000000000000000000"),  # 25 characters
        ("pi", "pi_01JD00000000000000000000000"),  # 27 characters
        ("pi", "pi_01jd0000000000000000000000"),  # lower case
        ("pi", "pi_01JI0000000000000000000000"),  # I is not Crockford
        ("pi", "pi_01JL0000000000000000000000"),  # L
        ("pi", "pi_01JO0000000000000000000000"),  # O
        ("pi", "pi_01JU0000000000000000000000"),  # U
        ("pi", "pi_01JD000000000000000000000-"),
        ("pi", ""),
        ("pi", "pi_"),
    ],
)
def test_looks_like_id_rejects(prefix: IdPrefix, candidate: str) -> None:
    assert not looks_like_id(prefix, candidate)


def test_looks_like_id_rejects_id_of_another_kind() -> None:
    assert not looks_like_id("re", new_id("pi"))
