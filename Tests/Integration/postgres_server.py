"""A private, throw-away PostgreSQL server for the integration tests (Debian `postgresql`).

`PostgresServer(root).start()` runs `initdb` into ROOT/data and starts `postgres` on a free port
on 127.0.0.1 (trust authentication, superuser `tokengate`), as the `postgres` account when we
are root (PostgreSQL refuses to run as root). It never touches the system cluster. `stop()`
stops it by PID (SIGINT: fast shutdown).

Which store the behaviour suites run on: TOKENGATE_TEST_STORE=sqlite (default) or postgres. With
postgres, every stack gets a database of its own on one server per test session
(`shared_server()`, stopped by conftest at the end of the session).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import uuid
from pathlib import Path

from harness import free_port, wait_for

SUPERUSER = "tokengate"


def test_store() -> str:
    """The store the behaviour suites run against: `sqlite` (default) or `postgres`."""
    store = os.environ.get("TOKENGATE_TEST_STORE", "sqlite").strip().lower() or "sqlite"
    if store not in ("sqlite", "postgres"):
        raise ValueError(f"TOKENGATE_TEST_STORE must be sqlite or postgres, not {store!r}")
    return store


def postgres_bin_dir() -> Path | None:
    """The directory of initdb and postgres: Debian keeps them out of PATH."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True)
    for directory in candidates:
        if Path(directory, "initdb").exists() and Path(directory, "postgres").exists():
            return Path(directory)
    found = shutil.which("initdb")
    if found and Path(found).resolve().with_name("postgres").exists():
        return Path(found).resolve().parent
    return None


def missing_postgres() -> str | None:
    if postgres_bin_dir() is None:
        return "PostgreSQL server binaries not found (apt-get install postgresql)"
    if shutil.which("psql") is None:
        return "psql not found (apt-get install postgresql-client)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root but there is no `postgres` account to run the server as"
    return None


class PostgresServer:
    """One PostgreSQL server in ROOT, on 127.0.0.1:PORT."""

    def __init__(self, root: Path, fsync: bool = False):
        self.root = root
        self.data = root / "data"
        self.log = root / "postgres.log"
        self.port = 0
        self.fsync = fsync
        self.process: subprocess.Popen | None = None
        self.bin = postgres_bin_dir()
        self.account = "postgres" if os.geteuid() == 0 else None

    def _run_as(self) -> dict:
        return {"user": self.account, "group": self.account, "extra_groups": []} if self.account else {}

    def start(self, attempts: int = 3) -> "PostgresServer":
        problem = missing_postgres()
        if problem:
            raise RuntimeError(problem)
        self.root.mkdir(parents=True, exist_ok=True)
        if self.account:
            shutil.chown(self.root, self.account, self.account)
        subprocess.run(
            [str(self.bin / "initdb"), "-D", str(self.data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8",
             "--no-sync", "--no-instructions"],
            check=True, capture_output=True, stdin=subprocess.DEVNULL, cwd=self.root, **self._run_as())
        for attempt in range(attempts):
            self.port = free_port()
            self._launch()
            try:
                wait_for(self._ready, 30, interval=0.1, message=f"PostgreSQL on 127.0.0.1:{self.port}")
                return self
            except RuntimeError:
                if "Address already in use" in self.log.read_text(errors="replace") and attempt + 1 < attempts:
                    continue
                raise
        return self

    def _launch(self) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [str(self.bin / "postgres"), "-D", str(self.data), "-p", str(self.port),
                 "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.root}",
                 "-c", f"fsync={'on' if self.fsync else 'off'}", "-c", "synchronous_commit=on",
                 "-c", "max_connections=200", "-c", "shared_buffers=64MB"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=self.root, **self._run_as())

    def restart(self) -> None:
        """Starts the stopped server again on the same port and data."""
        assert self.process is not None and self.process.poll() is not None, "stop() it first"
        self._launch()
        wait_for(self._ready, 30, interval=0.1, message=f"PostgreSQL on 127.0.0.1:{self.port} again")

    def _ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"postgres exited with {self.process.returncode}:\n"
                               + self.log.read_text(errors="replace")[-2000:])
        result = subprocess.run(["psql", self.url("postgres"), "-Atc", "SELECT 1"], capture_output=True, text=True,
                                stdin=subprocess.DEVNULL, timeout=10)
        return result.returncode == 0

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def url(self, database: str) -> str:
        return f"postgres://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def psql(self, database: str, sql: str) -> str:
        result = subprocess.run(["psql", self.url(database), "-v", "ON_ERROR_STOP=1", "-AtF", "\t", "-c", sql],
                                capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
        if result.returncode != 0:
            raise RuntimeError(f"psql failed: {result.stderr}")
        return result.stdout

    def create_database(self, prefix: str = "tg") -> str:
        """A new empty database; returns its name."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        self.psql("postgres", f"CREATE DATABASE {name}")
        return name

    def stop(self, timeout: float = 30) -> int | None:
        """Fast shutdown by PID (SIGINT); SIGKILL after TIMEOUT. Returns the exit code."""
        process = self.process
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        return process.returncode


_shared: PostgresServer | None = None


def shared_server() -> PostgresServer:
    """The session's server for TOKENGATE_TEST_STORE=postgres, started on first use."""
    global _shared
    if _shared is None:
        _shared = PostgresServer(Path(tempfile.mkdtemp(prefix="tg-pg-", dir="/tmp"))).start()
    return _shared


def stop_shared_server() -> None:
    global _shared
    if _shared is not None:
        _shared.stop()
        shutil.rmtree(_shared.root, ignore_errors=True)
        _shared = None


def store_environment(server: PostgresServer, database: str) -> dict[str, str]:
    """The TOKENGATE_* settings that put a stack on DATABASE (plain TCP on loopback)."""
    return {"TOKENGATE_STORAGE_URL": server.url(database), "TOKENGATE_STORAGE_TLS": "disable"}
