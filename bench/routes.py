"""``python -m bench.routes``: what each way in costs a single row, measured against /predict in the same rounds.

Three servers, started as production starts them (two sync workers): the
HTTP ceiling (``bench.ceiling``: parse the JSON, answer a constant), the
service without API keys, and the service with ``API_KEYS`` set. wrk posts
one row of the model (or the same row as an Open Inference Protocol tensor)
at 8 connections, to:

- the ceiling: what the service could reach if it did nothing;
- ``/predict`` on the server without keys: the baseline;
- ``/predict`` on the locked server, with ``Authorization: Bearer <key>``:
  the key's check (a SHA-256 and a constant-time comparison per key);
- ``/v2/models/<name>/infer`` on the server without keys: the V2 route.

The three loads take turns for ``--rounds`` rounds of ``--duration``
seconds (after ``--warmup`` seconds each); each route's figure is the median
over the rounds of its rate, and its ratio the median of the per-round ratios
to the baseline, so a burst of other work on the machine spoils one round,
not a ratio. Every answer must be a 200. ``--model-dir`` serves another model
(``--forest classifier`` a production-sized one, ``bench/forests.py``).
"""

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from bench.forests import FORESTS, forest_rows, model_directory
from tests.harness.server import running_server
from tests.harness.wrk import body_args, run_wrk
from wsgi_service.operations.api_keys import ENV_API_KEYS

CONNECTIONS = 8


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.routes", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", type=Path, help="a model directory (default: iris, trained here)")
    parser.add_argument("--forest", choices=[spec.name for spec in FORESTS],
                        help="serve a production-sized forest from bench/forests.py instead")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=int, default=5, metavar="S")
    parser.add_argument("--warmup", type=int, default=1, metavar="S")
    args = parser.parse_args(argv)
    print(f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, load average {os.getloadavg()[0]:.2f}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-routes-") as scratch:
        model_dir = args.model_dir
        if args.forest:
            model_dir = model_directory(next(spec for spec in FORESTS if spec.name == args.forest))
        elif model_dir is None:
            model_dir = Path(scratch) / "iris"
            subprocess.run([sys.executable, "-m", "training", "--out", str(model_dir)], check=True,
                           stdout=subprocess.DEVNULL)
        manifest = json.loads((model_dir / "manifest.json").read_text())
        row = forest_rows(model_dir, 1)[0].tolist() if args.forest else [5.1, 3.5, 1.4, 0.2]
        bodies = {"predict": [row], "infer": {"inputs": [{"name": "input-0", "shape": [1, len(row)],
                                                         "datatype": "FP64", "data": row}]}}
        paths = {}
        for name, body in bodies.items():
            paths[name] = Path(scratch) / f"{name}.json"
            paths[name].write_text(json.dumps(body))
        key = secrets.token_urlsafe(32)
        with running_server("bench.ceiling:application", model_dir=model_dir) as ceiling, \
                running_server(model_dir=model_dir) as open_server, \
                running_server(model_dir=model_dir, env={ENV_API_KEYS: key}) as locked_server:
            loads = {
                "/predict": (f"{open_server.base_url}/predict", paths["predict"], ()),
                "ceiling": (f"{ceiling.base_url}/predict", paths["predict"], ()),
                "/predict with a key": (f"{locked_server.base_url}/predict", paths["predict"],
                                        (f"Authorization: Bearer {key}",)),
                "V2 infer": (f"{open_server.base_url}/v2/models/{manifest['name']}/infer", paths["infer"], ()),
            }
            rates = {name: [] for name in loads}
            for round_number in range(args.rounds):
                for name, (url, body, headers) in loads.items():
                    if args.warmup:
                        run_wrk(url, body_args(body), CONNECTIONS, args.warmup, headers=headers)
                    run = run_wrk(url, body_args(body), CONNECTIONS, args.duration, headers=headers)
                    if run.errors:
                        raise SystemExit(f"{name}: {run.errors} failed requests ({run.detail})")
                    rates[name].append(run.requests_per_s)
                print(f"round {round_number + 1}: " + ", ".join(f"{name} {values[-1]:,.0f}/s"
                                                               for name, values in rates.items()), flush=True)
    baseline = rates["/predict"]
    print(f"\n{manifest['name']}: single row, {CONNECTIONS} connections, {args.rounds} rounds of {args.duration} s, "
          f"medians; load average now {os.getloadavg()[0]:.2f}")
    for name, values in rates.items():
        ratio = statistics.median(value / base for value, base in zip(values, baseline))
        print(f"  {name:<22} {statistics.median(values):>8,.0f} requests/s   {ratio:.3f} x /predict")


if __name__ == "__main__":
    main()
