"""The demo pages and the browser client (deploy/web: index.html, demo.js, tokengate.js) in a real
browser: headless Chromium from Debian, driven by Selenium, against the real nginx + tokengate
stack (DESIGN.md §6). Access tokens live 4 s with no leeway, so expiry happens within a test.

Every step saves a screenshot to artifacts/browser/<step>.png (checked to be a real PNG), and every
test ends by checking the browser console: no errors except the 401s the protocol is made of
(browser_helpers.EXPECTED_401_PATHS says exactly which, and why).

Prerequisites: apt-get install chromium chromium-driver; pip install selenium. Without them the
tests skip, or fail under TOKENGATE_REQUIRE_INTEGRATION=1 (harness.skip_or_fail).
"""

from __future__ import annotations

import time
import uuid

import pytest

from browser_helpers import (
    EXPECTED_401_PATHS,
    Browser,
    console_errors,
    debug_state,
    demo_call_me,
    format_console,
    is_expected_console_error,
    missing_browser_prerequisites,
    run_async,
    screenshot,
    session_state,
    set_proactive,
    start_browser,
    text_of,
    visible,
    wait_for_state,
    wait_until,
)
from conftest import StackFactory
from harness import USER_CLI_MISSING, Stack, skip_or_fail, user_cli_available

pytestmark = pytest.mark.skipif(not user_cli_available(), reason=USER_CLI_MISSING)

ACCESS_TTL = 4
SHORT = {"TOKENGATE_TOKENS_ACCESS_TTL": f"{ACCESS_TTL}s", "TOKENGATE_TOKENS_LEEWAY": "0s"}
PASSWORD = "browser-password-123"


# --- fixtures ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser_prerequisites() -> None:
    problems = missing_browser_prerequisites()
    if problems:
        skip_or_fail("; ".join(problems))


@pytest.fixture(scope="module")
def short_stack(browser_prerequisites, tls_dir, tmp_path_factory):
    """One stack for the module: 4 s access tokens, no leeway, the default 10 s reuse grace."""
    factory = StackFactory(tls_dir, tmp_path_factory, "browser")
    yield factory(env=SHORT)
    factory.close()


@pytest.fixture
def browsers():
    """Starts browsers on demand (`browsers()`, `browsers(javascript=False)`); quits them all after."""
    started: list[Browser] = []

    def start(javascript: bool = True) -> Browser:
        try:
            browser = start_browser(javascript=javascript)
        except Exception as error:  # noqa: BLE001 - report Chromium's own words
            skip_or_fail(f"headless Chromium did not start: {error}")
            raise
        started.append(browser)
        return browser

    yield start
    for browser in started:
        browser.quit()


# --- helpers -----------------------------------------------------------------------------------

def new_user(stack: Stack, roles=("user",)) -> tuple[str, str]:
    username = f"b{uuid.uuid4().hex[:8]}"
    name = f"Browser Tester {username[1:5].upper()}"
    stack.add_user(username, PASSWORD, name=name, roles=roles)
    return username, name


def origin(stack: Stack) -> str:
    return stack.url("")


def open_page(browser: Browser, stack: Stack, path: str = "/", state: str | None = None) -> None:
    browser.driver.get(stack.url(path))
    if state:
        wait_for_state(browser.driver, state)


def sign_in_with_form(browser: Browser, username: str, password: str) -> None:
    from selenium.webdriver.common.by import By

    driver = browser.driver
    for field, value in (("username", username), ("password", password)):
        element = driver.find_element(By.ID, field)
        element.clear()
        element.send_keys(value)
    driver.find_element(By.ID, "login-button").click()


def sign_in(browser: Browser, stack: Stack, username: str) -> None:
    open_page(browser, stack, "/", state="signed-out")
    sign_in_with_form(browser, username, PASSWORD)
    wait_for_state(browser.driver, "signed-in")


def assert_console_clean(browser: Browser, stack: Stack, also_401: tuple[str, ...] = ()) -> None:
    errors = console_errors(browser, origin(stack), EXPECTED_401_PATHS + also_401)
    assert not errors, "unexpected errors in the browser console:\n" + format_console(errors)


