"""``/metrics``: a known load, sent concurrently to a real gunicorn with two workers, counted exactly.

The server is started as production starts it (``python -m wsgi_service``,
so prometheus_client's multiprocess mode is set up by ``gunicorn_config``,
with the app preloaded in the master). The figures are the difference
between a scrape before the load and one after, so the readiness polls do not
matter; the first scrape is itself one request of the load.

Both workers must serve, and a fast load on loopback may well be served by
one worker alone; so the first request holds its body back until half the
load is answered. The worker reading it (a sync worker serves one request at
a time) can serve nothing else meanwhile, and the other worker serves that
half. The access lines, which carry each worker's pid, show it.
"""

import json
import random
import socket
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from sklearn.datasets import load_iris
from werkzeug.test import Client

from tests.harness.server import WORKERS, running_server
from tests.support.server_logs import access_lines
from wsgi_service import Settings, create_app, load_model
from wsgi_service.enforcement.validation import RequestValidator
from wsgi_service.serving.open_inference import OpenInference
from wsgi_service.serving.prediction import Predictor
from wsgi_service.operations.settings import DEFAULT_MAX_BATCH_ROWS, DEFAULT_MAX_BODY_BYTES

CONCURRENCY = 8
TIMEOUT_S = 30
JSON = "application/json"
IRIS = load_iris().data.tolist()
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
# Rows far outside every training range, on both sides (iris rows themselves fall outside now and then:
# the training range is the training split's).
DRIFTED = [[0.5, 9.5, 0.01, 9.0], [9.5, 0.5, 9.0, 0.01]]
V2_INFER = "/v2/models/iris/infer"


@dataclass(frozen=True)
class Call:
    """One request of the load, and what the server must count for it."""

    method: str
    path: str
    endpoint: str
    status: int
    body: bytes | None = None
    content_type: str = JSON
    reason: str | None = None  # a validation failure's reason
    document: object = None  # a valid prediction request, as sent


def _predict(document: object) -> Call:
    return Call("POST", "/predict", "predict", 200, json.dumps(document).encode(), document=document)


def _infer(rows: list[list[float]], status: int = 200, reason: str | None = None, values: int | None = None) -> Call:
    """Rows as an Open Inference Protocol request (its data cut to ``values`` values, to be refused)."""
    document = {"inputs": [{"name": "input-0", "shape": [len(rows), 4], "datatype": "FP64",
                            "data": [value for row in rows for value in row][:values]}]}
    return Call("POST", V2_INFER, "v2_infer", status, json.dumps(document).encode(), reason=reason,
                document=document if status == 200 else None)


def _rows_of(call: Call) -> list:
    """The rows a valid call carries, whatever its form."""
    if call.endpoint == "v2_infer":
        data = call.document["inputs"][0]["data"]
        return [data[start:start + 4] for start in range(0, len(data), 4)]
    rows = call.document if isinstance(call.document, list) else (call.document or {}).get("instances", [])
    return [[row[name] for name in FEATURES] if isinstance(row, dict) else row for row in rows]


def _refused(body: bytes, status: int, reason: str, content_type: str = JSON) -> Call:
    return Call("POST", "/predict", "predict", status, body, content_type, reason)


