"""A multi-instance rig as close to Elastic Beanstalk as one machine gets, and its scenarios under load.

Three instances, each on a loopback address of its own (127.0.0.11, .12, .13;
the additional batch's instance on .14), each as EB runs one: the app as the
Procfile starts it, bound to its instance's address (and a free port: 8000 on
every address would collide with anything else on the machine that binds
0.0.0.0:8000), with one gunicorn worker (each instance stands for a machine), behind an nginx configured from ``.platform/nginx`` as EB's platforms
configure it (``.ci/eb-nginx.conf``). In front, HAProxy stands for the
Application Load Balancer: active health checks on ``/health`` (every second,
out after 2 failures, in after 2 passes: EB's 5 s scaled down to keep the rig
short) and deregistration by draining a server (no new requests; those in
flight finish) for up to the deregistration delay. It opens a connection per
request to an instance's nginx, and retries one that the instance refused (the
request never reached it) on another instance.

A bounded load of single-row and 100-row requests runs through the balancer
the whole time; every answer is checked against the in-process answer of the
model version its ``X-Model`` header names. The scenarios:

a. a rolling deploy of version 2 as ``RollingWithAdditionalBatch`` with batch
   size 1 does it: a new instance first, then each old one deregistered,
   drained, stopped (SIGTERM), started with version 2, healthy, registered;
   the additional instance removed last. No request may fail; the answers
   switch from version 1 to version 2.
b. a deploy of a broken version (a tampered model file: the start-up check
   refuses it): the new instance never turns healthy, the rollout stops, the
   serving instances are never touched; no request may fail.
c. SIGKILL of one whole instance (nginx and the app) under load: only
   requests in flight on it may fail; the balancer takes it out within its
   health checks.

``--capacity`` also measures requests/s through the balancer with 1, 2 and 3
instances in rotation (wrk, single rows).

    python -m tests.harness.rig [--capacity]
"""

import argparse
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from werkzeug.test import Client

from contract.model_directory import MODEL_FILENAME
from tests.harness.server import REPO_ROOT, free_port
from tests.harness.wrk import body_args, run_wrk
from wsgi_service import Settings, create_app
from wsgi_service.edge.prepared import MODEL_HEADER

INSTANCES = 3
ADDRESSES = [f"127.0.0.{11 + index}" for index in range(INSTANCES + 1)]  # the last: the additional batch
CHECK_INTERVAL_S, FALL, RISE = 1, 2, 2
DEREGISTRATION_DELAY_S = 10  # .ebextensions/01-health.config
HEALTHY_TIMEOUT_S = 30  # a start takes ~5 s; a version that is not healthy by then has failed
LOAD_THREADS = 4
NGINX_TEMPLATE = REPO_ROOT / ".ci" / "eb-nginx.conf"


# --- the model versions and the answers each gives ----------------------------------------------

@dataclass
class Version:
    label: str
    model_dir: Path
    header: str = ""
    answers: list[bytes] = field(default_factory=list)


def bodies(seed: int = 5) -> list[bytes]:
    """Single rows (most of the load) and a few 100-row batches of iris-like rows."""
    generator = random.Random(seed)
    row = lambda: [round(generator.uniform(0, 8), 2) for _ in range(4)]  # noqa: E731
    singles = [json.dumps([row()]).encode() for _ in range(24)]
    batches = [json.dumps([row() for _ in range(100)]).encode() for _ in range(4)]
    return singles + batches


def answered(version: Version, requests: list[bytes]) -> Version:
    client = Client(create_app(settings=Settings(model_dir=version.model_dir)))
    responses = [client.post("/predict", data=body, content_type="application/json") for body in requests]
    version.answers = [response.get_data() for response in responses]
    version.header = responses[0].headers[MODEL_HEADER]
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


# --- an instance: nginx in front of the app, on an address of its own ----------------------------

class Instance:
    def __init__(self, name: str, address: str, ports: tuple[int, int], scratch: Path):
        self.name, self.address = name, address
        self.nginx_port, self.app_port = ports
        self.dir = scratch / name
        (self.dir / "nginx-tmp").mkdir(parents=True)
        os.chmod(scratch, 0o711)
        os.chmod(self.dir, 0o711)
        os.chmod(self.dir / "nginx-tmp", 0o755)
        self.app: subprocess.Popen | None = None
        self.nginx: subprocess.Popen | None = None
        self.version: Version | None = None

    def start_nginx(self) -> None:
        config = self.dir / "nginx.conf"
        text = NGINX_TEMPLATE.read_text()
        for key, value in {"RUN_DIR": self.dir, "REPO": REPO_ROOT, "HOST": self.address,
                           "APP_PORT": self.app_port, "NGINX_PORT": self.nginx_port}.items():
            text = text.replace(f"@{key}@", str(value))
        config.write_text(text)
        self.nginx = subprocess.Popen(["nginx", "-p", str(self.dir), "-c", str(config), "-g", "daemon off;",
                                       "-e", str(self.dir / "nginx-error.log")],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)

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
        if self.nginx is not None and self.nginx.poll() is None:
            self.nginx.send_signal(signal.SIGQUIT)  # nginx's graceful shutdown
            try:
                self.nginx.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


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


