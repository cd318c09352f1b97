"""The drain's and the tail reader's rows of a value (:class:`RowDecoder`'s fast path) are exactly
what :func:`decode` says of it."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chaos.workloads.envelope import RowDecoder, Status, decode, encode, producer_tag

TRICKY = st.sampled_from([b"0", b"A", b"F", b";", b"_", b"00", b"-", b"\xd9\xa3", b"k"])


def _reference(value: bytes | None, key: bytes | None) -> tuple[int, int, int]:
    d = decode(value, "run-1", key)
    return (producer_tag(d.producer) if d.status == Status.VALID else 0), d.seq, int(d.status)


@settings(max_examples=400, deadline=None)
@given(
    st.integers(min_value=0, max_value=10**7),
    st.sampled_from(["p0", "p1", "px-9"]),
    st.one_of(st.none(), st.binary(max_size=4)),
    st.lists(st.tuples(st.integers(min_value=0, max_value=80), st.one_of(st.binary(max_size=3), TRICKY)), max_size=3),
    st.booleans(),
)
def test_the_fast_rows_are_exactly_decodes(
    seq: int, producer: str, key: bytes | None, edits: list[tuple[int, bytes]], wrong_key: bool
) -> None:
    """Valid envelopes, and envelopes with bytes replaced or inserted anywhere (a digit, a hex
    letter in upper case, a separator, a leading zero), read with their key or another: the
    drain's rows from :class:`RowDecoder` are :func:`decode`'s, whether its producer is known yet
    or not."""
    rows = RowDecoder("run-1")
    rows(encode("run-1", producer, 1, b"seen"), None)  # the producer known: the fast path
    value = encode("run-1", producer, seq, b"payload", key)
    for at, new in edits:
        value = value[:at] + new + value[at + len(new) :]
    read_with = (key or b"") + b"!" if wrong_key else key
    assert rows(value, read_with) == _reference(value, read_with)
    assert RowDecoder("run-1")(value, read_with) == _reference(value, read_with)


@pytest.mark.parametrize(
    "value",
    [
        b"kc2;run-1;p0;07;00000000;x",  # a leading zero
        b"kc2;run-1;p0;-7;00000000;x",
        b"kc2;run-1;p0;7;0000000G;x",
        b"kc2;run-1;p0;7;DEADBEEF;x",  # upper case
        b"kc2;run-1;p0;7;dead_bee;x",  # what int() takes and decode does not
        b"kc2;run-1;p0;\xd9\xa3;00000000;x",
        b"kc2;run-2;p0;7;00000000;x",
        b"kc2;run-1;p0;7",
        b"hello",
    ],
)
def test_spellings_decode_refuses_are_refused_by_the_fast_path_too(value: bytes) -> None:
    rows = RowDecoder("run-1")
    rows(encode("run-1", "p0", 1, b"seen"), None)
    assert rows(value, None) == _reference(value, None)
    ok = encode("run-1", "p0", 7, b"x")
    fixed = ok.replace(b";7;", b";07;")
    assert rows(fixed, None)[2] == Status.CORRUPTED
