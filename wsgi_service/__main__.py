"""``python -m wsgi_service [gunicorn flags]``: serve the app with gunicorn and its config."""

import sys

from wsgi_service.errors import StartupError
from wsgi_service.operations.settings import ServerSettings

CONFIG = "python:wsgi_service.operations.gunicorn_config"


def main() -> int:
    try:
        # Checked before gunicorn is imported: gunicorn itself parses
        # WEB_CONCURRENCY at import and answers a bad value with a traceback.
        ServerSettings.from_env()
    except StartupError as error:
        print(f"Error: {error}", file=sys.stderr)
        return 1
    from gunicorn.app.wsgiapp import WSGIApplication

    sys.argv = ["gunicorn", "--config", CONFIG, *sys.argv[1:]]
    WSGIApplication("%(prog)s [OPTIONS]").run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
