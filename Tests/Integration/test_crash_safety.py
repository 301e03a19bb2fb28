"""Crash safety under refresh and login traffic (DESIGN.md §4: "a rotation commits before its
response is written: a crash never leaves two valid successors, and never loses a token the
client has received"; issue 6 part 3: "killed with SIGKILL a thousand times", "nginx restarted
under load").

Two clients run through nginx for the whole test: one refreshes a single session continuously,
the other logs in again and again and keeps every refresh token it receives. tokengate is
killed with SIGKILL `KILLS` times at random moments (each cycle ~0.05-0.2 s of traffic, then a restart) and
restarted at once. Counted and asserted:

- requests sent, and failed (502/503/504 or a broken connection while tokengate was down: expected);
- any other answer while tokengate ran is a failure;
- sessions lost: a token the client received (login or refresh) that does not refresh after the
  kills (must be 0);
- forks: a session holding two unspent refresh tokens, checked while tokengate is down every
  `FORK_CHECK_EVERY` kills and at the end (must be 0);
- the store is consistent: SQLite's `PRAGMA integrity_check` is `ok`; on PostgreSQL no refresh
  token or session has lost its session or user.

A login attempt is counted as a failure before its password is checked (so parallel guesses
cannot pass the limit) and taken back after a correct password; an attempt cut short by a
kill stays counted. A thousand kills would therefore lock out the one user and the one address
of this test, so the throttle limits are raised here, and the counts the kills left behind are
reported (docs/security.md, *Faults*).

The second test stops nginx (SIGTERM to its PID) and starts it again on the same port several
times while clients refresh and pass the gate: tokengate keeps running, and again no session is
lost or forked.
"""

from __future__ import annotations

import hashlib
import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest
import requests

from harness import unix_socket_connections, user_cli_available, USER_CLI_MISSING, wait_for
from session_helpers import (
    REFRESH_COOKIE,
    client,
    is_nginx_rate_limited,
    login_ok,
    query_readonly,
    refresh,
    sessions_with_two_unspent,
    set_cookies,
    store_integrity,
)

pytestmark = pytest.mark.skipif(not user_cli_available(), reason=USER_CLI_MISSING)

#: The issue asks for a thousand; TOKENGATE_TEST_KILLS lowers it for a quick local run.
KILLS = int(os.environ.get("TOKENGATE_TEST_KILLS", "1000"))
FORK_CHECK_EVERY = 10
PASSWORD = "crash-password-123"
#: Expected while tokengate is down: nginx's 502 (connection refused or closed), 503/504.
GATEWAY_STATUSES = (502, 503, 504)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class Traffic:
    """What one traffic thread sent and saw."""

    sent: int = 0
    ok: int = 0
    gateway_errors: int = 0
    transport_errors: int = 0
    unexpected: list[str] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return self.gateway_errors + self.transport_errors + len(self.unexpected)


@dataclass
class Refresher(Traffic):
    """One session refreshed continuously; the token held changes only on a received 200."""

    current: str = ""
    lost: list[str] = field(default_factory=list)


@dataclass
class LoginClient(Traffic):
    """Logs in repeatedly; keeps the refresh token of every login whose answer it received."""

    received: list[str] = field(default_factory=list)
    rate_limited: int = 0


def send(traffic: Traffic, call) -> requests.Response | None:
    traffic.sent += 1
    try:
        response = call()
    except requests.RequestException:
        traffic.transport_errors += 1
        time.sleep(0.01)
        return None
    if response.status_code in GATEWAY_STATUSES:
        traffic.gateway_errors += 1
        time.sleep(0.01)
        return None
    return response