def known_load() -> list[Call]:
    """Single rows and batches in every form, every kind of refusal, unknown paths and methods; shuffled."""
    generator = random.Random(4)
    singles = [_predict([row]) for row in IRIS[::5]]  # 30 rows, all three species
    batches = []
    for index, size in enumerate((2, 5, 17, 64, 300, 1000)):
        rows = [IRIS[generator.randrange(len(IRIS))] for _ in range(size)]
        form = index % 3
        batches.append(_predict(rows if form == 0 else {"instances": rows} if form == 1 else
                                {"instances": [dict(zip(FEATURES, row)) for row in rows]}))
    batches.append(_predict({"instances": DRIFTED}))
    batches += [_infer(IRIS[::3]), _infer(DRIFTED)]  # the Open Inference Protocol: the same counters
    refusals = [
        *(_refused(body, 400, "malformed_json") for body in (b"[[5.1, 3.5", b"not json", b"[[NaN, 1, 2, 3]]",
                                                             b"", b"[[5.1, 3.5, 1.4, 0.2]]]")),
        *(_refused(json.dumps(body).encode(), 422, "contract_violation") for body in (
            [[5.1, 3.5, 1.4]], [[True, 3.5, 1.4, 0.2]], {"instances": [{"bogus": 1}]}, {"rows": []})),
        *(_refused(b"[[5.1, 3.5, 1.4, 0.2]]", 415, "unsupported_media_type", content_type)
          for content_type in ("text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin-1")),
        *(_refused(json.dumps([IRIS[0]] * (DEFAULT_MAX_BATCH_ROWS + 1)).encode(), 413, "batch_too_large")
          for _ in range(2)),
        _refused(b"[" + b"[5.1,3.5,1.4,0.2]," * (DEFAULT_MAX_BODY_BYTES // 18) + b"[5.1,3.5,1.4,0.2]]",
                 413, "body_too_large"),
        _infer(IRIS[:3], 400, "contract_violation", values=11),
    ]
    others = [
        *(Call("GET", f"/no-such-path/{number}", "unmatched", 404) for number in range(5)),
        Call("GET", "/predict", "unmatched", 405), Call("DELETE", "/health", "unmatched", 405),
        Call("FOO", "/health", "unmatched", 405),
        *(Call("GET", "/health", "health", 200) for _ in range(3)), Call("HEAD", "/health", "health", 200),
        Call("GET", "/model", "model", 200), Call("GET", "/", "index", 200),
    ]
    load = singles + batches + refusals + others
    generator.shuffle(load)
    return load


def _send(base_url: str, number: int, call: Call) -> requests.Response:
    headers = {"X-Request-ID": _request_id(number)}
    if call.body is not None:
        headers["Content-Type"] = call.content_type
    return requests.request(call.method, base_url + call.path, data=call.body, headers=headers, timeout=TIMEOUT_S)


def _request_id(number: int) -> str:
    return f"load-{number}"


class HeldRequest:
    """A valid request sent all but the last byte of its body: the worker reading it waits for ``release``."""

    def __init__(self, port: int, number: int, call: Call):
        self._socket = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S)
        head = (f"{call.method} {call.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {call.content_type}\r\n"
                f"Content-Length: {len(call.body)}\r\nX-Request-ID: {_request_id(number)}\r\n"
                "Connection: close\r\n\r\n").encode()
        self._socket.sendall(head + call.body[:-1])
        self._last_byte = call.body[-1:]

    def release(self) -> int:
        """Send the last byte; return the answer's status."""
        with self._socket:
            self._socket.sendall(self._last_byte)
            answer = b""
            while chunk := self._socket.recv(65536):
                answer += chunk
        return int(answer.split(b" ", 2)[1])


def scrape(base_url: str) -> dict[tuple[str, frozenset], float]:
    """Every sample of a scrape, by name and labels."""
    response = requests.get(f"{base_url}/metrics", timeout=TIMEOUT_S)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(response.text) for sample in family.samples}


def grown(before: dict, after: dict, name: str) -> dict[frozenset, float]:
    """How much each series of ``name`` grew from ``before`` to ``after``; series that did not grow left out."""
    return {labels: value - before.get((sample, labels), 0.0) for (sample, labels), value in after.items()
            if sample == name and value != before.get((sample, labels), 0.0)}


def labelled(counts: Counter, *names: str) -> dict[frozenset, float]:
    return {frozenset(zip(names, key if isinstance(key, tuple) else (key,))): float(count)
            for key, count in counts.items()}


