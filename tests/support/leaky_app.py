"""The real deployment with a deliberate leak, to prove the soak's memory check fails when memory grows.

``make_app()`` builds the application from the environment as gunicorn does,
and wraps it in a middleware that keeps ``LEAK_BYTES`` of every request's
bytes for ever (a cache with no bound, the usual leak): at a few hundred
requests a second per worker, a worker grows by several MiB a minute, which
the short soak must report as growth over its limit.

    MODEL_DIR=... python -m wsgi_service 'tests.support.leaky_app:make_app()'
"""

from wsgi_service import create_app_from_env

LEAK_BYTES = 1024


class Leaking:
    def __init__(self, app):
        self.app = app
        self.kept: list[bytes] = []  # never emptied: the leak

    def __call__(self, environ, start_response):
        self.kept.append(bytes(LEAK_BYTES))
        return self.app(environ, start_response)


def make_app() -> Leaking:
    return Leaking(create_app_from_env())
