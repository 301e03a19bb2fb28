"""Gate: nginx auth_request in front of a non-Swift upstream, answered by tokengate's /verify
(DESIGN.md §2 Verify, §3). Everything goes through the real nginx over HTTPS; the upstream is
deploy/local/echo_upstream.py, which echoes the request headers it received as JSON.
"""

from __future__ import annotations

import base64
import time
import urllib.parse
import uuid

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from conftest import StackFactory
from harness import Stack, user_cli_available, USER_CLI_MISSING
from session_helpers import (
    ACCESS_COOKIE,
    REFRESH_COOKIE,
    Cookies,
    claims_like,
    client,
    cookie_header,
    gate,
    import_verify_key,
    jwks,
    jwks_kids,
    jwt_parts,
    location_is_local,
    login_ok,
    parse_set_cookie,
    post_login,
    public_pem,
    public_raw,
    raw_get,
    refresh,
    segment,
    sighup,
    sign_ed25519,
    sign_hs256,
    unsigned,
    verify_records,
    wait_for_records,
)

pytestmark = pytest.mark.skipif(not user_cli_available(), reason=USER_CLI_MISSING)

IDENTITY_HEADERS = ("X-Auth-User", "X-Auth-Username", "X-Auth-Roles", "X-Auth-Session", "X-Auth-Expires")
PASSWORD = "gate-password-123"


def new_user(stack: Stack, roles=("user",), prefix: str = "g") -> str:
    username = f"{prefix}{uuid.uuid4().hex[:8]}"
    stack.add_user(username, PASSWORD, roles=roles)
    return username


def upstream_headers(response) -> dict[str, str]:
    assert response.status_code == 200, f"{response.status_code} {response.text[:300]}"
    assert response.headers.get("Content-Type", "").startswith("application/json"), response.headers
    return response.json()["headers"]


def headers_named(headers: dict[str, str], name: str) -> list[str]:
    """Every header the upstream received under NAME, whatever its case or - / _ spelling."""
    wanted = name.lower().replace("_", "-")
    return [value for key, value in headers.items() if key.lower().replace("_", "-") == wanted]


def assert_401_from_tokengate(stack: Stack, response, mark) -> None:
    assert response.status_code == 401, f"expected 401, got {response.status_code}: {response.text[:300]}"
    assert response.json().get("error") == "invalid_token", response.text
    assert 'error="invalid_token"' in response.headers.get("WWW-Authenticate", ""), response.headers
    records = wait_for_records(stack, "/verify", mark)
    assert records, "tokengate's /verify never saw the request (nginx answered on its own)"
    assert {r.get("response.status") for r in records} == {"401"}, records


@pytest.fixture(scope="module")
def users(stack):
    alice = new_user(stack, prefix="alice")
    root = new_user(stack, roles=("admin", "user"), prefix="root")
    return {"alice": alice, "root": root}


@pytest.fixture(scope="module")
def alice(stack, users):
    return login_ok(stack, users["alice"], PASSWORD)


# --- identity headers and what the upstream sees ----------------------------------------------

def test_bearer_token_reaches_upstream_with_identity(stack, alice):
    _, claims, _ = jwt_parts(alice.access)
    headers = upstream_headers(gate(stack, "/app/hello?q=1", token=alice.access))
    assert headers_named(headers, "X-Auth-User") == [claims["sub"]]
    assert headers_named(headers, "X-Auth-Username") == [claims["preferred_username"]]
    assert headers_named(headers, "X-Auth-Roles") == ["user"]
    assert headers_named(headers, "X-Auth-Session") == [claims["sid"]]
    assert headers_named(headers, "X-Auth-Expires") == [str(claims["exp"])]
    assert not headers_named(headers, "Authorization"), "the Authorization header reached the upstream"


def test_access_cookie_alone_passes(stack, alice):
    headers = upstream_headers(gate(stack, "/app/", cookie=cookie_header(access=alice.access)))
    assert headers_named(headers, "X-Auth-Username") == [alice.body["user"]["username"]]
    assert not headers_named(headers, "Cookie"), headers


