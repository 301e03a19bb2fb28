"""Hostile requests through nginx (issue #6, part 2): a seeded set of 1,200 malformed requests
(hostile_requests.py: random and truncated bodies, Content-Length lies, bad UTF-8, duplicate
and giant headers up to nginx's limits, odd methods, encoded path tricks, wrong content types,
cookie bombs, huge Authorization headers, NUL bytes, chunked bodies, HTTP/1.0 and 0.9,
pipelining, bad request lines, hostile `rd` targets), each over its own TLS connection to the
real nginx in front of the real tokengate.

What must hold:
- no 5xx, except nginx's own 501 (unknown Transfer-Encoding) and 505 (bad HTTP version) for the
  cases built to draw them, and tokengate's documented 503 `unavailable` (login hashing
  saturated) with its JSON body and Retry-After;
- every error body is the contract's JSON `{"error","message"}` with a known code, or one of
  nginx's own error pages (protocol errors nginx rejects before tokengate sees anything);
- no response carries an X-Auth-* identity header (/verify is not reachable from outside),
  every redirect stays on this site, every cookie set is Secure and HttpOnly;
- nothing secret (password, refresh or access token, private key) appears in any response, and
  tokengate logs no error;
- no worker is lost: the same tokengate process (PID) is alive, its busy-worker gauge returns
  to 1 (the scrape itself), a burst of concurrent /auth/healthz is all 200, and a session made before the barrage
  still works (/auth/me, the gate, a refresh).

The status histogram (per kind too) is printed in every run's output, for the issue's counts.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from harness import Stack, https_context, user_cli_available, USER_CLI_MISSING, wait_for
from hostile_requests import Case, Reply, generate, send
from session_helpers import client, cookie_header, location_is_local, login_ok, refresh

pytestmark = pytest.mark.skipif(not user_cli_available(), reason=USER_CLI_MISSING)

SEED = 20261127
PASSWORD = "hostile-password-8472"
#: Error codes of DESIGN §2 / STYLE.md.
KNOWN_CODES = {
    "invalid_request", "invalid_credentials", "account_disabled", "too_many_attempts", "origin_rejected",
    "refresh_missing", "refresh_invalid", "refresh_reused", "invalid_token", "token_expired", "insufficient_scope",
    "not_found", "method_not_allowed", "payload_too_large", "unsupported_media_type", "unavailable",
}
NGINX_PAGE = re.compile(rb"<center>nginx</center>|<title>Access denied</title>")
IDENTITY_HEADERS = ("x-auth-user", "x-auth-username", "x-auth-roles", "x-auth-session", "x-auth-expires")
CRASH_MARKERS = (b"Fatal error", b".swift:", b"Stack dump", b"SQLITE_", b"GRDB", b"DatabaseError")


def problems_with(case: Case, reply: Reply, secrets: list[bytes]) -> list[str]:
    """Everything wrong with one reply (an empty list when it is fine)."""
    found = []
    for secret in secrets:
        if secret in reply.raw:
            found.append("a secret appears in the response")
    for marker in CRASH_MARKERS:
        if marker in reply.raw:
            found.append(f"internal detail {marker!r} in the response")
    if case.http09:
        return found
    for status, headers, body in reply.responses:
        if status >= 500 and status not in case.nginx_5xx and not is_documented_unavailable(status, headers, body):
            found.append(f"status {status}: {body[:200]!r}")
        # A HEAD response has no body to judge.
        if status >= 400 and not case.head and not (is_contract_error(body) or NGINX_PAGE.search(body) or status in case.nginx_5xx):
            found.append(f"status {status} with a body that is neither the contract's JSON nor nginx's: {body[:200]!r}")
        json_error = "application/json" in headers.get("content-type", "") and status >= 400
        if json_error and not case.head and not is_contract_error(body):
            found.append(f"JSON error body not in the contract's shape: {body[:200]!r}")
        leaked = [name for name in IDENTITY_HEADERS if name in headers]
        if leaked:
            found.append(f"identity headers {leaked} reached the client (status {status})")
        location = headers.get("location")
        if location is not None and not location_is_local(location):
            found.append(f"redirect off the site: {location!r}")
        cookie = headers.get("set-cookie")
        if cookie is not None and not ("Secure" in cookie and "HttpOnly" in cookie):
            found.append(f"cookie without Secure/HttpOnly: {cookie!r}")
    return found


def is_contract_error(body: bytes) -> bool:
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return False
    return (isinstance(value, dict) and value.get("error") in KNOWN_CODES
            and isinstance(value.get("message"), str) and value["message"] != "")


def is_documented_unavailable(status: int, headers: dict[str, str], body: bytes) -> bool:
    """503 `unavailable` + Retry-After: the login hashing queue is full (DESIGN §2)."""
    return (status == 503 and headers.get("retry-after", "").isdigit() and is_contract_error(body)
            and json.loads(body)["error"] == "unavailable")


def outcome(case: Case, reply: Reply) -> str:
    if case.http09:
        return "http/0.9 body" if reply.raw else "closed"
    if not reply.responses:
        return f"closed ({reply.error})" if reply.error else "closed"
    return " ".join(str(status) for status, _, _ in reply.responses[:1]) + (
        f" +{len(reply.responses) - 1} pipelined" if len(reply.responses) > 1 else "")


def private_key_material(stack: Stack) -> list[bytes]:
    """The `d` of every key file, base64url as stored and raw (both must never be sent)."""
    secrets = []
    for path in (stack.data_dir).rglob("*.json"):
        try:
            d = json.loads(path.read_text()).get("d")
        except (ValueError, OSError):
            continue
        if isinstance(d, str) and len(d) > 20:
            secrets.append(d.encode())
            secrets.append(base64.urlsafe_b64decode(d + "=" * (-len(d) % 4)))
    return secrets


def busy_workers(stack: Stack) -> float:
    text = client(stack).get(stack.url("/auth/metrics"), timeout=30).text
    match = re.search(r"^tokengate_workers_busy(?:\{[^}]*\})? (\S+)$", text, re.MULTILINE)
    assert match, "tokengate_workers_busy missing from /auth/metrics"
    return float(match.group(1))


def test_a_thousand_malformed_requests_leave_tokengate_serving(make_stack, capsys):
    stack = make_stack()
    username = "hostile-user"
    stack.add_user(username, PASSWORD, roles=("user",))
    before = login_ok(stack, username, PASSWORD)
    pid = stack.tokengate_pid
    mark = stack.mark()
    secrets = [PASSWORD.encode(), before.refresh.encode(), before.access.encode()] + private_key_material(stack)
    assert len(secrets) >= 4, "no private key found in the data directory to check for"

    cases = generate(SEED)
    assert len(cases) >= 1000
    context = https_context()
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        replies = list(pool.map(lambda case: send(stack.port, case, context), cases))
    elapsed = time.monotonic() - started

    histogram = Counter(outcome(case, reply) for case, reply in zip(cases, replies))
    by_kind: dict[str, Counter] = {}
    for case, reply in zip(cases, replies):
        by_kind.setdefault(case.kind, Counter())[outcome(case, reply)] += 1
    report = [f"{len(cases)} hostile requests (seed {SEED}) in {elapsed:.1f}s; outcomes:"]
    report += [f"  {count:5d}  {name}" for name, count in sorted(histogram.items(), key=lambda item: -item[1])]
    report += ["by kind:"] + [f"  {kind}: {dict(counts)}" for kind, counts in sorted(by_kind.items())]
    with capsys.disabled():  # the counts belong in every run's output (CI log), not only on failure
        print("\n" + "\n".join(report))

    failures = []
    for case, reply in zip(cases, replies):
        for problem in problems_with(case, reply, secrets):
            failures.append(f"[{case.kind}] {case.raw[:120]!r}: {problem}")
    assert not failures, f"{len(failures)} problems, first 20:\n" + "\n".join(failures[:20]) + "\n" + "\n".join(report)
    responded = sum(1 for reply in replies if reply.responses or reply.raw)
    assert responded >= 0.9 * len(cases), f"only {responded} of {len(cases)} requests got an answer\n" + "\n".join(report)

    # Nothing was lost: the same process, every worker free again, all of them answering.
    assert stack.tokengate.poll() is None and stack.tokengate_pid == pid, "tokengate exited or was replaced"
    # The scrape itself occupies one worker.
    wait_for(lambda: busy_workers(stack) <= 1, 10, message="tokengate_workers_busy back to 1 (the scrape)")
    with ThreadPoolExecutor(max_workers=32) as pool:
        health = list(pool.map(lambda _: client(stack).get(stack.url("/auth/healthz"), timeout=30).status_code,
                               range(64)))
    assert health == [200] * 64, f"/auth/healthz under a burst: {Counter(health)}"

    # The session made before the barrage still works, at the API, at the gate and on refresh.
    me = client(stack).get(stack.url("/auth/me"), headers={"Authorization": f"Bearer {before.access}"}, timeout=30)
    assert me.status_code == 200 and me.json()["username"] == username, f"/auth/me: {me.status_code} {me.text}"
    gated = client(stack).get(stack.url("/app/"), headers={"Cookie": cookie_header(access=before.access)}, timeout=30)
    assert gated.status_code == 200, f"gate: {gated.status_code} {gated.text[:200]}"
    renewed = refresh(stack, before.refresh)
    assert renewed.status_code == 200 and renewed.json().get("accessToken"), f"refresh: {renewed.status_code}"

    # tokengate logged no error, and nginx never failed to talk to it.
    errors = [line for line in stack.log_text(mark).splitlines() if re.search(r"\blevel=(error|critical)\b", line)]
    assert not errors, "tokengate logged errors:\n" + "\n".join(errors[:10])
    upstream = [line for line in stack.nginx_errors(mark) if "upstream" in line or "fastcgi" in line.lower()]
    assert not upstream, "nginx could not talk to tokengate:\n" + "\n".join(upstream[:10])
