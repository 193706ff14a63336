"""HTTP exchanges with the deployment, and failures that show them.

A failed check is only useful if it says what was sent and what came back:
every request goes through ``Client.send``, which keeps the pair, and every
verdict is a ``ContractFailure`` carrying bounded excerpts of both. A request
that gets no response at all (refused, reset, timed out) is a failure too.
"""

import json
import time

import requests

JSON_MEDIA_TYPE = "application/json"
HEADERS_OF_INTEREST = ("Content-Type", "Content-Length", "Allow", "Location", "X-Request-ID", "X-Model")
EXCERPT_CHARS = 400


class ContractFailure(AssertionError):
    """A check's verdict: what the contract expects, and the exchanges that broke it."""

    def __init__(self, message: str, *exchanges: "Exchange"):
        super().__init__(message)
        self.message = message
        self.exchanges = exchanges

    def __str__(self) -> str:
        return "\n".join([self.message, *(exchange.describe() for exchange in self.exchanges)])


class NeverReady(RuntimeError):
    """The deployment did not become ready in the time it was given."""


def expect(condition: bool, message: str, *exchanges: "Exchange") -> None:
    if not condition:
        raise ContractFailure(message, *exchanges)


def parse_media_type(value: str) -> tuple[str, dict[str, str]]:
    """``text/plain; version=0.0.4`` as ``("text/plain", {"version": "0.0.4"})``; names lowercased."""
    kind, *parameters = value.split(";")
    pairs = (parameter.partition("=") for parameter in parameters if parameter.strip())
    return kind.strip().lower(), {name.strip().lower(): found.strip().strip('"') for name, _, found in pairs}


def is_json(media_type: str) -> bool:
    return media_type == JSON_MEDIA_TYPE or media_type.endswith("+json")


def _refuse_constant(token: str):
    raise ValueError(f"{token} is not a JSON number")


def _excerpt(body: bytes | str | None) -> str:
    if not body:
        return "(no body)"
    head = body[:EXCERPT_CHARS]
    shown = head.decode("utf-8", errors="replace") if isinstance(head, bytes) else head
    return f"({len(body)} bytes) {shown}{'…' if len(body) > EXCERPT_CHARS else ''}"


def _headers(headers) -> list[str]:
    return [f"{name}: {headers[name]}" for name in HEADERS_OF_INTEREST if name in headers]


class Exchange:
    """One request and the response to it (``None`` when none could be read)."""

    def __init__(self, request: requests.PreparedRequest, response: requests.Response | None,
                 error: str = ""):
        self.request, self.response, self.error = request, response, error

    @property
    def status(self) -> int:
        return self.response.status_code

    @property
    def headers(self):
        return self.response.headers

    @property
    def media_type(self) -> str:
        return parse_media_type(self.headers.get("Content-Type", ""))[0]

    def json(self) -> object:
        """The body as strict JSON: NaN and Infinity, which Python's json accepts, are refused."""
        try:
            return json.loads(self.response.content, parse_constant=_refuse_constant)
        except ValueError as error:
            raise ContractFailure(f"the response body is not JSON: {error}", self) from None

    def text(self) -> str:
        """The body as text, in the charset the Content-Type names (UTF-8 when it names none)."""
        charset = parse_media_type(self.headers.get("Content-Type", ""))[1].get("charset", "utf-8")
        try:
            return self.response.content.decode(charset)
        except (LookupError, UnicodeDecodeError) as error:
            raise ContractFailure(f"the response body is not {charset} text: {error}", self) from None

    def describe(self) -> str:
        sent = self.request
        lines = [f"  request:  {sent.method} {sent.url}",
                 *(f"            {line}" for line in _headers(sent.headers)),
                 f"            body {_excerpt(sent.body)}"]
        if self.response is None:
            return "\n".join([*lines, f"  response: none ({self.error})"])
        return "\n".join([*lines, f"  response: {self.status} {self.response.reason}",
                          *(f"            {line}" for line in _headers(self.headers)),
                          f"            body {_excerpt(self.response.content)}"])


class Client:
    """Sends requests to paths under a base URL, which may carry a path prefix (``https://host/ml``)."""

    def __init__(self, base_url: str, timeout_s: float, api_key: str | None = None):
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self._session = requests.Session()
        if api_key is not None:  # sent with every request; a check sends ``Authorization: None`` to leave it out
            self._session.headers["Authorization"] = f"Bearer {api_key}"

    def url(self, path: str) -> str:
        # Not urljoin: it would drop the base URL's own path for an absolute path.
        return self.base_url + path

    def send(self, method: str, path: str, *, data: bytes | None = None,
             content_type: str = JSON_MEDIA_TYPE, headers: dict[str, str] | None = None) -> Exchange:
        """Send one request; raise ``ContractFailure`` when no response can be read."""
        headers = {**({"Content-Type": content_type} if data is not None else {}), **(headers or {})}
        request = self._session.prepare_request(
            requests.Request(method.upper(), self.url(path), data=data, headers=headers))
        environment = self._session.merge_environment_settings(request.url, {}, None, None, None)
        try:
            # Redirects are not followed: the contract documents none.
            response = self._session.send(request, timeout=self.timeout_s, allow_redirects=False,
                                          **environment)
        except requests.RequestException as error:
            raise ContractFailure("no response could be read",
                                  Exchange(request, None, f"{type(error).__name__}: {error}")) from None
        return Exchange(request, response)

    def wait_until_ready(self, path: str, wait_s: float) -> None:
        """Poll ``path`` until it answers 200: a cold or redeploying service gets ``wait_s`` to start."""
        deadline = time.monotonic() + wait_s
        while True:
            try:
                exchange = self.send("GET", path)
                if exchange.status == 200:
                    return
                last = f"it answered {exchange.status} {exchange.response.reason}"
            except ContractFailure as failure:
                last = failure.exchanges[0].error
            if time.monotonic() >= deadline:
                raise NeverReady(f"{self.url(path)} did not answer 200 within {wait_s:g} s; last, {last}")
            time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
