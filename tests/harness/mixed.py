"""A mixed load's requests: every kind a client sends, each with the status it must get, in proportion.

Good requests (single rows in the seed and rich forms, the corpus's small
batches, 1,000- and 10,000-row batches, V2 inference as JSON and as binary
tensors) carry the in-process answer, byte for byte; bad ones (a wrong media
type, malformed JSON, a contract violation, too many rows, too large a body,
an unknown path or model, a method a path does not take, NaN in binary
tensors) carry the status the contract documents for them. Each is answered
once in process by the same ``create_app`` over the same model directory,
and must get that status there before any is sent.

``mixed_requests`` spreads the kinds by ``WEIGHTS`` over a shuffled list,
which ``ClientThreads`` walks: every thread meets every kind, each as often
as its weight says.
"""

import json
import random
from dataclasses import replace
from pathlib import Path

import numpy as np
from sklearn.datasets import load_iris
from werkzeug.test import Client

from contract.model_directory import MANIFEST_FILENAME
from tests.harness.corpus import Exchange, build_corpus
from wsgi_service import Settings, create_app
from wsgi_service.operations.settings import DEFAULT_MAX_BATCH_ROWS, DEFAULT_MAX_BODY_BYTES

BINARY_HEADER = "Inference-Header-Content-Length"

# kind -> share of the requests sent. Large batches are rare, as they cost
# the server tens of milliseconds each; bad requests are about a fifth.
WEIGHTS = {
    "seed row": 24, "rich row": 20, "corpus (1-64 rows)": 10, "1,000 rows": 2, "10,000 rows": 0.5,
    "v2 json": 8, "v2 binary": 8,
    "415 media type": 3, "400 malformed json": 3, "422 contract": 4, "413 rows": 0.5, "413 body": 0.5,
    "404 path": 2, "404 model": 2, "405 method": 2, "400 v2 binary nan": 2,
}
SLOTS = 2_000  # length of the walked list: the rarest kind still gets a few places


def mixed_requests(model_dir: Path, seed: int = 20) -> list[Exchange]:
    """``SLOTS`` exchanges, the kinds of ``WEIGHTS`` in proportion, shuffled from ``seed``."""
    by_kind = requests_by_kind(model_dir, seed)
    total = sum(WEIGHTS.values())
    generator = random.Random(seed)
    slots = []
    for kind, weight in WEIGHTS.items():
        variants = by_kind[kind]
        slots += [variants[index % len(variants)] for index in range(max(1, round(SLOTS * weight / total)))]
    generator.shuffle(slots)
    return slots


def requests_by_kind(model_dir: Path, seed: int = 20) -> dict[str, list[Exchange]]:
    """Every kind of ``WEIGHTS`` -> its exchanges, each answered in process with the status it must get."""
    client = Client(create_app(settings=Settings(model_dir=model_dir)))
    name = json.loads((Path(model_dir) / MANIFEST_FILENAME).read_text())["name"]
    generator = np.random.default_rng(seed)
    iris = load_iris().data

    def rows(count: int) -> list[list[float]]:
        noisy = iris[generator.integers(0, len(iris), count)] + generator.normal(0, 0.3, (count, iris.shape[1]))
        return np.round(noisy, 2).tolist()

    def answered(kind: str, number: int, body: bytes, status: int = 200, **fields) -> Exchange:
        exchange = Exchange(f"{kind.replace(' ', '-')}-{number}", body, None, status=status, kind=kind, **fields)
        headers = dict(exchange.headers)
        if exchange.content_type:
            headers["Content-Type"] = exchange.content_type
        response = client.post(exchange.path, data=body, headers=headers)
        if response.status_code != status:
            raise RuntimeError(f"in process, {exchange.request_id} answered {response.status_code}, not {status}: "
                               f"{response.get_data()[:300]!r}")
        return exchange if status != 200 else replace(exchange, expected=response.get_data())

    infer = f"/v2/models/{name}/infer"
    kinds = {
        "seed row": [answered("seed row", n, _json(rows(1))) for n in range(50)],
        "rich row": [answered("rich row", n, _json({"instances": rows(1)})) for n in range(50)],
        "corpus (1-64 rows)": [replace(exchange, kind="corpus (1-64 rows)")
                               for exchange in build_corpus(model_dir, size=200)],
        "1,000 rows": [answered("1,000 rows", n, _json({"instances": rows(1_000)})) for n in range(3)],
        "10,000 rows": [answered("10,000 rows", n, _json(rows(10_000))) for n in range(2)],
        "v2 json": [answered("v2 json", n, _json(_v2_json(rows(1 + n % 8))), path=infer) for n in range(30)],
        "v2 binary": [answered("v2 binary", n, path=infer, **_v2_binary(rows(1 + n % 8))) for n in range(30)],
        "415 media type": [answered("415 media type", 0, _json(rows(1)), 415, content_type="text/plain"),
                           answered("415 media type", 1, _json(rows(1)), 415,
                                    headers=(("Content-Encoding", "gzip"),))],
        "400 malformed json": [answered("400 malformed json", 0, b"[[5.1,3.5,", 400),
                               answered("400 malformed json", 1, b'{"instances": [[NaN, 1, 2, 3]]}', 400)],
        "422 contract": [answered("422 contract", 0, _json([[5.1, 3.5, 1.4]]), 422),
                         answered("422 contract", 1, _json({"instances": [["a", 1, 2, 3]]}), 422),
                         answered("422 contract", 2, _json({"rows": rows(1)}), 422)],
        "413 rows": [answered("413 rows", 0, _json([[1, 1, 1, 1]] * (DEFAULT_MAX_BATCH_ROWS + 1)), 413)],
        "413 body": [answered("413 body", 0, b"[[1,1,1,1]" + b" " * DEFAULT_MAX_BODY_BYTES + b"]", 413)],
        "404 path": [answered("404 path", 0, _json(rows(1)), 404, path="/predictions")],
        "404 model": [answered("404 model", 0, _json(_v2_json(rows(1))), 404, path="/v2/models/rose/infer")],
        "405 method": [answered("405 method", 0, _json(rows(1)), 405, path="/health")],
        "400 v2 binary nan": [answered("400 v2 binary nan", 0, status=400, path=infer,
                                       **_v2_binary([[np.nan, 1.0, 2.0, 3.0]]))],
    }
    if set(kinds) != set(WEIGHTS):
        raise RuntimeError(f"kinds without a weight or weights without a kind: {set(kinds) ^ set(WEIGHTS)}")
    return kinds


def _json(document: object) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


def _v2_json(rows: list[list[float]]) -> dict:
    return {"inputs": [{"name": "input-0", "shape": [len(rows), len(rows[0])], "datatype": "FP64",
                        "data": [value for row in rows for value in row]}]}


def _v2_binary(rows: list[list[float]]) -> dict:
    """An exchange's body as tritonclient sends binary tensors (the JSON header, then the rows'
    little-endian float64 bytes), with the headers that say so."""
    data = np.asarray(rows, dtype="<f8").tobytes()
    header = _json({"inputs": [{"name": "input-0", "shape": [len(rows), len(rows[0])], "datatype": "FP64",
                                "parameters": {"binary_data_size": len(data)}}]})
    return {"body": header + data, "content_type": "application/octet-stream",
            "headers": ((BINARY_HEADER, str(len(header))),)}
