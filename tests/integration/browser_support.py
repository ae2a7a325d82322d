"""A real browser for the report tests: Debian's headless Chromium, driven by
Playwright (the PyPI package; it downloads no browser here: it is pointed at
``/usr/bin/chromium``).

``open_report`` loads a report.html from disk in a fresh profile (its own
``--user-data-dir``), with every network feature of Chromium that could
phone home turned off, and records what a test must know: console messages,
uncaught page errors, dialogs (``alert``/``confirm``), and every request the
page made other than the report file itself. ``scripts/report_screenshot.py``
(the README's picture) uses the same code as the tests' screenshots.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pathlib
import shutil
import tempfile
import time
from collections.abc import Iterator
from typing import Any

# Chromium flags: headless, no sandbox (CI runs as root), and nothing that
# talks to the network on its own (QUIC probes, component updates, sync).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    """The Chromium binary (``$FLOWALERTS_CHROMIUM``, else ``chromium`` on PATH)."""
    given = os.environ.get("FLOWALERTS_CHROMIUM")
    if given:
        return given if os.access(given, os.X_OK) else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


def missing_browser() -> str | None:
    """Why the browser tests cannot run here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Python package playwright is not installed (pip install -e '.[test]')"
    if chromium_path() is None:
        return "chromium is not installed (apt-get install chromium)"
    return None


@dataclasses.dataclass
class PageEvents:
    """What the page did while it was open."""

    console: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    page_errors: list[str] = dataclasses.field(default_factory=list)
    dialogs: list[str] = dataclasses.field(default_factory=list)
    requests: list[str] = dataclasses.field(default_factory=list)  # every URL but the report itself
    load_seconds: float = 0.0

    @property
    def console_errors(self) -> list[str]:
        return [text for kind, text in self.console if kind == "error"]


@contextlib.contextmanager
def open_report(
    html: pathlib.Path, width: int = 1280, height: int = 900, before_load: Any = None
) -> Iterator[tuple[Any, PageEvents]]:
    """(page, events) of ``html`` opened from disk in a fresh headless Chromium
    (``before_load(page)`` runs before the page is loaded: the benchmark's probes)."""
    from playwright.sync_api import sync_playwright

    url = html.resolve().as_uri()
    events = PageEvents()
    profile = tempfile.mkdtemp(prefix="flowalerts-chromium-")
    try:
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                profile,
                executable_path=chromium_path(),
                headless=True,
                args=CHROMIUM_ARGS,
                viewport={"width": width, "height": height},
                offline=True,
            )
            try:
                page = context.pages[0] if context.pages else context.new_page()
                page.on("console", lambda message: events.console.append((message.type, message.text)))
                page.on("pageerror", lambda error: events.page_errors.append(str(error)))

                def on_dialog(dialog: Any) -> None:
                    events.dialogs.append(f"{dialog.type}: {dialog.message}")
                    dialog.dismiss()

                page.on("dialog", on_dialog)
                context.on("request", lambda request: request.url != url and events.requests.append(request.url))
                if before_load is not None:
                    before_load(page)
                started = time.perf_counter()
                page.goto(url, wait_until="load", timeout=120_000)
                events.load_seconds = time.perf_counter() - started
                yield page, events
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def screenshot(page: Any, png: pathlib.Path, full_page: bool = False) -> pathlib.Path:
    """A PNG of the page as it is now (the first screen, or the whole page)."""
    png.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(png), full_page=full_page)
    return png


def visible_count(page: Any, selector: str) -> int:
    """Elements matching ``selector`` that are rendered (not hidden by a filter)."""
    return page.locator(f"{selector} >> visible=true").count()


# The README's picture and the tests' screenshots: the first screen of the page.
SCREENSHOT_SIZE = (1280, 1100)


def report_screenshot(html: pathlib.Path, png: pathlib.Path) -> PageEvents:
    """Open ``html`` and write a PNG of its first screen (the same code for the
    tests and for ``scripts/report_screenshot.py``, the README's picture)."""
    width, height = SCREENSHOT_SIZE
    with open_report(html, width=width, height=height) as (page, events):
        screenshot(page, png)
    return events


