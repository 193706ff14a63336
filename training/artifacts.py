"""The on-disk layout of a model directory, shared by its writer and its readers."""

import hashlib
from pathlib import Path

MODEL_FILENAME = "model.joblib"
MANIFEST_FILENAME = "manifest.json"


def sha256_hex(data: bytes) -> str:
    """Hex SHA-256 of ``data``: the identity of a model file."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    return sha256_hex(Path(path).read_bytes())
