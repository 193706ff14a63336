"""Hostile bytes at a live gunicorn: what fuzzers, broken clients and attackers send to /predict.

Hypothesis draws random bytes, JSON-like byte soup, and valid bodies mutated
(bits flipped, bytes inserted or deleted, cut short, re-encoded in UTF-16 or
with a byte order mark), under media types a client might claim, sent with a
Content-Length or chunked at random boundaries. Tables cover what random
bytes never reach: every float edge, overlong integers, nesting 500,000
deep, duplicate keys, bodies at and just over the size limit, and chunked
framing that is itself broken.

A body is judged by a reference, as in test_properties: the standard
library's strict decoding and the contract's request schema under
jsonschema. Sent as application/json, the server must answer 200 exactly
when the reference says valid, 400 when it cannot decode the body and 422
when the body decodes but breaks the contract; any other media type gets
415. Never a 5xx, every error a problem, and after each test the server
still answers /health and predicts the README's example. Wherever a route's
request schema declares an integer (the V2 shape, binary_data_size), the
number written as a float (``2.0``, ``2e0``, ``0.2E1``) is answered as the
integer is.
"""

import json
import math
import re
import socket
from urllib.parse import urlsplit

import numpy as np
import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from contract import at, load_contract, pointer_to, schema_validator
from tests.support.contract_strategies import (float_spellings, integer_sites, site_request, whole_numbers_near,
                                               with_token)
from tests.support.problems import assert_problem
from wsgi_service.operations.settings import DEFAULT_MAX_BATCH_ROWS, DEFAULT_MAX_BODY_BYTES
from wsgi_service.enforcement.validation import PREDICT_REQUEST_SCHEMA

CONTRACT = load_contract()
REFERENCE = schema_validator(CONTRACT, PREDICT_REQUEST_SCHEMA)
ANSWER = schema_validator(CONTRACT, pointer_to("paths", "/predict", "post", "responses", "200", "content",
                                               "application/json", "schema"))
FEATURES = CONTRACT["components"]["schemas"]["NamedRow"]["required"]
SEED = b"[[5.1,3.5,1.4,0.2],[6.7,3.0,5.2,2.3]]"
SEED_LABELS = [0, 2]
TIMEOUT = 10
FLOAT32_MAX = float(np.finfo(np.float32).max)

# Media types and whether /predict takes them (RFC 9110: parameters are
# case-insensitive, the charset's value too; any other charset is refused).
JSON_MEDIA_TYPES = ["application/json", "application/json; charset=utf-8", "application/json;charset=UTF-8",
                    "application/json; charset=utf8", 'application/json; charset="utf-8"',
                    "application/json; CHARSET=utf-8", "application/json;"]
OTHER_MEDIA_TYPES = [None, "", "text/plain", "text/json", "application/x-www-form-urlencoded",
                     "multipart/form-data; boundary=x", "application/problem+json", "application/jsonx", "*/*",
                     "application/json; charset=utf-16", "application/json; charset=latin-1",
                     "application/json, text/plain"]


# --- the reference -----------------------------------------------------------

class _Refused(ValueError):
    pass


def _refuse(token):
    raise _Refused(token)


def _unique(pairs):
    if len({key for key, _ in pairs}) != len(pairs):
        raise _Refused("duplicate key")
    return dict(pairs)


def reference_status(data: bytes) -> int | None:
    """What the contract says /predict answers ``data`` sent as application/json.

    None where this process cannot tell: nesting deeper than its own stack
    allows, or an integer past ``int()``'s digit limit (the server answers
    those 400 and 422 by limits of its own).
    """
    if len(data) > DEFAULT_MAX_BODY_BYTES:
        return 413
    try:
        document = json.loads(data.decode("utf-8"), parse_constant=_refuse, object_pairs_hook=_unique)
    except (UnicodeDecodeError, json.JSONDecodeError, _Refused):
        return 400
    except (RecursionError, ValueError):
        return None
    if not REFERENCE.is_valid(document):
        return 422
    rows = document if isinstance(document, list) else document["instances"]
    return 413 if len(rows) > DEFAULT_MAX_BATCH_ROWS else 200


