"""A seeded generator of malformed HTTP requests for nginx + tokengate, and a raw client for them.

Used by test_hostile_requests.py. Every case is raw bytes sent over its own TLS connection, so
nothing (requests, http.client) normalises what goes on the wire. `generate(seed)` always
returns the same cases for the same seed.
"""

from __future__ import annotations

import json
import random
import re
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field

#: tokengate's locations (and the gated ones) that hostile requests aim at.
TARGETS = ("/auth/login", "/auth/refresh", "/auth/logout", "/auth/logout?scope=all", "/auth/me",
           "/auth/healthz", "/auth/.well-known/jwks.json", "/app/", "/admin/", "/auth/verify")
CONTENT_TYPES = ("application/json", "application/x-www-form-urlencoded", "text/plain", "multipart/form-data",
                 "application/json; charset=utf-16", "application/xml", "APPLICATION/JSON", "application/jsonx",
                 "application/json;;;", "", "*/*", "application/x-www-form-urlencoded; charset=latin1")


@dataclass
class Case:
    """One hostile request: what it is, the bytes, and what nginx may legitimately answer."""

    kind: str
    raw: bytes
    #: The client address (login is rate limited per address: spread logins over 127.0.0.0/8).
    source: str = "127.0.0.1"
    #: nginx's own protocol-level 5xx this case may draw (501 unknown transfer coding, 505 version).
    nginx_5xx: frozenset[int] = frozenset()
    #: HTTP/0.9: nginx answers with a bare body and no status line.
    http09: bool = False
    #: Send, then half-close (the body is shorter than its Content-Length).
    half_close: bool = False
    #: A HEAD request: the response has no body even with a Content-Length.
    head: bool = False


@dataclass
class Reply:
    """What came back: every response parsed off the connection, or an empty list."""

    responses: list[tuple[int, dict[str, str], bytes]] = field(default_factory=list)
    raw: bytes = b""
    error: str | None = None


def request(method: str, target: str, headers: list[tuple[str, str | bytes]] | None = None, body: bytes = b"",
            version: str = "HTTP/1.1", length: int | None = None, close: bool = True) -> bytes:
    """Serialises a request; adds Host, Content-Length (unless given or chunked) and Connection."""
    lines = [f"{method} {target} {version}".encode("latin-1")]
    all_headers = list(headers or [])
    names = {name.lower() for name, _ in all_headers}
    if "host" not in names and version != "HTTP/1.0":
        all_headers.insert(0, ("Host", "localhost"))
    if body and "content-length" not in names and "transfer-encoding" not in names:
        all_headers.append(("Content-Length", str(len(body) if length is None else length)))
    if close and "connection" not in names:
        all_headers.append(("Connection", "close"))
    for name, value in all_headers:
        encoded = value if isinstance(value, bytes) else value.encode("utf-8")
        lines.append(name.encode("latin-1") + b": " + encoded)
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def login_source(rng: random.Random) -> str:
    return f"127.0.{rng.randint(0, 3)}.{rng.randint(2, 254)}"


def _method_for(path: str) -> str:
    return "GET" if path in ("/auth/me", "/auth/healthz", "/auth/.well-known/jwks.json", "/app/", "/admin/") else "POST"


def _case(kind: str, raw: bytes, target: str, rng: random.Random, **extra) -> Case:
    if target.startswith("/auth/login"):
        extra.setdefault("source", login_source(rng))
    return Case(kind, raw, **extra)


# --- generators: each returns one case from the rng ----------------------------------------------

def random_body(rng: random.Random) -> Case:
    target = rng.choice(TARGETS)
    size = rng.choice([0, 1, 17, 300, 4096, 16_383, 16_385, 40_000, 70_000])
    headers = [("Content-Type", rng.choice(CONTENT_TYPES))]
    return _case("random body", request("POST", target, headers, rng.randbytes(size)), target, rng)


