"""deploy/local/run, the README's "run the whole stack" command, with the built binary.

Runs it with TOKENGATE_BIN (no release build), a free port and a temporary runtime directory,
and stops it the way a developer does: SIGTERM or Ctrl-C (SIGINT).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

from harness import (
    REPO,
    free_port,
    has_subcommand,
    missing_prerequisites,
    process_alive,
    short_tempdir,
    skip_or_fail,
    socket_mode,
    tokengate_binary,
    user_cli_available,
)

RUNNER = REPO / "deploy" / "local" / "run"
BANNER = "Press Ctrl-C to stop."


class Runner:
    def __init__(self, run_dir: Path, port: int):
        self.run_dir = run_dir
        self.port = port
        self.app_port = free_port()
        self.output = run_dir.parent / f"{run_dir.name}.out"
        self.process: subprocess.Popen | None = None
        self.pids: set[int] = set()
        self.offset = 0

    def start(self) -> "Runner":
        env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENGATE_")}
        env.update({
            "TOKENGATE_BIN": str(tokengate_binary()),
            "TOKENGATE_RUN_DIR": str(self.run_dir),
            "TOKENGATE_PORT": str(self.port),
            "TOKENGATE_APP_PORT": str(self.app_port),
            "TOKENGATE_NO_INSTALL": "1",
            # Fast Argon2 for the demo user.
            "TOKENGATE_PASSWORDS_MEMORY": "1024",
            "TOKENGATE_PASSWORDS_ITERATIONS": "1",
        })
        for name in ("TOKENGATE_TEST_NGINX",):
            if name in os.environ:
                env[name] = os.environ[name]
        self.offset = self.output.stat().st_size if self.output.exists() else 0
        with open(self.output, "ab") as out:
            self.process = subprocess.Popen(
                ["bash", str(RUNNER)], env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        return self

    def text(self) -> str:
        """What this run printed (the output file may hold earlier runs too)."""
        if not self.output.exists():
            return ""
        with open(self.output, "rb") as handle:
            handle.seek(self.offset)
            return handle.read().decode(errors="replace")

    def wait_for_banner(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while BANNER not in self.text():
            if self.process.poll() is not None:
                pytest.fail(f"deploy/local/run exited {self.process.returncode} before it was up:\n{self.text()}")
            if time.monotonic() > deadline:
                pytest.fail(f"deploy/local/run was not up after {timeout}s:\n{self.text()}")
            time.sleep(0.1)
        self.pids |= {pid for pid in (self.pid("tokengate"), self.pid("nginx"), self.pid("app")) if pid}

    def pid(self, name: str) -> int | None:
        try:
            return int((self.run_dir / f"{name}.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def stop(self, sig: int, timeout: float = 40) -> int:
        self.process.send_signal(sig)
        return self.process.wait(timeout=timeout)

    def cleanup(self) -> None:
        """Stops the runner (which stops its children); kills by PID whatever it left behind."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.pids |= {pid for pid in (self.pid("tokengate"), self.pid("nginx"), self.pid("app")) if pid}
        for pid in self.pids:  # the runner starts its children in their own sessions
            if process_alive(pid) and self._belongs_to_this_run(pid):
                os.kill(pid, signal.SIGKILL)

    def _belongs_to_this_run(self, pid: int) -> bool:
        marker = str(self.run_dir).encode()
        for name in ("cmdline", "environ"):
            try:
                if marker in Path(f"/proc/{pid}/{name}").read_bytes():
                    return True
            except OSError:
                pass
        return False


@pytest.fixture
def runner():
    problems = missing_prerequisites()
    if problems:
        skip_or_fail("; ".join(problems))
    root = short_tempdir("tg-run-")
    made: list[Runner] = []

    def make(run_dir_name: str = "run", port: int | None = None) -> Runner:
        runner = Runner(root / run_dir_name, port or free_port())
        made.append(runner)
        return runner

    yield make
    for item in made:
        item.cleanup()
    shutil.rmtree(root, ignore_errors=True)


