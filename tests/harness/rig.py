"""A multi-instance rig as close to Elastic Beanstalk as one machine gets: instances, a balancer, deploys.

Three instances, each on a loopback address of its own (127.0.0.11, .12, .13;
the additional batch's instance on .14), each as EB runs one: the app as the
Procfile starts it, bound to its instance's address (and a free port: 8000 on
every address would collide with anything else on the machine that binds
0.0.0.0:8000), with one gunicorn worker (each instance stands for a machine),
behind an nginx configured from ``.platform/nginx`` as EB's platforms
configure it (``tests.harness.nginx``). In front, HAProxy stands for the
Application Load Balancer: active health checks on ``/health`` (every second,
out after 2 failures, in after 2 passes: EB's 5 s scaled down to keep the rig
short) and deregistration by draining a server (no new requests; those in
flight finish) for up to the deregistration delay. It opens a connection per
request to an instance's nginx, and retries one that the instance refused (the
request never reached it) on another instance.

The load is ``ClientThreads`` on kept-alive connections to the balancer, each
answer judged against the in-process answer of the model version its
``X-Model`` header names (``version_judge``). The scenarios (a rolling deploy,
a broken one, SIGKILL of an instance, capacity) are tests: ``pytest -m rig``
(tests/rig/), which ``python -m tests.harness.rig`` runs.
"""

import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from werkzeug.test import Client

from contract.model_directory import MODEL_FILENAME
from tests.harness import nginx
from tests.harness.clients import MODEL_HEADER, Attempt, Judge
from tests.harness.corpus import Exchange
from tests.harness.raw_http import HttpAnswer
from tests.harness.server import REPO_ROOT, free_port
from tests.harness.wrk import body_args, run_wrk
from wsgi_service import Settings, create_app

INSTANCES = 3
ADDRESSES = [f"127.0.0.{11 + index}" for index in range(INSTANCES + 1)]  # the last: the additional batch
CHECK_INTERVAL_S, FALL, RISE = 1, 2, 2
DEREGISTRATION_DELAY_S = 10  # .ebextensions/01-health.config
HEALTHY_TIMEOUT_S = 30  # a start takes ~5 s; a version that is not healthy by then has failed
LOAD_THREADS = 4
LOAD_TIMEOUT_S = 30


# --- the model versions and the answers each gives ----------------------------------------------

@dataclass
class Version:
    label: str
    model_dir: Path
    header: str = ""
    answers: dict[bytes, bytes] = field(default_factory=dict)  # request body -> its answer


def exchanges(seed: int = 5) -> list[Exchange]:
    """Single rows (most of the load) and a few 100-row batches of iris-like rows; their answers
    depend on the version serving, so ``version_judge`` judges them."""
    generator = random.Random(seed)
    row = lambda: [round(generator.uniform(0, 8), 2) for _ in range(4)]  # noqa: E731
    singles = [json.dumps([row()]).encode() for _ in range(24)]
    batches = [json.dumps([row() for _ in range(100)]).encode() for _ in range(4)]
    return [Exchange(f"rig-{index}", body, None) for index, body in enumerate(singles + batches)]


def answered(version: Version, requests: list[Exchange]) -> Version:
    client = Client(create_app(settings=Settings(model_dir=version.model_dir)))
    for exchange in requests:
        response = client.post("/predict", data=exchange.body, content_type="application/json")
        version.answers[exchange.body] = response.get_data()
        version.header = response.headers[MODEL_HEADER]
    return version


def train(out: Path, version: str, seed: int) -> Path:
    subprocess.run([sys.executable, "-m", "training", "--out", str(out), "--version", version, "--seed", str(seed)],
                   cwd=REPO_ROOT, check=True, capture_output=True)
    return out