def truncated_body(rng: random.Random) -> Case:
    body = json.dumps({"username": "u" * rng.randint(1, 80), "password": "p" * rng.randint(1, 300)}).encode()
    body = body[:rng.randint(0, len(body))]
    target = rng.choice(("/auth/login", "/auth/refresh", "/auth/logout"))
    lie = rng.choice(("exact", "short", "long"))
    if lie == "long":  # declares more than it sends, then half-closes: nginx must not wait forever
        raw = request("POST", target, [("Content-Type", "application/json")], body, length=len(body) + 50)
        return _case("content-length lie", raw, target, rng, half_close=True)
    if lie == "short":  # the surplus becomes a (garbage) next request on the connection
        raw = request("POST", target, [("Content-Type", "application/json")], body + b"GARBAGE\r\n\r\n",
                      length=len(body))
        return _case("content-length lie", raw, target, rng)
    return _case("truncated body", request("POST", target, [("Content-Type", "application/json")], body), target, rng)


def bad_utf8(rng: random.Random) -> Case:
    junk = rng.choice([b"\xff\xfe", b"\xc0\xaf", b"\xed\xa0\x80", b"\x80", b"\xf4\x90\x80\x80", b"\xe2\x82"])
    choice = rng.randrange(4)
    if choice == 0:
        body = b'{"username":"' + junk + b'","password":"' + junk + b'"}'
        return _case("bad utf-8", request("POST", "/auth/login", [("Content-Type", "application/json")], body),
                     "/auth/login", rng)
    if choice == 1:
        body = b"username=%FF%FE&password=" + junk + b"&rd=%C0%AF"
        raw = request("POST", "/auth/login", [("Content-Type", "application/x-www-form-urlencoded")], body)
        return _case("bad utf-8", raw, "/auth/login", rng)
    if choice == 2:
        value = b"__Host-access=" + junk + b"; __Secure-refresh=" + junk
        target = rng.choice(("/auth/me", "/app/", "/auth/refresh"))
        raw = request(_method_for(target), target, [("Cookie", value)])
        return _case("bad utf-8", raw, target, rng)
    target = rng.choice(("/auth/refresh?rd=/%C0%AF", "/auth/me?x=%FF", "/auth/%FF", "/app/%C0%AE%C0%AE/"))
    return _case("bad utf-8", request("GET", target), target, rng)


def duplicate_headers(rng: random.Random) -> Case:
    target = rng.choice(TARGETS)
    name, values = rng.choice([
        ("Content-Type", ["application/json", "application/x-www-form-urlencoded"]),
        ("Content-Length", ["2", "3"]),
        ("Authorization", ["Bearer a.b.c", "Bearer d.e.f"]),
        ("Cookie", ["__Host-access=a.b.c", "__Host-access=d.e.f"]),
        ("Cookie", ["__Secure-refresh=x", "__Secure-refresh=y"]),
        ("Host", ["localhost", "evil.example"]),
        ("Origin", ["https://127.0.0.1", "https://evil.example"]),
        ("X-Forwarded-For", ["10.0.0.1", "127.0.0.1"]),
        ("X-Auth-User", ["admin", "root"]),
    ])
    headers = [(name, value) for value in values]
    body = b"{}" if _method_for(target) == "POST" and name != "Content-Length" else b""
    if name == "Content-Length":
        body = b"{}"
    return _case("duplicate headers", request(_method_for(target), target, headers, body), target, rng)


def giant_headers(rng: random.Random) -> Case:
    target = rng.choice(TARGETS)
    # nginx here: large_client_header_buffers 4 16k: one line up to 16 KiB, 64 KiB in all.
    size = rng.choice([1000, 8000, 15_000, 16_300, 17_000, 40_000])
    choice = rng.randrange(3)
    if choice == 0:
        headers = [(rng.choice(["X-Big", "Authorization", "Cookie", "Referer", "Origin"]), "A" * size)]
    elif choice == 1:
        headers = [(f"X-Many-{i}", "v" * 100) for i in range(rng.choice([50, 200, 700]))]
    else:
        headers = [("X-" + "N" * min(size, 16_000), "v")]
    return _case("giant headers", request(_method_for(target), target, headers), target, rng)