# --- talking to the server -----------------------------------------------------

@pytest.fixture(scope="module")
def sent():
    """Every request this module sends, counted; the total is printed at the end."""
    count = []
    yield count
    print(f"\n{len(count)} requests sent by {__name__}")


@pytest.fixture(scope="module")
def http(sent):
    with requests.Session() as session:
        session.hooks["response"].append(lambda response, *args, **kwargs: sent.append(response.status_code))
        yield session


def post(http, base_url, data, media_type="application/json", chunks=None):
    """POST ``data`` to /predict; ``chunks`` (sizes) sends it chunked, split there."""
    headers = {} if media_type is None else {"Content-Type": media_type}
    body = data if chunks is None else _split(data, chunks)
    return http.post(f"{base_url}/predict", data=body, headers=headers, timeout=TIMEOUT)


def _split(data, sizes):
    start = 0
    for size in sizes:
        if start < len(data):
            yield data[start:start + size]
        start += size
    if start < len(data):
        yield data[start:]


def check_answer(response, expected, data):
    """Never a 5xx; an error is a valid problem; a 200 answers the contract's schema, one label per row.

    ``expected`` is a status, or None when only those rules apply; ``data`` is what was sent.
    """
    status = response.status_code
    assert status < 500, response.text[:500]
    if expected is not None:
        assert status == expected, (data[:200], response.text[:500])
    if status == 200:
        answer = response.json()
        ANSWER.validate(answer)
        if data is not None:
            document = json.loads(data)
            rows = document if isinstance(document, list) else document["instances"]
            assert len(answer if isinstance(answer, list) else answer["predictions"]) == len(rows)
    else:
        try:
            body = response.json()
        except ValueError:
            raise AssertionError(f"a {status} whose body is not JSON: {response.content[:200]!r}")
        assert_problem(status, response.headers.get("Content-Type"), body, status)
        assert len(response.content) < 4_000


def assert_still_serving(http, base_url):
    assert http.get(f"{base_url}/health", timeout=TIMEOUT).status_code == 200
    answer = post(http, base_url, SEED)
    assert answer.status_code == 200 and answer.json() == SEED_LABELS


# --- strategies ------------------------------------------------------------------

FLOAT_EDGES = {  # token: the status the contract gives a row holding it
    "0.0": 200, "-0.0": 200, "0": 200, "-0": 200, "0e0": 200, "-0E-0": 200,
    "5e-324": 200, "-5e-324": 200, "2.2250738585072014e-308": 200,
    "1.401298464324817e-45": 200, "7e-46": 200,  # float32's smallest subnormal; under half of it, float32's 0
    repr(FLOAT32_MAX): 200, repr(-FLOAT32_MAX): 200,
    repr(math.nextafter(FLOAT32_MAX, 0)): 200, repr(math.nextafter(-FLOAT32_MAX, 0)): 200,
    repr(float(np.nextafter(np.float32(FLOAT32_MAX), np.float32(0)))): 200,
    repr(math.nextafter(FLOAT32_MAX, math.inf)): 422, repr(math.nextafter(-FLOAT32_MAX, -math.inf)): 422,
    "3.4028235e38": 422,  # float32's own shortest spelling of its max: beyond it as a double
    "3.4028235677973366e38": 422,  # the first double float32 would round to infinity
    "1.7976931348623157e308": 422, "-1.7976931348623157e308": 422,
    "1e309": 422, "-1e309": 422, "1E400": 422, "-1E400": 422, "1e-400": 200, "-1e-400": 200,
    "NaN": 400, "-NaN": 400, "nan": 400, "Infinity": 400, "-Infinity": 400, "inf": 400,
    "01": 400, "1.": 400, ".5": 400, "+1": 400, "0x10": 400, "1e": 400, "--1": 400, "1_000": 400,
}

