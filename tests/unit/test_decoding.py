"""Strict JSON decoding: plain JSON data through, everything else a 400 problem saying where it broke."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wsgi_service.edge.decoding import decode_json
from wsgi_service.errors import MalformedJson

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20)


@given(json_values)
def test_plain_json_decodes_to_what_was_encoded(value):
    assert decode_json(json.dumps(value).encode()) == value


@pytest.mark.parametrize("data, message", [
    (b"\xff[1]", "not UTF-8: invalid byte at offset 0"),
    (b"[1,", "Expecting value"),
    (b"[NaN]", "NaN is not a JSON number"),
    (b"[Infinity]", "Infinity is not a JSON number"),
    (b"[-Infinity]", "-Infinity is not a JSON number"),
    (b'{"a": 1, "a": 2}', "duplicate object key 'a'"),
    (b"[" * 100_000 + b"]" * 100_000, "nesting too deep to decode"),
    (b"", "Expecting value"),
], ids=["not-utf8", "truncated", "nan", "infinity", "minus-infinity", "duplicate-key", "too-deep", "empty"])
def test_what_is_not_plain_json_is_refused_saying_why(data, message):
    with pytest.raises(MalformedJson) as refused:
        decode_json(data)
    assert message in refused.value.detail
    assert refused.value.status == 400 and refused.value.errors


def test_integers_are_exact_and_far_too_long_ones_become_infinite():
    assert decode_json(b"[12345678901234567890123]") == [12345678901234567890123]
    assert decode_json(b"[" + b"7" * 400 + b"]") == [int("7" * 400)]
    assert decode_json(b"[" + b"7" * 5_000 + b"]") == [float("inf")]
    assert decode_json(b"[-" + b"7" * 5_000 + b"]") == [float("-inf")]


def test_a_duplicate_key_is_named_only_by_a_bounded_excerpt():
    key = "k" * 1_000
    with pytest.raises(MalformedJson) as refused:
        decode_json(('{"%s": 1, "%s": 2}' % (key, key)).encode())
    assert len(refused.value.detail) < 200