def broken_copy(model_dir: Path, out: Path) -> Path:
    """The model directory with one byte of its model file changed: refused at start."""
    shutil.copytree(model_dir, out)
    data = bytearray((out / MODEL_FILENAME).read_bytes())
    data[len(data) // 2] ^= 0x01
    (out / MODEL_FILENAME).write_bytes(bytes(data))
    return out


def version_judge(versions: list[Version]) -> Judge:
    """``ok`` for a 200 whose body is the answer of the version its X-Model header names."""
    by_header = {version.header: version for version in versions}

    def judge(answer: HttpAnswer, exchange: Exchange) -> str:
        known = by_header.get(answer.headers.get(MODEL_HEADER, ""))
        if answer.status != 200:
            return f"status {answer.status}"
        if known is None:
            return f"unknown X-Model {answer.headers.get(MODEL_HEADER)!r}"
        return "ok" if answer.body == known.answers[exchange.body] else "wrong answer"
    return judge


def label_of(versions: list[Version], record: Attempt) -> str:
    """The version label of the model that answered, or "" when none did."""
    return next((version.label for version in versions if version.header and version.header == record.model), "")


# --- an instance: nginx in front of the app, on an address of its own ----------------------------

class Instance:
    def __init__(self, name: str, address: str, ports: tuple[int, int], scratch: Path):
        self.name, self.address = name, address
        self.nginx_port, self.app_port = ports
        self.dir = scratch / name
        self.dir.mkdir(parents=True)
        os.chmod(scratch, 0o711)  # nginx's workers (nobody) reach their directory through it
        self.app: subprocess.Popen | None = None
        self.nginx: subprocess.Popen | None = None
        self.version: Version | None = None

    def start_nginx(self) -> None:
        self.nginx = nginx.start(nginx.write_config(self.dir, self.address, self.app_port, self.nginx_port))

    def start_app(self, version: Version) -> None:
        """The Procfile's command, bound to this instance's address instead of all of them."""
        procfile = (REPO_ROOT / "Procfile").read_text().split("web:", 1)[1].split("\n", 1)[0].split()
        command = [part if part != "0.0.0.0:8000" else f"{self.address}:{self.app_port}" for part in procfile]
        environment = {**os.environ, "MODEL_DIR": str(version.model_dir), "WEB_CONCURRENCY": "1",
                       "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
        self.version = version
        with open(self.dir / "app.log", "a") as log:
            self.app = subprocess.Popen(command, cwd=REPO_ROOT, env=environment, stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True)

    def healthy(self) -> bool:
        """/health answers 200 through this instance's nginx."""
        connection = http.client.HTTPConnection(self.address, self.nginx_port, timeout=1)
        try:
            connection.request("GET", "/health")
            return connection.getresponse().status == 200
        except OSError:
            return False
        finally:
            connection.close()

    def wait_healthy(self, timeout_s: float = HEALTHY_TIMEOUT_S) -> bool:
        """True once healthy; False when the app exits first (a refused start) or after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and self.app is not None and self.app.poll() is None:
            if self.healthy():
                return True
            time.sleep(0.1)
        return False

    def stop_app(self) -> None:
        """SIGTERM, as a deploy stops the app (the service drains), and wait for it to exit."""
        if self.app is not None and self.app.poll() is None:
            self.app.send_signal(signal.SIGTERM)
            self.app.wait(timeout=30)

    def kill(self) -> None:
        """SIGKILL to every process of the instance, nginx and the app at once, as a machine that dies."""
        alive = [process for process in (self.nginx, self.app) if process is not None and process.poll() is None]
        for process in alive:
            os.killpg(process.pid, signal.SIGKILL)
        for process in alive:
            process.wait()

    def stop(self) -> None:
        self.stop_app()
        if self.nginx is not None:
            nginx.stop(self.nginx)


# --- the balancer ------------------------------------------------------------------------------

class Balancer:
    """HAProxy with active health checks, driven through its runtime API."""

    def __init__(self, instances: list[Instance], scratch: Path):
        self.port = free_port()
        self.socket_path = scratch / "haproxy.sock"
        servers = "\n".join(f"    server {i.name} {i.address}:{i.nginx_port} check disabled" for i in instances)
        config = scratch / "haproxy.cfg"
        config.write_text(f"""global
    stats socket {self.socket_path} mode 600 level admin
    maxconn 2000
defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    retries 2
    option redispatch
    http-reuse never
frontend balancer
    bind 127.0.0.1:{self.port}
    default_backend instances
backend instances
    balance roundrobin
    # As an ALB checks a target: HTTP/1.1 with a Host header (HAProxy's default check is HTTP/1.0
    # without one, which nginx forwards as HTTP/1.1 without one, refused 400 as RFC 9112 says).
    option httpchk
    http-check send meth GET uri /health ver HTTP/1.1 hdr Host balancer
    http-check expect status 200
    default-server inter {CHECK_INTERVAL_S}s fall {FALL} rise {RISE}
{servers}
""")
        self.process = subprocess.Popen(["haproxy", "-db", "-f", str(config)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 10
        while not self.socket_path.exists():
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("haproxy did not start")
            time.sleep(0.05)

    def command(self, text: str) -> str:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(str(self.socket_path))
            sock.sendall(text.encode() + b"\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def servers(self) -> dict[str, dict]:
        """Per server, HAProxy's ``show stat`` row: status (UP, DOWN, MAINT, DRAIN, ...), scur, ..."""
        lines = self.command("show stat").splitlines()
        header = lines[0].lstrip("# ").split(",")
        rows = [dict(zip(header, line.split(","))) for line in lines[1:] if line]
        return {row["svname"]: row for row in rows if row["pxname"] == "instances"
                and row["svname"] not in ("FRONTEND", "BACKEND")}

    def status(self, name: str) -> str:
        return self.servers()[name]["status"]

    def register(self, instance: Instance, timeout_s: float = HEALTHY_TIMEOUT_S) -> float:
        """Put the instance in rotation; seconds until the balancer's checks say UP."""
        started = time.monotonic()
        self.command(f"set server instances/{instance.name} state ready")
        while self.status(instance.name) != "UP":
            if time.monotonic() - started > timeout_s:
                raise RuntimeError(f"{instance.name} is not UP after {timeout_s} s: {self.servers()[instance.name]}")
            time.sleep(0.05)
        return time.monotonic() - started

    def deregister(self, instance: Instance) -> float:
        """Drain the instance (no new requests) until none is in flight, or the deregistration delay;
        seconds it took. Then take it out of rotation altogether."""
        started = time.monotonic()
        self.command(f"set server instances/{instance.name} state drain")
        while int(self.servers()[instance.name]["scur"] or 0) > 0:
            if time.monotonic() - started > DEREGISTRATION_DELAY_S:
                break
            time.sleep(0.05)
        self.command(f"set server instances/{instance.name} state maint")
        return time.monotonic() - started

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


# --- the scenarios' parts ----------------------------------------------------------------------

@dataclass
class Outcome:
    lines: list[str]
    killed_at: float | None = None  # when an instance was killed, for a kill
    down_after_s: float = 0.0  # how long the balancer took to take it out


def rolling_deploy(balancer: Balancer, serving: list[Instance], extra: Instance, new: Version) -> Outcome:
    """RollingWithAdditionalBatch, batch size 1."""
    started = time.monotonic()
    lines = []
    extra.start_nginx()
    extra.start_app(new)
    if not extra.wait_healthy():
        exit_code = extra.app.poll()
        extra.stop()
        return Outcome([f"  the additional instance ({new.label}) never turned healthy (its app exited with "
                        f"{exit_code}): rollout stopped after {time.monotonic() - started:.1f} s; the serving "
                        f"instances were not touched"])
    lines.append(f"  additional instance {extra.name} ({new.label}) in rotation after "
                 f"{balancer.register(extra):.1f} s of checks")
    for instance in serving:
        drained = balancer.deregister(instance)
        stop_started = time.monotonic()
        instance.stop_app()
        stopped = time.monotonic() - stop_started
        instance.start_app(new)
        if not instance.wait_healthy():
            raise RuntimeError(f"{instance.name} did not turn healthy with {new.label}")
        registered = balancer.register(instance)
        lines.append(f"  {instance.name}: deregistered in {drained:.1f} s, stopped in {stopped:.1f} s, "
                     f"{new.label} in rotation {registered:.1f} s after healthy")
    balancer.deregister(extra)
    extra.stop()
    lines.append(f"  additional instance removed; deploy took {time.monotonic() - started:.1f} s")
    return Outcome(lines)


def kill_one(balancer: Balancer, instance: Instance) -> Outcome:
    time.sleep(1)
    instance.kill()
    killed_at = time.monotonic()  # every process of the instance is gone
    while balancer.status(instance.name) == "UP" and time.monotonic() - killed_at < 30:
        time.sleep(0.02)
    down_after = time.monotonic() - killed_at
    time.sleep(2)
    return Outcome([f"  killed {instance.name} (nginx and the app, SIGKILL); the balancer marked it "
                    f"{balancer.status(instance.name)}"], killed_at, down_after)


def judge_scenario(title: str, started: float, done: float, outcome: Outcome, results: list[Attempt],
                   versions: list[Version], *, before: str, after: str) -> tuple[list[str], list[str]]:
    """The scenario's figures, and the clauses it missed. It passes when no request failed (for a kill:
    none that started after it, and the balancer took the instance out within its checks), the first
    answers came from version ``before``, and every answer once it was done from ``after``."""
    results = sorted(results, key=lambda r: r.started)
    failed = [r for r in results if r.outcome != "ok"]
    labels = [label_of(versions, r) for r in results]
    lines, misses = [title, *outcome.lines], []
    counts: dict[str, int] = {}
    for label in labels:
        counts[label or "(none)"] = counts.get(label or "(none)", 0) + 1
    lines.append(f"  {len(results)} requests during the scenario, {len(failed)} failed; answered by "
                 + ", ".join(f"{label}: {count}" for label, count in sorted(counts.items())))
    if outcome.killed_at is not None:
        late = [r for r in failed if r.started > outcome.killed_at]
        lines.append(f"  failed: {len(failed)} in flight at the kill, {len(late)} started after it; out of rotation "
                     f"{outcome.down_after_s:.1f} s after the kill (checks every {CHECK_INTERVAL_S} s, fall {FALL})")
        if late:
            misses.append(f"{len(late)} requests that started after the kill failed")
        if outcome.down_after_s > (FALL + 1) * CHECK_INTERVAL_S:
            misses.append(f"out of rotation only {outcome.down_after_s:.1f} s after the kill")
    elif failed:
        misses.append(f"{len(failed)} requests failed")
    if failed:
        lines.append("  failures: " + "; ".join(f"{r.outcome} (started {r.started - started:.2f} s in)"
                                                for r in failed[:8]))
    first = labels[0] if labels else ""
    late_versions = {label for r, label in zip(results, labels) if r.started > done and r.outcome == "ok"}
    lines.append(f"  first answers from {first or '(none)'}, every answer after it from "
                 f"{', '.join(sorted(late_versions)) or '(none)'} (expected {before}, then {after})")
    if first != before or late_versions != {after}:
        misses.append(f"answers from {first or '(none)'}, then {sorted(late_versions)}: not {before}, then {after}")
    lines.append(f"  {'PASS' if not misses else 'FAIL'} in {time.monotonic() - started:.1f} s")
    return lines, misses


def capacity(balancer: Balancer, instances: list[Instance], body: Path) -> list[str]:
    """Requests/s through the balancer with 1, 2, 3 instances in rotation (wrk, 16 connections, 5 s,
    one row), a line each; an instance out of rotation is in maintenance."""
    alive = [i for i in instances if i.app is not None and i.app.poll() is None and i.healthy()]
    lines = [f"capacity through the balancer (wrk, 16 connections, 5 s, one row; {os.cpu_count()} cores):"]
    print(lines[0], flush=True)
    for count in range(1, len(alive) + 1):
        for index, instance in enumerate(alive):
            state = "ready" if index < count else "maint"
            balancer.command(f"set server instances/{instance.name} state {state}")
        time.sleep(RISE * CHECK_INTERVAL_S + 1)
        run = run_wrk(f"http://127.0.0.1:{balancer.port}/predict", body_args(body), 16, 5)
        lines.append(f"  {count} instance(s): {run.requests_per_s:,.0f} requests/s, p50 {run.p50_ms:.1f} ms, "
                     f"p99 {run.p99_ms:.1f} ms, {run.errors} errors")
        print(lines[-1], flush=True)
    return lines


def main(argv: list[str] | None = None) -> int:
    """The rig's scenarios, as ``pytest -m rig`` runs them; further arguments go to pytest (``--capacity``
    is accepted and dropped: capacity is one of the scenarios)."""
    import pytest  # the tests' runner, needed only here

    args = [arg for arg in (sys.argv[1:] if argv is None else argv) if arg != "--capacity"]
    return pytest.main(["-m", "rig", "-s", str(REPO_ROOT / "tests" / "rig"), *args])


if __name__ == "__main__":
    sys.exit(main())
