"""Headless Debian Chromium driven by Playwright, shared by the browser tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = Path("/usr/bin/chromium")
# No background networking: this machine's network is closed, and a page must not need one.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]

needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is not installed")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="python playwright is not installed")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


OpenPage = Callable[[Path], tuple["Page", list[str], list[str]]]


@pytest.fixture
def open_page(browser: Browser) -> Iterator[OpenPage]:
    """Open a local HTML file in a new tab; returns (page, console errors, requested URLs)."""
    pages: list[Page] = []

    def opener(path: Path) -> tuple[Page, list[str], list[str]]:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        pages.append(page)
        errors: list[str] = []
        requests: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(path.as_uri())
        page.wait_for_load_state("load")
        return page, errors, requests

    yield opener
    for page in pages:
        page.close()
