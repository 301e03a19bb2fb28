"""SIGHUP reloads settings that need no new socket, refuses a broken file, and names the rest."""

from __future__ import annotations

import signal

from harness import user_cli_available, wait_for
import pytest

pytestmark = pytest.mark.skipif(not user_cli_available(), reason="`tokengate user add` does not exist yet")

PASSWORD = "reload-password-123"


def login_expires_in(stack) -> int:
    response = stack.login("reloader", PASSWORD, session=stack.new_session())
    assert response.status_code == 200, response.text
    return response.json()["expiresIn"]


def hup_and_wait(stack, message: str) -> None:
    mark = stack.mark()
    stack.tokengate.send_signal(signal.SIGHUP)
    wait_for(lambda: message in stack.log_text(mark), 10, message=f"log line {message!r}")


def test_sighup_applies_new_settings_and_keeps_serving(make_stack):
    stack = make_stack()
    stack.add_user("reloader", PASSWORD)
    config = stack.root / "tokengate.conf"
    assert login_expires_in(stack) == 900

    config.write_text("tokens.accessTTL = 2m\nfastcgi.workers = 3\n")
    hup_and_wait(stack, "configuration reloaded")
    assert "changed settings take effect after a restart" in stack.log_text()
    assert "fastcgi.workers" in stack.log_text()
    assert login_expires_in(stack) == 120
    assert stack.get("/auth/healthz").status_code == 200

    config.write_text("tokens.accessTTL = not-a-duration\n")
    hup_and_wait(stack, "reload failed")
    assert "tokens.accessTTL" in stack.log_text()
    assert login_expires_in(stack) == 120, "a broken file must leave the running settings alone"
    config.write_text("")