def odd_method(rng: random.Random) -> Case:
    target = rng.choice(TARGETS)
    method = rng.choice(["PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT", "PROPFIND", "GETT", "get",
                         "POST ", "M" * 40, "HEAD", "BREW", "G-ET"])
    head = method == "HEAD"
    return _case("odd method", request(method, target), target, rng, head=head)


def path_trick(rng: random.Random) -> Case:
    target = rng.choice([
        "/auth/%2e%2e/", "/auth//verify", "/auth/./verify", "/auth/verify/", "/auth/%76erify", "/auth/verify%00",
        "/auth/login%2F", "/auth/..%2fverify", "/auth/%2Fverify", "/_tokengate/verify", "/auth/verify?x=1",
        "/AUTH/verify", "/auth/verify;x", "/auth/me/../verify", "/auth/%252e%252e/", "/auth/\\verify",
        "/auth/%2e%2e/_tokengate/verify", "/app/../_tokengate/verify", "/auth/me%2f..%2fverify", "//auth/verify",
        "/auth/metrics/../verify", "/auth/.well-known/../verify", "/app/%2e%2e/auth/verify", "/auth/verify#x",
        "/auth/%00", "/auth/../../../../etc/passwd", "/auth/me?" + "a" * 3000, "/" + "a/" * 2000, "*",
        "http://evil.example/auth/verify", "/auth/me\t/x",
    ])
    method = rng.choice(["GET", "POST"])
    return _case("path trick", request(method, target, body=b"{}" if method == "POST" else b""), target, rng)


def wrong_content_type(rng: random.Random) -> Case:
    target = rng.choice(("/auth/login", "/auth/logout", "/auth/refresh"))
    body = rng.choice([b'{"username":"a","password":"b"}', b"username=a&password=b", b"<xml/>", b""])
    headers = [("Content-Type", rng.choice(CONTENT_TYPES))] if rng.random() < 0.8 else []
    return _case("wrong content type", request("POST", target, headers, body or b" "), target, rng)


def cookie_bomb(rng: random.Random) -> Case:
    target = rng.choice(("/auth/me", "/app/", "/admin/", "/auth/refresh", "/auth/logout", "/auth/refresh?rd=/app/"))
    choice = rng.randrange(5)
    if choice == 0:
        value = "; ".join(f"c{i}={'v' * rng.randint(0, 20)}" for i in range(rng.choice([100, 500, 1400])))
    elif choice == 1:
        value = "; ".join(f"__Host-access={rng.randbytes(8).hex()}" for _ in range(rng.choice([2, 50, 300])))
    elif choice == 2:
        value = "; ".join(f"__Secure-refresh={rng.randbytes(32).hex()}" for _ in range(rng.choice([2, 20, 200])))
    elif choice == 3:
        value = "__Host-access=\"" + "A" * rng.choice([100, 8000, 15_000]) + "\""
    else:
        value = ";;;;=;=;" * rng.choice([10, 500, 1900])
    method = _method_for(target.split("?")[0]) if not target.startswith("/auth/refresh?") else "GET"
    return _case("cookie bomb", request(method, target, [("Cookie", value[:16_000])]), target, rng)


def huge_authorization(rng: random.Random) -> Case:
    target = rng.choice(("/auth/me", "/app/", "/admin/", "/auth/logout?scope=all"))
    value = rng.choice([
        "Bearer " + "a" * rng.choice([8193, 12_000, 15_900]),
        "Bearer " + ".".join("x" * 3000 for _ in range(3)),
        "Bearer    " + "a.b.c", "bEaReR a.b.c", "Bearer", "Bearer a.b.c extra", "Basic " + "QQ==" * 2000,
        "Bearer " + "\x01\x02", "Bearer a.b.c,Bearer d.e.f", "Digest " + "x" * 9000,
    ])
    return _case("huge authorization", request(_method_for(target.split("?")[0]), target, [("Authorization", value)]),
                 target, rng)


