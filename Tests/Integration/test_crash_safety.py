"""Crash safety of refresh rotation (DESIGN.md §4: "a rotation commits before its response is
written: a crash never leaves two valid successors, and never loses a token the client has
received").

One client refreshes continuously through nginx while tokengate is killed with SIGKILL at random
moments and restarted. After every restart the refresh token the client last received must still
work, and the SQLite store must never hold two unspent refresh tokens in one session.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
from dataclasses import dataclass, field

import pytest
import requests

from harness import user_cli_available, USER_CLI_MISSING
from session_helpers import (
    REFRESH_COOKIE,
    client,
    login_ok,
    query_readonly,
    refresh,
    sessions_with_two_unspent,
    set_cookies,
)

pytestmark = pytest.mark.skipif(not user_cli_available(), reason=USER_CLI_MISSING)

ROUNDS = 24
PASSWORD = "crash-password-123"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class Client:
    """The refresh token the client holds, updated only from responses it actually received."""

    current: str
    previous: str | None = None
    received: int = 0
    gateway_errors: int = 0
    transport_errors: int = 0
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def accept(self, response: requests.Response) -> None:
        cookies = set_cookies(response)
        with self.lock:
            self.previous, self.current = self.current, cookies[REFRESH_COOKIE].value
            self.received += 1


def refresh_loop(stack, state: Client, stop: threading.Event) -> None:
    http = client(stack)
    while not stop.is_set():
        try:
            response = refresh(stack, state.current, session=http, timeout=15)
        except requests.RequestException:
            state.transport_errors += 1
            time.sleep(0.01)
            continue
        if response.status_code == 200:
            state.accept(response)
        elif response.status_code in (502, 503, 504):
            state.gateway_errors += 1  # tokengate was killed under nginx: nothing received
            time.sleep(0.01)
        else:
            state.failures.append(f"{response.status_code} {response.text[:200]}")
            return


def test_kill_9_during_refresh_rotation_loses_no_session(make_stack):
    stack = make_stack()
    stack.add_user("crashy", PASSWORD)
    session = login_ok(stack, "crashy", PASSWORD)
    state = Client(current=session.refresh)
    rng = random.Random()
    survived = raced = via_predecessor = 0
    lost: list[str] = []
    duplicates: list[str] = []

    for round_number in range(ROUNDS):
        stop = threading.Event()
        worker = threading.Thread(target=refresh_loop, args=(stack, state, stop), daemon=True)
        worker.start()
        time.sleep(rng.uniform(0.02, 0.35))
        stack.kill_tokengate()
        stop.set()
        worker.join(30)
        assert not worker.is_alive(), "the refresh loop hung after the kill"
        assert not state.failures, f"round {round_number}: refresh failed while tokengate ran: {state.failures}"

        # The store as the crash left it (read-only, tokengate down), then after restart.
        for moment in ("after the kill", "after the restart"):
            if moment == "after the restart":
                stack.start_tokengate()
            found = sessions_with_two_unspent(stack)
            if found:
                duplicates.append(f"round {round_number} {moment}: {found}")

        held = state.current
        spent = query_readonly(stack, "SELECT spent_at FROM refresh_tokens WHERE hash = ?", (token_hash(held),))
        if spent and spent[0][0] is not None:
            raced += 1  # committed rotation, response never received: the grace must answer it
        response = refresh(stack, held)
        if response.status_code == 200:
            survived += 1
            state.accept(response)
            continue
        failure = f"round {round_number}: last received token -> {response.status_code} {response.text[:120]}"
        if state.previous is not None:
            fallback = refresh(stack, state.previous)
            if fallback.status_code == 200:
                via_predecessor += 1
                state.accept(fallback)
                lost.append(failure + " (recovered through its predecessor)")
                continue
        lost.append(failure)
        break  # the session is gone; later rounds would prove nothing

    final_duplicates = sessions_with_two_unspent(stack)
    summary = (f"kills: {ROUNDS}, survived: {survived}, "
               f"raced a committed rotation: {raced}, recovered via predecessor: {via_predecessor}, "
               f"sessions lost: {len(lost) - via_predecessor}, refreshes received: {state.received}")
    print("\n" + summary)
    assert not duplicates and not final_duplicates, f"two unspent tokens in one session: {duplicates} {final_duplicates}\n{summary}"
    assert not lost, "\n".join(lost) + "\n" + summary
    assert survived == ROUNDS, summary
    assert state.received >= ROUNDS, summary
