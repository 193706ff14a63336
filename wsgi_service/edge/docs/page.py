"""The page and the files it loads, read and encoded once, at start.

Every URL in ``page.html`` is relative (``docs/swagger-ui.css``), so the page
works wherever the service is mounted, and each gets ``?v=`` and the first
hex digits of its file's SHA-256: a changed file has a new URL, so the files
can be cached for a year while the page itself is revalidated on each visit.
"""

import hashlib
import html
import re
from pathlib import Path
from string import Template

from contract import operations
from wsgi_service.edge.replies import Reply
from wsgi_service.errors import StartupError

HERE = Path(__file__).resolve().parent
SWAGGER_UI_DIR = HERE / "swagger-ui"
PIN_PATH = SWAGGER_UI_DIR / "pin.json"
PAGE_PATH = HERE / "page.html"
# The files the page loads, by the name it loads them under: Swagger UI's, vendored and
# pinned (.ci/vendor-swagger-ui.py), and the page's own start-up script.
ASSET_FILES = {
    "swagger-ui-bundle.js": SWAGGER_UI_DIR / "swagger-ui-bundle.js",
    "swagger-ui.css": SWAGGER_UI_DIR / "swagger-ui.css",
    "favicon-32x32.png": SWAGGER_UI_DIR / "favicon-32x32.png",
    "swagger-initializer.js": HERE / "swagger-initializer.js",
}
MEDIA_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".png": "image/png"}
PAGE_MEDIA_TYPE = "text/html; charset=utf-8"
# Scripts, styles, images and requests from this origin only (images also as data:
# URIs, which Swagger UI's style sheet holds); no inline script, no plugins, no framing.
CONTENT_SECURITY_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
PAGE_HEADERS = (("Content-Security-Policy", CONTENT_SECURITY_POLICY), ("Cache-Control", "no-cache"))
ASSET_HEADERS = (("Cache-Control", "public, max-age=31536000, immutable"),)
FINGERPRINT_HEX_DIGITS = 12
# The operations of the page and of its files, and the files' path parameter.
PAGE_OPERATION, ASSET_OPERATION, ASSET_PARAMETER = "docs", "docs_asset", "asset"
_REFERENCE = re.compile(r'(?P<attribute>(?:href|src)=")docs/(?P<name>[^"?#]+)"')


class DocsPage:
    """``GET /docs`` and ``GET /docs/{asset}``, answered from bytes read once.

    ``documented_assets`` are the names the contract lists for ``/docs/{asset}``:
    they must be exactly the files packaged here, or the service refuses to start.
    """

    def __init__(self, title: str, documented_assets: list[str]):
        if sorted(documented_assets) != sorted(ASSET_FILES):
            raise StartupError(f"the contract lists the docs page's files as {sorted(documented_assets)}; this "
                               f"service serves {sorted(ASSET_FILES)}: regenerate the contract with "
                               f"`python -m training` for this version of the service")
        self._assets = {name: Reply(200, path.read_bytes(), MEDIA_TYPES[path.suffix], ASSET_HEADERS)
                        for name, path in ASSET_FILES.items()}
        page = Template(PAGE_PATH.read_text(encoding="utf-8")).substitute(title=html.escape(f"{title}: API docs"))
        self.page = Reply(200, _REFERENCE.sub(self._fingerprinted, page).encode(), PAGE_MEDIA_TYPE, PAGE_HEADERS)

    def asset(self, name: str) -> Reply | None:
        return self._assets.get(name)

    def _fingerprinted(self, reference: re.Match) -> str:
        name = reference["name"]
        if name not in self._assets:  # a typo in page.html: no page at all beats a broken one
            raise StartupError(f"{PAGE_PATH.name} loads docs/{name}, which is not packaged")
        digest = hashlib.sha256(self._assets[name].body).hexdigest()[:FINGERPRINT_HEX_DIGITS]
        return f'{reference["attribute"]}docs/{name}?v={digest}"'


def docs_page_for(contract: dict) -> DocsPage | None:
    """The page of ``contract``, with the files it lists (its asset parameter's enum); None for a
    contract that documents neither of the page's operations."""
    found = {operation["operationId"]: operation for _, _, operation in operations(contract)
             if operation["operationId"] in (PAGE_OPERATION, ASSET_OPERATION)}
    if not found:
        return None
    assets = [parameter["schema"].get("enum", [])
              for parameter in found.get(ASSET_OPERATION, {}).get("parameters", [])
              if parameter.get("in") == "path" and parameter.get("name") == ASSET_PARAMETER]
    return DocsPage(contract["info"]["title"], list(assets[0]) if assets else [])
