"""The cost of one request through the WSGI app in process, per route: the edge, serving and
validation without a server, so a change to them shows undiluted by gunicorn and the network.

    python -m bench.edge                              # this checkout
    python -m bench.edge --against /path/to/old/checkout

With ``--against``, the same routes are timed on another checkout of the
service (imported through ``PYTHONPATH``, with a model its own training
writes), in separate processes whose order alternates every round; each
figure is the median over rounds of a median over batches of calls, and the
ratio is this checkout's over the other's. Loopback is not involved: every
call is ``app(environ, start_response)``.
"""

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
ONE_ROW = [[5.1, 3.5, 1.4, 0.2]]
ROUTES = {
    "GET /health": ("GET", "/health", None),
    "POST /predict, 1 row": ("POST", "/predict", ONE_ROW),
    "POST /predict rich, 100 rows": ("POST", "/predict", {"instances": ONE_ROW * 100}),
    "POST /v2/models/iris/infer, 1 row": ("POST", "/v2/models/iris/infer", {"inputs": [
        {"name": "input-0", "shape": [1, 4], "datatype": "FP64", "data": ONE_ROW[0]}]}),
    "GET /nope (404)": ("GET", "/nope", None),
}
BATCHES, WARMUP_CALLS = 15, 200


def environ(method: str, path: str, body: bytes) -> dict:
    return {"REQUEST_METHOD": method, "PATH_INFO": path, "CONTENT_TYPE": "application/json" if body else "",
            "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body), "SERVER_NAME": "bench",
            "SERVER_PORT": "80", "wsgi.url_scheme": "http", "REMOTE_ADDR": "127.0.0.1"}


def time_routes(model_dir: str) -> dict[str, float]:
    """Per route, the median over batches of the mean µs per call (run in the child process)."""
    import logging

    from wsgi_service import Settings, create_app

    app = create_app(settings=Settings(model_dir=Path(model_dir)))
    logging.getLogger("wsgi_service.access").setLevel(logging.WARNING)  # the access line is not the edge

    def start_response(status, headers):
        return None

    figures = {}
    for name, (method, path, document) in ROUTES.items():
        body = b"" if document is None else json.dumps(document).encode()
        calls = 300 if "100 rows" in name else 2000
        for _ in range(WARMUP_CALLS):
            app(environ(method, path, body), start_response)
        batches = []
        for _ in range(BATCHES):
            environs = [environ(method, path, body) for _ in range(calls)]
            started = time.perf_counter()
            for one in environs:
                app(one, start_response)
            batches.append((time.perf_counter() - started) / calls * 1e6)
        figures[name] = statistics.median(batches)
    return figures


def run_child(checkout: Path | None, model_dir: str) -> dict[str, float]:
    env = dict(os.environ)
    if checkout is not None:
        env["PYTHONPATH"] = str(checkout)
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", model_dir], env=env,
                          capture_output=True, text=True, check=True, cwd=checkout or REPO_ROOT)
    return json.loads(done.stdout.splitlines()[-1])


def train(checkout: Path | None, out: Path) -> str:
    env = dict(os.environ)
    if checkout is not None:
        env["PYTHONPATH"] = str(checkout)
    subprocess.run([sys.executable, "-m", "training", "--out", str(out)], env=env, check=True,
                   capture_output=True, cwd=checkout or REPO_ROOT)
    return str(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.edge", description=__doc__.split("\n\n")[0])
    parser.add_argument("--against", type=Path, help="another checkout of the service to time beside this one")
    parser.add_argument("--rounds", type=int, default=6, help="rounds, each running every checkout once (6)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(time_routes(args.child)))
        return 0
    with tempfile.TemporaryDirectory() as scratch:
        checkouts = {"this": None, **({"other": args.against.resolve()} if args.against else {})}
        models = {name: train(checkout, Path(scratch) / name) for name, checkout in checkouts.items()}
        rounds = {name: [] for name in checkouts}
        for number in range(args.rounds):
            order = list(checkouts) if number % 2 == 0 else list(reversed(checkouts))
            for name in order:
                rounds[name].append(run_child(checkouts[name], models[name]))
    print(f"{'route':36s} {'this µs':>9s}" + (f" {'other µs':>9s} {'this/other':>10s}" if args.against else ""))
    for route in ROUTES:
        this = statistics.median(figures[route] for figures in rounds["this"])
        line = f"{route:36s} {this:9.1f}"
        if args.against:
            other = statistics.median(figures[route] for figures in rounds["other"])
            line += f" {other:9.1f} {this / other:10.3f}"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