def test_bearer_scheme_is_case_insensitive(stack, alice):
    response = gate(stack, headers={"Authorization": f"bearer {alice.access}"})
    assert response.status_code == 200, response.text


def test_client_identity_headers_are_overwritten(stack, alice):
    spoofed = {
        "X-Auth-User": "evil", "x-auth-username": "root", "X-AUTH-ROLES": "admin",
        "X-Auth-Session": "evil-session", "X-Auth-Expires": "9999999999", "X_Auth_Roles": "admin",
    }
    headers = upstream_headers(gate(stack, token=alice.access, headers=spoofed))
    _, claims, _ = jwt_parts(alice.access)
    expected = {"X-Auth-User": claims["sub"], "X-Auth-Username": claims["preferred_username"],
                "X-Auth-Roles": "user", "X-Auth-Session": claims["sid"], "X-Auth-Expires": str(claims["exp"])}
    for name, value in expected.items():
        assert headers_named(headers, name) == [value], f"{name}: upstream saw {headers_named(headers, name)}"
    # A spoofed role opens no admin location either.
    assert gate(stack, "/admin/", token=alice.access, headers={"X-Auth-Roles": "admin"}).status_code == 403
    # Without a token the spoofed headers get nowhere.
    assert gate(stack, headers=spoofed).status_code == 401


@pytest.mark.parametrize("template, expected", [
    ("a=1; {access}; b=2; {refresh}; c=3", "a=1;b=2;c=3"),
    ("{access}; theme=dark", "theme=dark"),
    ("theme=dark; {access}", "theme=dark"),
    ("{refresh}; {access}", None),
    ("a=1;{access};b=2", "a=1;b=2"),
], ids=["mixed", "first", "last", "only-tokengate", "no-spaces"])
def test_upstream_never_sees_tokengate_cookies(stack, alice, template, expected):
    cookie = template.format(access=f"{ACCESS_COOKIE}={alice.access}", refresh=f"{REFRESH_COOKIE}={alice.refresh}")
    headers = upstream_headers(gate(stack, cookie=cookie))
    forwarded = headers_named(headers, "Cookie")
    text = "; ".join(forwarded)
    assert ACCESS_COOKIE not in text and REFRESH_COOKIE not in text, f"upstream saw tokengate cookies: {text!r}"
    assert alice.access not in text and alice.refresh not in text, f"upstream saw token material: {text!r}"
    if expected is None:
        assert not forwarded or forwarded == [""], forwarded
    else:
        other = {part.strip() for part in text.split(";") if part.strip()}
        assert other == set(expected.split(";")), f"other cookies not passed on intact: {text!r}"


@pytest.mark.parametrize("template", [
    "{access}; {access2}; x=1",
    "x=1; {access2}; {access}",
    "{access}; {refresh}; {refresh}",
], ids=["access-twice", "access-twice-reversed", "refresh-twice"])
def test_duplicated_tokengate_cookie_is_never_forwarded(stack, alice, template):
    """A Cookie header with a tokengate cookie twice is ambiguous: /verify gets no access cookie
    (401 without a Bearer token), and with a Bearer token the upstream gets no Cookie header at all."""
    cookie = template.format(access=f"{ACCESS_COOKIE}={alice.access}", access2=f"{ACCESS_COOKIE}=second",
                             refresh=f"{REFRESH_COOKIE}={alice.refresh}")
    assert gate(stack, cookie=cookie).status_code == 401
    headers = upstream_headers(gate(stack, cookie=cookie, token=alice.access))
    forwarded = [value for value in headers_named(headers, "Cookie") if value]
    assert forwarded == [], f"upstream saw cookies from an ambiguous Cookie header: {forwarded!r}"


# --- per-location policy ----------------------------------------------------------------------