def refresh_loop(stack, state: Refresher, stop: threading.Event) -> None:
    http = client(stack)
    while not stop.is_set():
        response = send(state, lambda: refresh(stack, state.current, session=http, timeout=15))
        if response is None:
            continue
        if response.status_code == 200:
            state.ok += 1
            state.current = set_cookies(response)[REFRESH_COOKIE].value
        elif response.status_code == 401:
            # The token this client last received no longer works: a lost session. Start a new
            # one so the rest of the run still measures something.
            state.lost.append(f"refresh -> 401 {response.text[:120]}")
            state.current = login_ok(stack, "crashy", PASSWORD).refresh
        else:
            state.unexpected.append(f"refresh -> {response.status_code} {response.text[:160]}")


def login_loop(stack, state: LoginClient, stop: threading.Event) -> None:
    http = client(stack)
    body = {"username": "crashy", "password": PASSWORD}
    while not stop.is_set():
        response = send(state, lambda: http.post(stack.url("/auth/login"), json=body, timeout=15))
        if response is not None:
            if response.status_code == 200:
                state.ok += 1
                state.received.append(set_cookies(response)[REFRESH_COOKIE].value)
            elif is_nginx_rate_limited(response):
                state.rate_limited += 1
            else:
                state.unexpected.append(f"login -> {response.status_code} {response.text[:160]}")
        time.sleep(0.15)  # under nginx's 10 r/s limit on /auth/login


def restart_quickly(stack) -> None:
    """start_tokengate without the harness's 50 ms polling: a cycle should be short."""
    stack.start_tokengate(wait=False)
    wait_for(lambda: _listening(stack), 30, interval=0.005, message="tokengate to listen again")


def _listening(stack) -> bool:
    process = stack.tokengate
    if process.poll() is not None:
        raise RuntimeError(f"tokengate exited with {process.returncode} during startup:\n{stack.log_tail()}")
    return stack.socket_path.is_socket() and bool(unix_socket_connections(stack.socket_path, process.pid)[0])


def still_refreshes(stack, token: str) -> bool:
    return refresh(stack, token, timeout=30).status_code == 200


#: Attempts cut short by a kill stay counted as failures (see above): limits out of reach.
NO_LOCKOUT = {"TOKENGATE_THROTTLE_USER_LIMIT": "1000000", "TOKENGATE_THROTTLE_ADDRESS_LIMIT": "1000000"}


def test_kill_9_a_thousand_times_during_refresh_and_login_loses_no_session(make_stack):
    stack = make_stack(env=NO_LOCKOUT)
    stack.add_user("crashy", PASSWORD)
    refresher = Refresher(current=login_ok(stack, "crashy", PASSWORD).refresh)
    logins = LoginClient()
    stop = threading.Event()
    threads = [threading.Thread(target=refresh_loop, args=(stack, refresher, stop), daemon=True),
               threading.Thread(target=login_loop, args=(stack, logins, stop), daemon=True)]
    rng = random.Random()
    forks: list[str] = []
    started = time.monotonic()
    for thread in threads:
        thread.start()
    try:
        for kill in range(KILLS):
            time.sleep(rng.uniform(0.05, 0.2))
            code = stack.kill_tokengate()
            assert code == -9, f"kill {kill}: tokengate exited {code}, not by SIGKILL:\n{stack.log_tail()}"
            if kill % FORK_CHECK_EVERY == 0:
                found = sessions_with_two_unspent(stack)  # the store exactly as the crash left it
                if found:
                    forks.append(f"after kill {kill}: {found}")
            restart_quickly(stack)
            assert not refresher.unexpected and not logins.unexpected, (
                f"kill {kill}: unexpected answers: {refresher.unexpected[:3]} {logins.unexpected[:3]}")
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    elapsed = time.monotonic() - started

    # Every token a client received must still work after the last restart.
    lost = list(refresher.lost)
    if not still_refreshes(stack, refresher.current):
        lost.append("the refreshing client's last token")
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda token: still_refreshes(stack, token), logins.received))
    lost += [f"login session {index}" for index, ok in enumerate(results) if not ok]
    forks += [f"at the end: {found}" for found in [sessions_with_two_unspent(stack)] if found]
    integrity = store_integrity(stack)
    left_counted = dict(query_readonly(stack, "SELECT key, failures FROM throttle_counters WHERE failures > 0"))

    sent = refresher.sent + logins.sent
    failed = refresher.failed + logins.failed
    summary = (
        f"kills survived: {KILLS} in {elapsed:.0f}s; requests sent: {sent} (refresh {refresher.sent}, "
        f"login {logins.sent}), failed while tokengate was down: {failed} "
        f"(gateway {refresher.gateway_errors + logins.gateway_errors}, "
        f"connection {refresher.transport_errors + logins.transport_errors}), nginx rate-limited logins: "
        f"{logins.rate_limited}; refreshes received: {refresher.ok}, logins received: {logins.ok}; "
        f"sessions lost: {len(lost)}; forks: {len(forks)}; integrity: {integrity}; "
        f"login attempts cut by a kill and left counted: {left_counted}")
    print("\n" + summary)
    assert not refresher.unexpected and not logins.unexpected, f"{refresher.unexpected} {logins.unexpected}\n{summary}"
    assert not lost, f"{lost[:10]}\n{summary}"
    assert not forks, f"{forks[:10]}\n{summary}"
    assert integrity == "ok", summary
    # The traffic really ran across the kills (a test that sent nothing would prove nothing).
    assert refresher.ok >= KILLS // 2 and logins.ok >= KILLS // 20, summary


