"""Settings from the environment: defaults, every variable honoured, a bad value refused naming it."""

import pytest

from contract.model_directory import CONTRACT_FILENAME, DEFAULT_MODEL_DIR
from wsgi_service import Settings, StartupError
from wsgi_service.operations.settings import (
    DEFAULT_MAX_BATCH_ROWS,
    DEFAULT_MAX_BODY_BYTES,
    ENV_ALLOW_SKLEARN_MISMATCH,
    ENV_COMPILE_FOREST,
    ENV_DRAIN_SECONDS,
    ENV_LOG_LEVEL,
    ENV_MAX_BATCH_ROWS,
    ENV_MAX_BODY_BYTES,
    ENV_MODEL_DIR,
    ENV_PORT,
    ENV_WEB_CONCURRENCY,
    ServerSettings,
)


def test_an_empty_environment_gives_the_defaults():
    settings = Settings.from_env({})
    assert settings == Settings()
    assert settings.model_dir == DEFAULT_MODEL_DIR
    assert settings.contract_file == DEFAULT_MODEL_DIR / CONTRACT_FILENAME
    assert (settings.max_body_bytes, settings.max_batch_rows) == (DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_BATCH_ROWS)
    assert settings.allow_sklearn_version_mismatch is False and settings.compile_forest is True
    server = ServerSettings.from_env({})
    assert (server.port, server.log_level, server.drain_seconds) == (8080, "info", 4.0) and server.workers >= 1


def test_every_variable_is_honoured():
    settings = Settings.from_env({ENV_MODEL_DIR: "models/coffee", ENV_MAX_BODY_BYTES: "2048",
                                  ENV_MAX_BATCH_ROWS: "7", ENV_ALLOW_SKLEARN_MISMATCH: "yes",
                                  ENV_COMPILE_FOREST: "0"})
    assert str(settings.model_dir) == "models/coffee"
    assert settings.contract_file == settings.model_dir / CONTRACT_FILENAME
    assert (settings.max_body_bytes, settings.max_batch_rows) == (2048, 7)
    assert settings.allow_sklearn_version_mismatch is True and settings.compile_forest is False
    server = ServerSettings.from_env({ENV_PORT: "8000", ENV_WEB_CONCURRENCY: "3", ENV_LOG_LEVEL: "WARNING",
                                      ENV_DRAIN_SECONDS: "2.5"})
    assert (server.port, server.workers, server.log_level, server.drain_seconds) == (8000, 3, "warning", 2.5)


def test_an_explicit_contract_path_wins_over_the_model_directory(tmp_path):
    assert Settings(model_dir=tmp_path, contract_path=tmp_path / "other.json").contract_file == \
        tmp_path / "other.json"


@pytest.mark.parametrize("flag, value", [("1", True), ("true", True), ("YES", True), (" 0 ", False),
                                         ("false", False), ("no", False), ("", True)])
def test_flags_read_the_usual_spellings(flag, value):
    assert Settings.from_env({ENV_COMPILE_FOREST: flag}).compile_forest is value


@pytest.mark.parametrize("read, environ, message", [
    (Settings.from_env, {ENV_MAX_BODY_BYTES: "0"}, "MAX_BODY_BYTES must be a positive integer, got '0'"),
    (Settings.from_env, {ENV_MAX_BATCH_ROWS: "many"}, "MAX_BATCH_ROWS must be a positive integer, got 'many'"),
    (Settings.from_env, {ENV_MAX_BATCH_ROWS: "-5"}, "MAX_BATCH_ROWS must be a positive integer, got '-5'"),
    (Settings.from_env, {ENV_COMPILE_FOREST: "maybe"}, "COMPILE_FOREST must be 1/true/yes or 0/false/no, got 'maybe'"),
    (ServerSettings.from_env, {ENV_PORT: "http"}, "PORT must be a positive integer, got 'http'"),
    (ServerSettings.from_env, {ENV_WEB_CONCURRENCY: "0"}, "WEB_CONCURRENCY must be a positive integer, got '0'"),
    (ServerSettings.from_env, {ENV_DRAIN_SECONDS: "-1"}, "DRAIN_SECONDS must be a number of seconds from 0 to 3600, got '-1'"),
    (ServerSettings.from_env, {ENV_DRAIN_SECONDS: "soon"}, "DRAIN_SECONDS must be a number of seconds from 0 to 3600, got 'soon'"),
    (ServerSettings.from_env, {ENV_LOG_LEVEL: "loud"},
     "LOG_LEVEL must be one of debug, info, warning, error, critical, got 'loud'"),
])
def test_a_bad_value_is_refused_naming_the_variable(read, environ, message):
    with pytest.raises(StartupError) as refused:
        read(environ)
    assert str(refused.value) == message
