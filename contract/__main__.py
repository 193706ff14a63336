"""``python -m contract --base-url URL``: certify a deployment against the contract.

Runs the pytest suite in ``contract/suite`` against the deployment (its
first check waits for it to become ready), isolated from whatever pytest
configuration and plugins surround it. Options it does not know (``--junitxml PATH``, ``-k``,
``-x``, ``--too-large-bytes N``) go to pytest. Exit status: 0 every check
passed, 1 some check failed, 2 bad command line, 3 the deployment never became
ready, 4 the suite itself could not run, 5 the deployment serves another
model's contract (the one line says which, and what to pass as ``--contract``),
6 the deployment asks for an API key the suite was not given or refuses the
one it was (``CONTRACT_API_KEY``, or ``--api-key``).
"""

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request

from contract import CONTRACT_PATH, load_contract, operations
from contract.generate import load_template, model_schema_names
from contract.limits import limits_of, with_limits
from contract.suite import (DEFAULT_TIMEOUT_S, DEFAULT_WAIT_S, ENV_API_KEY, ENV_BASE_URL, EXIT_ALL_PASSED,
                            EXIT_CHECKS_FAILED, EXIT_NEEDS_KEY, EXIT_NEVER_READY, EXIT_OTHER_MODEL,
                            EXIT_SUITE_ERROR, SUITE_DIR, locked_out)
from contract.suite.documented import SERVED_CONTRACT


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m contract", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", default=os.environ.get(ENV_BASE_URL),
                        help=f"the deployment's base URL, path prefix included (default: ${ENV_BASE_URL})")
    parser.add_argument("--contract", default=str(CONTRACT_PATH),
                        help="the contract to certify against: for your own model, the openapi.json "
                             "training wrote beside it (default: the iris contract)")
    parser.add_argument("--wait", type=float, default=DEFAULT_WAIT_S,
                        help="seconds to wait for the deployment to become ready (default: %(default)s)")
    parser.add_argument("--api-key", default=os.environ.get(ENV_API_KEY),
                        help=f"the API key of a locked deployment (default: ${ENV_API_KEY}, which keeps it "
                             "out of the command line)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S,
                        help="seconds each request may take (default: %(default)s)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args, pytest_args = parser.parse_known_args(argv)
    if not args.base_url or not args.base_url.startswith(("http://", "https://")):
        parser.error(f"give an http:// or https:// base URL with --base-url or ${ENV_BASE_URL}")
    try:
        local = load_contract(args.contract)
    except (OSError, ValueError) as error:
        parser.error(f"cannot read the contract {args.contract}: {error}")
    try:
        other = _another_models_contract(args.base_url, local, args.wait, args.timeout, args.api_key)
    except PermissionError as locked_out:
        print(locked_out, file=sys.stderr)
        return EXIT_NEEDS_KEY
    if other:
        print(other, file=sys.stderr)
        return EXIT_OTHER_MODEL
    if args.api_key:  # handed over in the environment, never on pytest's command line
        os.environ[ENV_API_KEY] = args.api_key
    # Imported only now: ``--help`` and a bad command line should not pay for pytest.
    import pytest

    status = pytest.main([
        str(SUITE_DIR),
        # The suite's own settings, not those of the project it is run from.
        "-c", os.devnull, "--rootdir", str(SUITE_DIR), "--disable-plugin-autoload", "-p", "no:cacheprovider",
        "-v", "-o", "console_output_style=classic", "-r", "fE",
        "--base-url", args.base_url, "--contract", args.contract,
        "--wait", str(args.wait), "--request-timeout", str(args.timeout),
        *pytest_args,
    ])
    if status == EXIT_NEVER_READY:  # the suite's first check ended the run (its report says why)
        print(f"the deployment at {args.base_url} never became ready in {args.wait:g} s", file=sys.stderr)
        return status
    if status == EXIT_NEEDS_KEY:
        return status
    if status in (EXIT_ALL_PASSED, EXIT_CHECKS_FAILED):
        return status
    print(f"the suite could not run (pytest exit status {int(status)})", file=sys.stderr)
    return EXIT_SUITE_ERROR


def _another_models_contract(base_url: str, local: dict, wait_s: float, timeout_s: float,
                             api_key: str | None) -> str | None:
    """One line when the deployment serves the contract of another model than ``local``'s, else None.

    Certifying a model against another one's contract fails dozens of checks
    that all say the same thing; this says it once, first. A deployment that
    does not answer (yet) is left to the suite, which waits for it. One that
    answers 401 raises ``PermissionError`` saying which key to give.
    """
    path = next(path for path, _, operation in operations(local) if operation["operationId"] == SERVED_CONTRACT)
    deadline = time.monotonic() + wait_s
    while True:
        try:
            request = urllib.request.Request(base_url.rstrip("/") + path, headers=(
                {"Authorization": f"Bearer {api_key}"} if api_key else {}))
            with urllib.request.urlopen(request, timeout=timeout_s) as answer:
                served = json.loads(answer.read())
            break
        except urllib.error.HTTPError as error:
            if error.code == 401:
                raise PermissionError(locked_out(base_url.rstrip("/") + path, api_key)) from None
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.5)
        except (OSError, ValueError):
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.5)
    try:
        names = model_schema_names(load_template())
        limits = limits_of(served)  # a server states its limits in the schemas of its batches
        expected = local if limits is None else with_limits(local, limits)
        same = all(served["components"]["schemas"].get(name) == expected["components"]["schemas"].get(name)
                   for name in names)
        summary = served["info"].get("summary", served["info"]["title"])
    except (KeyError, TypeError, AttributeError):
        return None  # not a contract of this service's shape: the suite reports how it differs
    if same:
        return None
    return (f"{base_url} serves the contract of another model ({summary}) than {local['info'].get('summary', '')!r}: "
            f"certify it against that model's own contract, --contract models/NAME/openapi.json "
            f"(the openapi.json training wrote beside it)")


if __name__ == "__main__":
    sys.exit(main())
