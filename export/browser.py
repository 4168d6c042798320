"""Serve web/ locally and drive the system's Chromium with Playwright: shared by the browser tests
and `python -m export.measure`, so both look at the page the same way a user does.

Why the Debian `chromium` and not Playwright's own browser: Playwright's download is not available
everywhere (not here, not in CI), while `apt-get install chromium` is. The flags keep a headless
Chromium from reaching the network or needing a GPU or a sandbox (CI runs as root).
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import shutil
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str | None:
    """$JAXJEPA_CHROMIUM, else Debian's /usr/bin/chromium, else whatever `chromium` is on PATH."""
    for candidate in (os.environ.get("JAXJEPA_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def missing_browser_reason() -> str | None:
    """Why the browser cannot be driven here, or None if it can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Python playwright is not installed (pip install -e '.[export]')"
    if chromium_path() is None:
        return "no Chromium found (apt-get install chromium, or set JAXJEPA_CHROMIUM)"
    return None


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Static files from web/, plus extra folders mounted at /<name>/ (e.g. a freshly exported model)."""

    mounts: dict[str, Path] = {}

    def translate_path(self, path: str) -> str:
        first, _, rest = path.split("?", 1)[0].lstrip("/").partition("/")
        if urllib.parse.unquote(first) in self.mounts:  # as the browser sends it: percent-encoded
            return str(self.mounts[urllib.parse.unquote(first)] / urllib.parse.unquote(rest))
        return super().translate_path(path)

    def log_message(self, *args) -> None:  # keep test and measure output readable
        pass


@contextlib.contextmanager
def serve(directory: Path = WEB_DIR, mounts: dict[str, Path] | None = None) -> Iterator[str]:
    """An HTTP server on a free local port for as long as the block runs; yields its base URL."""
    handler = type("Handler", (_Handler,), {"mounts": {k: Path(v) for k, v in (mounts or {}).items()}})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def chromium() -> Iterator:
    """A headless Chromium (Playwright Browser) for as long as the block runs."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def open_page(browser, url: str, console: list[str] | None = None, width: int = 1100, init_script: str = ""):
    """A new page at `url`, `width` CSS pixels wide, recording console errors and uncaught exceptions; with
    `init_script`, JavaScript run in the page before any of its own."""
    page = browser.new_page(viewport={"width": width, "height": 1000})
    if console is not None:
        page.on("console", lambda message: console.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: console.append(f"uncaught: {error}"))
    if init_script:
        page.add_init_script(init_script)
    page.goto(url)
    return page


def wait_ready(page, timeout_ms: int = 30_000) -> None:
    """Until the page has loaded its model (or shown why it could not)."""
    page.wait_for_function("window.jepa !== undefined", timeout=timeout_ms)
    page.evaluate("window.jepa.ready.catch(() => null)")
