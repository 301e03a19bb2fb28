#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target into Tests/Fuzz/corpus/<target>/.

The tokens are signed with the TEST-ONLY key of Sources/TokenGateFuzz/TestOnlyKeys.swift
(Ed25519 seed bytes 0x01..0x20, public in this repository): never load it anywhere.
The output is deterministic (Ed25519 signatures are), so re-running changes nothing:

    python3 Tests/Fuzz/make_corpus.py
"""

import base64
import hashlib
import hmac
import json
import pathlib
import shutil

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

ROOT = pathlib.Path(__file__).resolve().parent / "corpus"
TRUSTED = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
ATTACKER = Ed25519PrivateKey.from_private_bytes(bytes(range(33, 65)))
KID = "fuzz-test-only"
NOW = 1_800_000_000


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def js(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


def header(**changes):
    value = {"alg": "EdDSA", "kid": KID, "typ": "at+jwt"}
    value.update(changes)
    return {k: v for k, v in value.items() if v is not None}


def claims(**changes):
    value = {
        "aud": "tokengate", "exp": NOW + 840, "iat": NOW - 60, "iss": "tokengate", "jti": "j-1",
        "preferred_username": "alice", "roles": ["staff"], "sid": "s-1", "sub": "u-1",
    }
    value.update(changes)
    return {k: v for k, v in value.items() if v is not None}


def sign(head, body, key=TRUSTED) -> str:
    signing_input = b64(js(head)) + "." + b64(js(body))
    return signing_input + "." + b64(key.sign(signing_input.encode()))


def hs256(head, body) -> str:
    from cryptography.hazmat.primitives import serialization
    secret = TRUSTED.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    signing_input = b64(js(head)) + "." + b64(js(body))
    return signing_input + "." + b64(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())


VALID = sign(header(), claims())
ADMIN = sign(header(), claims(roles=["admin", "ops"], sub="u-2", preferred_username="zoë\r\nX-Injected: 1"))
TOKENS = {
    "valid": VALID,
    "admin-unicode": ADMIN,
    "app-typ": sign(header(typ="application/AT+JWT"), claims()),
    "aud-array": sign(header(), claims(aud=["other", "tokengate"])),
    "nbf": sign(header(), claims(nbf=NOW - 10)),
    "expired": sign(header(), claims(exp=NOW - 3600, iat=NOW - 7200)),
    "future-nbf": sign(header(), claims(nbf=NOW + 3600)),
    "string-exp": sign(header(), claims(exp=str(NOW + 840))),
    "wrong-aud": sign(header(), claims(aud="someone-else")),
    "wrong-iss": sign(header(), claims(iss="evil")),
    "revoked": sign(header(), claims(sid="revoked-session")),
    "no-typ": sign(header(typ=None), claims()),
    "jwt-typ": sign(header(typ="JWT"), claims()),
    "crit": sign(header(crit=["exp"]), claims()),
    "unknown-kid": sign(header(kid="other"), claims()),
    "alg-none": b64(js(header(alg="none"))) + "." + b64(js(claims())) + ".",
    "alg-hs256": hs256(header(alg="HS256"), claims()),
    "attacker-key": sign(header(), claims(), ATTACKER),
    "embedded-jwk": sign(header(jwk={"kty": "OKP", "crv": "Ed25519", "x": "AAAA"}), claims()),
    "garbage": "not.a.token",
}


def write(target: str, name: str, data) -> None:
    directory = ROOT / target
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_bytes(data.encode() if isinstance(data, str) else data)


def main() -> None:
    shutil.rmtree(ROOT, ignore_errors=True)
    for name, value in {
        "pair": "__Host-access=abc; __Secure-refresh=def",
        "quoted": '\x05__Host-access="tok"; x=y',
        "empty-parts": ";;a=;=b; c ; d=e=f;\t g\t=\th ",
        "many": "; ".join(f"c{i}=v{i}" for i in range(60)),
        "unicode": "caf\u00e9=cr\u00e8me; \u00ff=\u00fe",
        "token": f"__Host-access={VALID}",
    }.items():
        write("cookie", name, value)
    for name, value in {
        "bearer": f"Bearer {VALID}", "lower-spaces": "bearer   a.b.c", "basic": "Basic dXNlcjpwYXNz",
        "scheme-only": "Bearer", "two-tokens": "Bearer a b", "padded": "BEARER tok==", "tab": "Bearer\ta.b.c",
        "trailing": "Bearer a.b.c ", "nul": "Bearer a\x00b",
    }.items():
        write("authorization", name, value)
    bodies = {
        "json": (0, js({"username": "alice", "password": "correct horse"})),
        "json-types": (0, b'{"username":1,"password":[true,null,{"a":1e999}]}'),
        "json-surrogate": (2, b'{"username":"\\ud800","password":"\\u0000"}'),
        "json-deep": (0, b"[" * 500 + b"]" * 500),
        "json-dupes": (0, b'{"username":"a","username":"b","password":"p"}'),
        "form": (1, b"username=alice&password=p%40ss&rd=%2Fapp%2F"),
        "form-latin1": (3, b"username=\xe9&password=x"),
        "text": (4, b"username=alice"),
        "none": (7, b"{}"),
    }
    for name, (selector, body) in bodies.items():
        write("login-body", name, bytes([selector]) + body)
    for name, value in {
        "login": "username=alice&password=p%40ss&rd=%2Fapp%2F", "plus": "+%2B%", "dupes": "a=1&a=2&=3&b",
        "utf8": "%C3%A9=%E2%82%AC", "bad-escape": "%ZZ=1&ok=2", "overlong": "a=%C0%AF", "nul": "a=%00",
    }.items():
        write("form", name, value)
    for name, value in {
        "verbatim": "rd=/app/?x=1&y=2", "encoded-slashes": "rd=%2F%2Fevil.example", "backslash": "rd=/%5Cevil",
        "allowed": "rd=https://app.example.com/x", "lookalike": "rd=https://app.example.com.evil.net/",
        "double": "rd=//evil", "tab": "rd=/\t/evil", "encoded-allowed": "rd=https%3A%2F%2Fapp.example.com%2Fok",
        "unicode": "rd=/caf%C3%A9", "second": "x=1&rd=%2Fok", "userinfo": "rd=https://app.example.com@evil.net/",
        "double-encoded": "rd=%252F%252Fevil", "crlf": "rd=/%0d%0aSet-Cookie:x",
    }.items():
        write("redirect", name, value)
    for name, value in {
        "ascii": b"\x05alice,bob", "injection": b"\x00zo\xc3\xab\r\nX-Injected: 1", "percent": b"\x02%41%",
        "invalid-utf8": b"\x03\xff\xfe\x80", "roles": b"\x0aadmin ops,admin",
    }.items():
        write("identity", name, value)
    params = {
        "verify": ["REQUEST_METHOD=GET", "DOCUMENT_URI=/auth/verify", "HTTP_COOKIE=__Host-access=x",
                   "HTTP_AUTHORIZATION=Bearer a.b.c", "HTTPS=on", "REMOTE_ADDR=127.0.0.1"],
        "login": ["REQUEST_METHOD=POST", "DOCUMENT_URI=/auth/login", "CONTENT_TYPE=application/json",
                  "CONTENT_LENGTH=12", "HTTP_CONTENT_LENGTH=99", "QUERY_STRING=rd=/x"],
        "outside": ["DOCUMENT_URI=/authx/login", "SCRIPT_NAME=/auth", "HTTP_X_AUTH_USER=evil", "NOEQUALS", "=v"],
    }
    for name, entries in params.items():
        write("fastcgi-params", name, "\x00".join(entries))
    for name, token in TOKENS.items():
        write("token", name, token)
    valid_header, valid_claims = js(header()), js(claims())
    for name, (op, first, second) in {
        "header": (0, js(header(typ="AT+JWT")), b""),
        "claims": (1, js(claims(nbf=NOW)), b""),
        "claims-expired": (1, js(claims(exp=NOW - 3600, iat=NOW - 7200)), b""),
        "claims-future": (1, js(claims(nbf=NOW + 3600, iat=NOW + 3600)), b""),
        "claims-string-exp": (1, js(claims(exp=str(NOW + 840))), b""),
        "claims-foreign": (1, js(claims(aud=["x"], iss="evil")), b""),
        "claims-revoked": (1, js(claims(sid="revoked-session")), b""),
        "header-crit": (0, js(header(crit=["exp"])), b""),
        "header-typ": (0, js(header(typ="JWT")), b""),
        "header-kid": (0, js(header(kid="other")), b""),
        "both": (2, js(header(alg="EdDSA")), js(claims(roles=["admin"]))),
        "attacker": (3, valid_header, valid_claims),
        "hs256": (4, js(header(alg="HS256")), valid_claims),
        "unsigned": (5, js(header(alg="none")), valid_claims),
        "edit": (6, b"\x10A\x80B", b""),
        "append": (7, b"=", b""),
    }.items():
        data = bytes([op]) + first + ((b"\x00" + second) if second else b"")
        write("token-mutation", name, data)
    for name, (flags, auth, cookie, roles) in {
        "bearer": (1, f"Bearer {VALID}", "", ""),
        "cookie": (4, "", f"__Host-access={VALID}; other=1", ""),
        "both": (5, f"Bearer {VALID}", f"__Host-access={ADMIN}", ""),
        "admin-policy": (12, "", f"__Host-access={ADMIN}", "admin ops"),
        "refused-policy": (9, f"Bearer {VALID}", "", "admin"),
        "two-auth": (3, f"Bearer {VALID}", "", ""),
        "malformed-auth": (5, "Bearer", f"__Host-access={VALID}", ""),
        "head": (17, f"bearer {TOKENS['app-typ']}", "", ""),
        "expired": (1, f"Bearer {TOKENS['expired']}", "", ""),
    }.items():
        write("verify-request", name, bytes([flags]) + "\x00".join([auth, cookie, roles]).encode())


if __name__ == "__main__":
    main()
