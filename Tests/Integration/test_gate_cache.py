"""The opt-in cached gate (deploy/nginx/snippets/tokengate-gate-cached.conf): nginx keeps
/verify's 204 for up to 2 s, keyed by the location's policy and the credential. A wrong key
would open every gated location, so these tests check, against a real nginx, that only the
same credential under the same policy ever gets a cached allow, that cache hits carry the
identity headers, that refusals are never cached, and that a logout still takes effect
within the contract's 2 s.

A second nginx (plain HTTP, its own cache zone) runs next to the module's stack and uses the
stack's tokengate socket and demo upstream; logins and logouts go through the stack.
"""
from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest
import requests

from harness import NGINX_CONFIG_DIR, Stack, free_port, nginx_binary, stop_process, user_cli_available, USER_CLI_MISSING
from session_helpers import client, cookie_header, login_ok, wait_for_records

pytestmark = pytest.mark.skipif(not user_cli_available(), reason=USER_CLI_MISSING)

PASSWORD = "cache-password-123"
IDENTITY_HEADERS = ("X-Auth-User", "X-Auth-Username", "X-Auth-Roles", "X-Auth-Session", "X-Auth-Expires")

CONFIG = """
daemon off;
master_process off;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/nginx-error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {root}/client_body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    include tokengate/tokengate-maps.conf;
    include tokengate/tokengate-verify-cache.conf;
    fastcgi_cache_path {root}/verify-cache levels=1:2 keys_zone=tokengate_verify:1m max_size=16m
                       inactive=10s use_temp_path=off;
    upstream tokengate {{ server unix:{socket}; }}
    server {{
        listen 127.0.0.1:{port};
        include tokengate/snippets/tokengate-verify.conf;
        include tokengate/snippets/tokengate-verify-cached.conf;
        location /open/ {{
            set $tokengate_require_roles "";
            include tokengate/snippets/tokengate-gate-cached.conf;
            auth_request_set $tokengate_cache $upstream_cache_status;
            add_header X-Verify-Cache $tokengate_cache always;
            proxy_pass http://127.0.0.1:{app_port};
        }}
        location /admin/ {{
            set $tokengate_require_roles "admin";
            include tokengate/snippets/tokengate-gate-cached.conf;
            auth_request_set $tokengate_cache $upstream_cache_status;
            add_header X-Verify-Cache $tokengate_cache always;
            proxy_pass http://127.0.0.1:{app_port};
        }}
    }}
}}
"""


