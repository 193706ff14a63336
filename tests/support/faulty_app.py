"""The real deployment with one real object broken, for the unexpected-exception run.

``make_app()`` builds the application from the environment as gunicorn does,
then corrupts its compiled forest in memory: the left child of the first
tree's root now points far past the end of the node arrays. A row that goes
left at that root (``POISONED_ROW``: every feature 0, below any iris
threshold) makes numpy raise a real ``IndexError`` inside the request path;
a row that goes right there (``HEALTHY_ROW``) never follows that pointer and
is answered as usual. Nothing is mocked: the exception comes from the code
that serves predictions, meeting data it was never meant to hold.

    MODEL_DIR=... python -m wsgi_service 'tests.support.faulty_app:make_app()'
"""

from wsgi_service import Service, create_app_from_env

POISONED_ROW = [0, 0, 0, 0]
HEALTHY_ROW = [100, 100, 100, 100]


def make_app() -> Service:
    app = create_app_from_env()
    forest = app.predictor.model.compiled
    if forest is None:
        raise RuntimeError("the fault needs the compiled forest: unset COMPILE_FOREST")
    root = forest.roots[0]
    feature, threshold = forest.feature[root], forest.threshold[root]
    if not POISONED_ROW[feature] <= threshold < HEALTHY_ROW[feature]:
        raise RuntimeError(f"the first root splits feature {feature} at {threshold}: "
                           "the rows would not take the sides they are meant to")
    left = forest.left.copy()
    left[root] = 10 * left.size
    forest.left = left
    return app