def request_records(stack: Stack, mark, method: str, route: str) -> list[dict[str, str]]:
    return [r for r in stack.request_records(mark)
            if r.get("request.method") == method and r.get("request.route") == route]


def assert_no_reuse(stack: Stack, mark) -> None:
    log = stack.log_text(mark)
    assert "refresh_reused" not in log and "refresh.reused" not in log, (
        "tokengate detected refresh-token reuse (the session was revoked):\n" + log[-3000:])


def wait_past_expiry(extra: float = 1.2) -> None:
    time.sleep(ACCESS_TTL + extra)


# --- tests -------------------------------------------------------------------------------------

def test_form_login_shows_profile(short_stack, browsers):
    """The sign-in form (JavaScript on): a wrong password is explained, the right one shows the profile."""
    stack = short_stack
    username, name = new_user(stack, roles=("user", "editor"))
    browser = browsers()
    driver = browser.driver

    open_page(browser, stack, "/", state="signed-out")
    assert visible(driver, "login-form") and not visible(driver, "profile")
    assert text_of(driver, "session-state") == "Signed out"
    screenshot(browser, "login-01-signed-out")

    sign_in_with_form(browser, username, "not-the-password")
    wait_until(lambda: visible(driver, "login-error"), message="the login error message")
    assert text_of(driver, "login-error") == "The username or password is incorrect."
    assert session_state(driver) == "signed-out"
    screenshot(browser, "login-02-wrong-password")

    sign_in_with_form(browser, username, PASSWORD)
    wait_for_state(driver, "signed-in")
    assert text_of(driver, "profile-name") == name
    assert text_of(driver, "profile-display-name") == name
    assert text_of(driver, "profile-username") == username
    assert text_of(driver, "profile-roles").split() == ["user", "editor"]
    assert not visible(driver, "login-error") and not visible(driver, "signin")
    assert visible(driver, "app-link") and visible(driver, "logout-button")
    state = debug_state(driver)
    assert state["signedIn"] and state["crossTab"] == {"locks": True, "broadcast": True}, state
    # The token lives in memory only.
    assert driver.execute_script("return localStorage.length + sessionStorage.length") == 0
    assert text_of(driver, "page-title") == "Your account"
    screenshot(browser, "login-03-profile")
    driver.set_window_size(390, 900)  # a phone-sized window: one column, nothing cut off
    assert driver.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(browser, "login-04-profile-narrow")
    # The wrong password above is a 401 from POST /auth/login, logged by Chromium on purpose.
    assert_console_clean(browser, stack, also_401=("/auth/login",))


def test_auth_fetch_recovers_after_expiry(short_stack, browsers):
    """Past the access TTL authFetch still succeeds: by the proactive refresh, and — with that off —
    by refreshing once on the 401 and retrying, one refresh shared by concurrent calls."""
    stack = short_stack
    username, name = new_user(stack)
    browser = browsers()
    driver = browser.driver
    sign_in(browser, stack, username)
    first = debug_state(driver)

    # Proactive: the tab renews its token before it expires; the call just works.
    wait_past_expiry()
    result = demo_call_me(driver)
    assert result.get("status") == 200, result
    assert result["body"]["username"] == username
    assert result["state"]["tokenId"] != first["tokenId"], "the token was never renewed"
    assert result["state"]["refreshRequests"] > first["refreshRequests"]
    assert result["state"]["retries"] == first["retries"], "a 401 reached authFetch despite the proactive refresh"

    # Reactive: no timer, so the next calls send an expired token, get 401 token_expired, refresh
    # (once for all five) and retry.
    set_proactive(driver, False)
    before = debug_state(driver)
    wait_past_expiry()
    mark = stack.mark()
    results = run_async(driver, """
        const calls = Array.from({length: 5}, () =>
            window.tokengateDemo.authFetch('/auth/me').then(async (r) => ({status: r.status, body: await r.json()})));
        return {results: await Promise.all(calls), state: window.tokengateDemo.debugState()};
    """)
    assert "error" not in results, results
    assert [r["status"] for r in results["results"]] == [200] * 5, results
    assert all(r["body"]["username"] == username for r in results["results"])
    after = results["state"]
    assert after["refreshRequests"] == before["refreshRequests"] + 1, (before, after)
    assert after["retries"] == before["retries"] + 5, (before, after)
    expired = [r for r in request_records(stack, mark, "GET", "/me") if r.get("response.status") == "401"]
    assert len(expired) == 5, stack.log_text(mark)
    refreshes = request_records(stack, mark, "POST", "/refresh")
    assert [r.get("response.status") for r in refreshes] == ["200"], stack.log_text(mark)
    wait_for_state(driver, "signed-in")
    screenshot(browser, "refresh-01-after-silent-refresh")
    assert_console_clean(browser, stack)


