"""Logs over a real gunicorn: every line JSON, one per request, errors with their traceback, LOG_LEVEL obeyed.

Both servers run the real deployment with one real fault planted
(``tests.support.faulty_app``): a row of zeros makes numpy raise inside the
request path, so an unexpected exception is logged without any mock, while
every other row is answered as usual.
"""

import json
import re
import signal
from datetime import datetime, timezone

import pytest
import requests

from tests.support.problems import assert_problem
from tests.support.faulty_app import HEALTHY_ROW, POISONED_ROW
from tests.harness.server import STOP_TIMEOUT_S, running_server
from tests.support.server_logs import LINE_KEYS, access_lines, json_lines
from wsgi_service.operations.logs import GUNICORN_ERROR_LOGGER
from wsgi_service.operations.settings import ENV_LOG_LEVEL

FAULTY_APP = "tests.support.faulty_app:make_app()"
TIMEOUT_S = 10
ISO_UTC_MS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
ACCESS_FIELDS = {"time", "level", "request_id", "method", "path", "status", "duration_ms", "client", "pid"}
HEALTHY_ROWS = [HEALTHY_ROW] * 3  # only rows outside the last class are answered


def _requests(base_url: str) -> list[tuple[requests.Response, int | None, str]]:
    """Each request with the rows it predicts (None: predicts nothing) and the client address it must be logged with."""
    def send(method, path, rows=None, body=None, headers=None):
        data = None if body is None else json.dumps(body)
        headers = {**({"Content-Type": "application/json"} if data else {}), **(headers or {})}
        return requests.request(method, base_url + path, data=data, headers=headers, timeout=TIMEOUT_S), rows

    forwarded = {"X-Forwarded-For": "203.0.113.7, 10.0.0.2", "X-Request-ID": "log-forwarded"}
    sent = [
        (*send("POST", "/predict", 1, [HEALTHY_ROW], {"X-Request-ID": "log-single"}), "127.0.0.1"),
        (*send("POST", "/predict", 3, {"instances": HEALTHY_ROWS}), "127.0.0.1"),  # no id: the server makes one
        (*send("POST", "/predict", 2, HEALTHY_ROWS[1:], forwarded), "203.0.113.7"),
        (*send("GET", "/health", headers={"X-Request-ID": "log-health"}), "127.0.0.1"),
        (*send("HEAD", "/health", headers={"X-Request-ID": "not a valid id!"}), "127.0.0.1"),
        (*send("GET", "/no-such-path", headers={"X-Request-ID": "log-404"}), "127.0.0.1"),
        (*send("POST", "/predict", body=[[1, 2, 3]], headers={"X-Request-ID": "log-422"}), "127.0.0.1"),
        (*send("POST", "/predict", body=[POISONED_ROW], headers={"X-Request-ID": "log-boom"}), "127.0.0.1"),
    ]
    return sent


@pytest.fixture(scope="module")
def info_run(model_dir):
    started = datetime.now(timezone.utc)
    with running_server(FAULTY_APP, model_dir=model_dir, env={ENV_LOG_LEVEL: "info"}) as server:
        sent = _requests(server.base_url)
        workers = server.workers()
        output = server.log()
    return started, datetime.now(timezone.utc), sent, workers, output


def test_every_app_line_is_json_and_startup_lines_too(info_run):
    *_, output = info_run
    lines = json_lines(output)  # raises on a line that is not JSON
    assert any(line["logger"].startswith("wsgi_service.") and line["logger"] != "wsgi_service.access"
               and line["level"] == "INFO" for line in lines), output


