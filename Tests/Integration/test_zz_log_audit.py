"""Runs last (file order): every log line written by every stack of this test session — tokengate's
request and audit lines, nginx's access and error logs — is scanned for token material and for the
passwords the tests used. None may appear (DESIGN §5: never tokens, cookies or passwords in logs)."""

from __future__ import annotations

import re

from harness import LOG_ARCHIVE, SEEN_PASSWORDS

JWT = re.compile(rb"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{20,}")
COOKIE_VALUE = re.compile(rb"(__Host-access|__Secure-refresh)=[A-Za-z0-9_.-]{20,}")
BEARER = re.compile(rb"Bearer\s+[A-Za-z0-9_.-]{20,}")


def test_no_token_cookie_or_password_in_any_log_of_the_session():
    logs = sorted(path for path in LOG_ARCHIVE.rglob("*.log"))
    if not logs:
        # Run on its own: nothing to scan. The full suite gives it every stack's logs.
        return
    findings = []
    for path in logs:
        data = path.read_bytes()
        for pattern in (JWT, COOKIE_VALUE, BEARER):
            for match in pattern.finditer(data):
                findings.append(f"{path.parent.name}/{path.name}: {match.group(0)[:40]!r}…")
        for password in SEEN_PASSWORDS:
            if len(password) >= 8 and password.encode() in data:
                findings.append(f"{path.parent.name}/{path.name}: a test password")
    assert not findings, "secrets in logs:\n" + "\n".join(findings[:20])
    print(f"\nscanned {len(logs)} log files of this session; {len(SEEN_PASSWORDS)} passwords checked")