valid_numbers = (st.sampled_from(sorted(token for token, status in FLOAT_EDGES.items() if status == 200))
                 | st.floats(-FLOAT32_MAX, FLOAT32_MAX).map(repr)
                 | st.floats(0, 8).map(lambda value: f"{value:.1f}")  # iris-like: every class gets predicted
                 | st.integers(-10**6, 10**6).map(str))
any_numbers = (valid_numbers | st.sampled_from(sorted(FLOAT_EDGES))
               | st.floats(allow_nan=False, allow_infinity=False).map(repr) | st.integers(-10**40, 10**40).map(str))


@st.composite
def body_texts(draw):
    """A /predict body as text, valid in shape; half of them valid throughout, the others with
    numbers drawn from every edge, valid or not."""
    numbers = draw(st.sampled_from([valid_numbers, any_numbers]))
    rows = []
    for _ in range(draw(st.integers(1, 6))):
        cells = draw(st.lists(numbers, min_size=4, max_size=4))
        if draw(st.booleans()):
            rows.append("[" + ",".join(cells) + "]")
        else:
            pairs = [f'"{name}":{cell}' for name, cell in zip(FEATURES, cells)]
            rows.append("{" + ",".join(draw(st.permutations(pairs))) + "}")
    if draw(st.booleans()) and all(row.startswith("[") for row in rows):
        return "[" + ",".join(rows) + "]"
    return '{"instances":[' + ",".join(rows) + "]}"


@st.composite
def mutated(draw, data):
    """``data`` with up to four byte-level mutations, or re-encoded."""
    data = bytearray(data)
    for _ in range(draw(st.integers(0, 4))):
        mutation = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "repeat"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if mutation == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif mutation == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=4) | st.sampled_from(JSON_SOUP))
        elif mutation == "delete":
            del data[at:at + draw(st.integers(1, 4))]
        elif mutation == "truncate":
            del data[at:]
        elif mutation == "repeat":
            data[at:at] = data[at:at + draw(st.integers(1, 40))]
    return bytes(data)


JSON_SOUP = [bytes([byte]) for byte in b'[]{},:"0123456789.eE+-tfnrulasNIy \t\n\\'] + [
    b'"instances"', b'"sepal_length"', b"NaN", b"Infinity", b"1e400", b"\xef\xbb\xbf", b"\x00", b"\xff",
    b"\\ud800", b'\\"']
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32"]

random_bodies = st.binary(max_size=300) | st.lists(st.sampled_from(JSON_SOUP), max_size=60).map(b"".join)
media_types = st.just("application/json") | st.sampled_from(JSON_MEDIA_TYPES) | st.sampled_from(OTHER_MEDIA_TYPES)
chunkings = st.none() | st.lists(st.integers(1, 64), min_size=1, max_size=20)


def expected_status(data, media_type):
    return reference_status(data) if media_type in JSON_MEDIA_TYPES else 415


# --- generated bodies -----------------------------------------------------------

@settings(max_examples=800)
@given(data=random_bodies, media_type=media_types, chunks=chunkings)
def _random_bytes(base_url, http, data, media_type, chunks):
    check_answer(post(http, base_url, data, media_type, chunks), expected_status(data, media_type), data)


def test_random_bytes_get_the_status_the_reference_says(live_server, http):
    _random_bytes(live_server, http)
    assert_still_serving(http, live_server)


@st.composite
def hostile_variants(draw):
    text = draw(body_texts())
    return draw(mutated(text.encode(draw(st.just("utf-8") | st.sampled_from(ENCODINGS)))))


@settings(max_examples=1_500)
@given(data=hostile_variants(), media_type=media_types, chunks=chunkings)
def _mutated_bodies(base_url, http, data, media_type, chunks):
    check_answer(post(http, base_url, data, media_type, chunks), expected_status(data, media_type), data)


