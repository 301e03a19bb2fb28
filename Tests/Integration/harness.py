"""Integration harness: a real `tokengate serve` behind a real nginx, in a temporary directory.

A `Stack` renders deploy/local/nginx.conf.template (the same file deploy/local/run uses) with a
free port on 127.0.0.1, starts tokengate on a unix socket with its data in the stack's directory,
starts nginx (`master_process off; daemon off;`, as the invoking user), and stops both by PID.

Environment:
  TOKENGATE_BIN                  the tokengate binary (default: <repo>/.build/debug/tokengate)
  TOKENGATE_TEST_NGINX           the nginx binary (default: nginx on PATH, else /usr/sbin/nginx)
  TOKENGATE_REQUIRE_INTEGRATION  1: a missing prerequisite fails the tests instead of skipping them
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import signal
import socket
import ssl
import stat
import struct
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import pytest
import requests
import urllib3

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "deploy" / "local" / "nginx.conf.template"
NGINX_CONFIG_DIR = REPO / "deploy" / "nginx"
WEB_DIR = REPO / "deploy" / "web"
ECHO_UPSTREAM = REPO / "deploy" / "local" / "echo_upstream.py"

urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
warnings.filterwarnings("ignore", category=urllib3.exceptions.InsecureRequestWarning)


# --- prerequisites -----------------------------------------------------------------------------

def integration_required() -> bool:
    return os.environ.get("TOKENGATE_REQUIRE_INTEGRATION", "") not in ("", "0", "false", "no")


def tokengate_binary() -> Path:
    if os.environ.get("TOKENGATE_BIN"):
        return Path(os.environ["TOKENGATE_BIN"])
    for configuration in ("debug", "release"):
        candidate = REPO / ".build" / configuration / "tokengate"
        if candidate.exists():
            return candidate
    return REPO / ".build" / "debug" / "tokengate"


def nginx_binary() -> Path:
    if os.environ.get("TOKENGATE_TEST_NGINX"):
        return Path(os.environ["TOKENGATE_TEST_NGINX"])
    found = shutil.which("nginx")
    return Path(found) if found else Path("/usr/sbin/nginx")


def missing_prerequisites() -> list[str]:
    problems = []
    binary = tokengate_binary()
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        problems.append(f"tokengate binary not found at {binary} (run `swift build` or set TOKENGATE_BIN)")
    nginx = nginx_binary()
    if not (nginx.is_file() and os.access(nginx, os.X_OK)):
        problems.append(f"nginx not found at {nginx} (apt-get install nginx or set TOKENGATE_TEST_NGINX)")
    if not Path("/etc/nginx/mime.types").exists():
        problems.append("/etc/nginx/mime.types is missing (the template includes it; install nginx)")
    if shutil.which("openssl") is None:
        problems.append("openssl not found (apt-get install openssl)")
    if not TEMPLATE.exists():
        problems.append(f"{TEMPLATE} is missing")
    return problems


def skip_or_fail(reason: str) -> None:
    """Skips the test, or fails it when TOKENGATE_REQUIRE_INTEGRATION=1 (CI)."""
    if integration_required():
        pytest.fail(f"integration prerequisite missing (TOKENGATE_REQUIRE_INTEGRATION=1): {reason}", pytrace=False)
    pytest.skip(reason)


@functools.lru_cache(maxsize=None)
def has_subcommand(*words: str) -> bool:
    """Whether `tokengate WORDS --help` documents that subcommand.

    The exit status alone is no probe: ArgumentParser answers `tokengate user --help` with the
    top-level help and exit 0 when `user` does not exist.
    """
    binary = tokengate_binary()
    if not binary.exists():
        return False
    try:
        result = subprocess.run(
            [str(binary), *words, "--help"], capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    usage = "usage: tokengate " + " ".join(words)
    return result.returncode == 0 and usage in (result.stdout + result.stderr).lower()


@functools.lru_cache(maxsize=None)
def known_setting_variables() -> frozenset[str]:
    """Every TOKENGATE_* variable tokengate reads (`tokengate config keys --env`); empty if unknown."""
    if not has_subcommand("config", "keys"):
        return frozenset()
    result = subprocess.run(
        [str(tokengate_binary()), "config", "keys", "--env"], capture_output=True, text=True, timeout=30,
        stdin=subprocess.DEVNULL,
    )
    if result.returncode != 0:
        return frozenset()
    return frozenset(re.findall(r"^#?\s*(TOKENGATE_[A-Z0-9_]+)=", result.stdout, flags=re.MULTILINE))


def check_setting_names(env: dict[str, str]) -> None:
    """tokengate ignores unknown variables: catch a misspelt (or renamed) setting in a test."""
    known = known_setting_variables()
    if not known:
        return
    unknown = sorted(name for name in env if name.startswith("TOKENGATE_") and name not in known
                     and name != "TOKENGATE_CONFIG")
    if unknown:
        raise ValueError(f"tokengate does not read {unknown} (see `tokengate config keys --env`)")


def user_cli_available() -> bool:
    return has_subcommand("user", "add")


USER_CLI_MISSING = "`tokengate user add` does not exist yet"


# --- helpers -----------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def make_certificate(directory: Path) -> Path:
    """A self-signed certificate for localhost and 127.0.0.1 in DIRECTORY/{cert,key}.pem."""
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "cert.pem", directory / "key.pem"
    if not (cert.exists() and key.exists()):
        subprocess.run(
            [
                "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-days", "30", "-subj", "/CN=localhost",
                "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1",
                "-keyout", str(key), "-out", str(cert),
            ],
            check=True, capture_output=True, stdin=subprocess.DEVNULL,
        )
        key.chmod(0o600)
    return directory


def render_nginx_config(prefix: Path, port: int, socket_path: Path, app_port: int,
                        more_sockets: Iterable[Path] = ()) -> Path:
    """Renders the template deploy/local/run uses; fails on a placeholder it does not know.

    MORE_SOCKETS: further tokengate nodes in the same upstream (the multi-node tests).
    """
    values = {"PREFIX": prefix, "PORT": port, "SOCKET": socket_path, "APP_PORT": app_port, "WEB": WEB_DIR}
    text = TEMPLATE.read_text()
    for extra in more_sockets:
        line = "        server unix:@SOCKET@;\n"
        if line not in text:
            raise RuntimeError(f"{TEMPLATE} has no `server unix:@SOCKET@;` line to add nodes after")
        text = text.replace(line, line + f"        server unix:{extra};\n", 1)
    for name, value in values.items():
        text = text.replace(f"@{name}@", str(value))
    unknown = sorted(set(re.findall(r"@[A-Z_]+@", text)))
    if unknown:
        raise RuntimeError(f"{TEMPLATE} uses placeholders the harness does not fill: {unknown}")
    target = prefix / "nginx.conf"
    target.write_text(text)
    link = prefix / "tokengate"
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(NGINX_CONFIG_DIR)
    return target


_LOGFMT = re.compile(r'([A-Za-z_][\w.]*)=("(?:[^"\\]|\\.)*"|\S*)')


def parse_logfmt(line: str) -> dict[str, str]:
    fields = {}
    for key, value in _LOGFMT.findall(line):
        if value.startswith('"') and value.endswith('"') and len(value) >= 2:
            value = value[1:-1].replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")
        fields[key] = value
    return fields


def process_alive(pid: int) -> bool:
    """True while PID runs (a zombie that exited but was not reaped yet counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            state = handle.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def wait_for(predicate, timeout: float, interval: float = 0.05, message: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


def unix_socket_connections(socket_path: Path, pid: int) -> tuple[set[int], set[int]]:
    """(listening inodes, connection inodes) of unix sockets bound to SOCKET_PATH held by PID.

    Accepted connections carry the listener's path in /proc/net/unix; the listener has the
    __SO_ACCEPTCON flag (0x10000).
    """
    held = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    for entry in fd_dir.iterdir() if fd_dir.exists() else []:
        try:
            target = os.readlink(entry)
        except OSError:
            continue
        if target.startswith("socket:["):
            held.add(int(target[8:-1]))
    listening, connections = set(), set()
    with open("/proc/net/unix") as table:
        next(table)
        for line in table:
            parts = line.split()
            if len(parts) < 8 or parts[7] != str(socket_path):
                continue
            inode = int(parts[6])
            if inode not in held:
                continue
            if int(parts[3], 16) & 0x10000:
                listening.add(inode)
            else:
                connections.add(inode)
    return listening, connections


def https_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


# --- a minimal FastCGI client (for what nginx cannot do: hold a request half-sent) -------------

FCGI_BEGIN_REQUEST, FCGI_END_REQUEST, FCGI_PARAMS, FCGI_STDIN, FCGI_STDOUT, FCGI_STDERR = 1, 3, 4, 5, 6, 7


def _fcgi_record(record_type: int, content: bytes, request_id: int = 1) -> bytes:
    padding = (8 - len(content) % 8) % 8
    return struct.pack(">BBHHBx", 1, record_type, request_id, len(content), padding) + content + b"\0" * padding


def _fcgi_length(value: int) -> bytes:
    return struct.pack(">B", value) if value < 128 else struct.pack(">I", value | 0x80000000)


class FastCGIConnection:
    """One FastCGI request over a unix socket, sent in pieces."""

    def __init__(self, socket_path: Path, timeout: float = 30):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(str(socket_path))

    def begin(self, params: dict[str, str]) -> None:
        self.sock.sendall(_fcgi_record(FCGI_BEGIN_REQUEST, struct.pack(">HB5x", 1, 0)))
        encoded = b"".join(
            _fcgi_length(len(k.encode())) + _fcgi_length(len(v.encode())) + k.encode() + v.encode()
            for k, v in params.items()
        )
        self.sock.sendall(_fcgi_record(FCGI_PARAMS, encoded) + _fcgi_record(FCGI_PARAMS, b""))

    def send_body(self, data: bytes, finish: bool = False) -> None:
        payload = _fcgi_record(FCGI_STDIN, data) if data else b""
        if finish:
            payload += _fcgi_record(FCGI_STDIN, b"")
        self.sock.sendall(payload)

    def read_stdout(self) -> bytes:
        """Everything the responder wrote to FCGI_STDOUT, once END_REQUEST arrives."""
        buffer, stdout = b"", b""
        while True:
            while len(buffer) >= 8:
                _, record_type, _, length, padding = struct.unpack(">BBHHBx", buffer[:8])
                if len(buffer) < 8 + length + padding:
                    break
                content = buffer[8:8 + length]
                buffer = buffer[8 + length + padding:]
                if record_type == FCGI_STDOUT:
                    stdout += content
                elif record_type == FCGI_END_REQUEST:
                    return stdout
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"connection closed before END_REQUEST; got {stdout!r}")
            buffer += chunk

    def read_response(self) -> tuple[str, dict[str, str], bytes]:
        """(status line value, headers, body) once END_REQUEST arrives."""
        head, _, body = self.read_stdout().partition(b"\r\n\r\n")
        headers = {}
        for line in head.decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return headers.get("status", "200"), headers, body

    def close(self) -> None:
        self.sock.close()


def fastcgi_params(uri: str, method: str = "GET", headers: dict[str, str] | None = None,
                   body: bytes = b"") -> dict[str, str]:
    """The params nginx sends for METHOD URI (a JSON BODY if any), with HEADERS (params) on top."""
    params = {
        "REQUEST_METHOD": method, "DOCUMENT_URI": uri, "REQUEST_URI": uri, "QUERY_STRING": "",
        "SERVER_PROTOCOL": "HTTP/1.1", "REQUEST_SCHEME": "https", "HTTPS": "on", "REMOTE_ADDR": "127.0.0.1",
        "SERVER_NAME": "localhost", "SERVER_PORT": "443", "HTTP_HOST": "localhost",
        "CONTENT_LENGTH": str(len(body)) if body else "",
    }
    if body:
        params["CONTENT_TYPE"] = "application/json"
    params.update(headers or {})
    return params


def fastcgi_request(socket_path: Path, uri: str, headers: dict[str, str] | None = None,
                method: str = "GET", body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
    """One request straight to tokengate's socket, as nginx would send it."""
    params = fastcgi_params(uri, method, headers, body)
    connection = FastCGIConnection(socket_path, timeout=20)
    try:
        connection.begin(params)
        connection.send_body(body, finish=True)
        status, response_headers, response_body = connection.read_response()
    finally:
        connection.close()
    return int(status.split()[0]), response_headers, response_body


def stop_process(process: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
    """Sends SIG to PROCESS (by PID) and waits; SIGKILL after TIMEOUT. Returns the exit code."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
            raise AssertionError(f"pid {process.pid} did not exit within {timeout}s of signal {sig}; killed")
    return process.returncode


# --- what every stack of this session logged (scanned by test_zz_log_audit.py) -------------------

#: Copies of every stopped stack's logs, and every password a test gave to `add_user`.
LOG_ARCHIVE = Path(tempfile.mkdtemp(prefix="tokengate-logs-"))
SEEN_PASSWORDS: set[str] = set()


# --- the stack ---------------------------------------------------------------------------------

@dataclass
class LogMark:
    """File sizes at one moment, so a test can read only what was logged after it."""

    tokengate: int
    nginx_error: int


class Stack:
    """tokengate + nginx in ROOT. Start with `start()`, stop with `close()` (returns problems)."""

    #: Fast Argon2 parameters for tests; a test that needs slow hashing overrides them.
    DEFAULT_ENV = {
        "TOKENGATE_PASSWORDS_MEMORY": "1024",
        "TOKENGATE_PASSWORDS_ITERATIONS": "1",
    }

    def __init__(self, root: Path, tls_dir: Path, env: dict[str, str] | None = None, workers: int | None = None):
        self.root = root
        self.tls_dir = tls_dir
        self.binary = tokengate_binary()
        self.nginx = nginx_binary()
        self.socket_path = root / "tokengate.sock"
        if len(str(self.socket_path)) >= 100:
            raise ValueError(f"{self.socket_path} is too long for a unix socket")
        self.data_dir = root / "data"
        self.tokengate_log = root / "tokengate.log"
        self.nginx_error_log = root / "nginx-error.log"
        self.port = 0
        self.app_port = 0
        self.app_process: subprocess.Popen | None = None
        self.overrides = dict(env or {})
        #: Other tokengate nodes' sockets, in nginx's upstream next to this stack's own.
        self.more_sockets: list[Path] = []
        if workers is not None:
            self.overrides["TOKENGATE_FASTCGI_WORKERS"] = str(workers)
        self.tokengate: subprocess.Popen | None = None
        self.nginx_process: subprocess.Popen | None = None
        self.tokengate_exit_codes: list[int] = []
        self._sessions: list[requests.Session] = []
        self._session: requests.Session | None = None
        (root / "tokengate.conf").write_text("# empty: the integration tests configure tokengate through TOKENGATE_* variables\n")
        self.env = self.environment(self.overrides)

    # environment ----------------------------------------------------------------------------

    def environment(self, overrides: dict[str, str] | None = None) -> dict[str, str]:
        """The process environment for tokengate and its CLI: nothing from the caller's TOKENGATE_*."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENGATE_")}
        env.update(self.DEFAULT_ENV)
        env.update({
            "TOKENGATE_CONFIG": str(self.root / "tokengate.conf"),
            "TOKENGATE_STORAGE_DIRECTORY": str(self.data_dir),
            "TOKENGATE_FASTCGI_LISTEN": f"unix:{self.socket_path}",
        })
        env.update(overrides or {})
        return env

    # lifecycle ------------------------------------------------------------------------------

    def start(self) -> "Stack":
        self.start_tokengate()
        self.start_app()
        self.start_nginx()
        return self

    def start_app(self) -> None:
        """The demo non-Swift upstream behind the gated /app/ and /admin/ locations (echoes headers)."""
        if not ECHO_UPSTREAM.exists():
            self.app_port = free_port()  # the template may still name a port; nothing answers there
            return
        for attempt in range(3):
            self.app_port = free_port()
            with open(self.root / "app.log", "ab") as log:
                self.app_process = subprocess.Popen(
                    [sys.executable, str(ECHO_UPSTREAM), "--host", "127.0.0.1", "--port", str(self.app_port)],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=self.root,
                )

            def listening() -> bool:
                if self.app_process.poll() is not None:
                    raise RuntimeError("the demo upstream exited:\n" + (self.root / "app.log").read_text()[-2000:])
                try:
                    with socket.create_connection(("127.0.0.1", self.app_port), timeout=0.5):
                        return True
                except OSError:
                    return False

            try:
                wait_for(listening, 15, message=f"the demo upstream on 127.0.0.1:{self.app_port}")
                return
            except RuntimeError:
                if attempt == 2:
                    raise

    def start_tokengate(self, env: dict[str, str] | None = None, wait: bool = True) -> subprocess.Popen:
        """Starts `tokengate serve` (extra ENV on top of the stack's) and waits for its socket."""
        assert self.tokengate is None or self.tokengate.poll() is not None, "tokengate is already running"
        if env:
            self.overrides.update(env)
            self.env = self.environment(self.overrides)
        check_setting_names(self.env)
        with open(self.tokengate_log, "ab") as log:
            log.write(f"--- harness: starting tokengate serve at {time.strftime('%H:%M:%S')}\n".encode())
            log.flush()
            self.tokengate = subprocess.Popen(
                [str(self.binary), "serve"], env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                cwd=self.root,
            )
        if wait:
            self.wait_for_socket()
        return self.tokengate

    def wait_for_socket(self, timeout: float = 30) -> None:
        process = self.tokengate
        assert process is not None

        def ready() -> bool:
            if process.poll() is not None:
                raise RuntimeError(
                    f"tokengate exited with {process.returncode} during startup:\n{self.log_tail()}")
            if not self.socket_path.is_socket():
                return False
            listening, _ = unix_socket_connections(self.socket_path, process.pid)
            return bool(listening)

        wait_for(ready, timeout, message=f"tokengate to listen on {self.socket_path}")

    def start_nginx(self, attempts: int = 3, port: int | None = None) -> None:
        """Starts nginx on PORT (a restart on the same address), else on a free port."""
        self.make_directories()
        for attempt in range(attempts):
            self.port = port or free_port()
            render_nginx_config(self.root, self.port, self.socket_path, self.app_port, self.more_sockets)
            with open(self.root / "nginx.stderr", "ab") as errors:
                self.nginx_process = subprocess.Popen(
                    [str(self.nginx), "-p", f"{self.root}/", "-c", str(self.root / "nginx.conf"),
                     "-e", str(self.nginx_error_log)],
                    stdin=subprocess.DEVNULL, stdout=errors, stderr=errors, cwd=self.root,
                )
            try:
                wait_for(self._nginx_listening, 15, message=f"nginx to listen on 127.0.0.1:{self.port}")
                return
            except RuntimeError:
                stderr = (self.root / "nginx.stderr").read_text(errors="replace")
                if "Address already in use" in stderr and attempt + 1 < attempts:
                    continue  # another process took the free port between probe and bind
                raise

    def make_directories(self) -> None:
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.root / name).mkdir(exist_ok=True)
        # The template reads @PREFIX@/tls/{cert,key}.pem; one certificate serves every stack.
        tls = self.root / "tls"
        if not tls.exists():
            tls.symlink_to(self.tls_dir)

    def _nginx_listening(self) -> bool:
        process = self.nginx_process
        assert process is not None
        if process.poll() is not None:
            raise RuntimeError(
                f"nginx exited with {process.returncode} during startup:\n"
                + (self.root / "nginx.stderr").read_text(errors="replace")[-2000:])
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    @property
    def tokengate_pid(self) -> int:
        assert self.tokengate is not None
        return self.tokengate.pid

    @property
    def nginx_pid(self) -> int:
        assert self.nginx_process is not None
        return self.nginx_process.pid

    def stop_tokengate(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        """Sends SIG to tokengate and waits; SIGKILL after TIMEOUT. Returns the exit code (-N: killed by N)."""
        process = self.tokengate
        assert process is not None, "tokengate was never started"
        try:
            return stop_process(process, sig, timeout)
        finally:
            self.tokengate_exit_codes.append(process.returncode)

    def kill_tokengate(self) -> int:
        return self.stop_tokengate(signal.SIGKILL, timeout=10)

    def restart_tokengate(self, env: dict[str, str] | None = None) -> int:
        """SIGTERM (expects exit 0), then starts again with the same (plus ENV) settings."""
        code = self.stop_tokengate()
        assert code == 0, f"tokengate exited {code} on SIGTERM:\n{self.log_tail()}"
        self.start_tokengate(env=env)
        return code

    def stop_nginx(self, timeout: float = 10) -> int | None:
        process = self.nginx_process
        if process is None:
            return None
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        return process.returncode

    def close(self) -> list[str]:
        """Stops tokengate (SIGTERM) and nginx by PID. Returns what went wrong, for the fixture to report."""
        problems = []
        for session in self._sessions:
            session.close()
        if self.tokengate is not None and self.tokengate.poll() is None:
            try:
                code = self.stop_tokengate(signal.SIGTERM)
                if code != 0:
                    problems.append(f"tokengate exited {code} on SIGTERM (expected 0)")
                elif self.socket_path.exists():
                    problems.append(f"tokengate exited 0 but left its socket {self.socket_path}")
            except AssertionError as error:
                problems.append(str(error))
        try:
            self.stop_nginx()
        except Exception as error:  # noqa: BLE001 - report, don't mask the other problems
            problems.append(f"stopping nginx: {error}")
        if self.app_process is not None and self.app_process.poll() is None:
            self.app_process.terminate()
            try:
                self.app_process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.app_process.kill()
                self.app_process.wait(timeout=10)
        self._archive_logs()
        if problems:
            problems.append("tokengate log tail:\n" + self.log_tail())
        return problems

    def _archive_logs(self) -> None:
        """Keeps this stack's logs for the session-wide secret scan."""
        target = LOG_ARCHIVE / f"{self.root.name}-{id(self)}"
        target.mkdir(parents=True, exist_ok=True)
        for log in (self.tokengate_log, self.root / "nginx-access.log", self.root / "nginx-error.log"):
            if log.exists():
                shutil.copy(log, target / log.name)

    # HTTP -----------------------------------------------------------------------------------

    def url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.port}{path}"

    def new_session(self) -> requests.Session:
        session = requests.Session()
        # No proxies or CA bundles from the environment (REQUESTS_CA_BUNDLE would override
        # verify=False, an HTTPS_PROXY would take loopback traffic elsewhere).
        session.trust_env = False
        session.verify = False
        self._sessions.append(session)
        return session

    @property
    def session(self) -> requests.Session:
        """A shared keep-alive client session (TLS verification off: self-signed certificate)."""
        if self._session is None:
            self._session = self.new_session()
        return self._session

    def get(self, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        return self.session.get(self.url(path), **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        return self.session.post(self.url(path), **kwargs)

    def has_login_route(self) -> bool:
        response = self.new_session().post(self.url("/auth/login"), json={}, timeout=30)
        return not (response.status_code == 404 and _json(response).get("error") == "not_found")

    # CLI ------------------------------------------------------------------------------------

    def cli(self, *args: str, input: str | None = None, timeout: float = 120,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        """Runs the tokengate binary with the stack's environment (same data directory and socket)."""
        environment = dict(self.env)
        environment.update(env or {})
        return subprocess.run(
            [str(self.binary), *args], env=environment, input=input, capture_output=True, text=True,
            timeout=timeout, cwd=self.root, stdin=None if input is not None else subprocess.DEVNULL,
        )

    def add_user(self, username: str, password: str, name: str | None = None,
                 roles: Iterable[str] = ("user",)) -> None:
        args = ["user", "add", username]
        if name:
            args += ["--name", name]
        for role in roles:
            args += ["--role", role]
        SEEN_PASSWORDS.add(password)
        result = self.cli(*args, "--password-stdin", input=password + "\n")
        assert result.returncode == 0, f"user add failed ({result.returncode}): {result.stderr}{result.stdout}"

    def login(self, username: str, password: str, session: requests.Session | None = None) -> requests.Response:
        client = session or self.new_session()
        return client.post(self.url("/auth/login"), json={"username": username, "password": password}, timeout=60)

    # logs -----------------------------------------------------------------------------------

    def mark(self) -> LogMark:
        return LogMark(_size(self.tokengate_log), _size(self.nginx_error_log))

    def log_text(self, since: LogMark | None = None) -> str:
        """tokengate's stderr (every run of this stack, appended)."""
        return _read_from(self.tokengate_log, since.tokengate if since else 0)

    def log_records(self, since: LogMark | None = None) -> list[dict[str, str]]:
        return [parse_logfmt(line) for line in self.log_text(since).splitlines() if "=" in line]

    def request_records(self, since: LogMark | None = None) -> list[dict[str, str]]:
        return [record for record in self.log_records(since) if record.get("msg") == "request"]

    def nginx_error_text(self, since: LogMark | None = None) -> str:
        return _read_from(self.nginx_error_log, since.nginx_error if since else 0)

    def nginx_errors(self, since: LogMark | None = None, levels=("error", "crit", "alert", "emerg")) -> list[str]:
        pattern = re.compile(r"\[(%s)\]" % "|".join(levels))
        return [line for line in self.nginx_error_text(since).splitlines() if pattern.search(line)]

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _read_from(path: Path, offset: int) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            return handle.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return ""


def _json(response: requests.Response) -> dict:
    try:
        value = response.json()
    except (ValueError, json.JSONDecodeError):
        return {}
    return value if isinstance(value, dict) else {}


def short_tempdir(prefix: str = "tg-") -> Path:
    """A short directory under /tmp (unix socket paths are limited to 107 bytes)."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))


def socket_mode(path: Path) -> int:
    info = os.lstat(path)
    assert stat.S_ISSOCK(info.st_mode), f"{path} is not a socket"
    return stat.S_IMODE(info.st_mode)