def test_two_tabs_recover_together_without_revoking(make_stack, browser_prerequisites, browsers):
    """Two tabs whose tokens expire together both recover, and the session lives on.

    This stack has no reuse grace at all (refresh.reuseGrace=0s): two tabs presenting the same
    refresh cookie would revoke the session at once. Only the client's coordination (the Web Lock,
    and the fresh token handed over the BroadcastChannel) keeps it alive.
    """
    stack = make_stack(env={**SHORT, "TOKENGATE_REFRESH_REUSE_GRACE": "0s"})
    username, name = new_user(stack)
    browser = browsers()
    driver = browser.driver
    sign_in(browser, stack, username)
    tab_a = driver.current_window_handle
    driver.switch_to.new_window("tab")
    tab_b = driver.current_window_handle
    open_page(browser, stack, "/", state="signed-in")  # page load: POST /auth/refresh, token to tab A
    assert text_of(driver, "profile-username") == username

    for tab in (tab_a, tab_b):
        driver.switch_to.window(tab)
        set_proactive(driver, False)
    states = {}
    for tab in (tab_a, tab_b):
        driver.switch_to.window(tab)
        states[tab] = wait_until(lambda: (s := debug_state(driver))["signedIn"] and s, message="a token")
    assert states[tab_a]["tokenId"] == states[tab_b]["tokenId"], (
        "tab B's page-load token never reached tab A", states)

    wait_past_expiry()
    mark = stack.mark()
    # Both tabs call authFetch at the same wall-clock moment with the same expired token.
    start_at = int(time.time() * 1000) + 1500
    for tab in (tab_a, tab_b):
        driver.switch_to.window(tab)
        driver.execute_script("""
            window.__twoTabs = null;
            setTimeout(() => window.tokengateDemo.authFetch('/auth/me')
                .then(async (r) => { window.__twoTabs = {status: r.status, body: await r.json(),
                                                          state: window.tokengateDemo.debugState()}; })
                .catch((e) => { window.__twoTabs = {error: String(e)}; }),
                Math.max(0, arguments[0] - Date.now()));
        """, start_at)
    outcomes = {}
    for tab in (tab_a, tab_b):
        driver.switch_to.window(tab)
        outcomes[tab] = wait_until(lambda: driver.execute_script("return window.__twoTabs"), timeout=20,
                                   message="the tab's authFetch to settle")
    for tab, label in ((tab_a, "A"), (tab_b, "B")):
        assert outcomes[tab].get("status") == 200, f"tab {label}: {outcomes[tab]}"
        assert outcomes[tab]["body"]["username"] == username
    assert_no_reuse(stack, mark)
    expired = [r for r in request_records(stack, mark, "GET", "/me") if r.get("response.status") == "401"]
    assert len(expired) == 2, "both tabs should have sent the expired token:\n" + stack.log_text(mark)
    refreshes = request_records(stack, mark, "POST", "/refresh")
    assert [r.get("response.status") for r in refreshes] == ["200"], (
        "exactly one tab should have refreshed, the other adopting its token:\n" + stack.log_text(mark))
    assert outcomes[tab_a]["state"]["tokenId"] == outcomes[tab_b]["state"]["tokenId"], outcomes
    adopted = sum(outcomes[t]["state"]["adoptedFromOtherTab"] - states[t]["adoptedFromOtherTab"]
                  for t in (tab_a, tab_b))
    assert adopted == 1, outcomes

    # The session is intact: a refresh still works in both tabs, and the page still shows the user.
    for tab, label in ((tab_a, "a"), (tab_b, "b")):
        driver.switch_to.window(tab)
        fresh = run_async(driver, "return await window.tokengateDemo.refresh();")
        assert fresh and fresh.get("user", {}).get("username") == username, fresh
        wait_for_state(driver, "signed-in")
        screenshot(browser, f"two-tabs-0{'1' if label == 'a' else '2'}-tab-{label}")
    assert_no_reuse(stack, mark)
    assert all(r.get("response.status") == "200" for r in request_records(stack, mark, "POST", "/refresh"))
    assert_console_clean(browser, stack)


