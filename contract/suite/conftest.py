"""The suite's options, fixtures and report.

``--base-url`` (or ``CONTRACT_BASE_URL``) names the deployment, and
``--api-key`` (or ``CONTRACT_API_KEY``) the key of a locked one, which is then
certified against the contract with keys required; the first
check waits up to ``--wait`` seconds for its health endpoint, so a cold start
is not a failure. Checks are parametrized from the contract document here, so
a new path, method or example is checked without touching the suite. The
report says PASS or FAIL per check, and a failure shows the exchange that
failed it instead of a traceback.
"""

import os

import pytest

from contract import CONTRACT_PATH, load_contract
from contract.api_keys import locked
from contract.limits import limits_of, with_limits
from contract.suite import (DEFAULT_TIMEOUT_S, DEFAULT_TOO_LARGE_BYTES, DEFAULT_WAIT_S, ENV_API_KEY, ENV_BASE_URL,
                            EXIT_NEEDS_KEY, EXIT_NEVER_READY, locked_out)
from contract.suite.derived import range_rows, seed_rows, violations
from contract.suite.documented import HEALTH, MODEL, PREDICT, SERVED_CONTRACT, Contract, expect_answer
from contract.suite.exchanges import Client, ContractFailure, NeverReady

CONTRACT = pytest.StashKey[Contract]()


def pytest_addoption(parser):
    group = parser.getgroup("contract", "certify a deployment against the contract")
    group.addoption("--base-url", default=os.environ.get(ENV_BASE_URL),
                    help=f"the deployment's base URL, path prefix included (default: ${ENV_BASE_URL})")
    group.addoption("--contract", default=str(CONTRACT_PATH),
                    help="the contract file to certify against: a model's own openapi.json, written by "
                         "training (default: the iris contract, %(default)s)")
    group.addoption("--wait", type=float, default=DEFAULT_WAIT_S,
                    help="seconds to wait for the deployment to become ready (default: %(default)s)")
    group.addoption("--request-timeout", type=float, default=DEFAULT_TIMEOUT_S,
                    help="seconds each request may take (default: %(default)s)")
    group.addoption("--api-key", default=os.environ.get(ENV_API_KEY),
                    help=f"the API key of a locked deployment (default: ${ENV_API_KEY}; prefer it, a command "
                         "line is visible to every user of the machine)")
    group.addoption("--too-large-bytes", type=int, default=None,
                    help="size of the body that must be refused with 413 (default: one byte over the limit the "
                         f"served contract states, or {DEFAULT_TOO_LARGE_BYTES} where it states none)")


def pytest_configure(config):
    if not config.getoption("base_url"):
        raise pytest.UsageError(f"name the deployment with --base-url URL or ${ENV_BASE_URL}")
    try:
        document = load_contract(config.getoption("contract"))
        # A deployment with keys serves the same contract with them required.
        config.stash[CONTRACT] = Contract(locked(document) if config.getoption("api_key") else document)
    except (OSError, ValueError) as error:
        raise pytest.UsageError(f"cannot read the contract {config.getoption('contract')}: {error}") from None


def pytest_report_header(config):
    info = config.stash[CONTRACT].document["info"]
    return f"certifying {config.getoption('base_url')} against {info['title']} {info['version']}"


# Parameters checks take, each with its cases as (value, id), read from the contract.
CASES = {
    "operation": lambda contract: [(op, op.name) for op in contract.operations],
    "documented_request": lambda contract: [
        ((op, path, body), f"{op.method.upper()} {path} {name}".strip())
        for op in contract.operations for path in contract.concrete_paths(op)
        for name, body in (contract.request_examples(op) or {"": None}).items()],
    "path": lambda contract: [(path, path) for path in contract.document["paths"]],
    "violation": lambda contract: [(violation, violation.name) for violation in violations(contract)],
}


def pytest_generate_tests(metafunc):
    for name, cases_in in CASES.items():
        if name in metafunc.fixturenames:
            cases = cases_in(metafunc.config.stash[CONTRACT])
            metafunc.parametrize(name, [value for value, _ in cases], ids=[case_id for _, case_id in cases])


@pytest.fixture(scope="session")
def contract(pytestconfig, client) -> Contract:
    """The contract file as this deployment serves it: with the limits its served contract states
    written in (``contract.limits``), so every check holds the deployment to the limits it claims,
    and the served document must equal the file but for them."""
    local = pytestconfig.stash[CONTRACT]
    operation = local.operation(SERVED_CONTRACT)
    served = expect_answer(local, operation, client.send(operation.method, operation.path),
                           local.success_status(operation))
    limits = limits_of(served)
    return local if limits is None else Contract(with_limits(local.document, limits))


@pytest.fixture(scope="session")
def client(pytestconfig) -> Client:
    contract = pytestconfig.stash[CONTRACT]
    api_key = pytestconfig.getoption("api_key")
    client = Client(pytestconfig.getoption("base_url"), pytestconfig.getoption("request_timeout"), api_key)
    try:
        client.wait_until_ready(contract.operation(HEALTH).path, pytestconfig.getoption("wait"))
    except NeverReady as never:
        pytest.exit(f"the deployment never became ready: {never}", returncode=EXIT_NEVER_READY)
    operation = contract.operation(MODEL)
    if client.send(operation.method, operation.path).status == 401:
        pytest.exit(locked_out(client.url(operation.path), api_key), returncode=EXIT_NEEDS_KEY)
    return client


@pytest.fixture(scope="session")
def manifest(client, contract) -> dict:
    """The served model's manifest, as ``/model`` documents it."""
    operation = contract.operation(MODEL)
    exchange = client.send(operation.method, operation.path)
    return expect_answer(contract, operation, exchange, contract.success_status(operation))


@pytest.fixture(scope="session")
def feature_names(manifest) -> list[str]:
    return [feature["name"] for feature in manifest["features"]]


@pytest.fixture(scope="session")
def rows(contract, manifest) -> list[list]:
    seeds = seed_rows(contract)
    return seeds + range_rows(manifest, seeds[0])


@pytest.fixture(scope="session")
def predict(client, contract):
    """Send a body to ``predict``; return its answer, checked as documented for success, and the exchange."""
    operation = contract.operation(PREDICT)

    def send(body: bytes):
        exchange = client.send(operation.method, operation.path, data=body)
        return expect_answer(contract, operation, exchange, contract.success_status(operation)), exchange
    return send


def pytest_report_teststatus(report, config):
    if report.when == "call" and report.passed:
        return "passed", ".", "PASS"
    if report.when == "call" and report.failed:
        return "failed", "F", "FAIL"
    return None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if call.excinfo is not None and call.excinfo.errisinstance(ContractFailure):
        report.longrepr = str(call.excinfo.value)
    return report
