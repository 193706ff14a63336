"""``create_app``: the factory refuses, with one line, what it cannot serve."""

import pytest

from contract.model_directory import CONTRACT_FILENAME
from wsgi_service import Settings, StartupError, create_app


def test_model_without_its_contract_is_refused(model_copy):
    (model_copy / CONTRACT_FILENAME).unlink()
    with pytest.raises(StartupError, match="no readable contract at .*openapi.json.*retrain"):
        create_app(Settings(model_dir=model_copy))