def test_admin_location_requires_admin_role(stack, users, alice):
    denied = gate(stack, "/admin/", token=alice.access)
    assert denied.status_code == 403, denied.text
    assert denied.headers.get("Content-Type", "").startswith("application/json")
    assert denied.json()["error"] == "insufficient_scope"
    assert 'error="insufficient_scope"' in denied.headers.get("WWW-Authenticate", "")

    page = gate(stack, "/admin/", token=alice.access, headers={"Sec-Fetch-Mode": "navigate", "Accept": "text/html"})
    assert page.status_code == 403
    assert page.headers.get("Content-Type", "").startswith("text/html"), page.headers
    assert "<html" in page.text.lower()

    root = login_ok(stack, users["root"], PASSWORD)
    allowed = upstream_headers(gate(stack, "/admin/", token=root.access))
    assert sorted(headers_named(allowed, "X-Auth-Roles")[0].split(",")) == ["admin", "user"]
    # The admin passes /app/ as well; the user's token still passes /app/.
    assert gate(stack, "/app/", token=root.access).status_code == 200
    assert gate(stack, "/app/", token=alice.access).status_code == 200


def test_verify_is_not_reachable_from_outside(stack, alice):
    for target in ("/auth/verify", "/_tokengate/verify"):
        response = raw_get(stack, target, {"Authorization": f"Bearer {alice.access}"})
        assert response.status == 404, f"{target}: {response.status}"


# --- attacks with tokens tokengate never signed -----------------------------------------------