def test_mutated_valid_bodies_get_the_status_the_reference_says(live_server, http):
    _mutated_bodies(live_server, http)
    assert_still_serving(http, live_server)


@settings(max_examples=200)
@given(text=body_texts(), chunks=st.lists(st.integers(1, 32), min_size=1, max_size=40))
def _chunked_equals_whole(base_url, http, text, chunks):
    data = text.encode()
    whole = post(http, base_url, data)
    check_answer(whole, reference_status(data), data)
    chunked = post(http, base_url, data, chunks=chunks)
    assert (chunked.status_code, chunked.content if whole.status_code == 200 else b"") == (
        whole.status_code, whole.content if whole.status_code == 200 else b"")


def test_a_body_sent_chunked_gets_the_answer_it_gets_whole(live_server, http):
    _chunked_equals_whole(live_server, http)
    assert_still_serving(http, live_server)


# --- whole numbers written as floats, on every route ----------------------------

SITES = integer_sites(CONTRACT)


def send_site(http, base_url, site, text: str):
    data, headers = site_request(site, text)
    return http.post(f"{base_url}{site.path}", data=data, headers=headers, timeout=TIMEOUT)


@settings(max_examples=300)
@given(data=st.data())
def _whole_numbers(base_url, http, data):
    site = data.draw(st.sampled_from(SITES))
    example = at(site.body, pointer_to(*map(str, site.place)))
    token = data.draw(whole_numbers_near(example).flatmap(float_spellings))
    as_float = send_site(http, base_url, site, with_token(site.body, site.place, token))
    as_int = send_site(http, base_url, site, with_token(site.body, site.place, str(int(json.loads(token)))))
    assert as_float.status_code < 500, as_float.text[:500]
    assert (as_float.status_code, as_float.json()) == (as_int.status_code, as_int.json()), token


def test_a_whole_number_written_as_a_float_is_answered_as_that_integer(live_server, http):
    """Wherever the contract declares an integer (every route, JSON and binary tensor data)."""
    _whole_numbers(live_server, http)
    assert_still_serving(http, live_server)


# --- tables: what random bytes never reach ------------------------------------

def named(value: str) -> bytes:
    cells = ",".join(f'"{name}":{value if index == 0 else "1"}' for index, name in enumerate(FEATURES))
    return ('{"instances":[{' + cells + "}]}").encode()


@pytest.mark.parametrize("token", FLOAT_EDGES)
def test_every_float_edge_gets_its_documented_status(live_server, http, token):
    for data in (f"[[{token},1,2,3]]".encode(), named(token)):
        check_answer(post(http, live_server, data), FLOAT_EDGES[token], data)
    assert_still_serving(http, live_server)


