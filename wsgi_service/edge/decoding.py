"""Strict JSON decoding of request bodies.

Python's ``json`` accepts more than JSON: ``NaN`` and ``Infinity`` tokens,
duplicate keys (last one wins silently) and integers it then refuses to
convert (over 4,300 digits). Here those are refused or made harmless, so that
what reaches validation is plain JSON data.
"""

import json

from wsgi_service.errors import MalformedJson


class _Refused(ValueError):
    """Raised from inside the decoder's hooks; becomes a 400."""


def _refuse_constant(token: str):
    raise _Refused(f"{token} is not a JSON number")


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen = set()
        duplicate = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise _Refused(f"duplicate object key {duplicate[:64]!r}")
    return obj


def _integer(digits: str) -> int | float:
    """An integer token, exactly; one too long for int() (over 4,300 digits
    raises ValueError) is far beyond any float, so it becomes inf, which the
    contract's bounds then reject with a pointer."""
    return int(digits) if len(digits) <= _LONGEST_EXACT_INTEGER else float(digits)


_LONGEST_EXACT_INTEGER = 400  # digits; 1e400 is already past the largest float
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant, parse_int=_integer,
                            object_pairs_hook=_unique_keys)


def decode_json(data: bytes) -> object:
    """Decode a UTF-8 JSON document or raise ``MalformedJson`` saying where it broke."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise MalformedJson(f"The body is not UTF-8: invalid byte at offset {error.start}.",
                            errors=[("", "not UTF-8")]) from None
    try:
        return _DECODER.decode(text)
    except json.JSONDecodeError as error:
        message = f"{error.msg} (line {error.lineno}, column {error.colno})"
    except _Refused as error:
        message = str(error)
    except RecursionError:
        message = "nesting too deep to decode"
    raise MalformedJson(f"The body is not valid JSON: {message}.", errors=[("", message)])
