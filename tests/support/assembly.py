"""The ready objects ``assemble`` takes, read from a model directory, for tests that hand one of them in changed."""

import json
from pathlib import Path

from wsgi_service import LoadedModel, Settings, load_model


def ready_objects(model_dir: Path, **settings) -> tuple[LoadedModel, dict, Settings]:
    """The verified model, the contract training wrote beside it, and ``Settings(model_dir, **settings)``."""
    settings = Settings(model_dir=model_dir, **settings)
    return load_model(settings=settings), json.loads(settings.contract_file.read_bytes()), settings
