"""Configuration from environment variables, read once at start.

Every variable the service understands is named here, with its default; the
README's configuration table lists the same ones. A bad value stops the
process at start with one line naming the variable.
"""

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from contract.model_directory import CONTRACT_FILENAME, DEFAULT_MODEL_DIR
from wsgi_service.errors import StartupError
from wsgi_service.operations.api_keys import ApiKeys

ENV_PORT = "PORT"
ENV_WEB_CONCURRENCY = "WEB_CONCURRENCY"
ENV_LOG_LEVEL = "LOG_LEVEL"
ENV_MODEL_DIR = "MODEL_DIR"
ENV_MAX_BODY_BYTES = "MAX_BODY_BYTES"
ENV_MAX_BATCH_ROWS = "MAX_BATCH_ROWS"
ENV_ALLOW_SKLEARN_MISMATCH = "ALLOW_SKLEARN_VERSION_MISMATCH"
ENV_COMPILE_FOREST = "COMPILE_FOREST"
ENV_DRAIN_SECONDS = "DRAIN_SECONDS"
# Where every gunicorn worker writes its metric values (prometheus_client reads it at import):
# gunicorn_config makes a private directory unless this names one.
ENV_MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"

# nginx in front of Elastic Beanstalk refuses bodies over 1 MB by default:
# keep this limit and client_max_body_size in step.
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
DEFAULT_MAX_BATCH_ROWS = 10_000
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


@dataclass(frozen=True)
class Settings:
    """What the application needs; ``create_app`` takes it ready-made."""

    model_dir: Path = DEFAULT_MODEL_DIR
    # None: the contract training generated for this model, in its directory.
    contract_path: Path | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_batch_rows: int = DEFAULT_MAX_BATCH_ROWS
    allow_sklearn_version_mismatch: bool = False
    # Off only to measure what the compiled forest gains (bench/).
    compile_forest: bool = True
    # None: no keys, every operation open (API_KEYS_FILE, API_KEYS; ``api_keys``).
    api_keys: ApiKeys | None = None

    @property
    def contract_file(self) -> Path:
        return Path(self.contract_path or Path(self.model_dir) / CONTRACT_FILENAME)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "Settings":
        return cls(
            model_dir=Path(environ.get(ENV_MODEL_DIR, DEFAULT_MODEL_DIR)),
            max_body_bytes=_positive_int(environ, ENV_MAX_BODY_BYTES, DEFAULT_MAX_BODY_BYTES),
            max_batch_rows=_positive_int(environ, ENV_MAX_BATCH_ROWS, DEFAULT_MAX_BATCH_ROWS),
            allow_sklearn_version_mismatch=allows_sklearn_version_mismatch(environ),
            compile_forest=_flag(environ, ENV_COMPILE_FOREST, True),
            api_keys=ApiKeys.from_env(environ),
        )


def allows_sklearn_version_mismatch(environ: Mapping[str, str] = os.environ) -> bool:
    """``ALLOW_SKLEARN_VERSION_MISMATCH`` alone: ``python -m training import`` reads this one
    setting and no other, so a server setting it never uses cannot stop it."""
    return _flag(environ, ENV_ALLOW_SKLEARN_MISMATCH, False)


@dataclass(frozen=True)
class ServerSettings:
    """What gunicorn needs: where to listen, how many workers, how much to log."""

    port: int = 8080
    workers: int = 2
    log_level: str = "info"
    # How long SIGTERM keeps answering new requests (``draining``): the process is then gone
    # within 8 s (``draining.stop_bound_seconds``), inside ``docker stop``'s 10 s.
    drain_seconds: float = 4.0
    # The front buffers a request's body up to one byte over the app's limit, which then refuses it.
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "ServerSettings":
        log_level = environ.get(ENV_LOG_LEVEL, cls.log_level).lower()
        if log_level not in LOG_LEVELS:
            raise StartupError(f"{ENV_LOG_LEVEL} must be one of {', '.join(LOG_LEVELS)}, got {log_level!r}")
        return cls(
            port=_positive_int(environ, ENV_PORT, cls.port),
            # The forest is CPU-bound: one worker per core keeps both busy.
            workers=_positive_int(environ, ENV_WEB_CONCURRENCY, os.cpu_count() or 1),
            log_level=log_level,
            drain_seconds=_seconds(environ, ENV_DRAIN_SECONDS, cls.drain_seconds),
            max_body_bytes=_positive_int(environ, ENV_MAX_BODY_BYTES, DEFAULT_MAX_BODY_BYTES),
        )


def _positive_int(environ: Mapping[str, str], name: str, default: int) -> int:
    return _number(environ, name, default, int, lambda value: value >= 1, "a positive integer")


def _seconds(environ: Mapping[str, str], name: str, default: float) -> float:
    return _number(environ, name, default, float, lambda value: 0 <= value <= 3600,
                   "a number of seconds from 0 to 3600")


def _number(environ: Mapping[str, str], name: str, default, parse, valid, what: str):
    """``name``'s value parsed by ``parse`` (``default`` when unset or empty), refused in one line
    naming the variable unless ``valid``."""
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = parse(raw)
    except ValueError:
        value = None
    if value is None or not valid(value):
        raise StartupError(f"{name} must be {what}, got {raw!r}")
    return value


def _flag(environ: Mapping[str, str], name: str, default: bool) -> bool:
    raw = environ.get(name, "").strip().lower()
    if raw == "":
        return default
    if raw in ("0", "false", "no"):
        return False
    if raw in ("1", "true", "yes"):
        return True
    raise StartupError(f"{name} must be 1/true/yes or 0/false/no, got {raw!r}")
