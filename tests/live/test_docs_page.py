"""GET /docs in a real browser: headless Chromium drives Swagger UI against the live gunicorn.

The browser is Debian's ``chromium`` (``.ci/run`` installs it), driven by
Playwright, which never downloads a browser here. Without it this test fails
saying so: it is the only proof that the page works, and a skip would hide
its absence. A screenshot of the whole page after the prediction, or of where
it stopped, goes to ``$DOCS_SCREENSHOT`` (default: the test's temporary
directory); CI keeps it.
"""

import json
import os
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from playwright.sync_api import expect, sync_playwright

from contract import operations

ENV_SCREENSHOT = "DOCS_SCREENSHOT"
BROWSERS = ("chromium", "chromium-browser")
TIMEOUT = 10
UI_TIMEOUT_MS = 20_000


@pytest.fixture(scope="module")
def browser():
    executable = next(filter(None, map(shutil.which, BROWSERS)), None)
    if executable is None:
        pytest.fail(f"no browser to test GET /docs with: none of {', '.join(BROWSERS)} is on PATH "
                    f"(on Debian: apt-get install chromium; .ci/run installs it)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable)
        yield launched
        launched.close()


@pytest.fixture
def screenshot_path(tmp_path) -> Path:
    path = Path(os.environ.get(ENV_SCREENSHOT) or tmp_path / "docs-page.png")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc


def test_try_it_out_predicts_the_documented_example_from_the_service_alone(browser, live_server, screenshot_path):
    """Every operation is listed; POST /predict, tried with the contract's first example, shows
    the server's own answer; and every request the page made went to the service."""
    contract = requests.get(f"{live_server}/openapi.json", timeout=TIMEOUT).json()
    predict = contract["paths"]["/predict"]["post"]
    example = next(iter(predict["requestBody"]["content"]["application/json"]["examples"].values()))["value"]
    expected = requests.post(f"{live_server}/predict", json=example, timeout=TIMEOUT).json()

    page = browser.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    sent, errors = [], []
    page.on("request", lambda request: sent.append(request.url))
    # What the Content-Security-Policy blocks is never sent: the browser reports it as a console error.
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))

    def loaded_from_the_service_alone():
        elsewhere = [url for url in sent if origin(url) != origin(live_server)]
        assert not elsewhere, f"the page made requests outside {live_server}: {elsewhere}"
        assert not errors, f"the page reported errors: {errors}"

    try:
        page.goto(f"{live_server}/docs", wait_until="load")
        loaded_from_the_service_alone()
        summaries = page.locator(".opblock-summary")
        expect(summaries).to_have_count(len(list(operations(contract))))
        listed = {(summary.locator(".opblock-summary-method").inner_text(),
                   summary.locator(".opblock-summary-path").get_attribute("data-path"))
                  for summary in summaries.all()}
        assert listed == {(method.upper(), path) for path, method, _ in operations(contract)}
        # Grouped by purpose, under the contract's tags, in its order; and no warning box: the
        # dialect the contract names is the one Swagger UI reads it in.
        assert page.locator(".opblock-tag").evaluate_all("sections => sections.map(s => s.dataset.tag)") == [
            tag["name"] for tag in contract["tags"]]
        expect(page.locator(".info__jsonschemadialect")).to_have_count(1)
        expect(page.locator(".error-wrapper")).to_have_count(0)

        operation = page.locator(f"#operations-{predict['tags'][0]}-{predict['operationId']}")
        operation.locator(".opblock-summary").click()
        operation.get_by_role("button", name="Try it out").click()
        assert json.loads(operation.locator("textarea.body-param__text").input_value()) == example
        operation.get_by_role("button", name="Execute").click()
        answer = operation.locator(".live-responses-table tbody .response")
        expect(answer.locator(".response-col_status")).to_have_text("200")
        assert operation.locator(".request-url pre").inner_text() == f"{live_server}/predict"
        assert json.loads(answer.locator(".highlight-code pre").first.inner_text()) == expected
    finally:
        page.screenshot(path=str(screenshot_path), full_page=True)
        print(f"screenshot of GET /docs: {screenshot_path}")
        page.close()

    loaded_from_the_service_alone()
    assert f"{live_server}/openapi.json" in sent and f"{live_server}/predict" in sent