class CachedGate:
    """An nginx with the cached gate in front of STACK's tokengate and demo upstream."""

    def __init__(self, stack: Stack):
        self.root = Path(tempfile.mkdtemp(prefix="tg-cache-"))
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi", "verify-cache"):
            (self.root / name).mkdir()
        (self.root / "tokengate").symlink_to(NGINX_CONFIG_DIR)
        self.port = free_port()
        (self.root / "nginx.conf").write_text(CONFIG.format(root=self.root, socket=stack.socket_path, port=self.port,
                                                            app_port=stack.app_port))
        self.process = subprocess.Popen([str(nginx_binary()), "-p", str(self.root), "-c", str(self.root / "nginx.conf")],
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=open(self.root / "nginx-stderr.log", "w"))
        deadline = time.time() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                break
            except OSError:
                if self.process.poll() is not None or time.time() > deadline:
                    raise RuntimeError("cached-gate nginx did not start:\n" + self.errors())
                time.sleep(0.05)
        self.http = requests.Session()

    def errors(self) -> str:
        return "".join(p.read_text() for p in self.root.glob("nginx-*.log") if p.exists())

    def get(self, path: str, token: str | None = None, cookie: str | None = None) -> requests.Response:
        headers = {"Accept": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if cookie is not None:
            headers["Cookie"] = cookie
        return self.http.get(f"http://127.0.0.1:{self.port}{path}", headers=headers, timeout=10, allow_redirects=False)

    def close(self) -> None:
        self.http.close()
        stop_process(self.process, signal.SIGQUIT, timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="module")
def cached(stack):
    gate = CachedGate(stack)
    yield gate
    gate.close()


def new_session(stack: Stack, roles=("user",)):
    username = f"c{uuid.uuid4().hex[:8]}"
    stack.add_user(username, PASSWORD, roles=roles)
    return login_ok(stack, username, PASSWORD)


def identity(response: requests.Response) -> dict[str, str]:
    assert response.status_code == 200, f"{response.status_code} {response.text[:300]}"
    received = {k.lower(): v for k, v in response.json()["headers"].items()}
    return {name: received.get(name.lower(), "") for name in IDENTITY_HEADERS}


def warm(gate: CachedGate, path: str, **credential) -> requests.Response:
    """Requests PATH until nginx answers from its cache; returns that hit."""
    for _ in range(20):
        response = gate.get(path, **credential)
        if response.headers.get("X-Verify-Cache") == "HIT":
            return response
    raise AssertionError(f"no cache hit on {path}: {response.status_code} {response.headers}\n{gate.errors()}")


def assert_decided_by_tokengate(stack: Stack, gate: CachedGate, path: str, status: int, times: int = 3,
                                **credential) -> None:
    """TIMES requests for PATH all get STATUS, and every one of them reached /verify (none was
    answered from nginx's cache; the refusal pages carry no cache-status header to check)."""
    mark = stack.mark()
    for _ in range(times):
        response = gate.get(path, **credential)
        assert response.status_code == status, (credential.keys(), response.status_code, response.text[:200])
    records = wait_for_records(stack, "/verify", mark, count=times)
    assert len(records) == times, f"{times} requests, {len(records)} reached tokengate: {records}"
    assert {r.get("response.status") for r in records} == {str(status)}, records


def test_cache_hits_carry_the_identity_headers(stack, cached):
    alice = new_session(stack)
    first = cached.get("/open/", token=alice.access)
    assert first.headers.get("X-Verify-Cache") == "MISS", first.headers
    expected = identity(first)
    assert expected["X-Auth-User"] and expected["X-Auth-Session"], expected
    assert identity(warm(cached, "/open/", token=alice.access)) == expected
    # The access cookie is another credential (another key), with the same identity.
    cookie = cookie_header(access=alice.access)
    assert cached.get("/open/", cookie=cookie).headers.get("X-Verify-Cache") == "MISS"
    assert identity(warm(cached, "/open/", cookie=cookie)) == expected


def test_no_cached_allow_for_another_credential(stack, cached):
    alice, bob = new_session(stack), new_session(stack)
    alice_identity = identity(warm(cached, "/open/", token=alice.access))
    # No credential at all: tokengate decides (the cache is bypassed), every time.
    assert_decided_by_tokengate(stack, cached, "/open/", 401)
    # Another user's token gets that user's identity, never alice's.
    bob_identity = identity(cached.get("/open/", token=bob.access))
    assert bob_identity["X-Auth-User"] != alice_identity["X-Auth-User"]
    assert identity(warm(cached, "/open/", token=bob.access)) == bob_identity
    # Near misses of alice's credential: a changed signature, a truncated token, extra text,
    # the token as the wrong cookie name, an empty bearer.
    forged = alice.access[:-3] + ("AAA" if not alice.access.endswith("AAA") else "BBB")
    for credential in ({"token": forged}, {"token": alice.access[:-1]}, {"token": alice.access + "x"},
                       {"cookie": f"other={alice.access}"}, {"token": ""}):
        assert_decided_by_tokengate(stack, cached, "/open/", 401, times=2, **credential)


def test_no_cached_allow_under_another_policy(stack, cached):
    alice = new_session(stack)  # roles: user
    warm(cached, "/open/", token=alice.access)
    assert_decided_by_tokengate(stack, cached, "/admin/", 403, token=alice.access)
    admin = new_session(stack, roles=("admin",))
    assert cached.get("/admin/", token=admin.access).headers.get("X-Verify-Cache") == "MISS"
    assert identity(warm(cached, "/admin/", token=admin.access))["X-Auth-Roles"] == "admin"
    # The admin's cached allow on /admin/ does nothing for alice there.
    assert_decided_by_tokengate(stack, cached, "/admin/", 403, times=2, token=alice.access)


def test_refusals_are_never_cached(stack, cached):
    alice = new_session(stack)
    expired_like = alice.access.split(".")[0] + ".e30." + alice.access.split(".")[2]  # payload {}
    assert_decided_by_tokengate(stack, cached, "/open/", 401, times=4, token=expired_like)


def test_logout_takes_effect_within_two_seconds(stack, cached):
    dave = new_session(stack)
    warm(cached, "/open/", token=dave.access)
    assert cached.get("/open/", token=dave.access).headers.get("X-Verify-Cache") == "HIT"
    started = time.monotonic()
    out = client(stack).post(stack.url("/auth/logout"), headers={"Cookie": cookie_header(refresh=dave.refresh)},
                             timeout=30)
    assert out.status_code == 204, out.text
    # The cached allow may still be served for a moment, never longer than 2 s.
    while True:
        response = cached.get("/open/", token=dave.access)
        elapsed = time.monotonic() - started
        if response.status_code == 401:
            break
        assert response.status_code == 200, response.text
        assert elapsed < 2.0, f"a revoked session still passed the cached gate {elapsed:.2f} s after logout"
        time.sleep(0.02)
    # And from then on tokengate refuses it every time (the 401 is not cached).
    assert_decided_by_tokengate(stack, cached, "/open/", 401, times=5, token=dave.access)
