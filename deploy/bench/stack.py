"""The processes of a benchmark run: tokengate, nginx and the baselines, all on loopback and unix
sockets under one temporary directory. Every process is stopped by its own PID."""
from __future__ import annotations

import base64
import http.client
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "deploy" / "bench"
WORK = REPO / ".build" / "bench"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def build_baselines() -> dict[str, Path]:
    """Compiles the two C responders into .build/bench (gcc, libfcgi, libsodium)."""
    WORK.mkdir(parents=True, exist_ok=True)
    built = {}
    for name, libraries in (("fcgi_null", ["-lfcgi"]), ("fcgi_ed25519", ["-lfcgi", "-lsodium"])):
        target = WORK / name
        subprocess.run(["gcc", "-O2", "-Wall", "-Werror", "-o", str(target), str(BENCH / f"{name}.c"), *libraries],
                       check=True)
        built[name] = target
    return built


def fastcgi_get(socket_path: Path, uri: str, timeout: float = 2.0) -> bytes:
    """One FastCGI GET (the way nginx sends it); returns the stdout stream."""

    def record(kind: int, content: bytes) -> bytes:
        return struct.pack(">BBHHBx", 1, kind, 1, len(content), 0) + content

    def pair(name: str, value: str) -> bytes:
        n, v = name.encode(), value.encode()
        return bytes([len(n), len(v)]) + n + v

    params = b"".join(pair(k, v) for k, v in {"REQUEST_METHOD": "GET", "DOCUMENT_URI": uri, "REQUEST_URI": uri,
                                              "QUERY_STRING": "", "REMOTE_ADDR": "127.0.0.1"}.items())
    message = (record(1, struct.pack(">HBxxxxx", 1, 0)) + record(4, params) + record(4, b"") + record(5, b""))
    with socket.socket(socket.AF_UNIX) as connection:
        connection.settimeout(timeout)
        connection.connect(str(socket_path))
        connection.sendall(message)
        data, stdout = b"", b""
        while True:
            while len(data) < 8:
                chunk = connection.recv(65536)
                if not chunk:
                    return stdout
                data += chunk
            _, kind, _, length, padding = struct.unpack(">BBHHB", data[:7])
            while len(data) < 8 + length + padding:
                chunk = connection.recv(65536)
                if not chunk:
                    return stdout
                data += chunk
            if kind == 6:
                stdout += data[8:8 + length]
            data = data[8 + length + padding:]
            if kind == 3:
                return stdout


