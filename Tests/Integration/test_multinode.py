"""Two tokengate nodes on one PostgreSQL server behind one nginx (DESIGN §4, issue #7).

A real PostgreSQL server (postgres_server.py), node A and node B (`tokengate serve`, each on
its own unix socket, the same database and the same signing keys), and nginx with both in one
FastCGI upstream (`fastcgi_next_upstream error timeout`, the shipped snippets).

Requests that must reach one node go straight to its socket (FastCGI, as nginx sends them).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import StackFactory
from harness import FastCGIConnection, Stack, fastcgi_params, skip_or_fail, wait_for, user_cli_available, USER_CLI_MISSING
from postgres_server import PostgresServer, missing_postgres, shared_server, store_environment
from session_helpers import gate, login_ok, query_readonly

#: Fast hashing, a short grace so "after grace" is quick, a 1 s revocation poll (the default).
NODE_ENV = {
    "TOKENGATE_REFRESH_REUSE_GRACE": "1s",
    "TOKENGATE_REVOCATION_INTERVAL": "1s",
    "TOKENGATE_THROTTLE_ADDRESS_LIMIT": "100000",
}
ACCESS_COOKIE, REFRESH_COOKIE = "__Host-access", "__Secure-refresh"


class Cluster:
    def __init__(self, front: Stack, other: Stack, server: PostgresServer, database: str):
        self.a = front  # node A: nginx, the demo upstream and tokengate
        self.b = other  # node B: tokengate only, in the same nginx upstream
        self.server = server
        self.database = database


@pytest.fixture(scope="module")
def cluster(tls_dir, tmp_path_factory):
    problem = missing_postgres()
    if problem:
        skip_or_fail(problem)
    if not user_cli_available():
        pytest.skip(USER_CLI_MISSING)
    server = shared_server()
    database = server.create_database("multinode")
    env = {**NODE_ENV, **store_environment(server, database)}
    factory = StackFactory(tls_dir, tmp_path_factory, "node")
    a = factory(env=env, start=False)
    b = factory(env=env, start=False)
    try:
        a.start_tokengate()
        # Every node signs with the same keys: copy A's key directory (docs/scale-out.md).
        shutil.copytree(a.data_dir / "keys", b.data_dir / "keys")
        b.start_tokengate()
        a.more_sockets = [b.socket_path]
        a.start_app()
        a.start_nginx()
    except Exception:
        factory.close()
        raise
    yield Cluster(a, b, server, database)
    factory.close()


# --- FastCGI straight to one node ---------------------------------------------------------------

def node_request(node: Stack, method: str, uri: str, headers: dict[str, str] | None = None,
                 body: bytes = b"") -> tuple[int, list[tuple[str, str]], bytes]:
    """One request to NODE's socket; every response header kept (two Set-Cookie lines)."""
    params = fastcgi_params(uri, method, headers, body)
    connection = FastCGIConnection(node.socket_path, timeout=20)
    try:
        connection.begin(params)
        connection.send_body(body, finish=True)
        stdout = connection.read_stdout()
    finally:
        connection.close()
    head, _, payload = stdout.partition(b"\r\n\r\n")
    pairs = []
    for line in head.decode("latin-1").split("\r\n"):
        name, _, value = line.partition(":")
        pairs.append((name.strip().lower(), value.strip()))
    status = next((int(v.split()[0]) for k, v in pairs if k == "status"), 200)
    return status, pairs, payload


def cookie_value(headers: list[tuple[str, str]], name: str) -> str | None:
    for key, value in headers:
        if key == "set-cookie":
            match = re.match(rf"{re.escape(name)}=([^;]*)", value)
            if match:
                return match.group(1)
    return None


def refresh_on(node: Stack, token: str) -> tuple[int, str | None, str]:
    """(status, the new refresh token or None, error code or '')."""
    status, headers, body = node_request(node, "POST", "/auth/refresh", {"HTTP_COOKIE": f"{REFRESH_COOKIE}={token}"})
    code = ""
    if status != 200:
        match = re.search(rb'"error"\s*:\s*"([a-z_]+)"', body)
        code = match.group(1).decode() if match else ""
    successor = cookie_value(headers, REFRESH_COOKIE) if status == 200 else None
    return status, successor, code


def verify_on(node: Stack, access: str) -> int:
    return node_request(node, "GET", "/auth/verify", {"HTTP_AUTHORIZATION": f"Bearer {access}"})[0]


_counter = iter(range(1, 1_000_000))


def new_session(cluster: Cluster):
    username, password = f"mn{next(_counter)}", "correct horse battery staple"
    cluster.a.add_user(username, password)
    return login_ok(cluster.a, username, password)


# --- the tests -----------------------------------------------------------------------------------

def test_both_nodes_serve_from_one_database(cluster):
    """A user added through node A's CLI logs in; both nodes verify its token and share the store."""
    session = new_session(cluster)
    assert verify_on(cluster.a, session.access) == 204
    assert verify_on(cluster.b, session.access) == 204
    rows = query_readonly(cluster.a, "SELECT COUNT(*) FROM sessions WHERE revoked_at IS NULL")
    assert int(rows[0][0]) >= 1


def test_rotated_on_a_replayed_on_b_is_reuse(cluster):
    session = new_session(cluster)
    status, successor, _ = refresh_on(cluster.a, session.refresh)
    assert status == 200 and successor and successor != session.refresh
    time.sleep(1.3)  # past refresh.reuseGrace (1 s)
    status, _, code = refresh_on(cluster.b, session.refresh)
    assert (status, code) == (401, "refresh_reused")
    # Reuse revoked the whole session: the successor A issued is dead on both nodes.
    assert refresh_on(cluster.a, successor)[0] == 401
    assert refresh_on(cluster.b, successor)[0] == 401