def nul_bytes(rng: random.Random) -> Case:
    target = rng.choice(TARGETS)
    choice = rng.randrange(3)
    if choice == 0:
        raw = request("GET", target + "\x00evil")
    elif choice == 1:
        raw = request(_method_for(target), target, [("Cookie", "__Host-access=a\x00b"), ("X-Nul", "x\x00y")])
    else:
        body = b'{"username":"a\x00b","password":"\x00"}'
        raw = request("POST", target, [("Content-Type", "application/json")], body)
    return _case("nul bytes", raw, target, rng)


def chunked(rng: random.Random) -> Case:
    target = rng.choice(("/auth/login", "/auth/refresh", "/auth/logout"))
    body = json.dumps({"username": "nobody", "password": "x"}).encode()
    choice = rng.randrange(5)
    headers = [("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")]
    extra = {}
    if choice == 0:
        payload = f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
    elif choice == 1:
        payload = b"zz\r\n" + body + b"\r\n0\r\n\r\n"
    elif choice == 2:
        payload = b"FFFFFFFFFFFFFFFF\r\n" + body + b"\r\n0\r\n\r\n"
    elif choice == 3:
        headers.append(("Content-Length", str(len(body))))
        payload = f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
    else:
        headers[1] = ("Transfer-Encoding", rng.choice(["gzip", "chunked, gzip", "identity", "x"]))
        payload = body
        extra["nginx_5xx"] = frozenset({501})
    return _case("chunked body", request("POST", target, headers, payload), target, rng, **extra)


def old_http(rng: random.Random) -> Case:
    target = rng.choice(TARGETS)
    choice = rng.randrange(4)
    if choice == 0:
        return _case("http/1.0", request(_method_for(target), target, version="HTTP/1.0", close=False), target, rng)
    if choice == 1:
        headers = [("Host", "localhost"), ("Connection", "keep-alive")]
        return _case("http/1.0", request("GET", target, headers, version="HTTP/1.0"), target, rng)
    if choice == 2:
        return _case("http/0.9", f"GET {target}\r\n".encode(), target, rng, http09=True)
    version = rng.choice(["HTTP/2.0", "HTTP/9.9", "HTTP/1.12", "HTTP/1.1x", "HTTX/1.1", "HTTP/0.1"])
    return _case("bad version", request("GET", target, version=version), target, rng, nginx_5xx=frozenset({505}))


def pipelined(rng: random.Random) -> Case:
    parts = []
    for _ in range(rng.randint(2, 5)):
        target = rng.choice(("/auth/me", "/auth/healthz", "/auth/.well-known/jwks.json", "/app/", "/auth/logout"))
        body = b"{}" if _method_for(target) == "POST" else b""
        headers = [("Content-Type", "application/json")] if body else []
        parts.append(request(_method_for(target), target, headers, body, close=False))
    parts.append(request("GET", "/auth/healthz"))  # the last one closes the connection
    if rng.random() < 0.3:
        parts.insert(rng.randrange(len(parts)), b"GARBAGE / HTTP/1.1\r\n\r\n")
    return Case("pipelining", b"".join(parts))


def bad_request_line(rng: random.Random) -> Case:
    raw = rng.choice([
        b"GET /auth/me HTTP/1.1 extra\r\nHost: x\r\n\r\n", b"GET\r\n\r\n", b"\r\n\r\n", b" / HTTP/1.1\r\n\r\n",
        b"GET /auth/me HTTP/1.1\r\nHost x\r\n\r\n", b"GET /auth/me HTTP/1.1\r\n: empty\r\n\r\n",
        b"GET /auth/me HTTP/1.1\nHost: x\n\n", b"GET /auth/me HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",
        b"GET /auth/me HTTP/1.1\r\nX\x7fY: 1\r\nHost: x\r\n\r\n",
        b"POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
        b"POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n",
        b"POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 1e3\r\n\r\n",
    ] + [rng.randbytes(rng.randint(1, 200)) + b"\r\n\r\n"])
    return Case("bad request line", raw)


