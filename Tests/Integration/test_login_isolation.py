"""A flood of logins saturates the CPU with Argon2id, but the gate and /healthz keep answering.

The flood goes straight to tokengate's FastCGI socket, as a login flood spread over many client
addresses would pass nginx's per-address `limit_req`; the probes go through nginx as usual.
Argon2id runs on tokengate's own bounded hashing threads (passwords.hashingThreads, default =
cores, with passwords.maxQueued waiting), so logins beyond that get 503 `unavailable` with
Retry-After instead of occupying the FastCGI workers.
"""

from __future__ import annotations

import json
import statistics
import threading
import time

import pytest

from harness import fastcgi_request, user_cli_available

pytestmark = pytest.mark.skipif(not user_cli_available(), reason="`tokengate user add` does not exist yet")

PASSWORD = "isolation-password-123"
FLOOD_THREADS = 24
FLOOD_SECONDS = 6.0


def fastcgi_login(stack, username: str, password: str, address: str) -> tuple[int, dict[str, str]]:
    body = json.dumps({"username": username, "password": password}).encode()
    status, headers, _ = fastcgi_request(
        stack.socket_path, "/auth/login", method="POST", body=body, headers={"REMOTE_ADDR": address})
    return status, headers


def probe(session, stack, path: str, headers: dict[str, str] | None = None) -> tuple[int, float]:
    started = time.monotonic()
    response = session.get(stack.url(path), headers=headers or {}, timeout=30)
    return response.status_code, time.monotonic() - started


def test_healthz_and_gate_answer_while_logins_saturate_the_cpu(make_stack):
    # Default Argon2id cost (m=19456 KiB, t=2): the flood really burns CPU.
    stack = make_stack(env={"TOKENGATE_PASSWORDS_MEMORY": "19456", "TOKENGATE_PASSWORDS_ITERATIONS": "2"}, workers=16)
    stack.add_user("flooded", PASSWORD)
    token = stack.login("flooded", PASSWORD).json()["accessToken"]
    bearer = {"Authorization": f"Bearer {token}", "Accept": "application/json"}

    health_client, gate_client = stack.new_session(), stack.new_session()
    baseline = [probe(health_client, stack, "/auth/healthz")[1] for _ in range(20)]

    outcomes: list[int] = []
    retry_after: list[str] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + FLOOD_SECONDS

    def flood(index: int) -> None:
        attempt = 0
        while time.monotonic() < stop_at:
            # Wrong passwords for many usernames from many addresses (a distributed flood):
            # every attempt pays a full Argon2id verification.
            attempt += 1
            status, headers = fastcgi_login(
                stack, f"nobody{index}-{attempt}", "wrong-password", f"198.51.{index}.{attempt % 250 + 1}")
            with lock:
                outcomes.append(status)
                if status == 503:
                    retry_after.append(headers.get("retry-after", ""))

    threads = [threading.Thread(target=flood, args=(i,), daemon=True) for i in range(FLOOD_THREADS)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)  # let the flood fill the hashing pool and its queue
    health, gate = [], []
    while time.monotonic() < stop_at - 0.5:
        health.append(probe(health_client, stack, "/auth/healthz"))
        gate.append(probe(gate_client, stack, "/app/", bearer))
    for thread in threads:
        thread.join(60)

    assert health and gate
    assert {status for status, _ in health} == {200}, health
    assert {status for status, _ in gate} == {200}, gate
    # Logins were answered 401 (hashed), 503 + Retry-After (hashing saturated) or, rarely, 429
    # (an address reused often enough to be throttled) — never a 5xx other than 503.
    assert set(outcomes) <= {401, 429, 503}, sorted(set(outcomes))
    assert outcomes.count(401) > 0
    assert all(value.isdigit() and int(value) >= 1 for value in retry_after), retry_after[:5]

    health_latency = sorted(latency for _, latency in health)
    gate_latency = sorted(latency for _, latency in gate)
    print(
        f"\nflood: {len(outcomes)} logins ({outcomes.count(401)} hashed → 401, {outcomes.count(503)} → 503); "
        f"healthz median {statistics.median(baseline) * 1000:.1f} ms idle, "
        f"{statistics.median(health_latency) * 1000:.1f} ms / max {health_latency[-1] * 1000:.1f} ms under flood; "
        f"gate median {statistics.median(gate_latency) * 1000:.1f} ms / max {gate_latency[-1] * 1000:.1f} ms")
    # Generous, relative bounds for a shared 2-core machine that the flood itself saturates: the
    # point is "keeps answering quickly", not a benchmark (deploy/bench measures that).
    bound = 5 * statistics.median(baseline) + 0.1
    assert statistics.median(health_latency) < bound
    assert statistics.median(gate_latency) < bound
    assert health_latency[-1] < 2.0 and gate_latency[-1] < 2.0