def test_gated_page_after_expiry_comes_back_through_refresh(short_stack, browsers):
    """A page load of /app/ with an expired access cookie: nginx sends the browser through
    GET /auth/refresh?rd=/app/, which rotates the cookies and sends it back to /app/."""
    from selenium.webdriver.common.by import By

    stack = short_stack
    username, name = new_user(stack)
    browser = browsers()
    driver = browser.driver
    sign_in(browser, stack, username)
    set_proactive(driver, False)  # let the access cookie expire (the open page would renew it)
    wait_past_expiry()

    mark = stack.mark()
    driver.find_element(By.ID, "app-link").click()
    wait_until(lambda: driver.current_url == stack.url("/app/") and
               driver.find_element(By.TAG_NAME, "h1").text == f"Hello, {username}",
               message="the gated page after the refresh redirect")
    records = [(r.get("request.method"), r.get("request.route"), r.get("response.status"))
               for r in stack.request_records(mark)]
    assert ("GET", "/verify", "401") in records, records
    assert ("GET", "/refresh", "303") in records, records
    after_refresh = records[records.index(("GET", "/refresh", "303")):]
    assert ("GET", "/verify", "204") in after_refresh, records
    screenshot(browser, "gate-01-app-after-refresh-redirect")

    # Back on the demo page, its page-load refresh picks up the rotated cookie.
    driver.find_element(By.LINK_TEXT, "Back to the demo").click()
    wait_for_state(driver, "signed-in")
    assert text_of(driver, "profile-username") == username
    assert_no_reuse(stack, mark)
    screenshot(browser, "gate-02-back-on-demo-page")
    assert_console_clean(browser, stack)


def test_logout_in_one_tab_signs_out_the_other(short_stack, browsers):
    from selenium.webdriver.common.by import By

    stack = short_stack
    username, name = new_user(stack)
    browser = browsers()
    driver = browser.driver
    sign_in(browser, stack, username)
    tab_a = driver.current_window_handle
    driver.switch_to.new_window("tab")
    tab_b = driver.current_window_handle
    open_page(browser, stack, "/", state="signed-in")

    driver.switch_to.window(tab_a)
    mark = stack.mark()
    driver.find_element(By.ID, "logout-button").click()
    wait_for_state(driver, "signed-out")
    assert visible(driver, "login-form") and not visible(driver, "profile")
    assert text_of(driver, "status") == "You have signed out."
    assert driver.switch_to.active_element.get_attribute("id") == "username"
    screenshot(browser, "logout-01-tab-a")

    driver.switch_to.window(tab_b)
    result = demo_call_me(driver)  # its next call
    assert result.get("status") == 401, result
    assert result["state"]["signedIn"] is False, result
    wait_for_state(driver, "signed-out")
    assert visible(driver, "login-form") and not visible(driver, "profile")
    assert text_of(driver, "status") in ("You signed out in another tab.", "Please sign in to continue."), (
        text_of(driver, "status"))
    screenshot(browser, "logout-02-tab-b")

    logouts = request_records(stack, mark, "POST", "/logout")
    assert [r.get("response.status") for r in logouts] == ["204"], stack.log_text(mark)
    assert "audit.kind=logout" in stack.log_text(mark)
    # The server agrees: the cookies are gone, so a refresh finds no session.
    assert run_async(driver, "return await window.tokengateDemo.refresh();") is None
    assert_console_clean(browser, stack)


