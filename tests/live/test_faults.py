"""Faults that need no load: a broken model refused at start, an unexpected exception inside a request.

The model refused at start (missing, truncated, tampered, other scikit-learn
version) with one line and exit status 1; a real unexpected exception (the
compiled forest corrupted in memory, ``tests.support.faulty_app``) answered
as a logged 500 by a worker that keeps serving.
"""

import json
import re

import pytest

from tests.harness.corpus import Exchange
from tests.harness.raw_http import http_exchange, request_bytes
from tests.harness.runs import REFUSALS, refusal_runs
from tests.harness.server import WORKERS, running_server
from tests.harness.wrk import corpus_args, run_wrk, write_corpus_table
from tests.support.faulty_app import HEALTHY_ROW, POISONED_ROW
from tests.support.problems import assert_problem
from tests.support.server_logs import json_lines


def report(capsys, figures) -> None:
    with capsys.disabled():
        print("\n" + "\n".join(figures.lines()))


@pytest.fixture(scope="module")
def refusals(model_dir, tmp_path_factory):
    return refusal_runs(model_dir, tmp_path_factory.mktemp("refusals"))


@pytest.mark.parametrize("fault", REFUSALS)
def test_broken_model_refused_at_start_with_one_line(refusals, fault, capsys):
    refusal = refusals[fault]
    report(capsys, refusal)
    assert refusal.exit_code == 1
    assert len(refusal.output_lines) == 1, refusal.output
    assert refusal.output_lines[0].startswith("Error: ")
    assert refusal.expected in refusal.output_lines[0]
    assert "Traceback" not in refusal.output


def test_unexpected_exception_is_a_logged_500_and_the_workers_keep_serving(model_dir, client, tmp_path):
    poisoned = Exchange("boom", json.dumps([POISONED_ROW]).encode(), b"")
    healthy_body = json.dumps([HEALTHY_ROW]).encode()
    healthy = Exchange("fine", healthy_body,
                       client.post("/predict", data=healthy_body, content_type="application/json").get_data())
    with running_server("tests.support.faulty_app:make_app()", model_dir=model_dir) as server:
        workers = server.workers()
        for number in range(10):
            answer = http_exchange(server.port, request_bytes(poisoned, f"boom-{number}"))
            body = assert_problem(answer.status, answer.headers["content-type"], json.loads(answer.body), 500)
            assert body["request_id"] == answer.headers["x-request-id"] == f"boom-{number}"
            assert "IndexError" not in answer.body.decode()
            answer = http_exchange(server.port, request_bytes(healthy, f"fine-{number}"))
            assert (answer.status, answer.body) == (200, healthy.expected)
        assert server.workers() == workers, "a worker died or was replaced"

        # The checks of the load runs can fail: a 500 and a wrong answer are both counted.
        wrong = Exchange("fine-but-expected-otherwise", healthy.body, healthy.expected.replace(b"[", b"[9,"))
        run = run_wrk(server.base_url, corpus_args(write_corpus_table([poisoned, wrong], tmp_path)), 2, 1)
        assert run.non_2xx > 0 and run.not_200 > 0 and run.wrong > 0, run

        log = server.log()
    errors = {line["request_id"]: line for line in json_lines(log) if line["level"] == "ERROR"}
    for number in range(10):
        logged = errors.get(f"boom-{number}")
        assert logged and (logged["method"], logged["path"]) == ("POST", "/predict"), \
            f"no error logged for boom-{number}:\n{log[-3000:]}"
        assert re.fullmatch(r"Traceback \(most recent call last\):\n(?:  .*\n)+IndexError: .*", logged["traceback"])
    assert log.count("Booting worker") == WORKERS
