"""Helpers for the real-browser tests (test_browser.py): headless Chromium from Debian driven by
Selenium, against the real nginx + tokengate stack.

Environment:
  TOKENGATE_TEST_CHROMIUM       the Chromium binary (default: chromium on PATH, else /usr/bin/chromium)
  TOKENGATE_TEST_CHROMEDRIVER   the driver (default: chromedriver on PATH, else /usr/bin/chromedriver)
  TOKENGATE_BROWSER_ARTIFACTS   where screenshots go (default: <repo>/artifacts/browser)
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import struct
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness import REPO

ARTIFACTS = Path(os.environ.get("TOKENGATE_BROWSER_ARTIFACTS", REPO / "artifacts" / "browser"))
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# --- prerequisites -----------------------------------------------------------------------------

def _binary(variable: str, names: tuple[str, ...], fallback: str) -> Path:
    if os.environ.get(variable):
        return Path(os.environ[variable])
    for name in names:
        found = shutil.which(name)
        if found:
            return Path(found)
    return Path(fallback)


def chromium_binary() -> Path:
    return _binary("TOKENGATE_TEST_CHROMIUM", ("chromium", "chromium-browser"), "/usr/bin/chromium")


def chromedriver_binary() -> Path:
    return _binary("TOKENGATE_TEST_CHROMEDRIVER", ("chromedriver",), "/usr/bin/chromedriver")


def missing_browser_prerequisites() -> list[str]:
    problems = []
    for what, path, package in (("Chromium", chromium_binary(), "chromium"),
                                ("chromedriver", chromedriver_binary(), "chromium-driver")):
        if not (path.is_file() and os.access(path, os.X_OK)):
            problems.append(f"{what} not found at {path} (apt-get install {package})")
    try:
        import selenium  # noqa: F401
    except ImportError:
        problems.append("the Python module selenium is missing (pip install selenium)")
    return problems


# --- drivers -----------------------------------------------------------------------------------

@dataclass
class Browser:
    """One Chromium (its own temporary profile) and the console messages read from it so far."""

    driver: object
    profile: Path
    javascript: bool
    console: list[dict] = field(default_factory=list)

    def read_console(self) -> list[dict]:
        """New console entries since the last read (chromedriver hands each one out once)."""
        entries = self.driver.get_log("browser")
        self.console.extend(entries)
        return entries

    def quit(self) -> None:
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)


def start_browser(javascript: bool = True, width: int = 1000, height: int = 900) -> Browser:
    """Headless Chromium (new headless mode) that accepts the stack's self-signed certificate."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = Path(tempfile.mkdtemp(prefix="tg-chromium-"))
    options = webdriver.ChromeOptions()
    options.binary_location = str(chromium_binary())
    for argument in (
        "--headless=new",
        "--no-sandbox",                 # we run as root (CI); Chromium refuses its sandbox then
        "--disable-dev-shm-usage",      # /dev/shm is small in containers
        "--ignore-certificate-errors",  # the stack's certificate is self-signed
        f"--user-data-dir={profile}",
        f"--window-size={width},{height}",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-features=Translate,OptimizationHints,MediaRouter",
        "--lang=en-US",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    if not javascript:
        options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    service = Service(executable_path=str(chromedriver_binary()), log_output=str(profile / "chromedriver.log"))
    try:
        driver = webdriver.Chrome(options=options, service=service)
    except Exception:
        shutil.rmtree(profile, ignore_errors=True)
        raise
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(30)
    return Browser(driver, profile, javascript)


# --- console -----------------------------------------------------------------------------------

# Chromium reports every HTTP error response to a page's fetch() as a console error of the source
# "network", e.g. "https://127.0.0.1:41234/auth/refresh - Failed to load resource: the server
# responded with a status of 401 ()". Some of those are the protocol working as designed:
#   - POST /auth/refresh answers 401 (refresh_missing) on every page load while signed out, and
#     after a logout;
#   - GET /auth/me answers 401 (token_expired / invalid_token) when authFetch sends an expired or
#     revoked token — the 401 that makes it refresh and retry, or that tells it we are signed out.
# Only exactly these are forgiven: source "network", status 401, and one of these two endpoints on
# the stack's own origin. Any other error (an uncaught exception, a CSP violation, a 404 for a
# missing file, a 401 from another URL, a 5xx) fails the test. A test that provokes another 401 on
# purpose (a wrong password: POST /auth/login) names that path itself.
EXPECTED_401_PATHS = ("/auth/refresh", "/auth/me")


def is_expected_console_error(entry: dict, origin: str, paths: tuple[str, ...] = EXPECTED_401_PATHS) -> bool:
    if entry.get("source") != "network":
        return False
    match = re.match(r"^(\S+) - Failed to load resource: the server responded with a status of 401\b",
                     entry.get("message", ""))
    if not match:
        return False
    url = match.group(1)
    return any(url == origin + path or url.startswith(origin + path + "?") for path in paths)


def console_errors(browser: Browser, origin: str, paths: tuple[str, ...] = EXPECTED_401_PATHS) -> list[dict]:
    """Console entries at level SEVERE (errors) that are not expected 401s, read so far."""
    browser.read_console()
    return [entry for entry in browser.console
            if entry.get("level") == "SEVERE" and not is_expected_console_error(entry, origin, paths)]


def format_console(entries: list[dict]) -> str:
    return "\n".join(f"  [{e.get('level')}/{e.get('source')}] {e.get('message')}" for e in entries) or "  (none)"


# --- screenshots -------------------------------------------------------------------------------

def png_dimensions(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk; ValueError if DATA is not a PNG."""
    if data[:8] != PNG_SIGNATURE:
        raise ValueError(f"not a PNG (starts with {data[:8]!r})")
    length, kind = struct.unpack(">I4s", data[8:16])
    if kind != b"IHDR" or length != 13:
        raise ValueError(f"PNG without IHDR first (chunk {kind!r}, length {length})")
    return struct.unpack(">II", data[16:24])


def full_page_png(driver) -> bytes:
    """The whole page, not just the viewport (Chrome DevTools Protocol); the viewport as a fallback."""
    try:
        metrics = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        # Capturing beyond the viewport drops the vertical scrollbar, so the page is laid out at the
        # window's full inner width: clip to that, not to the narrower width with the scrollbar.
        width = max(int(driver.execute_script("return window.innerWidth")), int(size["width"]), 1)
        height = min(max(int(size["height"]), 1), 6000)
        shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
        })
        return base64.b64decode(shot["data"])
    except Exception:  # noqa: BLE001 - an older driver without these commands
        return driver.get_screenshot_as_png()


def screenshot(browser: Browser, step: str) -> Path:
    """Saves the current tab as ARTIFACTS/STEP.png and checks that it is a real, non-trivial PNG."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    target = ARTIFACTS / f"{step}.png"
    data = full_page_png(browser.driver)
    target.write_bytes(data)
    check_png(target)
    return target


def check_png(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert len(data) > 2000, f"{path} is only {len(data)} bytes"
    width, height = png_dimensions(data)
    assert width > 100 and height > 100, f"{path} is {width}x{height}"
    return width, height


# --- page helpers ------------------------------------------------------------------------------

def wait_until(predicate, timeout: float = 15, interval: float = 0.1, message: str = "condition"):
    """Polls PREDICATE (which may raise while the page is loading) until it returns a truthy value."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except Exception as error:  # noqa: BLE001 - a page in transition; try again
            last_error = error
        if time.monotonic() > deadline:
            suffix = f" (last error: {last_error!r})" if last_error else ""
            raise TimeoutError(f"timed out after {timeout}s waiting for {message}{suffix}")
        time.sleep(interval)


def session_state(driver) -> str | None:
    """The demo page's session badge state: checking, signed-in, signed-out or unknown."""
    return driver.execute_script(
        "const b = document.getElementById('session-state');"
        "return b && !b.hidden ? b.dataset.state : null;")


def wait_for_state(driver, state: str, timeout: float = 15) -> None:
    wait_until(lambda: session_state(driver) == state, timeout, message=f"the page to show {state!r} "
               f"(it shows {session_state(driver)!r})")


def visible(driver, element_id: str) -> bool:
    from selenium.webdriver.common.by import By
    elements = driver.find_elements(By.ID, element_id)
    return bool(elements) and elements[0].is_displayed()


def text_of(driver, element_id: str) -> str:
    from selenium.webdriver.common.by import By
    return driver.find_element(By.ID, element_id).text


def run_async(driver, body: str, *args):
    """Runs BODY (an async function body; `args` holds ARGS) in the page and returns its result.

    Exceptions in the page come back as {"error": "..."} so the test can show them.
    """
    script = (
        "const done = arguments[arguments.length - 1];"
        "const args = Array.prototype.slice.call(arguments, 0, -1);"
        f"(async (args) => {{ {body} }})(args).then(done, (e) => done({{error: String(e && e.stack || e)}}));"
    )
    return driver.execute_async_script(script, *args)


def demo_call_me(driver) -> dict:
    """authFetch('/auth/me') through the page's tokengate.js: status, body and the client's counters."""
    return run_async(driver, """
        const response = await window.tokengateDemo.authFetch('/auth/me', {headers: {Accept: 'application/json'}});
        let body = null;
        try { body = await response.json(); } catch (e) { body = null; }
        return {status: response.status, body, state: window.tokengateDemo.debugState()};
    """)


def debug_state(driver) -> dict:
    return driver.execute_script("return window.tokengateDemo.debugState();")


def set_proactive(driver, enabled: bool) -> None:
    driver.execute_script("window.tokengateDemo.configure({proactive: arguments[0]});", enabled)
