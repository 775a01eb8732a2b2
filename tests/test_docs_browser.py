"""/docs in a real browser (issue 16): headless Chromium, Debian's, driven by Playwright,
renders Swagger UI from the local assets with its Authorize button, and "Try it out" reaches
the live API: 401 before a token is authorised, 200 and the API's own body after.

Playwright's own browser downloads are never used: `.ci/run` installs Debian's chromium
when /usr/bin/chromium is missing and sets BUYERGUARD_REQUIRE_BROWSER=1, so in CI a missing
browser fails the run instead of skipping it.
"""

from __future__ import annotations

import json
import os
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, Page, Route, expect, sync_playwright

from tests.live_server import post_json

CHROMIUM = Path("/usr/bin/chromium")
REQUIRE_BROWSER_ENV = "BUYERGUARD_REQUIRE_BROWSER"
# One UI step (a render, a click answered by the API) takes about a second, and up to a few on
# a machine loaded several times over; 15 s is slack for that, and a stuck step fails the
# test at its first wait.
STEP_TIMEOUT_MS = 15_000
MERCHANT_ID = "M-yiwu"
# Swagger UI's element id for an operation: "operations-{tag, spaces as _}-{operationId}".
BALANCE_OPERATION = "#operations-money_out-get_merchant_balance"


@pytest.fixture
def chromium() -> Iterator[Browser]:
    """Debian's chromium, headless; skipped when it is not installed, unless CI requires it."""
    if not os.access(CHROMIUM, os.X_OK):
        reason = f"Debian's chromium is not at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get(REQUIRE_BROWSER_ENV) == "1":
            pytest.fail(f"{reason}, and {REQUIRE_BROWSER_ENV}=1 requires the browser test")
        pytest.skip(reason)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield browser
        finally:
            browser.close()


def _post(base: str, path: str, token: str, body: dict[str, Any]) -> None:
    assert post_json(base, path, token, body) in (200, 201)


def _balance_from_the_api(base: str, token: str) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{base}/v1/merchants/{MERCHANT_ID}/balance", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        answer: dict[str, Any] = json.load(response)
        return answer


def _offline(page: Page, base: str) -> list[str]:
    """Abort and record every request that leaves the server: /docs must need no CDN."""
    outside: list[str] = []

    def guard(route: Route) -> None:
        if route.request.url.startswith(base + "/"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", guard)
    return outside


def _execute(
    page: Page, operation: Locator, expected_status: int
) -> tuple[str | None, dict[str, Any]]:
    """Click Execute; wait until the live response shows `expected_status`; return the
    Authorization header the browser sent (None if none) and the response body shown."""
    with page.expect_request(re.compile(r"/balance$")) as sent:
        operation.get_by_role("button", name="Execute").click()
    live = operation.locator(".live-responses-table tr.response")
    expect(live.locator(".response-col_status")).to_have_text(
        str(expected_status), timeout=STEP_TIMEOUT_MS
    )
    body: dict[str, Any] = json.loads(
        live.locator(".response-col_description pre code").inner_text()
    )
    return sent.value.header_value("authorization"), body


def test_docs_try_it_out_is_refused_without_a_token_and_answers_with_one(
    chromium: Browser, live_server: tuple[str, dict[str, str]]
) -> None:
    """The token typed into Authorize is what makes the call work: the same Execute shows
    401 before it and, after it, 200 with the body the API itself returns; and the page
    fetches nothing from outside the server."""
    base, env = live_server
    tokens = json.loads(Path(env["BUYERGUARD_DEMO_TOKENS"]).read_text())
    # A paid order of 10 cups puts 360.00 in escrow, so the balance shown is not all zeros.
    order = {
        "id": "O-docs",
        "buyer_id": "B-shop",
        "lines": [{"product_id": "P-cups", "quantity": 10}],
    }
    _post(base, "/v1/orders", tokens["marketplace"], order)
    _post(base, "/v1/orders/O-docs/payment", tokens["marketplace"], {"amount": "360.00"})

    page = chromium.new_page()
    page.set_default_timeout(STEP_TIMEOUT_MS)
    outside = _offline(page, base)
    page.goto(f"{base}/docs")
    authorize = page.locator(".scheme-container").get_by_role("button", name="Authorize")
    expect(authorize).to_be_visible(timeout=STEP_TIMEOUT_MS)

    operation = page.locator(BALANCE_OPERATION)
    operation.locator(".opblock-summary-control").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.locator('tr[data-param-name="merchant_id"] input').fill(MERCHANT_ID)

    sent_header, refused = _execute(page, operation, 401)
    assert sent_header is None
    assert refused["code"] == "token_missing"

    authorize.click()
    page.locator("#auth-bearer-value").fill(tokens["merchant"])
    page.get_by_role("button", name="Apply credentials").click()
    page.locator(".modal-ux").get_by_role("button", name="Close").click()
    expect(authorize).to_have_class(re.compile(r"\blocked\b"), timeout=STEP_TIMEOUT_MS)

    sent_header, shown = _execute(page, operation, 200)
    assert sent_header == f"Bearer {tokens['merchant']}"
    assert shown["merchant_id"] == MERCHANT_ID
    assert shown["in_escrow"] == "360.00"
    assert shown == _balance_from_the_api(base, tokens["merchant"])
    assert outside == []