# --- the load ----------------------------------------------------------------------------------

@dataclass
class Result:
    started: float
    ended: float
    version: str  # the X-Model header's version label, or "" when none came back
    failure: str  # "" when the answer was right


class Load:
    """Threads posting the bodies through the balancer, each answer checked against its version's."""

    def __init__(self, port: int, requests: list[bytes], versions: list[Version]):
        self.port, self.requests = port, requests
        self.by_header = {version.header: version for version in versions}
        self.results: list[Result] = []
        self._lock, self._stop = threading.Lock(), threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(number,), daemon=True)
                         for number in range(LOAD_THREADS)]

    def __enter__(self) -> "Load":
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)

    def _run(self, number: int) -> None:
        connection, index = None, number
        while not self._stop.is_set():
            index = (index + 7) % len(self.requests)
            started = time.monotonic()
            version, failure = "", ""
            try:
                if connection is None:
                    connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                connection.request("POST", "/predict", body=self.requests[index],
                                   headers={"Content-Type": "application/json"})
                response = connection.getresponse()
                body = response.read()
                known = self.by_header.get(response.getheader(MODEL_HEADER, ""))
                version = known.label if known else ""
                if response.status != 200:
                    failure = f"status {response.status}"
                elif known is None:
                    failure = f"unknown {MODEL_HEADER} {response.getheader(MODEL_HEADER)!r}"
                elif body != known.answers[index]:
                    failure = "wrong answer"
                if response.getheader("Connection", "").lower() == "close":
                    connection.close()
                    connection = None
            except (OSError, http.client.HTTPException) as error:
                failure = f"{type(error).__name__}"
                if connection is not None:
                    connection.close()
                connection = None
            with self._lock:
                self.results.append(Result(started, time.monotonic(), version, failure))

    def since(self, moment: float) -> list[Result]:
        with self._lock:
            return [result for result in self.results if result.started >= moment]


# --- the scenarios -----------------------------------------------------------------------------

@dataclass
class Outcome:
    lines: list[str]
    killed_at: float | None = None  # when an instance was killed, for a kill
    down_after_s: float = 0.0  # how long the balancer took to take it out


def failures(results: list[Result]) -> list[Result]:
    return [result for result in results if result.failure]


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


def run_scenarios(versions: dict[str, Version], broken: Version, capacity: bool) -> bool:
    requests = bodies()
    with tempfile.TemporaryDirectory(prefix="rig-") as scratch_name:
        scratch = Path(scratch_name)
        ports = (free_port(), free_port())  # nginx's and the app's, the same on every address
        instances = [Instance(f"i{index + 1}", address, ports, scratch)
                     for index, address in enumerate(ADDRESSES[:INSTANCES])]
        extra = Instance("extra", ADDRESSES[INSTANCES], ports, scratch)
        balancer = Balancer([*instances, extra], scratch)
        passed = True
        try:
            for instance in instances:
                instance.start_nginx()
                instance.start_app(versions["v1"])
            for instance in instances:
                if not instance.wait_healthy():
                    raise RuntimeError(f"{instance.name} did not start: {(instance.dir / 'app.log').read_text()[-2000:]}")
                balancer.register(instance)
            print(f"rig: {INSTANCES} instances ({', '.join(ADDRESSES[:INSTANCES])}, nginx :{ports[0]} -> app "
                  f":{ports[1]}) behind HAProxy on 127.0.0.1:{balancer.port}; checks every {CHECK_INTERVAL_S} s, "
                  f"fall {FALL}, rise {RISE}; load: {LOAD_THREADS} threads, single rows and 100-row batches",
                  flush=True)
            with Load(balancer.port, requests, list(versions.values())) as load:
                time.sleep(2)
                passed &= _scenario("a. rolling deploy of version 2", load, lambda: rolling_deploy(
                    balancer, instances, extra, versions["v2"]), before="v1", after="v2")
                extra = Instance("extra-2", ADDRESSES[INSTANCES], ports, scratch)
                passed &= _scenario("b. deploy of a broken version", load, lambda: rolling_deploy(
                    balancer, instances, extra, broken), before="v2", after="v2")
                passed &= _scenario("c. SIGKILL of one instance under load", load,
                                    lambda: _kill_one(balancer, instances[1]), before="v2", after="v2")
                # As the auto scaling group would, a new instance takes the dead one's place.
                instances[1].start_nginx()
                instances[1].start_app(versions["v2"])
                if not instances[1].wait_healthy():
                    raise RuntimeError("the replacement instance did not turn healthy")
                balancer.register(instances[1])
            if capacity:
                _capacity(balancer, instances, requests)
        finally:
            balancer.stop()
            for instance in (*instances, extra):
                instance.stop()
        return passed