def _forgeries(stack: Stack, alice, other_token: str) -> dict[str, dict[str, str]]:
    """name -> request headers for GET /app/; each must get exactly 401."""
    key_set = jwks(stack)
    jwk = key_set["keys"][0]
    kid = jwk["kid"]
    real_header, real_claims, real_signature = jwt_parts(alice.access)
    head, body, _ = alice.access.split(".")
    their_raw = base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4))
    their_pem = (b"-----BEGIN PUBLIC KEY-----\n"
                 + base64.b64encode(bytes.fromhex("302a300506032b6570032100") + their_raw) + b"\n"
                 + b"-----END PUBLIC KEY-----\n")
    stranger = Ed25519PrivateKey.generate()
    admin_claims = dict(real_claims, roles=["admin", "user"])
    tokens = {
        "alg-none": unsigned({"alg": "none", "typ": "at+jwt", "kid": kid}, real_claims),
        "alg-none-uppercase": unsigned({"alg": "NONE", "typ": "at+jwt"}, real_claims),
        "alg-none-with-signature": f"{segment({'alg': 'none', 'typ': 'at+jwt', 'kid': kid})}.{body}.{real_signature}",
        "hs256-raw-public-key": sign_hs256({"alg": "HS256", "typ": "at+jwt", "kid": kid}, real_claims, their_raw),
        "hs256-pem-public-key": sign_hs256({"alg": "HS256", "typ": "at+jwt", "kid": kid}, real_claims, their_pem),
        "hs256-jwk-x": sign_hs256({"alg": "HS256", "typ": "at+jwt", "kid": kid}, real_claims, jwk["x"].encode()),
        "unknown-kid": sign_ed25519({"alg": "EdDSA", "typ": "at+jwt", "kid": "no-such-key"}, real_claims, stranger),
        "no-kid": sign_ed25519({"alg": "EdDSA", "typ": "at+jwt"}, real_claims, stranger),
        "jwks-kid-other-key": sign_ed25519({"alg": "EdDSA", "typ": "at+jwt", "kid": kid}, real_claims, stranger),
        "tampered-admin": f"{head}.{segment(admin_claims)}.{real_signature}",
        "signature-stripped": f"{head}.{body}.",
        "signature-missing": f"{head}.{body}",
        "signature-from-other-token": f"{head}.{body}.{other_token.split('.')[2]}",
        "truncated": alice.access[:-12],
        "truncated-half": alice.access[: len(alice.access) // 2],
        "oversized-9k": f"{head}.{segment(dict(real_claims, pad='A' * 9000))}.{real_signature}",
        "garbage": "!!not*base64$$.@@@.###",
        "four-segments": f"{alice.access}.{real_signature}",
        "jws-json-serialization": '{"payload":"%s","signatures":[]}' % body,
    }
    assert len(tokens["oversized-9k"]) > 9 * 1024
    cases = {f"bearer:{name}": {"Authorization": f"Bearer {token}"} for name, token in tokens.items()}
    cases.update({f"cookie:{name}": {"Cookie": cookie_header(access=token)} for name, token in tokens.items()
                  if ";" not in token and " " not in token and "," not in token})
    basic = base64.b64encode(f"{alice.body['user']['username']}:{PASSWORD}".encode()).decode()
    cases.update({
        "empty-bearer": {"Authorization": "Bearer"},
        "empty-bearer-space": {"Authorization": "Bearer "},
        "basic": {"Authorization": f"Basic {basic}"},
        "two-tokens": {"Authorization": f"Bearer {alice.access} {alice.access}"},
        "no-scheme": {"Authorization": alice.access},
        # A malformed Authorization is a 401, not a fall-back to a valid cookie.
        "bad-bearer-with-valid-cookie": {"Authorization": "Bearer garbage",
                                         "Cookie": cookie_header(access=alice.access)},
        "empty-cookie": {"Cookie": f"{ACCESS_COOKIE}="},
        "nothing": {},
    })
    return cases


FORGERY_NAMES = [
    "bearer:alg-none", "bearer:alg-none-uppercase", "bearer:alg-none-with-signature",
    "bearer:hs256-raw-public-key", "bearer:hs256-pem-public-key", "bearer:hs256-jwk-x",
    "bearer:unknown-kid", "bearer:no-kid", "bearer:jwks-kid-other-key", "bearer:tampered-admin",
    "bearer:signature-stripped", "bearer:signature-missing", "bearer:signature-from-other-token",
    "bearer:truncated", "bearer:truncated-half", "bearer:oversized-9k", "bearer:garbage",
    "bearer:four-segments", "bearer:jws-json-serialization",
    "cookie:alg-none", "cookie:hs256-raw-public-key", "cookie:jwks-kid-other-key", "cookie:tampered-admin",
    "cookie:signature-stripped", "cookie:signature-from-other-token", "cookie:truncated", "cookie:oversized-9k",
    "empty-bearer", "empty-bearer-space", "basic", "two-tokens", "no-scheme", "bad-bearer-with-valid-cookie",
    "empty-cookie", "nothing",
]


@pytest.fixture(scope="module")
def forgeries(stack, users, alice):
    other = login_ok(stack, users["root"], PASSWORD)
    return _forgeries(stack, alice, other.access)


@pytest.mark.parametrize("name", FORGERY_NAMES)
def test_forged_tokens_get_401(stack, forgeries, name):
    assert name in forgeries, f"no such forgery {name}"
    mark = stack.mark()
    for path in ("/app/", "/admin/"):
        response = gate(stack, path, headers=forgeries[name])
        assert response.status_code == 401, f"{path}: {response.status_code} {response.text[:200]}"
    single = stack.mark()
    assert_401_from_tokengate(stack, gate(stack, headers=forgeries[name]), single)
    records = verify_records(stack, mark)
    assert records and all(r.get("response.status") == "401" for r in records), records
    assert not stack.nginx_errors(mark), stack.nginx_errors(mark)


# --- tokens signed by a key the test owns (imported verify-only) ------------------------------

@pytest.fixture(scope="module")
def own_key(tls_dir, tmp_path_factory):
    """A stack that trusts a verify-only public key of ours: (stack, private key, kid)."""
    factory = StackFactory(tls_dir, tmp_path_factory, "ownkey")
    stack = factory()
    key, kid = import_verify_key(stack)
    yield stack, key, kid
    factory.close()


def own_token(stack: Stack, key, kid: str, header: dict | None = None, drop: tuple = (), **claims) -> str:
    head = {"alg": "EdDSA", "typ": "at+jwt", "kid": kid}
    head.update(header or {})
    payload = claims_like(stack, **claims)
    for name in drop:
        payload.pop(name, None)
    head = {k: v for k, v in head.items() if v is not None}
    return sign_ed25519(head, payload, key)


def test_own_key_well_formed_tokens_pass(own_key):
    stack, key, kid = own_key
    for typ in ("at+jwt", "AT+JWT", "application/at+jwt"):
        token = own_token(stack, key, kid, header={"typ": typ})
        response = gate(stack, token=token)
        assert response.status_code == 200, f"typ {typ}: {response.status_code} {response.text}"
    admin = own_token(stack, key, kid, roles=["admin"])
    assert gate(stack, "/admin/", token=admin).status_code == 200
    assert gate(stack, "/admin/", token=own_token(stack, key, kid)).status_code == 403
    assert kid in jwks_kids(stack), "the verify-only key is not published in the JWKS"


def _own_defects(stack: Stack, key, kid: str) -> dict[str, str]:
    now = int(time.time())
    stranger = Ed25519PrivateKey.generate()
    return {
        "expired": own_token(stack, key, kid, iat=now - 600, exp=now - 60),
        "nbf-in-future": own_token(stack, key, kid, nbf=now + 120),
        "iat-and-nbf-far-future": own_token(stack, key, kid, iat=now + 3600, nbf=now + 3600, exp=now + 7200),
        "wrong-iss": own_token(stack, key, kid, iss="https://evil.example"),
        "missing-iss": own_token(stack, key, kid, drop=("iss",)),
        "wrong-aud": own_token(stack, key, kid, aud="another-service"),
        "wrong-aud-array": own_token(stack, key, kid, aud=["another-service"]),
        "missing-aud": own_token(stack, key, kid, drop=("aud",)),
        "missing-exp": own_token(stack, key, kid, drop=("exp",)),
        "exp-as-string": own_token(stack, key, kid, exp=str(now + 300)),
        "nbf-as-string": own_token(stack, key, kid, nbf=str(now + 3600)),
        "wrong-typ-jwt": own_token(stack, key, kid, header={"typ": "JWT"}),
        "wrong-typ-id-token": own_token(stack, key, kid, header={"typ": "id+jwt"}),
        "missing-typ": own_token(stack, key, kid, header={"typ": None}),
        "unknown-crit": own_token(stack, key, kid, header={"crit": ["x-unknown"], "x-unknown": 1}),
        "alg-es256-label": own_token(stack, key, kid, header={"alg": "ES256"}),
        "other-key-our-kid": sign_ed25519({"alg": "EdDSA", "typ": "at+jwt", "kid": kid},
                                          claims_like(stack), stranger),
        "hs256-with-our-public-key": sign_hs256({"alg": "HS256", "typ": "at+jwt", "kid": kid},
                                                claims_like(stack), public_raw(key)),
        "hs256-with-our-pem": sign_hs256({"alg": "HS256", "typ": "at+jwt", "kid": kid},
                                         claims_like(stack), public_pem(key)),
    }


OWN_DEFECTS = [
    "expired", "nbf-in-future", "iat-and-nbf-far-future", "wrong-iss", "missing-iss", "wrong-aud",
    "wrong-aud-array", "missing-aud", "missing-exp", "exp-as-string", "nbf-as-string", "wrong-typ-jwt",
    "wrong-typ-id-token", "missing-typ", "unknown-crit", "alg-es256-label", "other-key-our-kid",
    "hs256-with-our-public-key", "hs256-with-our-pem",
]


@pytest.fixture(scope="module")
def own_defects(own_key):
    stack, key, kid = own_key
    return _own_defects(stack, key, kid)


@pytest.mark.parametrize("name", OWN_DEFECTS)
def test_own_key_defective_tokens_get_401(own_key, own_defects, name):
    stack, key, kid = own_key
    mark = stack.mark()
    response = gate(stack, token=own_defects[name])
    assert_401_from_tokengate(stack, response, mark)
    assert gate(stack, cookie=cookie_header(access=own_defects[name])).status_code == 401


def test_claims_cannot_inject_headers(own_key):
    """Non-printable-ASCII claim values reach the upstream percent-encoded, never as new headers."""
    stack, key, kid = own_key
    token = own_token(stack, key, kid, preferred_username="mal\r\nX-Injected: 1",
                      roles=["user\r\nX-Injected-Role: 1", "r\u00f4le"])
    response = gate(stack, token=token)
    assert response.status_code in (200, 401), f"{response.status_code} {response.text[:200]}"
    if response.status_code == 200:
        headers = response.json()["headers"]
        assert not headers_named(headers, "X-Injected") and not headers_named(headers, "X-Injected-Role"), headers
        for name in IDENTITY_HEADERS:
            for value in headers_named(headers, name):
                assert all(0x20 <= ord(ch) < 0x7F for ch in value), f"{name}: {value!r}"
        username = headers_named(headers, "X-Auth-Username")[0]
        assert urllib.parse.unquote(username) == "mal\r\nX-Injected: 1", username
    unicode_name = own_token(stack, key, kid, preferred_username="J\u00fcrgen \u4e2d")
    headers = upstream_headers(gate(stack, token=unicode_name))
    value = headers_named(headers, "X-Auth-Username")[0]
    assert urllib.parse.unquote(value, encoding="utf-8") == "J\u00fcrgen \u4e2d", value


# --- revocation at the gate -------------------------------------------------------------------

def test_logout_revokes_the_access_token_at_once(stack, users):
    session = login_ok(stack, users["alice"], PASSWORD)
    assert gate(stack, token=session.access).status_code == 200
    out = client(stack).post(stack.url("/auth/logout"),
                             headers={"Cookie": cookie_header(refresh=session.refresh)}, timeout=30)
    assert out.status_code == 204, out.text
    started = time.monotonic()
    after = gate(stack, token=session.access)
    assert after.status_code == 401, f"access token still valid right after logout: {after.status_code}"
    assert time.monotonic() - started < 1.0
    assert gate(stack, cookie=cookie_header(access=session.access)).status_code == 401


def test_logout_all_revokes_every_session(stack):
    username = new_user(stack, prefix="multi")
    first = login_ok(stack, username, PASSWORD)
    second = login_ok(stack, username, PASSWORD)
    assert gate(stack, token=first.access).status_code == 200
    assert gate(stack, token=second.access).status_code == 200
    out = client(stack).post(stack.url("/auth/logout?scope=all"),
                             headers={"Authorization": f"Bearer {first.access}"}, timeout=30)
    assert out.status_code == 204, out.text
    for session in (first, second):
        assert gate(stack, token=session.access).status_code == 401
        assert refresh(stack, session.refresh).status_code == 401
    # The user can sign in again afterwards.
    assert gate(stack, token=login_ok(stack, username, PASSWORD).access).status_code == 200


def test_logout_is_idempotent_and_scope_all_needs_identity(stack):
    anonymous = client(stack).post(stack.url("/auth/logout"), timeout=30)
    assert anonymous.status_code == 204, anonymous.text
    bogus = client(stack).post(stack.url("/auth/logout"), headers={"Cookie": cookie_header(refresh="bogus")},
                               timeout=30)
    assert bogus.status_code == 204, bogus.text
    everything = client(stack).post(stack.url("/auth/logout?scope=all"), timeout=30)
    assert everything.status_code == 401, everything.text


# --- navigation -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def short_stack(tls_dir, tmp_path_factory):
    factory = StackFactory(tls_dir, tmp_path_factory, "gate-short")
    yield factory(env={"TOKENGATE_TOKENS_ACCESS_TTL": "2s", "TOKENGATE_TOKENS_LEEWAY": "0s"})
    factory.close()


@pytest.fixture(scope="module")
def expired_sessions(short_stack):
    """Four sessions of one user on the short stack whose 2 s access tokens have expired (waited for once)."""
    stack = short_stack
    username = new_user(stack, prefix="nav")
    sessions = [login_ok(stack, username, PASSWORD) for _ in range(4)]
    deadline = time.monotonic() + 8
    for session in sessions:
        exp = jwt_parts(session.access)[1]["exp"]
        while gate(stack, token=session.access).status_code == 200:
            assert time.monotonic() < deadline, "the 2 s access token never expired"
            time.sleep(max(0.1, min(0.5, exp - time.time())))
    return sessions


def expired_session(sessions: list):
    return sessions.pop()


NAVIGATE = {"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document", "Accept": "text/html,*/*;q=0.8"}


def test_navigation_refreshes_and_returns_to_the_exact_uri(short_stack, expired_sessions):
    stack = short_stack
    session = expired_session(expired_sessions)
    cookies = Cookies(**session.cookies.values)

    first = raw_get(stack, "/app/page?x=1", {**NAVIGATE, "Cookie": cookies.header()})
    assert first.status == 303, first.status
    assert first.header("Location") == "/auth/refresh?rd=/app/page?x=1", first.header("Location")

    second = raw_get(stack, first.header("Location"), {**NAVIGATE, "Cookie": cookies.header()})
    assert second.status == 303, (second.status, second.body[:200])
    assert second.header("Location") == "/app/page?x=1", second.header("Location")
    fresh = {parse_set_cookie(h).name: parse_set_cookie(h) for h in second.headers.get_all("Set-Cookie") or []}
    assert set(fresh) == {ACCESS_COOKIE, REFRESH_COOKIE}, list(fresh)
    assert fresh[REFRESH_COOKIE].value != session.refresh and fresh[ACCESS_COOKIE].value != session.access

    third = gate(stack, "/app/page?x=1", cookie=cookie_header(access=fresh[ACCESS_COOKIE].value),
                 headers={**NAVIGATE, "Accept": "application/json"})
    assert third.status_code == 200, third.text
    assert third.json()["path"] == "/app/page?x=1"


def test_get_refresh_from_another_site_still_redirects(stack, users):
    """GET /auth/refresh never answers 403 on Origin or Sec-Fetch-Site: users arrive from links."""
    session = login_ok(stack, users["alice"], PASSWORD)
    response = raw_get(stack, "/auth/refresh?rd=/app/welcome", {
        **NAVIGATE, "Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example",
        "Cookie": cookie_header(refresh=session.refresh)})
    assert response.status == 303, (response.status, response.body[:200])
    assert response.header("Location") == "/app/welcome"


def test_navigation_with_accept_html_only_counts_as_navigation(short_stack, expired_sessions):
    stack = short_stack
    session = expired_session(expired_sessions)
    response = gate(stack, "/app/doc", cookie=cookie_header(access=session.access), headers={"Accept": "text/html"})
    assert response.status_code == 303 and response.headers["Location"] == "/auth/refresh?rd=/app/doc"


def test_navigation_without_valid_refresh_ends_at_login_page(short_stack, expired_sessions):
    stack = short_stack
    session = expired_session(expired_sessions)
    first = raw_get(stack, "/app/page?x=1", {**NAVIGATE, "Cookie": cookie_header(access=session.access)})
    assert first.status == 303
    for refresh_value in (None, "not-a-refresh-token"):
        headers = dict(NAVIGATE)
        if refresh_value:
            headers["Cookie"] = cookie_header(refresh=refresh_value)
        second = raw_get(stack, first.header("Location"), headers)
        assert second.status == 303, second.status
        location = second.header("Location")
        parsed = urllib.parse.urlsplit(location)
        assert parsed.scheme == "" and parsed.netloc == "" and parsed.path == "/", location
        assert urllib.parse.parse_qs(parsed.query).get("rd") == ["/app/page?x=1"], location
        cleared = {parse_set_cookie(h).name: parse_set_cookie(h) for h in second.headers.get_all("Set-Cookie") or []}
        assert set(cleared) == {ACCESS_COOKIE, REFRESH_COOKIE}, f"a failed refresh must clear both cookies: {cleared}"
        assert all(c.attr("Max-Age") == "0" for c in cleared.values()), [c.raw for c in cleared.values()]
        landing = raw_get(stack, location, NAVIGATE)
        assert landing.status == 200 and b"<html" in landing.body.lower()


def test_api_call_gets_401_json_not_a_redirect(short_stack, expired_sessions):
    stack = short_stack
    session = expired_session(expired_sessions)
    for headers in ({"Accept": "application/json"}, {"Accept": "application/json", "Sec-Fetch-Mode": "cors"}):
        response = gate(stack, "/app/data", token=session.access, headers=headers)
        assert response.status_code == 401, response.status_code
        assert response.headers.get("Content-Type", "").startswith("application/json")
        assert response.json()["error"] == "invalid_token"
        assert response.headers.get("WWW-Authenticate", "").startswith("Bearer")
        assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
        assert "Location" not in response.headers


# --- open redirects ---------------------------------------------------------------------------

EVIL_RD = [
    "//evil.example",
    "/\\evil.example",
    "https://evil.example",
    "javascript:alert(1)",
    "%2F%2Fevil.example",
    "/%2F%2Fevil.example",
    "/%5Cevil.example",
    "%2F%5Cevil.example",
    "/%09/evil.example",
    "\\\\evil.example",
    "https:%2F%2Fevil.example",
]


def test_refresh_rd_never_leaves_the_site(stack, users):
    session = login_ok(stack, users["alice"], PASSWORD)
    cookies = Cookies(**session.cookies.values)
    problems = []
    for rd in EVIL_RD:
        for with_cookie in (False, True):
            headers = {"Cookie": cookies.header(REFRESH_COOKIE)} if with_cookie else {}
            response = raw_get(stack, "/auth/refresh?rd=" + rd, headers)
            location = response.header("Location") or ""
            if with_cookie:
                for header in response.headers.get_all("Set-Cookie") or []:
                    cookie = parse_set_cookie(header)
                    if cookie.value:
                        cookies.values[cookie.name] = cookie.value
            label = f"rd={rd!r} {'with' if with_cookie else 'without'} a valid refresh cookie"
            if response.status != 303:
                problems.append(f"{label}: status {response.status}")
                continue
            if not location_is_local(location):
                problems.append(f"{label}: Location {location!r} leaves the site")
            if with_cookie and location != "/":
                problems.append(f"{label}: Location {location!r}, expected / (the rd should be replaced)")
            for kept in urllib.parse.parse_qs(urllib.parse.urlsplit(location).query).get("rd", []):
                if not location_is_local(kept):
                    problems.append(f"{label}: the login page gets rd={kept!r}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("rd", ["//evil.example", "/\\evil.example", "https://evil.example",
                                "javascript:alert(1)", "/%2F%2Fevil.example", "%2F%2Fevil.example"])
