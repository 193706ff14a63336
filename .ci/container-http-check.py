"""Smoke-check a running deployment over HTTP, body-size edge included.

Run by .ci/container-proof against the container directly and through an
nginx set up as Elastic Beanstalk sets it up: the service and nginx must agree
on the body limit (a body of exactly the limit is served, one byte more is a
413 in the contract's problem format, whoever refuses it). The full contract
suite (`python -m contract`) runs beside this when it exists.

    python .ci/container-http-check.py --base-url http://127.0.0.1:8080 --max-body-bytes 1048576
"""

import argparse
import json
import sys
import urllib.error
import urllib.request

from contract import load_contract, pointer_to, schema_validator

SEED_BODY = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]
SEED_LABELS = [0, 2]
PROBLEM_MEDIA_TYPE = "application/problem+json"
REQUEST_ID = "container-proof-413"


def request(base_url: str, method: str, path: str, body: bytes | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(base_url + path, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def padded_body(size: int) -> bytes:
    """A valid one-row seed body of exactly ``size`` bytes (trailing whitespace is valid JSON)."""
    body = json.dumps(SEED_BODY[:1]).encode()
    return body + b" " * (size - len(body))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--max-body-bytes", type=int, required=True)
    args = parser.parse_args()
    url, limit = args.base_url.rstrip("/"), args.max_body_bytes
    problem_schema = schema_validator(load_contract(), pointer_to("components", "schemas", "Problem"))
    json_headers = {"Content-Type": "application/json"}
    failures = 0

    def check(ok: bool, what: str, detail: object = "") -> None:
        nonlocal failures
        print(f"  {'ok  ' if ok else 'FAIL'} {what}{': ' + str(detail)[:300] if detail != '' else ''}")
        failures += not ok

    status, _, body = request(url, "GET", "/health")
    check(status == 200, "GET /health answers 200", status)

    status, _, body = request(url, "POST", "/predict", json.dumps(SEED_BODY).encode(), json_headers)
    check(status == 200 and json.loads(body) == SEED_LABELS,
          f"POST /predict {json.dumps(SEED_BODY)} answers {SEED_LABELS}", f"{status} {body[:80]!r}")

    status, _, body = request(url, "POST", "/predict", padded_body(limit), json_headers)
    check(status == 200 and json.loads(body) == SEED_LABELS[:1],
          f"a body of exactly {limit} bytes is served", f"{status} {body[:80]!r}")

    status, headers, body = request(url, "POST", "/predict", padded_body(limit + 1),
                                    {**json_headers, "X-Request-ID": REQUEST_ID})
    content_type = headers.get("Content-Type", "")
    check(status == 413 and content_type.startswith(PROBLEM_MEDIA_TYPE),
          f"a body of {limit + 1} bytes is refused with 413 {PROBLEM_MEDIA_TYPE}", f"{status} {content_type}")
    try:
        problem = json.loads(body)
    except ValueError:
        check(False, "the 413 body is JSON", body[:120])
    else:
        errors = [error.message for error in problem_schema.iter_errors(problem)]
        check(not errors, "the 413 body is a contract Problem", "; ".join(errors))
        check(problem.get("limit") == limit and problem.get("status") == 413,
              "the 413 body names the limit", problem)
        check(problem.get("request_id") == REQUEST_ID and headers.get("X-Request-ID") == REQUEST_ID,
              "the 413 answer echoes X-Request-ID", headers.get("X-Request-ID"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