def _scenario(title: str, load: Load, action, *, before: str, after: str) -> bool:
    """Run ``action`` under the load and print its figures. It passes when no request failed (for a
    kill: none that started after it, and the balancer took the instance out within its checks),
    the first answers came from version ``before``, and every answer once it was done from ``after``."""
    print(title, flush=True)
    started = time.monotonic()
    outcome = action()
    done = time.monotonic()
    time.sleep(1)
    results = sorted((r for r in load.since(started) if r.started <= time.monotonic()), key=lambda r: r.started)
    failed = failures(results)
    for line in outcome.lines:
        print(line)
    counts = {}
    for result in results:
        counts[result.version or "(none)"] = counts.get(result.version or "(none)", 0) + 1
    print(f"  {len(results)} requests during the scenario, {len(failed)} failed; answered by "
          + ", ".join(f"{label}: {count}" for label, count in sorted(counts.items())))
    if outcome.killed_at is not None:
        late = [r for r in failed if r.started > outcome.killed_at]
        ok = not late and outcome.down_after_s <= (FALL + 1) * CHECK_INTERVAL_S
        print(f"  failed: {len(failed)} in flight at the kill, {len(late)} started after it; out of rotation "
              f"{outcome.down_after_s:.1f} s after the kill (checks every {CHECK_INTERVAL_S} s, fall {FALL})")
    else:
        ok = not failed
    if failed:
        print("  failures: " + "; ".join(f"{r.failure} (started {r.started - started:.2f} s in)" for r in failed[:8]))
    first = results[0].version if results else ""
    late_versions = {r.version for r in results if r.started > done and not r.failure}
    ok &= first == before and late_versions == {after}
    print(f"  first answers from {first or '(none)'}, every answer after it from "
          f"{', '.join(sorted(late_versions)) or '(none)'} (expected {before}, then {after})")
    print(f"  {'PASS' if ok else 'FAIL'} in {time.monotonic() - started:.1f} s", flush=True)
    return ok


def _kill_one(balancer: Balancer, instance: Instance) -> Outcome:
    time.sleep(1)
    instance.kill()
    killed_at = time.monotonic()  # every process of the instance is gone
    while balancer.status(instance.name) == "UP" and time.monotonic() - killed_at < 30:
        time.sleep(0.02)
    down_after = time.monotonic() - killed_at
    time.sleep(2)
    return Outcome([f"  killed {instance.name} (nginx and the app, SIGKILL); the balancer marked it "
                    f"{balancer.status(instance.name)}"], killed_at, down_after)


def _capacity(balancer: Balancer, instances: list[Instance], requests: list[bytes]) -> None:
    """Requests/s through the balancer with 1, 2, 3 instances in rotation (wrk, single rows, 5 s)."""
    body = Path(tempfile.mkdtemp(prefix="rig-body-")) / "body.json"
    body.write_bytes(requests[0])
    alive = [i for i in instances if i.app is not None and i.app.poll() is None and i.healthy()]
    print(f"capacity through the balancer (wrk, 16 connections, 5 s, one row; {os.cpu_count()} cores):")
    for count in range(1, len(alive) + 1):
        for index, instance in enumerate(alive):
            state = "ready" if index < count else "maint"
            balancer.command(f"set server instances/{instance.name} state {state}")
        time.sleep(RISE * CHECK_INTERVAL_S + 1)
        run = run_wrk(f"http://127.0.0.1:{balancer.port}/predict", body_args(body), 16, 5)
        print(f"  {count} instance(s): {run.requests_per_s:,.0f} requests/s, p50 {run.p50_ms:.1f} ms, "
              f"p99 {run.p99_ms:.1f} ms, {run.errors} errors", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--capacity", action="store_true", help="also measure 1, 2 and 3 instances")
    args = parser.parse_args(argv)
    for tool in ("nginx", "haproxy"):
        if shutil.which(tool) is None:
            print(f"rig: {tool} is not installed (Debian: apt-get install {tool})", file=sys.stderr)
            return 2
    with tempfile.TemporaryDirectory(prefix="rig-models-") as models_name:
        models = Path(models_name)
        requests = bodies()
        versions = {"v1": answered(Version("v1", train(models / "v1", "1.0.0", 0)), requests),
                    "v2": answered(Version("v2", train(models / "v2", "2.0.0", 7)), requests)}
        broken = Version("broken", broken_copy(versions["v2"].model_dir, models / "broken"))
        started = time.monotonic()
        passed = run_scenarios(versions, broken, args.capacity)
        print(f"rig: {'all scenarios passed' if passed else 'FAILED'} in {time.monotonic() - started:.0f} s")
        return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