NGINX_RESTARTS = 5


def test_nginx_restarted_under_load_loses_no_session(make_stack):
    stack = make_stack()
    stack.add_user("crashy", PASSWORD)
    refreshers = [Refresher(current=login_ok(stack, "crashy", PASSWORD).refresh) for _ in range(4)]
    access = login_ok(stack, "crashy", PASSWORD).access
    gated = Traffic()
    stop = threading.Event()

    def gate_loop() -> None:
        http = client(stack)
        while not stop.is_set():
            response = send(gated, lambda: http.get(stack.url("/app/"), timeout=15,
                                                   headers={"Authorization": f"Bearer {access}"}))
            if response is None:
                continue
            if response.status_code == 200:
                gated.ok += 1
            else:
                gated.unexpected.append(f"gate -> {response.status_code} {response.text[:120]}")

    tokengate_pid = stack.tokengate_pid
    threads = [threading.Thread(target=refresh_loop, args=(stack, state, stop), daemon=True) for state in refreshers]
    threads.append(threading.Thread(target=gate_loop, daemon=True))
    for thread in threads:
        thread.start()
    try:
        for _ in range(NGINX_RESTARTS):
            time.sleep(0.5)
            stack.stop_nginx()
            stack.start_nginx(port=stack.port)
        time.sleep(0.5)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)

    every = [*refreshers, gated]
    sent, failed = sum(t.sent for t in every), sum(t.failed for t in every)
    lost = [index for index, state in enumerate(refreshers) if state.lost or not still_refreshes(stack, state.current)]
    forks = sessions_with_two_unspent(stack)
    summary = (f"nginx restarts: {NGINX_RESTARTS}; requests sent: {sent}, failed while nginx was down: {failed} "
               f"(connection {sum(t.transport_errors for t in every)}, gateway {sum(t.gateway_errors for t in every)}); "
               f"refreshes received: {sum(s.ok for s in refreshers)}, gate 200s: {gated.ok}; "
               f"sessions lost: {len(lost)}; forks: {len(forks)}")
    print("\n" + summary)
    assert not any(t.unexpected for t in every), [t.unexpected[:3] for t in every]
    assert not lost and not forks, summary
    assert stack.tokengate.poll() is None and stack.tokengate_pid == tokengate_pid, "tokengate did not survive"
    assert client(stack).get(stack.url("/auth/healthz"), timeout=30).status_code == 200
    assert gated.ok > NGINX_RESTARTS and all(s.ok > NGINX_RESTARTS for s in refreshers), summary
