"""API keys: read once at start, kept only as digests, checked in constant time.

Off unless ``API_KEYS_FILE`` (one key per line; blank lines and lines that
start with ``#`` are skipped) or ``API_KEYS`` (comma-separated) is set. Both
may be, and their keys add up: a key is rotated by adding the new one,
deploying, then removing the old. A key is at least 32 characters of the
alphabet RFC 6750 allows in a bearer token; anything else, an empty or
unreadable file included, refuses the start in one line that never shows a
key.

Only SHA-256 digests of the keys are kept. A request's key is hashed and
compared with every digest by ``hmac.compare_digest``, with no early exit, so
the time taken says nothing about how near a guess came. A key is named
(in the access log) by its fingerprint: 8 hex digits of another,
domain-separated digest, enough to tell clients apart and useless to a
guesser.

Only ``Authorization: Bearer <key>`` is read: one standard way (RFC 6750, the
scheme OpenAPI, Swagger UI and tritonclient's headers all know), so there is
one way to send a key, to document and to test. ``X-API-Key`` is not read.
"""

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from wsgi_service.errors import StartupError

ENV_API_KEYS_FILE = "API_KEYS_FILE"
ENV_API_KEYS = "API_KEYS"
MIN_KEY_CHARS = 32
# RFC 6750's b64token: what may follow "Bearer ".
_TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_BEARER = re.compile(r" *bearer +([^ ]+) *", re.IGNORECASE)  # optional whitespace around, as HTTP allows
_NEW_KEY = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"


class ApiKeys:
    """The keys a request may carry, as digests, each with its fingerprint."""

    def __init__(self, keys: Iterable[str]):
        self._digests = tuple((_digest(b"api-key", key), fingerprint(key)) for key in keys)
        if not self._digests:
            raise ValueError("no API keys")

    def __len__(self) -> int:
        return len(self._digests)

    @property
    def fingerprints(self) -> list[str]:
        return [known for _, known in self._digests]

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> "ApiKeys | None":
        """The keys ``API_KEYS_FILE`` and ``API_KEYS`` name, checked; None when neither is set."""
        file_name, listed = environ.get(ENV_API_KEYS_FILE, ""), environ.get(ENV_API_KEYS)
        if not file_name and listed is None:
            return None
        keys = []
        if file_name:
            try:
                lines = Path(file_name).read_text(encoding="utf-8").splitlines()
            except (OSError, UnicodeDecodeError) as error:
                reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
                raise StartupError(f"{ENV_API_KEYS_FILE}={file_name} cannot be read: {reason}") from None
            keys += _checked([(f"{ENV_API_KEYS_FILE} line {number}", line.strip())
                              for number, line in enumerate(lines, 1)
                              if line.strip() and not line.strip().startswith("#")],
                             f"{ENV_API_KEYS_FILE}={file_name}")
        if listed is not None:
            keys += _checked([(f"{ENV_API_KEYS} item {number}", item.strip())
                              for number, item in enumerate(listed.split(","), 1) if item.strip()], ENV_API_KEYS)
        return cls(keys)

    def fingerprint_of(self, authorization: str | None) -> str | None:
        """The fingerprint of the key an ``Authorization`` header carries; None when it carries
        none this server knows (no header, another scheme, an unknown key)."""
        match = _BEARER.fullmatch(authorization or "")
        if match is None:
            return None
        presented = _digest(b"api-key", match[1])
        found = None
        for digest, known in self._digests:  # every digest, whatever matched: the time is the same
            if hmac.compare_digest(digest, presented):
                found = known
        return found


def fingerprint(key: str) -> str:
    """How logs name a key: 8 hex digits, derived apart from the digest requests are checked against."""
    return _digest(b"fingerprint", key).hex()[:8]


def _digest(domain: bytes, key: str) -> bytes:
    return hashlib.sha256(domain + b"\0" + key.encode("utf-8", "surrogatepass")).digest()


def _checked(keys: list[tuple[str, str]], source: str) -> list[str]:
    """The keys, each long enough and of the token alphabet; a one-line refusal naming the first
    that is not (by position, never by value)."""
    if not keys:
        raise StartupError(f"{source} holds no key: give at least one of {MIN_KEY_CHARS}+ characters "
                           f"(make one with {_NEW_KEY}), or unset it to serve without keys")
    for where, key in keys:
        if len(key) < MIN_KEY_CHARS:
            raise StartupError(f"{where}: the key has {len(key)} characters, fewer than {MIN_KEY_CHARS} "
                               f"(make one with {_NEW_KEY})")
        if not _TOKEN.fullmatch(key):
            raise StartupError(f"{where}: the key holds a character a bearer token cannot carry (letters, digits "
                               f"and -._~+/ only, = at the end)")
    return [key for _, key in keys]