def redirect_target(rng: random.Random) -> Case:
    rd = rng.choice([
        "//evil.example/", "%2F%2Fevil.example", "https://evil.example/", "/\\evil.example", "/%5Cevil.example",
        "/%0d%0aSet-Cookie:%20x=1", "javascript:alert(1)", "/app/?q=" + "a" * 5000, "%C0%AF%C0%AF", "/ok?x=1&y=2",
        "https%3A%2F%2Fevil.example", "/%2F%2Fevil.example", "\t//evil", "/app/\x01", "//%0a/evil", "///evil",
    ])
    return _case("redirect target", request("GET", f"/auth/refresh?rd={rd}"), "/auth/refresh", rng)


GENERATORS: dict[Callable[[random.Random], Case], int] = {
    random_body: 150, truncated_body: 90, bad_utf8: 90, duplicate_headers: 80, giant_headers: 70, odd_method: 70,
    path_trick: 110, wrong_content_type: 60, cookie_bomb: 90, huge_authorization: 60, nul_bytes: 40, chunked: 60,
    old_http: 60, pipelined: 50, bad_request_line: 40, redirect_target: 80,
}


def generate(seed: int) -> list[Case]:
    rng = random.Random(seed)
    cases = [generator(rng) for generator, count in GENERATORS.items() for _ in range(count)]
    rng.shuffle(cases)
    return cases


# --- sending and parsing ---------------------------------------------------------------------------

def send(port: int, case: Case, context: ssl.SSLContext, timeout: float = 20) -> Reply:
    reply = Reply()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(case.source, 0)) as raw:
            with context.wrap_socket(raw, server_hostname="localhost") as tls:
                tls.sendall(case.raw)
                if case.half_close:
                    raw.shutdown(socket.SHUT_WR)
                chunks = []
                while True:
                    try:
                        data = tls.recv(65536)
                    except (ssl.SSLError, ConnectionResetError, OSError) as error:
                        if chunks:
                            break
                        reply.error = type(error).__name__
                        break
                    if not data:
                        break
                    chunks.append(data)
                reply.raw = b"".join(chunks)
    except OSError as error:
        reply.error = type(error).__name__
    if not case.http09:
        reply.responses = parse_responses(reply.raw, head=case.head)
    return reply


_STATUS = re.compile(rb"HTTP/1\.[01] (\d{3})[^\r\n]*\r\n")


def parse_responses(data: bytes, head: bool = False) -> list[tuple[int, dict[str, str], bytes]]:
    """Every HTTP/1.x response in DATA, in order (Content-Length, chunked or close-delimited)."""
    responses = []
    while data:
        match = _STATUS.match(data)
        if not match:
            break
        end = data.find(b"\r\n\r\n", match.end() - 2)
        if end < 0:
            break
        headers = {}
        for line in data[match.end():end].split(b"\r\n"):
            name, _, value = line.decode("latin-1").partition(":")
            headers.setdefault(name.strip().lower(), value.strip())
        rest = data[end + 4:]
        if head:
            body, data = b"", rest
        elif "content-length" in headers:
            length = int(headers["content-length"])
            body, data = rest[:length], rest[length:]
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            body, data = _dechunk(rest)
        else:
            body, data = rest, b""
        responses.append((int(match.group(1)), headers, body))
    return responses


def _dechunk(data: bytes) -> tuple[bytes, bytes]:
    body = b""
    while True:
        line_end = data.find(b"\r\n")
        if line_end < 0:
            return body, b""
        size = int(data[:line_end].split(b";")[0] or b"0", 16)
        data = data[line_end + 2:]
        if size == 0:
            trailer_end = data.find(b"\r\n")
            return body, data[trailer_end + 2:] if trailer_end >= 0 else b""
        body += data[:size]
        data = data[size + 2:]
