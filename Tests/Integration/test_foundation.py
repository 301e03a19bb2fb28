"""The transport and the JSON error surface, over HTTPS through the real nginx config.

Routes today: GET /auth/healthz; everything else is 404 or 405. Tests that need POST /auth/login
or `tokengate user add` skip (with the reason) until those land.
"""

from __future__ import annotations

import http.client
import os
import signal
import statistics
import threading
import time
from collections import Counter

import pytest

from harness import (
    USER_CLI_MISSING,
    FastCGIConnection,
    https_context,
    socket_mode,
    unix_socket_connections,
    user_cli_available,
)

LOGIN_MISSING = "POST /auth/login does not exist yet (404 not_found)"
PASSWORD = "correct horse battery staple"
# Argon2id parameters slow enough (256 MiB, 6 passes: over a second here) to hold a login in flight.
SLOW_ARGON2 = {"TOKENGATE_PASSWORDS_MEMORY": "262144", "TOKENGATE_PASSWORDS_ITERATIONS": "6"}


def media_type(response) -> str:
    return response.headers.get("Content-Type", "").split(";")[0].strip().lower()


def assert_json_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, f"expected {status}, got {response.status_code}: {response.text[:300]}"
    assert media_type(response) == "application/json", response.headers
    body = response.json()
    assert body.get("error") == code, body
    assert isinstance(body.get("message"), str) and body["message"].strip(), body
    assert set(body) == {"error", "message"}, f"error bodies are exactly {{error, message}}: {body}"
    return body


# --- responses ---------------------------------------------------------------------------------

def test_healthz_answers_200_json(stack):
    response = stack.get("/auth/healthz")
    assert response.status_code == 200, response.text
    assert media_type(response) == "application/json"
    assert response.json() == {"status": "ok"}


def test_healthz_answers_head(stack):
    response = stack.session.head(stack.url("/auth/healthz"), timeout=30)
    assert response.status_code == 200
    assert response.content == b""


@pytest.mark.parametrize("path", ["/auth/does-not-exist", "/auth/", "/auth/healthz/extra"])
def test_unknown_path_is_json_404(stack, path):
    assert_json_error(stack.get(path), 404, "not_found")


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_wrong_method_is_json_405_with_allow(stack, method):
    response = stack.session.request(method, stack.url("/auth/healthz"), data=b"{}", timeout=30)
    assert_json_error(response, 405, "method_not_allowed")
    allowed = {item.strip() for item in response.headers.get("Allow", "").split(",")}
    assert "GET" in allowed, response.headers
    assert method not in allowed


def test_oversized_login_body_is_json_413_from_tokengate(stack):
    if not stack.has_login_route():
        pytest.skip(LOGIN_MISSING)
    mark = stack.mark()
    oversized = '{"username":"alice","password":"' + "a" * (20 * 1024) + '"}'
    response = stack.post("/auth/login", data=oversized, headers={"Content-Type": "application/json"})
    assert_json_error(response, 413, "payload_too_large")
    # tokengate closes that FastCGI connection (the body is unread); the next request must not notice.
    assert stack.get("/auth/healthz").status_code == 200
    statuses = [r.get("response.status") for r in stack.request_records(mark) if r.get("request.route") == "/login"]
    assert "413" in statuses, "the 413 must come from tokengate (logged), not from nginx"


def test_body_at_the_limit_is_not_413(stack):
    if not stack.has_login_route():
        pytest.skip(LOGIN_MISSING)
    prefix, suffix = '{"username":"alice","password":"', '"}'
    body = prefix + "a" * (16 * 1024 - len(prefix) - len(suffix)) + suffix
    assert len(body) == 16 * 1024
    response = stack.post("/auth/login", data=body, headers={"Content-Type": "application/json"})
    assert response.status_code != 413, response.text[:300]


# --- keep-alive --------------------------------------------------------------------------------

def test_100_sequential_requests_on_one_keepalive_connection(stack):
    mark = stack.mark()
    connection = http.client.HTTPSConnection("127.0.0.1", stack.port, context=https_context(), timeout=30)
    connection.connect()
    client_socket = connection.sock
    fastcgi_connections: set[int] = set()
    samples_without_connection = 0
    try:
        for index in range(100):
            connection.request("GET", "/auth/healthz")
            response = connection.getresponse()
            body = response.read()
            assert response.status == 200, f"request {index}: {response.status} {body[:200]!r}"
            assert connection.sock is client_socket, f"request {index}: nginx closed the client connection"
            # nginx keeps its FastCGI connection (fastcgi_keep_conn on + upstream keepalive): after each
            # response tokengate still holds an accepted connection, and the same one is used again.
            _, held = unix_socket_connections(stack.socket_path, stack.tokengate_pid)
            fastcgi_connections |= held
            samples_without_connection += not held
    finally:
        connection.close()

    routes = [r for r in stack.request_records(mark) if r.get("request.route") == "/healthz"]
    assert len(routes) == 100, f"tokengate logged {len(routes)} requests, expected 100"
    assert samples_without_connection == 0, (
        f"after {samples_without_connection} of 100 responses tokengate held no FastCGI connection: "
        "connections are not kept alive")
    assert 1 <= len(fastcgi_connections) <= 4, (
        f"{len(fastcgi_connections)} distinct FastCGI connections for 100 sequential requests: not reused")
    assert stack.nginx_errors(mark) == []