def test_every_line_the_server_writes_is_json_gunicorns_own_too(model_dir):
    """Start, workers, a few requests, SIGTERM and its drain, the exits: each line one JSON object
    with the same keys, so that CloudWatch Logs Insights parses all of them."""
    with running_server(model_dir=model_dir) as server:
        answers = [requests.request(method, server.base_url + path, json=body, timeout=TIMEOUT_S,
                                    headers={"X-Request-ID": f"every-line-{number}"})
                   for number, (method, path, body) in enumerate([("GET", "/health", None),
                                                                   ("POST", "/predict", [HEALTHY_ROW]),
                                                                   ("POST", "/predict", [[1, 2]]),
                                                                   ("GET", "/no-such-path", None)])]
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=STOP_TIMEOUT_S) == 0
        output = server.log()
    assert [answer.status_code for answer in answers] == [200, 200, 422, 404]
    lines = json_lines(output)  # raises on a line that is not JSON
    for line in lines:
        assert isinstance(line, dict) and LINE_KEYS <= set(line), line
    said = " | ".join(line["message"] for line in lines if line["logger"] == GUNICORN_ERROR_LOGGER)
    for words in ("Starting gunicorn", "Booting worker", "Handling signal: term", "SIGTERM: draining",
                  "drained in", "Worker exiting", "Shutting down: Master"):
        assert words in said, f"no gunicorn line says {words!r}:\n{output}"
    assert {f"every-line-{number}" for number in range(4)} <= {line["request_id"] for line in access_lines(output)}


def test_one_access_line_per_request_with_its_fields(info_run):
    started, ended, sent, workers, output = info_run
    lines = access_lines(output)
    by_id = {}
    for line in lines:
        assert line["request_id"] not in by_id, f"two lines for {line['request_id']}"
        by_id[line["request_id"]] = line
    ours = {response.headers["X-Request-ID"] for response, _, _ in sent}
    # Every other line is one of the readiness polls the harness sent before the test.
    assert {(line["method"], line["path"]) for line in lines if line["request_id"] not in ours} <= {("GET", "/health")}
    for response, rows, client in sent:
        line = by_id[response.headers["X-Request-ID"]]
        request = response.request
        assert set(line) - {"rows"} == ACCESS_FIELDS | {"logger", "message"}
        assert (line["method"], line["path"], line["status"]) == (request.method, request.path_url,
                                                                  response.status_code)
        assert line.get("rows") == rows
        assert line["client"] == client
        assert line["level"] == "INFO" and line["pid"] in workers
        assert isinstance(line["duration_ms"], float) and 0 < line["duration_ms"] < TIMEOUT_S * 1000
        assert ISO_UTC_MS.fullmatch(line["time"])
        logged_at = datetime.strptime(line["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
        assert started.replace(microsecond=0) <= logged_at <= ended


def test_request_ids_are_echoed_or_made(info_run):
    _, _, sent, _, output = info_run
    ids = [response.headers["X-Request-ID"] for response, _, _ in sent]
    assert ids[0] == "log-single" and ids[2] == "log-forwarded"
    assert re.fullmatch(r"[0-9a-f]{32}", ids[1]) and re.fullmatch(r"[0-9a-f]{32}", ids[4])
    assert {line["request_id"] for line in access_lines(output)} >= set(ids)


def test_unhandled_error_logs_its_traceback_and_tells_the_client_nothing(info_run):
    _, _, sent, _, output = info_run
    response = sent[-1][0]
    body = assert_problem(response.status_code, response.headers["Content-Type"], response.json(), 500)
    assert body["request_id"] == "log-boom"
    assert "IndexError" not in response.text and "forest" not in response.text
    errors = [line for line in json_lines(output) if line["level"] == "ERROR"]
    assert len(errors) == 1, errors
    error = errors[0]
    assert (error["request_id"], error["method"], error["path"]) == ("log-boom", "POST", "/predict")
    assert error["traceback"].startswith("Traceback (most recent call last):\n")
    assert re.search(r"^IndexError: ", error["traceback"], re.MULTILINE)
    assert "\n" not in error["message"]


def test_log_level_warning_silences_access_lines_but_not_errors(model_dir):
    with running_server(FAULTY_APP, model_dir=model_dir, env={ENV_LOG_LEVEL: "warning"}) as server:
        sent = _requests(server.base_url)
        output = server.log()
    assert [response.status_code for response, _, _ in sent] == [200, 200, 200, 200, 200, 404, 422, 500]
    lines = json_lines(output)
    assert access_lines(output) == []
    assert [(line["level"], line["request_id"]) for line in lines] == [("ERROR", "log-boom")]
