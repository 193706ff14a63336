"""The multi-instance rig (``tests.harness.rig``), started once for its scenarios: three instances of version 1
behind HAProxy, and the load through it the whole time."""

import shutil
import time
from pathlib import Path

import pytest

from tests.harness import rig
from tests.harness.clients import ClientThreads
from tests.harness.server import free_port


@pytest.fixture(scope="session")
def requests():
    return rig.exchanges()


@pytest.fixture(scope="session")
def versions(tmp_path_factory, requests) -> dict[str, rig.Version]:
    """Version 1 and 2 (trained with other seeds), each with its in-process answers, and a broken copy of 2."""
    models = tmp_path_factory.mktemp("rig-models")
    found = {"v1": rig.answered(rig.Version("v1", rig.train(models / "v1", "1.0.0", 0)), requests),
             "v2": rig.answered(rig.Version("v2", rig.train(models / "v2", "2.0.0", 7)), requests)}
    found["broken"] = rig.Version("broken", rig.broken_copy(found["v2"].model_dir, models / "broken"))
    return found


@pytest.fixture(scope="session")
def fleet(tmp_path_factory, versions):
    """(balancer, instances, the additional batch's instance maker): every instance serving v1, in rotation."""
    for tool in ("nginx", "haproxy", "wrk"):
        if shutil.which(tool) is None:
            pytest.fail(f"the rig needs {tool} (Debian: apt-get install {tool})")
    scratch = tmp_path_factory.mktemp("rig")
    ports = (free_port(), free_port())  # nginx's and the app's, the same on every address
    instances = [rig.Instance(f"i{index + 1}", address, ports, scratch)
                 for index, address in enumerate(rig.ADDRESSES[:rig.INSTANCES])]
    # The additional batch's instance, once for each deploy: the balancer knows them all from its start.
    extras = [rig.Instance(f"extra-{number}", rig.ADDRESSES[rig.INSTANCES], ports, scratch) for number in (1, 2)]
    unused = list(extras)
    balancer = rig.Balancer([*instances, *extras], scratch)

    def extra() -> rig.Instance:
        return unused.pop(0)

    try:
        for instance in instances:
            instance.start_nginx()
            instance.start_app(versions["v1"])
        for instance in instances:
            if not instance.wait_healthy():
                pytest.fail(f"{instance.name} did not start: {(instance.dir / 'app.log').read_text()[-2000:]}")
            balancer.register(instance)
        print(f"rig: {rig.INSTANCES} instances ({', '.join(rig.ADDRESSES[:rig.INSTANCES])}, nginx :{ports[0]} -> "
              f"app :{ports[1]}) behind HAProxy on 127.0.0.1:{balancer.port}; checks every {rig.CHECK_INTERVAL_S} s, "
              f"fall {rig.FALL}, rise {rig.RISE}; load: {rig.LOAD_THREADS} threads, single rows and 100-row batches")
        yield balancer, instances, extra
    finally:
        balancer.stop()
        for instance in (*instances, *extras):
            instance.stop()


@pytest.fixture(scope="session")
def load(fleet, requests, versions):
    """Client threads on kept-alive connections to the balancer, every answer judged by its version's."""
    balancer, _, _ = fleet
    judge = rig.version_judge([versions["v1"], versions["v2"]])
    with ClientThreads(balancer.port, requests, rig.LOAD_THREADS, timeout=rig.LOAD_TIMEOUT_S,
                       keep_alive=True, judge=judge) as clients:
        time.sleep(2)
        yield clients


@pytest.fixture
def scenario(load, versions):
    """``scenario(title, action, before=, after=)``: runs ``action`` under the load, prints its figures and
    fails with the clauses it missed."""
    def run(title: str, action, *, before: str, after: str) -> rig.Outcome:
        print(title, flush=True)
        started = time.monotonic()
        outcome = action()
        done = time.monotonic()
        time.sleep(1)
        results = [r for r in load.since(started) if r.started <= time.monotonic()]
        lines, misses = rig.judge_scenario(title, started, done, outcome, results,
                                           [versions["v1"], versions["v2"]], before=before, after=after)
        print("\n".join(lines[1:]), flush=True)
        assert not misses, f"{title}: {'; '.join(misses)}"
        return outcome
    return run


@pytest.fixture
def one_row_body(requests, tmp_path) -> Path:
    body = tmp_path / "body.json"
    body.write_bytes(requests[0].body)
    return body
