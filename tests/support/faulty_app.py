"""The real deployment with one real object broken, for the unexpected-exception runs.

``make_app()`` builds the application from the environment as gunicorn does,
except that the model it serves has lost its last class label: the forest
still predicts three classes, the labels list two. A row the forest puts in
the last class (``POISONED_ROW``, a virginica) makes numpy raise a real
``IndexError`` inside the request path, where the label is looked up; a row
of another class (``HEALTHY_ROW``, a setosa) is answered as usual. Nothing is
mocked: the exception comes from the code that serves predictions, meeting
data it was never meant to hold.

    MODEL_DIR=... python -m wsgi_service 'tests.support.faulty_app:make_app()'
"""

import json
from dataclasses import replace

from wsgi_service import Service, Settings, assemble, load_model

POISONED_ROW = [7.7, 3.0, 6.1, 2.3]
HEALTHY_ROW = [5.1, 3.5, 1.4, 0.2]


def make_app() -> Service:
    settings = Settings.from_env()
    model = load_model(settings=settings)
    if model.predict([POISONED_ROW, HEALTHY_ROW]).tolist() != [model.labels[-1], model.labels[0]]:
        raise RuntimeError("the rows would not take the classes they are meant to")
    contract = json.loads(settings.contract_file.read_bytes())
    return assemble(replace(model, labels=model.labels[:-1]), contract, settings)
