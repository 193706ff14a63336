"""The contract suite: certifies a running deployment, by its base URL alone, against ``openapi.json``.

It is a pytest suite so that CI gets JUnit XML, selection (``-k``) and a
familiar report for free; ``python -m contract`` runs it with the right
options. The checks speak only HTTP (``requests``) and read every path,
example and constraint from the contract document: nothing here imports the
service, so the same suite certifies a laptop, a container or Elastic Beanstalk.
"""

from pathlib import Path

SUITE_DIR = Path(__file__).parent
ENV_BASE_URL = "CONTRACT_BASE_URL"
# The API key of a locked deployment: from the environment, so that it shows in no command line.
ENV_API_KEY = "CONTRACT_API_KEY"
DEFAULT_WAIT_S = 60.0
DEFAULT_TIMEOUT_S = 10.0
# The body refused as too large is one byte over the limit the served contract states
# (MAX_BODY_BYTES, nginx's client_max_body_size in step); a deployment that states none
# gets comfortably more than the 1 MiB both default to.
DEFAULT_TOO_LARGE_BYTES = 2 * 1024 * 1024
# Exit statuses of ``python -m contract``; 2 is argparse's, for a bad command line.
EXIT_ALL_PASSED = 0
EXIT_CHECKS_FAILED = 1
EXIT_NEVER_READY = 3
EXIT_SUITE_ERROR = 4
# The deployment serves another model's contract: certify it against that one (--contract).
EXIT_OTHER_MODEL = 5
# The deployment asks for an API key and the suite was given none (or one it refuses).
EXIT_NEEDS_KEY = 6


def locked_out(url: str, api_key: str | None) -> str:
    """The one line for a deployment that answered ``url`` 401 (exit status ``EXIT_NEEDS_KEY``)."""
    given = "refuses the key given" if api_key else "the suite was given none"
    return f"{url} answered 401: the deployment runs with API keys and {given}; give it as ${ENV_API_KEY} (or --api-key)"