DEEP = 500_000
DIGITS = "7" * 100_000
PADDED = SEED + b" " * (DEFAULT_MAX_BODY_BYTES - len(SEED))
HOSTILE_DOCUMENTS = {
    "arrays 500,000 deep": (b"[" * DEEP + b"]" * DEEP, 400),
    "objects 200,000 deep": (b'{"":' * 200_000 + b"1" + b"}" * 200_000, 400),  # 500,000 is over the size limit
    "a cell 500,000 deep": (b"[[1,2,3," + b"[" * DEEP + b"]" * DEEP + b"]]", 400),
    "unclosed 500,000 deep": (b"[" * DEEP, 400),
    "an integer of 100,000 digits": (f"[[{DIGITS},1,2,3]]".encode(), 422),
    "a negative integer of 100,000 digits": (f"[[-{DIGITS},1,2,3]]".encode(), 422),
    "a named integer of 100,000 digits": (named(DIGITS), 422),
    "an integer of 4,301 digits": (f"[[{'9' * 4301},1,2,3]]".encode(), 422),
    "an integer of 401 digits": (f"[[{'9' * 401},1,2,3]]".encode(), 422),
    "a fraction of 100,000 digits": (f"[[0.{'0' * 99_999}1,1,2,3]]".encode(), 200),
    "a mantissa of 100,000 digits": (f"[[{DIGITS}.5,1,2,3]]".encode(), 422),
    "an exponent of 10,000 digits": (f"[[1e{'9' * 10_000},1,2,3]]".encode(), 422),
    "a negative exponent of 10,000 digits": (f"[[1e-{'9' * 10_000},1,2,3]]".encode(), 200),
    "duplicate instances": (b'{"instances":[[1,2,3,4]],"instances":[[1,2,3,4]]}', 400),
    "duplicate instances, one escaped": (b'{"instances":[[1,2,3,4]],"\\u0069nstances":[[1,2,3,4]]}', 400),
    "duplicate feature": (named("1").replace(b"}]}", b',"petal_width":1}]}'), 400),
    "a UTF-8 byte order mark": (b"\xef\xbb\xbf" + SEED, 400),
    "UTF-16 with a byte order mark": (SEED.decode().encode("utf-16"), 400),
    "UTF-16LE": (SEED.decode().encode("utf-16-le"), 400),
    "UTF-16BE": (SEED.decode().encode("utf-16-be"), 400),
    "UTF-32": (SEED.decode().encode("utf-32"), 400),
    "a lone surrogate escaped": (b'{"instances":[{"\\ud800":1}]}', 422),
    "a lone surrogate as bytes": (b'{"instances":[{"\xed\xa0\x80":1}]}', 400),
    "a string of 900,000 characters": (b'[["' + b"x" * 900_000 + b'",1,2,3]]', 422),
    "a body exactly at the limit": (PADDED, 200),
    "a body one byte over the limit": (PADDED + b" ", 413),
    "the most rows allowed": (json.dumps([[5.1, 3.5, 1.4, 0.2]] * DEFAULT_MAX_BATCH_ROWS).encode(), 200),
    "an empty body": (b"", 400),
    "whitespace": (b" \t\r\n", 400),
}


@pytest.mark.parametrize("name", HOSTILE_DOCUMENTS)
@pytest.mark.parametrize("chunked", [False, True], ids=["length", "chunked"])
def test_hostile_documents_get_their_documented_status(live_server, http, name, chunked):
    data, status = HOSTILE_DOCUMENTS[name]
    assert reference_status(data) in (status, None)  # the table agrees with the reference
    chunks = [65_536] * (len(data) // 65_536 + 1) if chunked else None
    check_answer(post(http, live_server, data, chunks=chunks), status, data)
    assert_still_serving(http, live_server)


@pytest.mark.parametrize("media_type", JSON_MEDIA_TYPES + OTHER_MEDIA_TYPES)
def test_media_types(live_server, http, media_type):
    check_answer(post(http, live_server, SEED, media_type), 200 if media_type in JSON_MEDIA_TYPES else 415, SEED)
    assert_still_serving(http, live_server)


@pytest.mark.parametrize("media_type", ["Application/JSON", "APPLICATION/JSON; CHARSET=UTF-8"])
def test_media_types_are_case_insensitive(live_server, http, media_type):
    check_answer(post(http, live_server, SEED, media_type), 200, SEED)


# --- chunked framing, byte for byte ---------------------------------------------

def send_raw(base_url, request: bytes, sent) -> tuple[int, str, bytes]:
    """Send ``request`` as is, half-close, read the whole answer: (status, content type, body)."""
    parts = urlsplit(base_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=TIMEOUT) as connection:
        connection.sendall(request)
        connection.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := connection.recv(65_536):
            answer += chunk
    sent.append(answer[:12])
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in header_lines)
    return int(status_line.split()[1]), headers.get("Content-Type", ""), body