def test_without_javascript_login_and_logout_work_as_form_posts(short_stack, browsers):
    from selenium.webdriver.common.by import By

    stack = short_stack
    username, name = new_user(stack)
    browser = browsers(javascript=False)
    driver = browser.driver

    open_page(browser, stack, "/")
    notice = driver.find_element(By.CSS_SELECTOR, ".notice")
    assert notice.is_displayed() and "JavaScript is off" in notice.text
    assert not visible(driver, "session-state"), "the session badge needs JavaScript: it must stay hidden"
    assert visible(driver, "login-form") and visible(driver, "logout-button")
    screenshot(browser, "nojs-01-login-page")

    mark = stack.mark()
    sign_in_with_form(browser, username, PASSWORD)
    wait_until(lambda: driver.current_url == stack.url("/app/") and
               driver.find_element(By.TAG_NAME, "h1").text == f"Hello, {username}",
               message="the gated page after a plain form post")
    logins = request_records(stack, mark, "POST", "/login")
    assert [r.get("response.status") for r in logins] == ["303"], stack.log_text(mark)
    screenshot(browser, "nojs-02-gated-page-after-login")

    open_page(browser, stack, "/")
    driver.find_element(By.ID, "logout-button").click()
    wait_until(lambda: driver.current_url == stack.url("/signed-out.html"), message="the signed-out page")
    assert driver.find_element(By.TAG_NAME, "h1").text == "You have signed out"
    logouts = request_records(stack, mark, "POST", "/logout")
    assert [r.get("response.status") for r in logouts] == ["303"], stack.log_text(mark)
    assert "audit.kind=logout" in stack.log_text(mark)
    screenshot(browser, "nojs-03-signed-out")

    # Signed out for real: the gate sends a page load through /auth/refresh to the login page.
    open_page(browser, stack, "/app/")
    wait_until(lambda: driver.current_url.startswith(stack.url("/?error=refresh_missing")),
               message=f"the login page (at {driver.current_url})")
    assert driver.current_url == stack.url("/?error=refresh_missing&rd=%2Fapp%2F")
    assert visible(driver, "login-form")
    screenshot(browser, "nojs-04-gate-after-logout")
    assert_console_clean(browser, stack)


def test_pages_leave_no_console_errors(short_stack, browsers):
    """Every page of the demo, signed in and out, with an error code, and the gated pages: no errors
    in the console but the expected 401s (which must be there, so the filter is exercised)."""
    from selenium.webdriver.common.by import By

    stack = short_stack
    username, name = new_user(stack, roles=("user", "admin"))
    browser = browsers()
    driver = browser.driver

    open_page(browser, stack, "/?error=invalid_credentials&rd=%2Fadmin%2F", state="signed-out")
    assert text_of(driver, "login-error") == "The username or password is incorrect."
    assert text_of(driver, "continue-note") == "After signing in you will continue to /admin/."
    assert driver.find_element(By.CSS_SELECTOR, "#login-form input[name=rd]").get_attribute("value") == "/admin/"
    screenshot(browser, "console-01-error-code")

    # Signing in from that page continues to rd (here /admin/, which the admin role may see).
    sign_in_with_form(browser, username, PASSWORD)
    wait_until(lambda: driver.current_url == stack.url("/admin/") and
               driver.find_element(By.TAG_NAME, "h1").text == f"Hello, {username}",
               message="the admin page after signing in")
    screenshot(browser, "console-02-admin-page")

    # (Not /favicon.ico as a page: Chromium's own image viewer uses inline styles, which the CSP blocks.)
    for path in ("/app/", "/signed-out.html"):
        open_page(browser, stack, path)
    open_page(browser, stack, "/", state="signed-in")
    assert text_of(driver, "profile-name") == name
    assert not visible(driver, "admin-note"), "the page says an admin lacks the admin role"
    driver.find_element(By.ID, "check-button").click()
    wait_until(lambda: text_of(driver, "status") == "Session checked: still signed in.", message="the check")
    driver.find_element(By.ID, "logout-all-button").click()
    wait_for_state(driver, "signed-out")
    screenshot(browser, "console-03-signed-out-everywhere")

    errors = console_errors(browser, origin(stack))
    assert not errors, "unexpected errors in the browser console:\n" + format_console(errors)
    forgiven = [e for e in browser.console if is_expected_console_error(e, origin(stack))]
    assert forgiven, "the page-load refresh while signed out should have logged a 401 (is the filter stale?)"
