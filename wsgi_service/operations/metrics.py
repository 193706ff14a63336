"""Prometheus metrics: what the service counts, and the text a scrape of ``/metrics`` reads.

Under gunicorn every worker is a process with counters of its own, and a
scrape reaches one of them. prometheus_client's multiprocess mode solves
this: each process writes its values to files in ``PROMETHEUS_MULTIPROC_DIR``
and a scrape sums every file, so any worker answers for all of them.
``gunicorn_config`` sets that directory (a fresh private one unless the user
named one). Without it, as when ``create_app()`` is embedded in another WSGI
stack, each ``ServiceMetrics`` counts in a registry of its own, so that two
apps in one process never collide on prometheus_client's global registry.

prometheus_client is imported when a ``ServiceMetrics`` is built, not with
this module: it picks its mode once, at import, from the environment, and
gunicorn imports this package (to read ``gunicorn_config``) before that
config has set the directory.

Every label value comes from a bounded set (operationIds, the methods HTTP
defines, status codes, class names, refusal reasons) so no client can grow
the number of series; the labelled children are bound at start where the
values are known, which keeps a request's cost to a few increments.
"""

import os

import numpy as np

from contract import HTTP_METHODS as OPENAPI_METHODS
from contract import operations
from contract.model_directory import IDENTITY_KEYS
from wsgi_service.errors import StartupError
from wsgi_service.operations.settings import ENV_MULTIPROC_DIR
PREFIX = "forest_"
# The endpoint label of a request that matched no operation (unknown path, undocumented method).
UNMATCHED = "unmatched"
OTHER_METHOD = "other"
# The methods HTTP defines: OpenAPI's operation methods, and CONNECT, which no operation can be.
HTTP_METHODS = frozenset({method.upper() for method in OPENAPI_METHODS} | {"CONNECT"})
# A single row takes about 0.1 ms in process (0.3 ms over HTTP), a 10,000-row
# batch about 15 ms: fine steps from 0.1 ms to 25 ms, coarse ones beyond for the slow tail.
LATENCY_BUCKETS_S = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25,
                     0.5, 1.0, 2.5)
# The format prometheus_client's generate_latest writes, as the contract documents it.
METRICS_MEDIA_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class ServiceMetrics:
    """The service's counters, histogram and info gauge, and their exposition."""

    def __init__(self, contract: dict, identity: dict, class_names: list[str], refusal_reasons: list[str],
                 feature_names: list[str] = (), ranged_features: list[str] = ()):
        """Series for every operation of ``contract``, each name in ``class_names`` (a
        classifier's; empty for a regressor), each of ``refusal_reasons``, and each side of
        every feature of ``ranged_features`` (those with a training range, among ``feature_names``)."""
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, values

        multiproc_dir = os.environ.get(ENV_MULTIPROC_DIR)
        if multiproc_dir and values.ValueClass is values.MutexValue:
            raise StartupError(f"{ENV_MULTIPROC_DIR} is set but prometheus_client was imported before it was: "
                               "set it before the server starts")
        self._scraped = CollectorRegistry()
        self._generate = generate_latest
        if multiproc_dir:
            from prometheus_client.multiprocess import MultiProcessCollector
            try:
                MultiProcessCollector(self._scraped, path=multiproc_dir)
            except ValueError:
                raise StartupError(f"{ENV_MULTIPROC_DIR}={multiproc_dir!r} is not a directory") from None
            # Values live in the directory's files; the scrape reads them all, not a registry.
            registry = None
        else:
            registry = self._scraped

        endpoints = [operation["operationId"] for _, _, operation in operations(contract)] + [UNMATCHED]
        self._requests = Counter(f"{PREFIX}requests", "Requests answered, by endpoint (operationId, or "
                                 "unmatched), method and status.", ["endpoint", "method", "status"],
                                 registry=registry)
        # Bound at start: every documented answer of every operation (HEAD beside GET); others on first use.
        self._requests_by_key = {
            (operation["operationId"], verb, int(status)): self._requests.labels(operation["operationId"], verb, status)
            for _, method, operation in operations(contract)
            for verb in ((method.upper(), "HEAD") if method == "get" else (method.upper(),))
            for status in operation["responses"] if status.isdigit()}
        latency = Histogram(f"{PREFIX}request_duration_seconds", "Time to answer a request, in the application, "
                            "by endpoint.", ["endpoint"], buckets=LATENCY_BUCKETS_S, registry=registry)
        self._latency = {endpoint: latency.labels(endpoint) for endpoint in endpoints}
        self._rows = Counter(f"{PREFIX}predicted_rows", "Rows predicted.", registry=registry)
        self._refusals = Counter(f"{PREFIX}validation_failures", "Requests refused for what they sent, by reason.",
                                 ["reason"], registry=registry)
        self._refusals_by_reason = {reason: self._refusals.labels(reason) for reason in refusal_reasons}
        self._by_class = None
        if class_names:
            by_class = Counter(f"{PREFIX}predictions", "Rows predicted, by predicted class.", ["class_name"],
                               registry=registry)
            self._by_class = [by_class.labels(name) for name in class_names]
        out_of_range = Counter(f"{PREFIX}feature_out_of_range", "Rows whose value of a feature fell outside its "
                               "training range (the manifest's min and max), by feature and side: drift.",
                               ["feature", "side"], registry=registry)
        # Per side, per feature position: its series, or None for a feature without a range.
        self._out_of_range = [[out_of_range.labels(name, side) if name in ranged_features else None
                               for name in feature_names] for side in ("below", "above")]
        # A gauge, not an Info: multiprocess mode supports no Info. "max" keeps the 1 that the
        # master sets when it loads the app before forking (preload_app).
        info = Gauge(f"{PREFIX}model_info", "The model being served: always 1, its identity in the labels.",
                     list(IDENTITY_KEYS), multiprocess_mode="max", registry=registry)
        info.labels(*(str(identity[key]) for key in IDENTITY_KEYS)).set(1)

    def answered(self, endpoint: str, method: str, status: int, seconds: float) -> None:
        """Count one answered request and its duration."""
        if method not in HTTP_METHODS:
            method = OTHER_METHOD
        counter = self._requests_by_key.get((endpoint, method, status))
        if counter is None:
            counter = self._requests_by_key[endpoint, method, status] = self._requests.labels(
                endpoint, method, str(status))
        counter.inc()
        self._latency[endpoint].observe(seconds)

    def predicted(self, rows: int, winners: np.ndarray | None) -> None:
        """Count the rows of one answer and, for a classifier, each row under the class it
        predicted (``winners``: indexes into the class names)."""
        self._rows.inc(rows)
        if self._by_class is None or winners is None:
            return
        if len(winners) == 1:
            self._by_class[int(winners[0])].inc()
            return
        for child, count in zip(self._by_class, np.bincount(winners, minlength=len(self._by_class)).tolist()):
            if count:
                child.inc(count)

    def out_of_range(self, below: np.ndarray, above: np.ndarray) -> None:
        """Count, per feature, the rows below and above its training range (counts by position)."""
        for series, counts in zip(self._out_of_range, (below, above)):
            for position in np.flatnonzero(counts).tolist():
                series[position].inc(int(counts[position]))

    def refused(self, reason: str | None) -> None:
        """Count a request refused for what it sent; other problems (404, 405, 500) have no reason."""
        if reason is None:
            return
        self._refusals_by_reason[reason].inc()  # every reason a problem class names, bound at start

    def exposition(self) -> bytes:
        """The Prometheus text format of every value, summed over the server's processes."""
        return self._generate(self._scraped)
