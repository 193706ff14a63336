"""GET /docs and its files in process: the vendored copies, the page's references, headers and refusals."""

import hashlib
import json
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.test import Client

from contract import load_contract
from contract.suite.pages import References
from tests.support.problems import assert_problem
from wsgi_service import Settings, create_app
from wsgi_service.edge.docs import page as docs_page
from wsgi_service.edge.docs.page import ASSET_FILES, PIN_PATH, SWAGGER_UI_DIR, DocsPage
from wsgi_service.errors import StartupError

MEDIA_TYPES = {"swagger-ui-bundle.js": "text/javascript", "swagger-initializer.js": "text/javascript",
               "swagger-ui.css": "text/css", "favicon-32x32.png": "image/png"}
PIN = json.loads(PIN_PATH.read_text())


def problem(response, status):
    return assert_problem(response.status_code, response.mimetype, response.get_json(force=True), status)


def asset_parameter(contract: dict) -> dict:
    """The ``asset`` path parameter of ``GET /docs/{asset}``: its enum lists the files."""
    return next(parameter for parameter in contract["paths"]["/docs/{asset}"]["get"]["parameters"]
                if parameter.get("in") == "path")


def references(client, page_path="/docs") -> list[str]:
    """The page's URLs, resolved against the page's own, as a browser resolves them."""
    found = References(client.get(page_path).get_data(as_text=True))
    assert not found.inline_scripts
    return [urljoin(f"http://localhost{page_path}", url) for url in found.urls]


@pytest.mark.parametrize("name", sorted(PIN["files"]))
def test_vendored_files_are_the_pinned_release_byte_for_byte(name):
    """pin.json records what .ci/vendor-swagger-ui.py fetched; a changed copy fails here."""
    assert hashlib.sha256((SWAGGER_UI_DIR / name).read_bytes()).hexdigest() == PIN["files"][name]


def test_only_the_pinned_files_are_vendored_from_one_exact_release():
    assert {path.name for path in SWAGGER_UI_DIR.iterdir()} == {*PIN["files"], PIN_PATH.name}
    assert PIN["package"] == "swagger-ui-dist" and PIN["version"].split(".")[0] == "5"
    assert all(part.isdigit() for part in PIN["version"].split("."))
    assert {"LICENSE", "NOTICE"} <= set(PIN["files"])


def test_the_contract_lists_exactly_the_files_served():
    assert sorted(asset_parameter(load_contract())["schema"]["enum"]) == sorted(ASSET_FILES) == sorted(MEDIA_TYPES)


def test_the_page_is_html_under_a_strict_content_security_policy(client):
    response = client.get("/docs")
    assert response.status_code == 200 and response.content_type == "text/html; charset=utf-8"
    policy = dict(directive.strip().split(" ", 1) for directive in response.headers["Content-Security-Policy"].split(";"))
    assert policy["default-src"] == "'none'" and policy["script-src"] == "'self'"
    assert "unsafe" not in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "<title>Random forest prediction service: API docs</title>" in response.get_data(as_text=True)


def test_the_page_loads_every_file_and_only_those_each_by_its_fingerprint(client):
    urls = references(client)
    assert sorted(urlsplit(url).path for url in urls) == sorted(f"/docs/{name}" for name in ASSET_FILES)
    for url in urls:
        parts = urlsplit(url)
        served = client.get(parts.path)
        assert parse_qs(parts.query)["v"] == [hashlib.sha256(served.data).hexdigest()[:12]]


@pytest.mark.parametrize("name", sorted(ASSET_FILES))
def test_each_file_is_served_as_packaged_with_its_type_and_a_long_cache(client, name):
    response = client.get(f"/docs/{name}?v=anything")
    assert response.status_code == 200 and response.mimetype == MEDIA_TYPES[name]
    assert response.data == ASSET_FILES[name].read_bytes()
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"


def test_head_answers_the_headers_alone(client):
    for path, size in (("/docs", len(client.get("/docs").data)),
                       ("/docs/swagger-ui-bundle.js", ASSET_FILES["swagger-ui-bundle.js"].stat().st_size)):
        response = client.head(path)
        assert response.status_code == 200 and response.data == b""
        assert int(response.headers["Content-Length"]) == size


@pytest.mark.parametrize("path", ["/docs/nope.js", "/docs/LICENSE", "/docs/pin.json", "/docs/page.py",
                                  "/docs/..%2fpage.py", "/docs/", "/docs/swagger-ui.css/"])
def test_anything_else_under_docs_is_a_404_problem(client, path):
    problem(client.get(path), 404)


def test_other_methods_are_405(client):
    response = client.post("/docs/swagger-ui.css")
    problem(response, 405)
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD"}


def test_the_index_lists_the_page(client):
    endpoints = {(e["method"], e["path"]) for e in client.get("/").get_json()["endpoints"]}
    assert {("GET", "/docs"), ("GET", "/docs/{asset}")} <= endpoints


def test_the_page_works_behind_a_path_prefix(app):
    """Relative URLs: mounted at /ml, the page loads /ml/docs/..., and Swagger UI /ml/openapi.json."""
    client = Client(DispatcherMiddleware(app, {"/ml": app}))
    for url in references(client, "/ml/docs"):
        assert urlsplit(url).path.startswith("/ml/docs/") and client.get(url).status_code == 200
    assert 'new URL("openapi.json", document.baseURI)' in client.get("/ml/docs/swagger-initializer.js").get_data(
        as_text=True)


def test_a_contract_listing_other_files_refuses_to_start(model_copy):
    contract_path = model_copy / "openapi.json"
    contract = json.loads(contract_path.read_text())
    asset_parameter(contract)["schema"]["enum"].append("swagger-ui.js")
    contract_path.write_text(json.dumps(contract))
    with pytest.raises(StartupError, match="swagger-ui.js.*regenerate the contract"):
        create_app(settings=Settings(model_dir=model_copy))


def test_a_contract_without_the_page_serves_none(model_copy):
    contract_path = model_copy / "openapi.json"
    contract = json.loads(contract_path.read_text())
    del contract["paths"]["/docs"], contract["paths"]["/docs/{asset}"]
    contract_path.write_text(json.dumps(contract))
    client = Client(create_app(settings=Settings(model_dir=model_copy)))
    problem(client.get("/docs"), 404)
    assert client.get("/health").status_code == 200


def test_a_page_loading_a_file_that_is_not_packaged_refuses_to_start(monkeypatch, tmp_path):
    page = tmp_path / "page.html"
    page.write_text('<script src="docs/missing.js"></script>')
    monkeypatch.setattr(docs_page, "PAGE_PATH", page)
    with pytest.raises(StartupError, match="docs/missing.js"):
        DocsPage("title", list(ASSET_FILES))