HEAD = b"POST /predict HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
ROW = b"[[5.1,3.5,1.4,0.2]]"
SIZE = b"%x" % len(ROW)
CHUNKED_FRAMINGS = [
    pytest.param(HEAD + SIZE + b"\r\n" + ROW + b"\r\n0\r\n\r\n", 200, id="well formed"),
    pytest.param(HEAD + SIZE + b";a=b\r\n" + ROW + b"\r\n0\r\n\r\n", 200, id="a chunk extension"),
    pytest.param(HEAD + SIZE + b"\r\n" + ROW + b"\r\n0\r\nX-Trailer: 1\r\n\r\n", 200, id="a trailer"),
    pytest.param(HEAD + SIZE + b"\r\n" + ROW + b"\r\n", 400, id="no last chunk"),
    pytest.param(HEAD + SIZE + b"\r\n" + ROW[:5], 400, id="cut inside a chunk"),
    pytest.param(HEAD + b"zz\r\n" + ROW + b"\r\n0\r\n\r\n", 400, id="a size that is not hex"),
    pytest.param(HEAD + b"-13\r\n" + ROW + b"\r\n0\r\n\r\n", 400, id="a negative size"),
    pytest.param(HEAD + b"5\r\n" + ROW + b"\r\n0\r\n\r\n", 400, id="a size too small"),
    pytest.param(HEAD + SIZE + b"\r\n" + ROW + b"0\r\n\r\n", 400, id="no CRLF after the data"),
    # Extensions are ignored whole, up to the CRLF (RFC 9112 lets a recipient ignore them; h11 does):
    # the size before them and the line's end are what frame the body.
    pytest.param(HEAD + SIZE + b";\x01\r\n" + ROW + b"\r\n0\r\n\r\n", 200, id="a control byte in an extension"),
    pytest.param(HEAD + SIZE + b"\n" + ROW + b"\r\n0\r\n\r\n", 400, id="a bare LF after the size"),
]


@pytest.mark.parametrize(("request_bytes", "status"), CHUNKED_FRAMINGS)
def test_chunked_framing(live_server, http, sent, request_bytes, status):
    answer_status, content_type, body = send_raw(live_server, request_bytes, sent)
    assert answer_status == status, body[:300]
    if status != 200:
        assert_problem(answer_status, content_type, json.loads(body), status)
    assert_still_serving(http, live_server)


SMUGGLING = {  # refused by the server's front, before the app
    "Content-Length and chunked": HEAD.replace(b"Transfer-Encoding", b"Content-Length: 19\r\nTransfer-Encoding")
    + SIZE + b"\r\n" + ROW + b"\r\n0\r\n\r\n",
    "an unknown transfer coding": HEAD.replace(b"chunked", b"identity") + ROW,
    "a negative Content-Length": HEAD.replace(b"Transfer-Encoding: chunked", b"Content-Length: -1") + ROW,
}


@pytest.mark.parametrize("name", SMUGGLING)
def test_ambiguous_framing_is_refused(live_server, http, sent, name):
    status, content_type, body = send_raw(live_server, SMUGGLING[name], sent)
    assert status == 400, body[:300]
    assert_problem(status, content_type, json.loads(body), 400)
    assert_still_serving(http, live_server)


def test_pipelined_requests_are_answered_in_order(live_server, sent):
    """Hundreds of requests in one write, read back after: every one answered, in order, on the one
    connection (the front answers a few each turn of its loop). A worker's first answer may take long
    enough to end its connection (the front's rebalancing), so a few connections are tried."""
    count = 300
    parts = urlsplit(live_server)
    for _ in range(4):
        with socket.create_connection((parts.hostname, parts.port), timeout=TIMEOUT) as connection:
            connection.sendall(b"".join(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Request-ID: pipelined-%d\r\n\r\n"
                                        % number for number in range(count)))
            connection.shutdown(socket.SHUT_WR)
            answer = b""
            while chunk := connection.recv(1 << 20):
                answer += chunk
        sent.extend([200] * count)
        ids = [int(number) for number in re.findall(rb"X-Request-ID: pipelined-(\d+)", answer, re.IGNORECASE)]
        if ids == list(range(count)):
            return
    pytest.fail(f"answered {len(ids)} of {count} pipelined requests: {answer[-300:]!r}")
