"""Helpers for the session, gate and crash-safety integration tests (on top of harness.py).

- Set-Cookie parsing and a tiny manual cookie state (so a test controls exactly which cookie
  value it sends, including expired or spent ones a browser-like jar would drop);
- JWS building with `cryptography` (Ed25519, HMAC, none) for forged and foreign tokens;
- verify-only key import + SIGHUP for tokens signed by a key the test owns;
- a raw HTTPS GET that sends the path byte for byte (requests re-quotes `\\` and `%`);
- small utilities: nginx-vs-tokengate 429, open-redirect checks, the SQLite store read-only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import os
import signal
import sqlite3
import subprocess
import statistics
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from harness import Stack, https_context, wait_for

ACCESS_COOKIE = "__Host-access"
REFRESH_COOKIE = "__Secure-refresh"
NGINX_RATE_LIMIT_MESSAGE = "Too many requests; try again shortly."


# --- cookies -----------------------------------------------------------------------------------

@dataclass
class SetCookie:
    name: str
    value: str
    attributes: list[tuple[str, str | None]] = field(default_factory=list)
    raw: str = ""

    def attr(self, name: str) -> str | None:
        for key, value in self.attributes:
            if key.lower() == name.lower():
                return value if value is not None else ""
        return None

    def has(self, name: str) -> bool:
        return any(key.lower() == name.lower() for key, _ in self.attributes)

    def attribute_names(self) -> list[str]:
        return [key.lower() for key, _ in self.attributes]


def set_cookie_headers(response: requests.Response) -> list[str]:
    """Every Set-Cookie header of RESPONSE, unjoined (requests' `headers` joins them with ', ')."""
    return list(response.raw.headers.getlist("Set-Cookie"))


def parse_set_cookie(header: str) -> SetCookie:
    parts = [part.strip() for part in header.split(";")]
    name, _, value = parts[0].partition("=")
    attributes = []
    for part in parts[1:]:
        if not part:
            continue
        key, eq, val = part.partition("=")
        attributes.append((key.strip(), val.strip() if eq else None))
    return SetCookie(name.strip(), value.strip(), attributes, header)


def set_cookies(response: requests.Response) -> dict[str, SetCookie]:
    found: dict[str, SetCookie] = {}
    for header in set_cookie_headers(response):
        cookie = parse_set_cookie(header)
        assert cookie.name not in found, f"Set-Cookie for {cookie.name} appears twice: {set_cookie_headers(response)}"
        found[cookie.name] = cookie
    return found


class Cookies:
    """A manual cookie state: name -> value, updated from Set-Cookie (Max-Age=0 removes)."""

    def __init__(self, **values: str):
        self.values: dict[str, str] = dict(values)

    def update(self, response: requests.Response) -> None:
        for header in set_cookie_headers(response):
            cookie = parse_set_cookie(header)
            max_age = cookie.attr("Max-Age")
            if max_age is not None and max_age.strip().lstrip("-").isdigit() and int(max_age) <= 0:
                self.values.pop(cookie.name, None)
            else:
                self.values[cookie.name] = cookie.value

    def header(self, *names: str) -> str:
        chosen = names or tuple(self.values)
        return "; ".join(f"{name}={self.values[name]}" for name in chosen if name in self.values)

    def get(self, name: str) -> str | None:
        return self.values.get(name)

    @property
    def access(self) -> str | None:
        return self.values.get(ACCESS_COOKIE)

    @property
    def refresh(self) -> str | None:
        return self.values.get(REFRESH_COOKIE)

    def copy(self) -> "Cookies":
        return Cookies(**self.values)


def cookie_header(**pairs: str | None) -> str:
    """cookie_header(access=..., refresh=..., other=...) with the default tokengate names."""
    names = {"access": ACCESS_COOKIE, "refresh": REFRESH_COOKIE}
    return "; ".join(f"{names.get(key, key)}={value}" for key, value in pairs.items() if value is not None)


# --- HTTP --------------------------------------------------------------------------------------

def client(stack: Stack) -> requests.Session:
    """A client without a cookie jar policy surprise: cookies are sent only when a test says so."""
    session = stack.new_session()
    session.cookies.set_policy(_RejectAll())
    return session


class _RejectAll:
    """A cookielib policy that stores nothing and sends nothing (we manage cookies by hand)."""

    netscape = True
    rfc2965 = False
    hide_cookie2 = False

    def set_ok(self, cookie, request):
        return False

    def return_ok(self, cookie, request):
        return False

    def domain_return_ok(self, domain, request):
        return False

    def path_return_ok(self, path, request):
        return False


def is_nginx_rate_limited(response: requests.Response) -> bool:
    """nginx's limit_req 429 on /auth/login (not tokengate's lockout)."""
    if response.status_code != 429:
        return False
    try:
        return response.json().get("message") == NGINX_RATE_LIMIT_MESSAGE
    except ValueError:
        return False


def post_login(stack: Stack, session: requests.Session | None = None, attempts: int = 20,
               **kwargs) -> requests.Response:
    """POST /auth/login, waiting out nginx's limit_req (its 429) but never tokengate's lockout."""
    session = session or client(stack)
    kwargs.setdefault("timeout", 60)
    for _ in range(attempts):
        response = session.post(stack.url("/auth/login"), **kwargs)
        if not is_nginx_rate_limited(response):
            return response
        time.sleep(0.25)
    raise AssertionError("nginx kept answering 429 to /auth/login")


def login(stack: Stack, username: str, password: str, session: requests.Session | None = None,
          headers: dict[str, str] | None = None) -> requests.Response:
    return post_login(stack, session, json={"username": username, "password": password}, headers=headers or {})


@dataclass
class LoggedIn:
    response: requests.Response
    access: str
    refresh: str
    cookies: Cookies
    body: dict


def login_ok(stack: Stack, username: str, password: str) -> LoggedIn:
    response = login(stack, username, password)
    assert response.status_code == 200, f"login {username}: {response.status_code} {response.text}"
    cookies = Cookies()
    cookies.update(response)
    assert cookies.access and cookies.refresh, f"login set no cookies: {set_cookie_headers(response)}"
    body = response.json()
    return LoggedIn(response, body["accessToken"], cookies.refresh, cookies, body)


def refresh(stack: Stack, refresh_token: str | None, session: requests.Session | None = None,
            headers: dict[str, str] | None = None, timeout: float = 30) -> requests.Response:
    session = session or client(stack)
    all_headers = dict(headers or {})
    if refresh_token is not None:
        all_headers["Cookie"] = cookie_header(refresh=refresh_token)
    return session.post(stack.url("/auth/refresh"), headers=all_headers, timeout=timeout)


def gate(stack: Stack, path: str = "/app/", token: str | None = None, cookie: str | None = None,
         headers: dict[str, str] | None = None, session: requests.Session | None = None,
         **kwargs) -> requests.Response:
    """GET a gated path with a Bearer TOKEN and/or a Cookie header; JSON API call by default."""
    session = session or client(stack)
    all_headers = {"Accept": "application/json"}
    if token is not None:
        all_headers["Authorization"] = f"Bearer {token}"
    if cookie is not None:
        all_headers["Cookie"] = cookie
    all_headers.update(headers or {})
    kwargs.setdefault("timeout", 30)
    kwargs.setdefault("allow_redirects", False)
    return session.get(stack.url(path), headers=all_headers, **kwargs)


@dataclass
class RawResponse:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


def raw_get(stack: Stack, target: str, headers: dict[str, str] | None = None) -> RawResponse:
    """GET TARGET (path and query) exactly as given: no re-quoting of `\\`, `%` or anything else."""
    connection = http.client.HTTPSConnection("127.0.0.1", stack.port, context=https_context(), timeout=30)
    try:
        connection.putrequest("GET", target, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        return RawResponse(response.status, response.headers, response.read())
    finally:
        connection.close()


def location_is_local(location: str) -> bool:
    """A redirect target that stays on this site: a path with one leading slash, raw and decoded."""
    for candidate in (location, urllib.parse.unquote(location)):
        if not candidate.startswith("/") or candidate.startswith("//") or candidate.startswith("/\\"):
            return False
        if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in candidate):
            return False
    return True


# --- JWT / JWS -------------------------------------------------------------------------------

def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def segment(value: dict) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def jwt_parts(token: str) -> tuple[dict, dict, str]:
    header, payload, signature = token.split(".")
    return json.loads(b64url_decode(header)), json.loads(b64url_decode(payload)), signature


def sign_ed25519(header: dict, payload: dict, key: Ed25519PrivateKey) -> str:
    signing_input = f"{segment(header)}.{segment(payload)}"
    return f"{signing_input}.{b64url(key.sign(signing_input.encode()))}"


def sign_hs256(header: dict, payload: dict, secret: bytes) -> str:
    signing_input = f"{segment(header)}.{segment(payload)}"
    return f"{signing_input}.{b64url(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())}"


def unsigned(header: dict, payload: dict) -> str:
    return f"{segment(header)}.{segment(payload)}."


def public_raw(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_pem(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


def jwks(stack: Stack) -> dict:
    response = client(stack).get(stack.url("/auth/.well-known/jwks.json"), timeout=30)
    assert response.status_code == 200, f"JWKS: {response.status_code} {response.text}"
    return response.json()


def jwks_kids(stack: Stack) -> list[str]:
    return [key.get("kid") for key in jwks(stack).get("keys", [])]


def sighup(stack: Stack, until=None, timeout: float = 10) -> None:
    """SIGHUP tokengate (reload keys), then wait for UNTIL() (or ~1 s without a condition)."""
    os.kill(stack.tokengate_pid, signal.SIGHUP)
    if until is None:
        time.sleep(1.0)
    else:
        wait_for(until, timeout, interval=0.1, message="tokengate to reload after SIGHUP")


def import_verify_key(stack: Stack, kid: str | None = None) -> tuple[Ed25519PrivateKey, str]:
    """Imports a fresh Ed25519 public key as verify-only with KID, SIGHUPs, waits for JWKS to show it."""
    key = Ed25519PrivateKey.generate()
    kid = kid or f"test-{uuid.uuid4().hex[:8]}"
    pem = stack.root / f"{kid}.pem"
    pem.write_bytes(public_pem(key))
    result = stack.cli("key", "import", str(pem), "--kid", kid)
    assert result.returncode == 0, f"key import: {result.returncode} {result.stderr}{result.stdout}"
    sighup(stack, until=lambda: kid in jwks_kids(stack))
    return key, kid


def claims_like(stack: Stack, sub: str | None = None, ttl: int = 300, **extra) -> dict:
    now = int(time.time())
    claims = {
        "iss": stack.env.get("TOKENGATE_TOKENS_ISSUER", "tokengate"),
        "aud": stack.env.get("TOKENGATE_TOKENS_AUDIENCE", "tokengate"),
        "sub": sub or str(uuid.uuid4()),
        "iat": now,
        "exp": now + ttl,
        "jti": str(uuid.uuid4()),
        "sid": str(uuid.uuid4()),
        "roles": ["user"],
        "preferred_username": "mallory",
    }
    claims.update(extra)
    return claims


# --- logs --------------------------------------------------------------------------------------

def verify_records(stack: Stack, since=None) -> list[dict[str, str]]:
    return [r for r in stack.request_records(since) if r.get("request.route", "").endswith("/verify")]


def route_records(stack: Stack, route: str, since=None) -> list[dict[str, str]]:
    return [r for r in stack.request_records(since) if r.get("request.route") == route]


def wait_for_records(stack: Stack, route: str, since, count: int = 1, timeout: float = 5) -> list[dict[str, str]]:
    """tokengate may log a request just after nginx relayed the response: wait a moment for it."""
    found: list[dict[str, str]] = []

    def enough() -> bool:
        nonlocal found
        found = [r for r in stack.request_records(since) if r.get("request.route", "").endswith(route)]
        return len(found) >= count

    try:
        wait_for(enough, timeout, interval=0.05, message=f"{count} request record(s) for {route}")
    except TimeoutError:
        pass
    return found


# --- storage -----------------------------------------------------------------------------------

def database_path(stack: Stack) -> Path:
    return stack.data_dir / "tokengate.sqlite"


def query_readonly(stack: Stack, sql: str, params: tuple = ()) -> list[tuple]:
    """Rows of SQL (`?` placeholders) from the stack's store; on PostgreSQL every value is text."""
    url = stack.env.get("TOKENGATE_STORAGE_URL")
    if url:
        return query_postgres(url, sql, params)
    uri = f"file:{database_path(stack)}?mode=ro"
    connection = sqlite3.connect(uri, uri=True, timeout=10)
    try:
        return connection.execute(sql, params).fetchall()
    finally:
        connection.close()


def query_postgres(url: str, sql: str, params: tuple = ()) -> list[tuple]:
    for value in params:
        literal = "NULL" if value is None else (str(value) if isinstance(value, (int, float))
                                               else "'" + str(value).replace("'", "''") + "'")
        sql = sql.replace("?", literal, 1)
    result = subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-AtF", "\t", "-P", "null=\\N", "-c", sql],
                            capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
    assert result.returncode == 0, result.stderr
    return [tuple(None if value == "\\N" else value for value in line.split("\t"))
            for line in result.stdout.splitlines()]


def store_integrity(stack: Stack) -> str:
    """`ok` when the store is consistent. SQLite: `PRAGMA integrity_check` (the file survived the
    kills). PostgreSQL keeps its own files safe from a killed client, so check what tokengate's
    transactions must keep: every refresh token belongs to a session and every session to a user."""
    if not stack.env.get("TOKENGATE_STORAGE_URL"):
        return query_readonly(stack, "PRAGMA integrity_check")[0][0]
    orphans = query_readonly(
        stack,
        "SELECT (SELECT COUNT(*) FROM refresh_tokens t WHERE NOT EXISTS "
        "(SELECT 1 FROM sessions s WHERE s.id = t.session_id)), "
        "(SELECT COUNT(*) FROM sessions s WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = s.user_id))")
    tokens, sessions = (int(value) for value in orphans[0])
    return "ok" if tokens == 0 and sessions == 0 else f"{tokens} orphan tokens, {sessions} orphan sessions"


def sessions_with_two_unspent(stack: Stack) -> list[tuple]:
    return query_readonly(
        stack,
        "SELECT session_id, COUNT(*) FROM refresh_tokens WHERE spent_at IS NULL "
        "GROUP BY session_id HAVING COUNT(*) > 1",
    )


# --- misc --------------------------------------------------------------------------------------

def median(values) -> float:
    return statistics.median(list(values))


def timed(function, *args, **kwargs):
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - started