def test_same_token_on_both_nodes_at_once_yields_one_successor(cluster):
    """Row locks serialise the two rotations: the second gets the first's successor (grace)."""
    for _ in range(5):
        session = new_session(cluster)
        barrier = threading.Barrier(2)
        results: dict[str, tuple] = {}

        def present(name: str, node: Stack) -> None:
            barrier.wait()
            results[name] = refresh_on(node, session.refresh)

        threads = [threading.Thread(target=present, args=(n, node)) for n, node in (("a", cluster.a), ("b", cluster.b))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert results["a"][0] == 200 and results["b"][0] == 200, results
        assert results["a"][1] == results["b"][1], "two successors: the session forked across nodes"
        unspent = query_readonly(
            cluster.a, "SELECT COUNT(*) FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id "
                       "WHERE t.spent_at IS NULL GROUP BY t.session_id HAVING COUNT(*) > 1")
        assert not unspent, unspent


def test_logout_on_a_is_enforced_by_verify_on_b_within_two_seconds(cluster):
    session = new_session(cluster)
    assert verify_on(cluster.b, session.access) == 204
    status, _, _ = node_request(cluster.a, "POST", "/auth/logout", {
        "HTTP_AUTHORIZATION": f"Bearer {session.access}",
        "HTTP_COOKIE": f"{REFRESH_COOKIE}={session.refresh}",
    })
    assert status == 204
    logged_out = time.monotonic()
    assert verify_on(cluster.a, session.access) == 401, "the node that logged out rejects at once"
    wait_for(lambda: verify_on(cluster.b, session.access) == 401, 2.0, interval=0.05,
             message="node B to reject the logged-out session")
    assert time.monotonic() - logged_out < 2.0


def test_admin_revoke_all_reaches_every_node(cluster):
    """`tokengate session revoke` (the CLI on the shared store) reaches both gates within 2 s."""
    username, password = f"mn{next(_counter)}", "correct horse battery staple"
    cluster.a.add_user(username, password)
    session = login_ok(cluster.a, username, password)
    result = cluster.b.cli("session", "revoke", "--user", username)
    assert result.returncode == 0, result.stderr + result.stdout
    revoked = time.monotonic()
    for node in (cluster.a, cluster.b):
        wait_for(lambda node=node: verify_on(node, session.access) == 401, 2.0, interval=0.05,
                 message=f"{node.root.name} to reject the revoked session")
    assert time.monotonic() - revoked < 2.2


def test_killing_one_node_under_load_fails_no_gated_request(cluster):
    """wrk on a gated location while node B is SIGKILLed: nginx moves to A, nothing fails."""
    wrk = shutil.which("wrk")
    if wrk is None:
        skip_or_fail("wrk not found (apt-get install wrk)")
    session = new_session(cluster)
    url = cluster.a.url("/app/")
    started = time.monotonic()
    load = subprocess.Popen(
        [wrk, "-t2", "-c8", "-d5s", "--latency", "-H", f"Authorization: Bearer {session.access}",
         "-H", "Accept: application/json", url],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL)
    try:
        time.sleep(1.5)
        assert cluster.b.kill_tokengate() == -9
        killed_at = time.monotonic() - started
        output, _ = load.communicate(timeout=60)
    finally:
        if load.poll() is None:
            load.kill()
            load.wait()
    assert load.returncode == 0, output
    requests_done = int(re.search(r"(\d+) requests in", output).group(1))
    assert requests_done > 50, output
    assert "Non-2xx or 3xx responses" not in output, output
    assert "Socket errors" not in output, output
    assert killed_at < 4.0, "node B was killed after the load run had ended"
    # Node A still serves everything alone.
    assert gate(cluster.a, token=session.access).status_code == 200
    # Bring B back for any later test.
    cluster.b.start_tokengate()


def test_postgres_down_gate_keeps_verifying_logins_and_refreshes_get_503(cluster):
    """Runs last: stops the shared PostgreSQL server (by PID) and starts it again."""
    session = new_session(cluster)
    cluster.server.stop()
    try:
        # The gate touches no database.
        for node in (cluster.a, cluster.b):
            assert verify_on(node, session.access) == 204
        assert gate(cluster.a, token=session.access).status_code == 200
        # Login and refresh need it: 503 unavailable with Retry-After, never 401.
        status, headers, body = node_request(cluster.a, "POST", "/auth/refresh",
                                             {"HTTP_COOKIE": f"{REFRESH_COOKIE}={session.refresh}"})
        assert status == 503 and b'"unavailable"' in body, (status, body)
        assert any(k == "retry-after" for k, _ in headers), headers
        assert cookie_value(headers, REFRESH_COOKIE) is None, "a 503 must not clear the refresh cookie"
        login = cluster.a.login("nobody-in-particular", "whatever-password")
        assert login.status_code == 503 and login.json()["error"] == "unavailable", login.text
        assert node_request(cluster.b, "GET", "/auth/healthz")[0] == 503
    finally:
        cluster.server.restart()
    # The pools reconnect by themselves: the refresh token that met 503 still works.
    wait_for(lambda: node_request(cluster.b, "GET", "/auth/healthz")[0] == 200, 20, interval=0.2,
             message="node B healthy again")
    status, successor, _ = refresh_on(cluster.b, session.refresh)
    assert status == 200 and successor
