"""A corpus of varied request bodies, each with the answer the app gives it in process.

Answers under load are checked byte for byte against these: a corpus of
varied bodies (both request forms, 1 to 64 rows, values in and beyond the
training ranges) is answered once in process, by the same ``create_app`` over
the same model directory, and those labels are checked against
scikit-learn's own ``predict`` before anything is sent.
"""

import json
import random
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
import sklearn
from sklearn.datasets import load_iris
from werkzeug.test import Client

from contract.model_directory import MODEL_FILENAME
from wsgi_service import Settings, create_app, load_model


@dataclass(frozen=True)
class Exchange:
    """One request and what it must get: ``status``, and when ``expected`` is given, that body
    byte for byte (a problem's body names its request id, so problems are judged by status)."""

    request_id: str
    body: bytes
    expected: bytes | None  # the in-process answer, byte for byte
    status: int = 200
    path: str = "/predict"
    content_type: str | None = "application/json"
    headers: tuple[tuple[str, str], ...] = ()
    kind: str = "corpus"  # how a run counts it


def build_corpus(model_dir: Path, size: int = 600, seed: int = 6) -> list[Exchange]:
    """``size`` bodies from a fixed seed, each with the in-process answer.

    Rows are iris rows with noise, draws across and beyond the training
    ranges, and a few extremes; bodies take the seed form, the rich form
    with arrays, or the rich form with named rows. The in-process labels and
    probabilities are checked against scikit-learn's own ``predict`` and
    ``predict_proba`` (not the compiled forest) before anything is sent.
    """
    app = create_app(settings=Settings(model_dir=model_dir))
    client = Client(app)
    estimator = joblib.load(Path(model_dir) / MODEL_FILENAME)
    estimator.n_jobs = 1  # the reference: scikit-learn adds the trees in order
    features = load_model(model_dir).feature_names
    iris = load_iris().data
    generator = random.Random(seed)
    corpus, all_rows, all_labels, rich_rows, rich_probabilities = [], [], [], [], []
    for index in range(size):
        rows = [_row(generator, iris) for _ in range(_row_count(generator))]
        form = generator.choice(("seed", "rich arrays", "rich named"))
        if form == "seed":
            document = rows
        elif form == "rich arrays":
            document = {"instances": rows}
        else:
            document = {"instances": [dict(zip(features, row)) for row in rows]}
        body = json.dumps(document, separators=(",", ":")).encode()
        response = client.post("/predict", data=body, content_type="application/json")
        if response.status_code != 200:
            raise RuntimeError(f"in process, corpus body {index} answered {response.status_code}: "
                               f"{response.get_data()[:300]!r}")
        answer = json.loads(response.get_data())
        all_labels += answer if form == "seed" else [p["label"] for p in answer["predictions"]]
        all_rows += rows
        if form != "seed":
            rich_rows += rows
            rich_probabilities += [list(p["probabilities"].values()) for p in answer["predictions"]]
        corpus.append(Exchange(f"rel-{index}", body, response.get_data()))
    # Values near float32's limits would overflow scikit-learn's finiteness
    # check (a sum); the contract already guarantees they are finite.
    with sklearn.config_context(assume_finite=True):
        by_sklearn = estimator.predict(np.array(all_rows, dtype=np.float64)).tolist()
        probabilities = estimator.predict_proba(np.array(rich_rows, dtype=np.float64)).tolist()
    if all_labels != by_sklearn:
        wrong = next(i for i, (a, b) in enumerate(zip(all_labels, by_sklearn)) if a != b)
        raise RuntimeError(f"in process, row {all_rows[wrong]} is labelled {all_labels[wrong]}, "
                           f"scikit-learn says {by_sklearn[wrong]}")
    if rich_probabilities != probabilities:  # JSON keeps a float's every bit (repr round-trips)
        raise RuntimeError("in process, probabilities differ from scikit-learn's predict_proba")
    return corpus


def _row_count(generator: random.Random) -> int:
    draw = generator.random()
    if draw < 0.7:
        return 1
    if draw < 0.95:
        return generator.randint(2, 16)
    return generator.randint(17, 64)


def _row(generator: random.Random, iris: np.ndarray) -> list[float | int]:
    draw = generator.random()
    if draw < 0.6:  # a real flower, measured a little differently
        return [round(float(value) + generator.gauss(0, 0.3), generator.choice((1, 2, 3)))
                for value in iris[generator.randrange(len(iris))]]
    if draw < 0.9:  # anywhere in and around the training ranges
        return [round(generator.uniform(0, 9), 2) for _ in range(iris.shape[1])]
    return [generator.choice((0, -1, 100, 1e-7, 3.4e38, -3.4e38, 7, 2.5)) for _ in range(iris.shape[1])]
