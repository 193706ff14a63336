"""The interactive page loads only what the deployment itself serves, as documented.

For a contract with a ``docs`` operation: every URL in the page (scripts,
style sheets, icons, links) resolves under the deployment's own base URL, so
the page needs nothing from elsewhere, such as a CDN; its scripts are files,
since its Content-Security-Policy runs no inline script; and each file it
loads answers as the operation documenting that path says.
"""

from urllib.parse import urljoin

import pytest

from contract.suite.documented import DOCS, expect_answer
from contract.suite.exchanges import expect
from contract.suite.pages import References

HTML_MEDIA_TYPE = "text/html"


@pytest.fixture(scope="module")
def docs_page(client, contract):
    """The page's URLs, each resolved against the page's own, and the exchange that fetched it."""
    try:
        operation = contract.operation(DOCS)
    except LookupError:
        pytest.skip(f"the contract documents no interactive page (operation {DOCS!r})")
    exchange = client.send(operation.method, operation.path)
    page = expect_answer(contract, operation, exchange, contract.success_status(operation))
    expect(exchange.media_type == HTML_MEDIA_TYPE, f"the page is {exchange.media_type}, not {HTML_MEDIA_TYPE}",
           exchange)
    references = References(page)
    expect(not references.inline_scripts,
           f"the page has inline scripts, which its Content-Security-Policy must not run: {references.inline_scripts}",
           exchange)
    return [urljoin(exchange.request.url, url) for url in references.urls], exchange


def test_docs_page_loads_only_what_the_deployment_serves(client, docs_page):
    urls, exchange = docs_page
    expect(urls, "the page loads nothing: it cannot show Swagger UI", exchange)
    elsewhere = [url for url in urls if not url.startswith(client.base_url + "/")]
    expect(not elsewhere, f"the page loads {', '.join(elsewhere)}: outside the deployment {client.base_url}",
           exchange)


def test_docs_page_files_answer_as_documented(client, contract, docs_page):
    urls, _ = docs_page
    for url in urls:
        if not url.startswith(client.base_url + "/"):
            continue  # test_docs_page_loads_only_what_the_deployment_serves says so
        path = url.removeprefix(client.base_url)
        exchange = client.send("get", path)
        operation = contract.operation_at("get", path)
        expect(operation is not None, f"the page loads {path}, which the contract does not document", exchange)
        expect_answer(contract, operation, exchange, contract.success_status(operation))
