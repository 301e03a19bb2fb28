"""Brute force and enumeration (issue 6 part 4; DESIGN.md §2 "Throttling").

- One user attacked from many addresses: the per-username limit (5) holds whatever address
  each guess comes from — distinct `REMOTE_ADDR`s straight on tokengate's FastCGI socket (an
  attacker spread over many hosts passes nginx's per-address `limit_req`), or distinct
  `X-Forwarded-For` addresses relayed by a configured trusted proxy.
- One address trying many users: the per-address limit (30) holds although no username ever
  reaches its own limit; another address is not affected; a correct password from the address
  does not reset its count.
- Through nginx, a client cannot escape the per-address limit with its own `X-Forwarded-For`:
  nginx sets that header to the peer address.

The lockout base is raised to 60 s here so a slow machine cannot see a lockout expire mid-test.
(Equal timing of unknown users and wrong passwords: test_sessions.py::
test_unknown_user_and_wrong_password_take_the_same_time.)
"""

from __future__ import annotations

import json
import uuid

import pytest

from harness import fastcgi_request, user_cli_available, USER_CLI_MISSING
from session_helpers import NGINX_RATE_LIMIT_MESSAGE, post_login

pytestmark = pytest.mark.skipif(not user_cli_available(), reason=USER_CLI_MISSING)

PASSWORD = "brute-force-password-1"
LONG_LOCKOUT = {"TOKENGATE_THROTTLE_BASE_LOCKOUT": "60s"}
USER_LIMIT, ADDRESS_LIMIT = 5, 30
TRUSTED_PROXY = "10.9.8.7"


def fastcgi_login(stack, username: str, password: str, address: str,
                  forwarded_for: str | None = None) -> tuple[int, dict[str, str], dict]:
    body = json.dumps({"username": username, "password": password}).encode()
    params = {"REMOTE_ADDR": address}
    if forwarded_for is not None:
        params["HTTP_X_FORWARDED_FOR"] = forwarded_for
    status, headers, raw = fastcgi_request(stack.socket_path, "/auth/login", method="POST", body=body, headers=params)
    return status, headers, json.loads(raw or b"{}")


def assert_locked(status: int, headers: dict[str, str], body: dict, what: str) -> None:
    assert status == 429 and body.get("error") == "too_many_attempts", f"{what}: {status} {body}"
    retry_after = headers.get("retry-after", "")
    assert retry_after.isdigit() and int(retry_after) >= 1, f"{what}: Retry-After {retry_after!r}"


@pytest.mark.parametrize("route", ["remote_addr", "trusted_proxy"])
def test_one_user_attacked_from_many_addresses_stays_locked(make_stack, route):
    env = dict(LONG_LOCKOUT)
    if route == "trusted_proxy":
        env["TOKENGATE_HTTP_TRUSTED_PROXIES"] = TRUSTED_PROXY
    stack = make_stack(env=env)
    stack.add_user("victim", PASSWORD)

    def attempt(index: int, password: str):
        address = f"198.18.{index // 250}.{index % 250 + 1}"
        if route == "remote_addr":
            return fastcgi_login(stack, "victim", password, address)
        return fastcgi_login(stack, "victim", password, TRUSTED_PROXY, forwarded_for=f"192.0.2.77, {address}")

    statuses = []
    for index in range(40):
        status, headers, body = attempt(index, f"guess-{index}")
        statuses.append(status)
        if index >= USER_LIMIT:
            assert_locked(status, headers, body, f"guess {index + 1} from a fresh address")
    assert statuses[:USER_LIMIT] == [401] * USER_LIMIT, statuses
    # Even the right password, from yet another address, waits out the lockout.
    assert_locked(*attempt(1000, PASSWORD), "the correct password during the lockout")
    # Case variants are the same username.
    status, headers, body = fastcgi_login(stack, "VICTIM", PASSWORD, "198.18.9.9")
    assert_locked(status, headers, body, "an upper-case variant")
    print(f"\n{route}: 40 guesses from 40 addresses: {statuses.count(401)} checked, {statuses.count(429)} refused")


def test_one_address_trying_many_users_is_locked_out(make_stack):
    stack = make_stack(env=LONG_LOCKOUT)
    stack.add_user("real", PASSWORD)
    attacker, neighbour = "203.0.113.66", "203.0.113.67"

    # 29 failures, each for another username (no username comes near its own limit) ...
    for index in range(ADDRESS_LIMIT - 1):
        status, _, body = fastcgi_login(stack, f"guess-{index}-{uuid.uuid4().hex[:6]}", "nope", attacker)
        assert status == 401 and body.get("error") == "invalid_credentials", (index, status, body)
    # ... a correct login from the same address does not reset the address's count ...
    status, _, body = fastcgi_login(stack, "real", PASSWORD, attacker)
    assert status == 200, body
    # ... so the 30th failure locks the address.
    status, _, _ = fastcgi_login(stack, "another-guess", "nope", attacker)
    assert status == 401
    for username in ("yet-another", "real"):
        password = PASSWORD if username == "real" else "nope"
        assert_locked(*fastcgi_login(stack, username, password, attacker), f"{username} from the locked address")
    # The lockout is per address: a neighbour logs in and fails normally.
    assert fastcgi_login(stack, "real", PASSWORD, neighbour)[0] == 200
    assert fastcgi_login(stack, "someone", "nope", neighbour)[0] == 401


def test_spoofed_forwarded_for_does_not_escape_the_address_limit(make_stack):
    stack = make_stack(env=LONG_LOCKOUT)
    statuses = []
    for index in range(ADDRESS_LIMIT + 3):
        response = post_login(
            stack, json={"username": f"spoof-{index}-{uuid.uuid4().hex[:6]}", "password": "nope"},
            headers={"X-Forwarded-For": f"198.51.100.{index + 1}"})
        statuses.append(response.status_code)
        if index >= ADDRESS_LIMIT:
            assert response.status_code == 429, (index, response.status_code, response.text)
            assert response.json()["message"] != NGINX_RATE_LIMIT_MESSAGE, "this 429 came from nginx's limit_req"
    assert statuses[:ADDRESS_LIMIT] == [401] * ADDRESS_LIMIT, statuses