@pytest.fixture(scope="module")
def loaded(model_dir):
    """The load sent to a fresh two-worker server: the calls, the answers, two scrapes and the server's output."""
    held = _predict([IRIS[120]])
    load = [held, *known_load()]
    numbered = list(enumerate(load))[1:]
    halves = numbered[:len(numbered) // 2], numbered[len(numbered) // 2:]
    with running_server(model_dir=model_dir, workers=WORKERS) as server:
        before = scrape(server.base_url)
        holding = HeldRequest(server.port, 0, held)
        with ThreadPoolExecutor(CONCURRENCY) as pool:
            first_half = [answer.status_code for answer in pool.map(lambda call: _send(server.base_url, *call),
                                                                    halves[0])]
            held_status = holding.release()
            second_half = [answer.status_code for answer in pool.map(lambda call: _send(server.base_url, *call),
                                                                     halves[1])]
        after = scrape(server.base_url)
        workers = server.workers()
        output = server.log()
    return load, [held_status, *first_half, *second_half], before, after, workers, output


def test_every_call_got_the_answer_the_load_expects(loaded):
    load, statuses, *_ = loaded
    assert statuses == [call.status for call in load]


def test_both_workers_served_the_load(loaded):
    load, _, _, _, workers, output = loaded
    served_by = {line["request_id"]: line["pid"] for line in access_lines(output)
                 if line["request_id"].startswith("load-")}
    assert len(served_by) == len(load)
    assert set(served_by.values()) == set(workers) and len(workers) == WORKERS == 2


def test_requests_by_endpoint_method_and_status(loaded):
    load, _, before, after, *_ = loaded
    expected = Counter((call.endpoint, call.method if call.method != "FOO" else "other", str(call.status))
                       for call in load)
    expected["metrics", "GET", "200"] += 1  # the first scrape
    assert grown(before, after, "forest_requests_total") == labelled(expected, "endpoint", "method", "status")


def test_latency_histogram_counts_every_request(loaded):
    load, _, before, after, *_ = loaded
    expected = Counter(call.endpoint for call in load) + Counter(["metrics"])
    assert grown(before, after, "forest_request_duration_seconds_count") == labelled(expected, "endpoint")
    buckets = grown(before, after, "forest_request_duration_seconds_bucket")
    for endpoint, count in expected.items():
        by_bound = sorted((float(dict(labels)["le"]), value) for labels, value in buckets.items()
                          if dict(labels)["endpoint"] == endpoint)
        assert by_bound[-1] == (float("inf"), count)
        assert [value for _, value in by_bound] == sorted(value for _, value in by_bound)
    sums = grown(before, after, "forest_request_duration_seconds_sum")
    assert set(sums) == set(labelled(expected, "endpoint")) and all(value > 0 for value in sums.values())


def test_rows_and_predictions_by_class(loaded, app, model_dir):
    load, _, before, after, *_ = loaded
    class_names = [cls["name"] for cls in json.loads((model_dir / "manifest.json").read_text())["classes"]]
    # The serving layer in process, over the contract the app serves, answers the same calls.
    predictor = Predictor(load_model(model_dir), RequestValidator(app.contract), DEFAULT_MAX_BATCH_ROWS)
    infer = OpenInference(predictor, app.contract).infer
    answers = [(infer if call.endpoint == "v2_infer" else predictor.answer)(call.document)
               for call in load if call.document is not None]
    rows = sum(answer.rows for answer in answers)
    assert rows == 1 + 30 + 2 + 5 + 17 + 64 + 300 + 1000 + len(DRIFTED) + 50 + len(DRIFTED)
    by_class = Counter(class_names[index] for answer in answers for index in answer.winners.tolist())
    assert len(by_class) == 3
    assert grown(before, after, "forest_predicted_rows_total") == {frozenset(): float(rows)}
    assert grown(before, after, "forest_predictions_total") == labelled(by_class, "class_name")


def test_out_of_range_rows_by_feature_and_side(loaded, model_dir):
    """Drift, counted exactly across both workers: each row's values against the manifest's ranges."""
    load, _, before, after, *_ = loaded
    features = json.loads((model_dir / "manifest.json").read_text())["features"]
    expected = Counter()
    for call in load:
        for values in _rows_of(call) if call.document is not None else ():
            for feature, value in zip(features, values):
                if value < feature["min"]:
                    expected[feature["name"], "below"] += 1
                elif value > feature["max"]:
                    expected[feature["name"], "above"] += 1
    assert {side for _, side in expected} == {"below", "above"} and len(expected) == 8
    assert grown(before, after, "forest_feature_out_of_range_total") == labelled(expected, "feature", "side")


def test_validation_failures_by_reason(loaded):
    load, _, before, after, *_ = loaded
    expected = Counter(call.reason for call in load if call.reason)
    assert set(expected) == {"malformed_json", "contract_violation", "unsupported_media_type",
                             "batch_too_large", "body_too_large"}
    assert grown(before, after, "forest_validation_failures_total") == labelled(expected, "reason")


def test_model_identity_is_an_info_gauge(loaded, model_dir):
    *_, after, _, _ = loaded
    manifest = json.loads((model_dir / "manifest.json").read_text())
    identity = {key: str(manifest[key]) for key in ("name", "version", "sha256")}
    assert {labels: value for (name, labels), value in after.items() if name == "forest_model_info"} == {
        frozenset(identity.items()): 1.0}


# --- embedded: no gunicorn, no multiprocess directory -------------------------------------------

def test_embedded_apps_each_count_in_their_own_registry(app, model_dir):
    other = create_app(settings=Settings(model_dir=model_dir))  # a second app in this process: no collision
    client, other_client = Client(app), Client(other)
    first = _in_process_scrape(client)
    for _ in range(3):
        client.post("/predict", data=json.dumps([IRIS[0]]), content_type=JSON)
    other_client.get("/nope-1")
    other_client.open("/nope-2", method="BREW")
    mine, others = _in_process_scrape(client), _in_process_scrape(other_client)
    assert grown(first, mine, "forest_predicted_rows_total") == {frozenset(): 3.0}
    assert grown(first, mine, "forest_predictions_total") == {frozenset({("class_name", "setosa")}): 3.0}
    assert others[("forest_predicted_rows_total", frozenset())] == 0.0
    # Unknown paths and methods do not become label values.
    assert grown({}, others, "forest_requests_total") == labelled(
        Counter({("unmatched", "GET", "404"): 1, ("unmatched", "other", "404"): 1}), "endpoint", "method", "status")


def _in_process_scrape(client: Client) -> dict[tuple[str, frozenset], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(response.get_data(as_text=True))
            for sample in family.samples if not sample.name.endswith("_created")}


def test_single_and_batch_answers_count_classes_alike(app):
    """One increment per class present: the same rows counted once as a batch and once row by row agree."""
    rows = IRIS[::7]
    client = Client(app)
    start = _in_process_scrape(client)
    client.post("/predict", data=json.dumps(rows), content_type=JSON)
    as_batch = grown(start, middle := _in_process_scrape(client), "forest_predictions_total")
    for row in rows:
        client.post("/predict", data=json.dumps([row]), content_type=JSON)
    assert grown(middle, _in_process_scrape(client), "forest_predictions_total") == as_batch
    assert sum(as_batch.values()) == len(rows)
