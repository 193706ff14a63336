"""For the tests of ``wsgi_service/model/private_*.py``: what a pickle names, and how a changed API is reported."""

import io
import pickle


def changed(api: str, library: str, version: str, what: str) -> str:
    """The one line a fence test fails with: the API, the installed version, what the code relies on."""
    return f"{api} changed in {library} {version}: {what}"


def globals_named(obj: object) -> set[tuple[str, str]]:
    """Every (module, name) the pickle of ``obj`` names, at every protocol from 2 on, as the
    unpickler is asked for them."""
    named = set()

    class Recording(pickle.Unpickler):
        def find_class(self, module, name):
            named.add((module, name))
            return super().find_class(module, name)

    for protocol in range(2, pickle.HIGHEST_PROTOCOL + 1):
        Recording(io.BytesIO(pickle.dumps(obj, protocol=protocol))).load()
    return named