def client() -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    return session


def test_run_serves_https_and_stops_cleanly(runner):
    first = runner().start()
    first.wait_for_banner()
    run_dir = first.run_dir
    url = f"https://127.0.0.1:{first.port}/auth/healthz"
    assert url.replace("auth/healthz", "") in first.text()
    # The generated certificate is valid for 127.0.0.1: verify against it rather than switch checks off.
    response = client().get(url, verify=str(run_dir / "tls" / "cert.pem"), timeout=30)
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert socket_mode(run_dir / "tokengate.sock") == 0o660
    assert (run_dir / "tokengate").resolve() == (REPO / "deploy" / "nginx").resolve()
    assert (run_dir / "data").is_dir()
    certificate = (run_dir / "tls" / "cert.pem").read_bytes()

    password_file = run_dir / "demo-password"
    if user_cli_available():
        assert password_file.exists(), first.text()
        assert password_file.stat().st_mode & 0o777 == 0o600
        password = password_file.read_text().strip()
        assert password and password in first.text(), "the runner prints the demo password"
        if "POST /auth/login does not exist yet" not in first.text():
            assert "(checked: POST /auth/login answered 200)" in first.text(), first.text()
            base = f"https://127.0.0.1:{first.port}"
            http = client()
            http.verify = str(run_dir / "tls" / "cert.pem")
            assert http.get(f"{base}/app/", headers={"Accept": "application/json"}, timeout=30).status_code == 401
            token = http.post(f"{base}/auth/login", json={"username": "demo", "password": password},
                              timeout=30).json()["accessToken"]
            echoed = http.get(f"{base}/app/", headers={"Authorization": f"Bearer {token}",
                                                       "Accept": "application/json"}, timeout=30)
            assert echoed.status_code == 200, echoed.text
            assert echoed.json()["headers"].get("X-Auth-Username") == "demo"
    else:
        assert not password_file.exists()

    pids = [first.pid(name) for name in ("tokengate", "nginx", "app")]
    assert first.stop(signal.SIGTERM) == 0, first.text()
    assert not any(process_alive(pid) for pid in pids if pid)
    assert not (run_dir / "tokengate.sock").exists()

    # A second run in the same directory keeps the certificate (and the demo user); Ctrl-C stops it.
    second = runner(port=first.port)  # same run directory and output file
    assert second.run_dir == run_dir
    second.start().wait_for_banner()
    assert (run_dir / "tls" / "cert.pem").read_bytes() == certificate
    response = client().get(url, verify=str(run_dir / "tls" / "cert.pem"), timeout=30)
    assert response.status_code == 200
    if user_cli_available() and has_subcommand("user", "list"):
        second_output = second.text()
        assert "demo user: demo — exists" in second_output, second_output
        assert password_file.read_text().strip() in second_output
    assert second.stop(signal.SIGINT) == 0, second.text()
    assert not (run_dir / "tokengate.sock").exists()


def test_run_exits_nonzero_when_tokengate_dies(runner):
    run = runner().start()
    run.wait_for_banner()
    tokengate_pid, nginx_pid, app_pid = run.pid("tokengate"), run.pid("nginx"), run.pid("app")
    os.kill(tokengate_pid, signal.SIGKILL)
    code = run.process.wait(timeout=30)
    assert code != 0
    assert "tokengate" in run.text() and "exited unexpectedly" in run.text()
    deadline = time.monotonic() + 10
    while process_alive(nginx_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not process_alive(nginx_pid), "the runner must stop nginx when tokengate dies"
    assert app_pid is None or not process_alive(app_pid), "and the demo upstream"


def test_run_fails_fast_when_the_port_is_taken(runner):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        run = runner(port=busy.getsockname()[1]).start()
        code = run.process.wait(timeout=60)
    assert code != 0
    assert "already in use" in run.text(), run.text()
    assert run.pid("tokengate") is None, "nothing must have been started"
    assert not (run.run_dir / "tokengate.sock").exists()
