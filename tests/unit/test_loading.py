"""Model loading refuses anything but the file training wrote, with one clear line."""

import json

import pytest
import sklearn

from contract.model_directory import MANIFEST_FILENAME, MODEL_FILENAME, sha256_hex
from wsgi_service import StartupError
from wsgi_service.model.loading import read_model_directory


def edit_manifest(model_dir, change):
    path = model_dir / MANIFEST_FILENAME
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


def test_verified_model_loads(model_dir):
    model = read_model_directory(model_dir)
    assert model.feature_names == ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    assert model.identity["sha256"] == json.loads((model_dir / MANIFEST_FILENAME).read_text())["sha256"]


def test_missing_directory_is_refused(tmp_path):
    with pytest.raises(StartupError, match="no model at .*manifest.json missing.*python -m training"):
        read_model_directory(tmp_path / "absent")


def test_missing_model_file_is_refused(model_copy):
    (model_copy / MODEL_FILENAME).unlink()
    with pytest.raises(StartupError, match="cannot read .*model.joblib"):
        read_model_directory(model_copy)


def test_truncated_model_file_is_refused_before_unpickling(model_copy):
    path = model_copy / MODEL_FILENAME
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(StartupError, match="SHA-256 .* refusing to unpickle"):
        read_model_directory(model_copy)


def test_tampered_model_file_is_refused(model_copy):
    path = model_copy / MODEL_FILENAME
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(StartupError, match="refusing to unpickle"):
        read_model_directory(model_copy)


def test_unloadable_file_with_matching_hash_is_one_line(model_copy):
    """A manifest rewritten to vouch for garbage still cannot crash the process."""
    (model_copy / MODEL_FILENAME).write_bytes(b"not a pickle")
    edit_manifest(model_copy, lambda m: m.update(sha256=sha256_hex(b"not a pickle")))
    with pytest.raises(StartupError, match="could not be loaded"):
        read_model_directory(model_copy)


def test_a_manifest_naming_another_release_than_the_pickle_is_refused(model_copy):
    """The release that pickled the file is read from the file; a manifest that says otherwise
    was not written for it, whatever the setting."""
    edit_manifest(model_copy, lambda m: m["versions"].update({"scikit-learn": "0.24.2"}))
    for allowed in (False, True):
        with pytest.raises(StartupError, match=f"pickled by scikit-learn {sklearn.__version__}, "
                                               "the manifest says 0.24.2: re-import it"):
            read_model_directory(model_copy, allow_sklearn_version_mismatch=allowed)


def test_manifest_that_disagrees_with_estimator_is_refused(model_copy):
    edit_manifest(model_copy, lambda m: m["features"].pop())
    with pytest.raises(StartupError, match="expects 4 features, the manifest lists 3"):
        read_model_directory(model_copy)