class Stack:
    """tokengate + nginx + baselines in a temporary directory."""

    def __init__(self, binary: Path, workers: int, baselines: dict[str, Path], python: str):
        self.binary = binary
        self.baselines = baselines
        self.python = python
        self.root = Path(tempfile.mkdtemp(prefix="tgbench-", dir="/tmp"))
        self.port = free_port()
        self.socket = self.root / "tg.sock"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENGATE_")}
        self.env.update(TOKENGATE_STORAGE_DIRECTORY=str(self.root / "data"),
                        TOKENGATE_FASTCGI_LISTEN=f"unix:{self.socket}",
                        TOKENGATE_CONFIG=str(self.root / "empty.conf"),
                        TOKENGATE_THROTTLE_ADDRESS_LIMIT="1000000")
        if workers:
            self.env["TOKENGATE_FASTCGI_WORKERS"] = str(workers)
        (self.root / "empty.conf").write_text("")
        (self.root / "ok.txt").write_text("ok\n")
        (self.root / "tokengate").symlink_to(REPO / "deploy" / "nginx")
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi", "verify-cache"):
            (self.root / name).mkdir()
        template = (BENCH / "nginx-bench.conf.template").read_text()
        config = (template.replace("@PREFIX@", str(self.root)).replace("@PORT@", str(self.port))
                  .replace("@SOCKET@", str(self.socket))
                  .replace("@USER@", "user root;" if os.geteuid() == 0 else ""))
        (self.root / "nginx.conf").write_text(config)
        self.processes: dict[str, subprocess.Popen] = {}

    # processes ---------------------------------------------------------------------------

    def _spawn(self, name: str, command: list[str], env: dict | None = None, cwd: Path | None = None) -> None:
        log = open(self.root / f"{name}.log", "w")
        self.processes[name] = subprocess.Popen(command, env=env, cwd=cwd, stdout=log, stderr=log,
                                                stdin=subprocess.DEVNULL)

    def _wait_for(self, name: str, ready, timeout: float = 30) -> None:
        deadline = time.time() + timeout
        while not ready():
            process = self.processes[name]
            if time.time() > deadline or process.poll() is not None:
                raise SystemExit(f"{name} did not start:\n" + (self.root / f"{name}.log").read_text()[-2000:])
            time.sleep(0.02)

    def start(self) -> None:
        self._spawn("tokengate", [str(self.binary), "serve"], env=self.env)
        self._wait_for("tokengate", self.socket.exists)
        key = self.signing_key()
        self.public_key = key["x"]
        self._spawn("fcgi_null", [str(self.baselines["fcgi_null"]), str(self.root / "null.sock")])
        self._spawn("fcgi_ed25519", [str(self.baselines["fcgi_ed25519"]), str(self.root / "ed25519.sock"), key["x"]])
        peer_env = dict(os.environ, PEER_PUBLIC_KEY=key["x"], PYTHONPATH=str(BENCH))
        self._spawn("python_peer", [self.python, "-m", "gunicorn", "--workers", str(os.cpu_count() or 2),
                                    "--bind", f"unix:{self.root / 'peer.sock'}", "--log-level", "warning",
                                    "pyjwt_peer:app"], env=peer_env, cwd=BENCH)
        for name, sock in (("fcgi_null", "null.sock"), ("fcgi_ed25519", "ed25519.sock"), ("python_peer", "peer.sock")):
            self._wait_for(name, (self.root / sock).exists)
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        self._spawn("nginx", [nginx, "-p", str(self.root), "-c", str(self.root / "nginx.conf")])

        def listening() -> bool:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return True
            except OSError:
                return False

        self._wait_for("nginx", listening)

    def pids(self) -> list[int]:
        return [p.pid for p in self.processes.values() if p.poll() is None]

    def stop(self, keep: bool = False) -> None:
        for process in reversed(list(self.processes.values())):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if not keep:
            shutil.rmtree(self.root, ignore_errors=True)

    # tokengate ---------------------------------------------------------------------------

    def cli(self, *args: str, stdin: str | None = None) -> str:
        return subprocess.run([str(self.binary), *args], env=self.env, input=stdin, text=True,
                              capture_output=True, check=True).stdout

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        data = response.read()
        connection.close()
        return response, data

    def signing_key(self) -> dict:
        """The active private key from tokengate's key directory (the bench signs its own tokens)."""
        keys = [json.loads(p.read_text()) for p in (self.root / "data" / "keys").glob("*.json")]
        signing = [k for k in keys if "d" in k and "retired_at" not in k]
        if not signing:
            raise SystemExit("no signing key in " + str(self.root / "data" / "keys"))
        return max(signing, key=lambda k: k.get("created_at", 0))

    def mint_tokens(self, template: str, count: int, path: Path) -> None:
        """COUNT valid, distinct access tokens shaped like TEMPLATE (a token tokengate issued):
        same claims, a new jti and sid each (no session is revoked), valid for an hour."""
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        key = self.signing_key()
        private = Ed25519PrivateKey.from_private_bytes(unb64url(key["d"]))
        header_segment, payload_segment, _ = template.split(".")
        header = json.loads(unb64url(header_segment))
        assert header.get("kid") == key["kid"], (header, key["kid"])
        claims = json.loads(unb64url(payload_segment))
        now = int(time.time())
        claims.update(iat=now, exp=now + 3600)
        head = b64url(json.dumps(header, separators=(",", ":")).encode())
        with open(path, "w") as out:
            for _ in range(count):
                claims["jti"], claims["sid"] = str(uuid.uuid4()), str(uuid.uuid4())
                signing_input = head + "." + b64url(json.dumps(claims, separators=(",", ":")).encode())
                out.write(signing_input + "." + b64url(private.sign(signing_input.encode())) + "\n")


def measure_startup(binary: Path, env: dict, root: Path, runs: int) -> list[float]:
    """Milliseconds from exec to the first answered FastCGI request (GET /healthz), RUNS times,
    on a store and key directory that already exist (the first start creates them)."""
    results = []
    sock = root / "startup.sock"
    startup_env = dict(env, TOKENGATE_STORAGE_DIRECTORY=str(root / "startup-data"),
                       TOKENGATE_FASTCGI_LISTEN=f"unix:{sock}")
    for attempt in range(runs + 1):
        began = time.perf_counter()
        process = subprocess.Popen([str(binary), "serve"], env=startup_env, stdout=subprocess.DEVNULL,
                                   stderr=open(root / "startup.log", "a"), stdin=subprocess.DEVNULL)
        answered = None
        try:
            while time.perf_counter() - began < 30:
                if process.poll() is not None:
                    raise SystemExit("tokengate exited during the start-up measurement:\n"
                                     + (root / "startup.log").read_text()[-2000:])
                try:
                    if fastcgi_get(sock, "/auth/healthz").startswith(b"Status: 200"):
                        answered = (time.perf_counter() - began) * 1000
                        break
                except OSError:
                    pass
                time.sleep(0.001)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=20)
        if answered is None:
            raise SystemExit("tokengate never answered /healthz during the start-up measurement")
        if attempt > 0:  # the first start also creates the database and the signing key
            results.append(answered)
    print(f"start-up: {', '.join(f'{r:.0f}' for r in results)} ms", file=sys.stderr)
    return results
