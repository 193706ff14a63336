"""The real thing: gunicorn in a subprocess, spoken to over HTTP with requests."""

import json

import pytest
import requests

from tests.support.problems import assert_problem
from wsgi_service.operations.settings import DEFAULT_MAX_BODY_BYTES

SEED = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]
JSON = {"Content-Type": "application/json"}
TIMEOUT = 10


def post_raw(base_url, data, headers=JSON):
    return requests.post(f"{base_url}/predict", data=data, headers=headers, timeout=TIMEOUT)


def test_readme_curl_example_answers_labels(live_server):
    response = post_raw(live_server, json.dumps(SEED))
    assert response.status_code == 200 and response.json() == [0, 2]
    assert response.headers["X-Request-ID"]


def test_rich_form_over_http(live_server):
    body = requests.post(f"{live_server}/predict", json={"instances": SEED}, timeout=TIMEOUT).json()
    assert [p["class_name"] for p in body["predictions"]] == ["setosa", "virginica"]
    assert body["model"] == requests.get(f"{live_server}/health", timeout=TIMEOUT).json()["model"]


HOSTILE = {
    "nan token": (b"[[NaN, 1, 2, 3]]", 400),
    "deep nesting": (b"[" * 500_000 + b"]" * 500_000, 400),
    "overflow": (b"[[1e400, 1, 2, 3]]", 422),
    "overlong integer": (b"[[" + b"7" * 100_000 + b", 1, 2, 3]]", 422),
    "booleans": (b"[[true, false, true, false]]", 422),
    "float32 overflow": (b"[[1e39, 1, 2, 3]]", 422),
    "short row": (b"[[1, 2, 3]]", 422),
    "not utf-8": (b"[[\xff]]", 400),
    "huge key": (b'{"instances": [{"' + b"k" * 500_000 + b'": 1}]}', 422),
    "too many rows": (json.dumps([SEED[0]] * 10_001).encode(), 413),
}


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_body_gets_a_problem_and_the_server_keeps_serving(live_server, name):
    data, status = HOSTILE[name]
    response = post_raw(live_server, data)
    assert_problem(response.status_code, response.headers["Content-Type"], response.json(), status)
    assert len(response.content) < 4_000
    assert post_raw(live_server, json.dumps(SEED)).json() == [0, 2]


def test_body_over_the_limit_is_413(live_server):
    data = b"[" + b"[5.1, 3.5, 1.4, 0.2]," * (DEFAULT_MAX_BODY_BYTES // 20) + b"[5.1, 3.5, 1.4, 0.2]]"
    response = post_raw(live_server, data)
    body = assert_problem(response.status_code, response.headers["Content-Type"], response.json(), 413)
    assert body["limit"] == DEFAULT_MAX_BODY_BYTES


def test_chunked_bodies_are_read_and_bounded(live_server):
    def chunks(count):
        yield b"["
        for _ in range(count):
            yield b"[5.1, 3.5, 1.4, 0.2],"
        yield b"[6.7, 3.0, 5.2, 2.3]]"

    small = post_raw(live_server, chunks(2))
    assert small.status_code == 200 and small.json() == [0, 0, 2]
    large = post_raw(live_server, chunks(DEFAULT_MAX_BODY_BYTES // 20))
    assert_problem(large.status_code, large.headers["Content-Type"], large.json(), 413)


def test_request_id_round_trip(live_server):
    response = requests.get(f"{live_server}/nope", headers={"X-Request-ID": "trace-42"}, timeout=TIMEOUT)
    assert response.headers["X-Request-ID"] == "trace-42"
    assert assert_problem(response.status_code, response.headers["Content-Type"], response.json(), 404)[
        "request_id"] == "trace-42"