# --- concurrency -------------------------------------------------------------------------------

WORKER_STARVATION = (
    "transport bug: with nginx's upstream `keepalive 4` and fastcgi.workers=4, the 4 idle kept-alive "
    "FastCGI connections pin every worker; new connections wait in the listen backlog until nginx's "
    "keepalive_timeout (4 s) or fastcgi.idleTimeout (5 s) frees a worker, so most of a 200-request burst "
    "times out (nginx answers 504 after fastcgi_read_timeout)"
)


@pytest.mark.parametrize(
    "workers",
    [
        # keepalive 4 <= workers / 2: the sizing rule in deploy/nginx/tokengate-upstream.conf holds.
        pytest.param(8, id="8-workers"),
        pytest.param(4, id="4-workers"),
    ],
)
def test_200_concurrent_client_connections(make_stack, workers):
    stack = make_stack(workers=workers)
    mark = stack.mark()
    clients = 200
    per_request_timeout = 20
    barrier = threading.Barrier(clients)
    results: list[tuple] = [("not run",)] * clients

    def client(index: int) -> None:
        connection = http.client.HTTPSConnection(
            "127.0.0.1", stack.port, context=https_context(), timeout=per_request_timeout)
        try:
            try:
                connection.connect()
            finally:
                try:
                    barrier.wait(timeout=90)  # every client connected: fire at once
                except threading.BrokenBarrierError:
                    pass
            started = time.monotonic()
            connection.request("GET", "/auth/healthz")
            response = connection.getresponse()
            response.read()
            results[index] = (response.status, time.monotonic() - started)
        except Exception as error:  # noqa: BLE001 - reported below
            results[index] = ("error", repr(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 120
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    assert not any(thread.is_alive() for thread in threads), "some requests did not finish within 120 s"

    statuses = Counter(result[0] for result in results)
    failures = [result for result in results if result[0] != 200][:5]
    assert statuses == Counter({200: clients}), f"statuses {dict(statuses)}; e.g. {failures}"
    latencies = sorted(result[1] for result in results)
    print(f"200 concurrent, {workers} workers: median {statistics.median(latencies):.3f}s, max {latencies[-1]:.3f}s")
    assert stack.nginx_errors(mark) == []
    served = [r for r in stack.request_records(mark) if r.get("request.route") == "/healthz"]
    assert len(served) == clients


# --- stopping and restarting -------------------------------------------------------------------

def test_sigterm_with_idle_keepalive_connections_exits_0_promptly(make_stack):
    stack = make_stack()
    for _ in range(5):
        assert stack.get("/auth/healthz").status_code == 200
    _, held = unix_socket_connections(stack.socket_path, stack.tokengate_pid)
    assert held, "expected nginx to keep an idle FastCGI connection open"
    started = time.monotonic()
    code = stack.stop_tokengate(signal.SIGTERM)
    elapsed = time.monotonic() - started
    assert code == 0, stack.log_tail()
    assert not stack.socket_path.exists(), "the socket file must be removed on a clean stop"
    # Idle kept-alive connections are closed at once, not after fastcgi.idleTimeout (5 s).
    assert elapsed < 3, f"stopping took {elapsed:.1f}s with only idle connections open"
    assert "msg=stopped" in stack.log_text()
    stack.start_tokengate()
    assert stack.get("/auth/healthz").status_code == 200


def test_request_half_sent_during_sigterm_is_still_answered(make_stack):
    """A request in flight when SIGTERM arrives is finished, then tokengate exits 0.

    nginx buffers a whole request body before it contacts tokengate, so a slow upload through
    nginx is never in flight at tokengate; this test speaks FastCGI to the socket itself and
    sends the body in two halves around the signal.
    """
    stack = make_stack()
    body = b'{"pad":"' + b"x" * 990 + b'"}'
    connection = FastCGIConnection(stack.socket_path, timeout=30)
    try:
        connection.begin({
            "REQUEST_METHOD": "POST", "DOCUMENT_URI": "/auth/healthz", "SCRIPT_NAME": "/auth/healthz",
            "REQUEST_URI": "/auth/healthz", "QUERY_STRING": "", "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(body)), "REMOTE_ADDR": "127.0.0.1", "SERVER_PROTOCOL": "HTTP/1.1",
            "REQUEST_SCHEME": "https", "HTTPS": "on",
        })
        connection.send_body(body[:500])
        time.sleep(0.3)  # a worker has the request and waits for the rest of the body
        mark = stack.mark()
        stack.tokengate.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        while "msg=stopping" not in stack.log_text(mark):
            assert time.monotonic() < deadline, "tokengate did not log the stop"
            time.sleep(0.05)
        time.sleep(0.3)
        assert stack.tokengate.poll() is None, "tokengate exited with a request in flight:\n" + stack.log_tail()
        connection.send_body(body[500:], finish=True)
        status, headers, payload = connection.read_response()
    finally:
        connection.close()
    assert status.startswith("405"), (status, payload)
    assert b"method_not_allowed" in payload
    code = stack.stop_tokengate(signal.SIGTERM)
    assert code == 0, stack.log_tail()
    assert not stack.socket_path.exists()


@pytest.mark.skipif(not user_cli_available(), reason=USER_CLI_MISSING)
def test_login_in_flight_during_sigterm_completes(make_stack):
    stack = make_stack(env=SLOW_ARGON2)
    if not stack.has_login_route():
        pytest.skip(LOGIN_MISSING)
    stack.add_user("drain", PASSWORD, name="Drain Test")
    started = time.monotonic()
    warmup = stack.login("drain", PASSWORD)
    duration = time.monotonic() - started
    assert warmup.status_code == 200, warmup.text
    if duration < 0.4:
        pytest.skip(f"a login takes only {duration:.2f}s even with slow Argon2: cannot hold one in flight")

    outcome: dict = {}

    def login() -> None:
        try:
            outcome["response"] = stack.login("drain", PASSWORD)
        except Exception as error:  # noqa: BLE001
            outcome["error"] = error

    mark = stack.mark()
    thread = threading.Thread(target=login, daemon=True)
    thread.start()
    time.sleep(min(0.3, duration / 3))
    code = stack.stop_tokengate(signal.SIGTERM, timeout=30)
    thread.join(60)
    assert code == 0, stack.log_tail()
    assert "error" not in outcome, outcome
    response = outcome["response"]
    assert response.status_code == 200, response.text
    assert "accessToken" in response.json()
    assert not stack.socket_path.exists()
    lines = stack.log_text(mark).splitlines()
    stopping = next(i for i, line in enumerate(lines) if "msg=stopping" in line)
    answered = next(i for i, line in enumerate(lines) if "request.route=/login" in line and "response.status=200" in line)
    assert stopping < answered, "the login must have been answered after SIGTERM (it was in flight)"


def test_tokengate_killed_and_restarted_behind_running_nginx_recovers(make_stack):
    stack = make_stack()
    client = stack.new_session()
    assert client.get(stack.url("/auth/healthz"), timeout=30).status_code == 200
    nginx_pid, old_pid = stack.nginx_pid, stack.tokengate_pid

    assert stack.kill_tokengate() == -signal.SIGKILL
    assert stack.socket_path.is_socket(), "SIGKILL leaves the socket file behind"
    down = client.get(stack.url("/auth/healthz"), timeout=30)
    assert down.status_code in (502, 503, 504), down.status_code

    mark = stack.mark()
    stack.start_tokengate()  # must replace the stale socket file by itself
    assert stack.tokengate_pid != old_pid
    assert "msg=listening" in stack.log_text(mark)
    for _ in range(20):
        assert client.get(stack.url("/auth/healthz"), timeout=30).status_code == 200
    assert stack.new_session().get(stack.url("/auth/healthz"), timeout=30).status_code == 200
    assert stack.nginx_process.poll() is None and stack.nginx_pid == nginx_pid, "nginx must not be touched"


def test_second_tokengate_on_the_same_socket_refuses_to_start(stack):
    inode = os.stat(stack.socket_path).st_ino
    second = stack.cli("serve", timeout=20)
    assert second.returncode != 0
    assert "another process is listening" in second.stderr + second.stdout, second.stderr
    assert stack.tokengate.poll() is None, "the first tokengate must keep running"
    assert os.stat(stack.socket_path).st_ino == inode, "the second tokengate must not replace the socket"
    assert stack.get("/auth/healthz").status_code == 200


def test_unix_socket_mode_is_0660(stack):
    assert socket_mode(stack.socket_path) == 0o660


# --- login smoke (once `user add` and POST /auth/login exist) -----------------------------------

@pytest.mark.skipif(not user_cli_available(), reason=USER_CLI_MISSING)
def test_cli_user_and_login_through_nginx(stack):
    if not stack.has_login_route():
        pytest.skip(LOGIN_MISSING)
    stack.add_user("smoke", PASSWORD, name="Smoke Test", roles=["user"])
    response = stack.login("smoke", PASSWORD)
    assert response.status_code == 200, response.text
    assert media_type(response) == "application/json"
    assert response.json().get("accessToken")
    assert "no-store" in response.headers.get("Cache-Control", "")
    assert response.headers.get("Set-Cookie"), "login sets the access and refresh cookies"
