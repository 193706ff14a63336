"""``python -m contract --base-url URL``: certify a deployment against the contract.

Runs the pytest suite in ``contract/suite`` against the deployment (its
first check waits for it to become ready), isolated from whatever pytest
configuration and plugins surround it. Options it does not know (``--junitxml PATH``, ``-k``,
``-x``, ``--too-large-bytes N``) go to pytest. Exit status: 0 every check
passed, 1 some check failed, 2 bad command line, 3 the deployment never became
ready, 4 the suite itself could not run.
"""

import argparse
import os
import sys

from contract import CONTRACT_PATH
from contract.suite import (DEFAULT_TIMEOUT_S, DEFAULT_WAIT_S, ENV_BASE_URL, EXIT_ALL_PASSED,
                            EXIT_CHECKS_FAILED, EXIT_NEVER_READY, EXIT_SUITE_ERROR, SUITE_DIR)


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
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S,
                        help="seconds each request may take (default: %(default)s)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args, pytest_args = parser.parse_known_args(argv)
    if not args.base_url or not args.base_url.startswith(("http://", "https://")):
        parser.error(f"give an http:// or https:// base URL with --base-url or ${ENV_BASE_URL}")
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
    if status in (EXIT_ALL_PASSED, EXIT_CHECKS_FAILED):
        return status
    print(f"the suite could not run (pytest exit status {int(status)})", file=sys.stderr)
    return EXIT_SUITE_ERROR


if __name__ == "__main__":
    sys.exit(main())
