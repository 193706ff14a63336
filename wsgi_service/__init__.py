"""A scikit-learn random forest behind a strict, contract-checked WSGI API.

``create_app(settings)`` returns a plain PEP 3333 callable to embed in any WSGI
stack; ``create_app_from_env()`` is what servers point at; ``python -m
wsgi_service`` serves it with gunicorn.
"""

from wsgi_service.app import Service, create_app, create_app_from_env
from wsgi_service.settings import Settings, StartupError

__all__ = ["Service", "Settings", "StartupError", "create_app", "create_app_from_env"]