def test_form_login_rd_never_leaves_the_site(stack, users, rd):
    response = post_login(stack, data={"username": users["alice"], "password": PASSWORD, "rd": rd},
                          allow_redirects=False)
    assert response.status_code == 303, response.text
    assert location_is_local(response.headers["Location"]), response.headers["Location"]
    failed = post_login(stack, data={"username": users["alice"], "password": "wrong", "rd": rd},
                        allow_redirects=False)
    assert failed.status_code == 303
    location = failed.headers["Location"]
    assert location_is_local(location), location
    for kept in urllib.parse.parse_qs(urllib.parse.urlsplit(location).query).get("rd", []):
        assert location_is_local(kept), f"the login page gets rd={kept!r}"


# --- key rotation -----------------------------------------------------------------------------

def test_key_rotation_without_logging_anyone_out(make_stack):
    stack = make_stack()
    username = new_user(stack, prefix="rot")
    a = login_ok(stack, username, PASSWORD)
    old_kid = jwt_parts(a.access)[0]["kid"]
    assert jwks_kids(stack) == [old_kid]

    result = stack.cli("key", "generate")
    assert result.returncode == 0, result.stderr
    sighup(stack, until=lambda: len(jwks_kids(stack)) == 2)
    new_kid = next(kid for kid in jwks_kids(stack) if kid != old_kid)

    b = login_ok(stack, username, PASSWORD)
    assert jwt_parts(b.access)[0]["kid"] == new_kid, "new tokens are not signed by the new key"
    assert gate(stack, token=a.access).status_code == 200, "generating a key logged token A out"
    assert gate(stack, token=b.access).status_code == 200
    rotated = refresh(stack, a.refresh)
    assert rotated.status_code == 200, f"generating a key ended session A: {rotated.text}"
    assert jwt_parts(rotated.json()["accessToken"])[0]["kid"] == new_kid

    result = stack.cli("key", "retire", old_kid)
    assert result.returncode == 0, result.stderr
    sighup(stack, until=lambda: old_kid not in jwks_kids(stack))
    assert jwks_kids(stack) == [new_kid]
    assert gate(stack, token=a.access).status_code == 401, "a token of a retired key still passes"
    assert gate(stack, cookie=cookie_header(access=a.access)).status_code == 401
    assert gate(stack, token=b.access).status_code == 200
    assert gate(stack, token=rotated.json()["accessToken"]).status_code == 200
