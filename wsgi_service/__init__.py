"""A scikit-learn random forest behind a strict, contract-checked WSGI API.

``create_app(model_dir)`` returns a plain PEP 3333 callable to embed in any
WSGI stack; ``create_app_from_env()`` is what servers point at; ``python -m
wsgi_service`` serves it with gunicorn; ``load_model(model_dir)`` is the
same verified model in process, without HTTP::

    from wsgi_service import create_app, load_model
    app = create_app("models/iris")
    labels = load_model("models/iris").predict([[5.1, 3.5, 1.4, 0.2]])

The folders are the layers, each importing only those below it:

- ``edge/``: the HTTP edge. The table of operation to handler, routing,
  media types, body limits, strict JSON decoding, problems rendered as
  RFC 9457, the docs page.
- ``serving/``: decoded bodies in, answers or problems out, without HTTP:
  the request forms of ``/predict``, the Open Inference Protocol, binary
  tensor data.
- ``enforcement/``: the contract enforced. Request validation compiled from
  the contract file, and the contract's agreement with the model at start.
- ``model/``: the model. Verified loading of a model directory, the
  compiled forest and its native kernel.
- ``operations/``: running it. Settings from the environment, metrics, logs,
  the gunicorn configuration.
- ``errors``: what every layer raises (``StartupError``, the ``Problem`` family).

``factory`` builds every collaborator once and hands them to the edge
(``create_app``, and ``assemble`` from ready objects).
"""

from wsgi_service.edge.app import Service
from wsgi_service.errors import StartupError
from wsgi_service.factory import assemble, create_app, create_app_from_env, load_model
from wsgi_service.model.loaded_model import LoadedClassifier, LoadedModel
from wsgi_service.operations.settings import Settings

__all__ = ["LoadedClassifier", "LoadedModel", "Service", "Settings", "StartupError", "assemble", "create_app", "create_app_from_env",
           "load_model"]
