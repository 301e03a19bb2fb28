#!/usr/bin/env python3
"""Scale-out figures (issue #7): refreshes/s and gated requests/s for

  sqlite-1   one tokengate node on the embedded SQLite store
  pg-1       one node on PostgreSQL
  pg-2       two nodes on the same PostgreSQL, both in one nginx FastCGI upstream

all through one nginx on loopback HTTP, on this machine, in one run (interleaved rounds, medians).
PostgreSQL is a private throw-away server (initdb into a temporary directory, fsync on,
synchronous_commit on: as durable as SQLite's synchronous=FULL), stopped by PID at the end.

  refresh   POST /auth/refresh rotation chains: Python client threads, one chain each
  gated     GET /bench/gated (auth_request to /verify, then a static file), wrk, one token

Every node runs on the same cores: two nodes here share the machine that one node had, so pg-2
shows the cost of the extra node and the shared store, not the gain of a second machine.
"""
from __future__ import annotations

import argparse
import glob
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "bench-password-123"
REFRESH_COOKIE = "__Secure-refresh="


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.time() + timeout
    while not predicate():
        if time.time() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.05)


def stop(process: subprocess.Popen | None, sig: int = signal.SIGTERM) -> None:
    if process is not None and process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Postgres:
    """initdb + postgres on a free port, as the `postgres` account when we are root."""

    def __init__(self, root: Path):
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
        if not bins:
            raise SystemExit("PostgreSQL is not installed (apt-get install postgresql)")
        self.bin = Path(bins[0])
        self.root = root
        self.port = free_port()
        self.as_user = {"user": "postgres", "group": "postgres", "extra_groups": []} if os.geteuid() == 0 else {}
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        if self.as_user:  # ROOT comes from mkdtemp (0700): the server's account must own it
            shutil.chown(self.root, "postgres", "postgres")
        subprocess.run([str(self.bin / "initdb"), "-D", str(self.root / "data"), "-U", "tokengate", "--auth=trust",
                        "-E", "UTF8", "--no-instructions"], check=True, capture_output=True, cwd=self.root,
                       **self.as_user)
        log = open(self.root / "postgres.log", "ab")
        self.process = subprocess.Popen(
            [str(self.bin / "postgres"), "-D", str(self.root / "data"), "-p", str(self.port),
             "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.root}",
             "-c", "fsync=on", "-c", "synchronous_commit=on", "-c", "max_connections=100"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=self.root, **self.as_user)
        wait_until(lambda: subprocess.run(["psql", self.url("postgres"), "-Atc", "SELECT 1"],
                                          capture_output=True).returncode == 0, 30, "PostgreSQL")

    def url(self, database: str) -> str:
        return f"postgres://tokengate@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        subprocess.run(["psql", self.url("postgres"), "-c", f"CREATE DATABASE {name}"], check=True,
                       capture_output=True)
        return self.url(name)

    def stop(self) -> None:
        stop(self.process, signal.SIGINT)


class Setup:
    """nginx on a free port with NODES tokengate processes in its upstream, sharing one store."""

    def __init__(self, name: str, binary: Path, nodes: int, workers: int, storage_url: str | None):
        self.name = name
        self.root = Path(tempfile.mkdtemp(prefix=f"tgscale-{name}-", dir="/tmp"))
        self.port = free_port()
        self.binary = binary
        self.sockets = [self.root / f"node{i}.sock" for i in range(nodes)]
        (self.root / "empty.conf").write_text("")
        (self.root / "ok.txt").write_text("ok\n")
        (self.root / "tokengate").symlink_to(REPO / "deploy" / "nginx")
        for directory in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.root / directory).mkdir()
        self.envs = []
        for i, sock in enumerate(self.sockets):
            env = dict(os.environ, TOKENGATE_CONFIG=str(self.root / "empty.conf"),
                       TOKENGATE_STORAGE_DIRECTORY=str(self.root / f"data{i}"),
                       TOKENGATE_FASTCGI_LISTEN=f"unix:{sock}", TOKENGATE_FASTCGI_WORKERS=str(workers),
                       TOKENGATE_THROTTLE_ADDRESS_LIMIT="1000000", TOKENGATE_LOGGING_LEVEL="warning")
            if storage_url:
                env.update(TOKENGATE_STORAGE_URL=storage_url, TOKENGATE_STORAGE_TLS="disable",
                           TOKENGATE_STORAGE_POOL_SIZE=str(max(4, workers // 2)))
            self.envs.append(env)
        servers = "\n".join(f"        server unix:{sock};" for sock in self.sockets)
        template = (REPO / "deploy" / "bench" / "nginx-scaleout.conf.template").read_text()
        (self.root / "nginx.conf").write_text(
            template.replace("@PREFIX@", str(self.root)).replace("@PORT@", str(self.port))
            .replace("@SERVERS@", servers).replace("@USER@", "user root;" if os.geteuid() == 0 else ""))
        self.processes: list[subprocess.Popen] = []

    def cli(self, *args: str, stdin: str | None = None) -> None:
        subprocess.run([str(self.binary), *args], env=self.envs[0], input=stdin, text=True, capture_output=True,
                       check=True)

    def start(self) -> None:
        self.cli("user", "add", "bench", "--password-stdin", stdin=PASSWORD + "\n")
        for i, (env, sock) in enumerate(zip(self.envs, self.sockets)):
            if i > 0:  # every node signs with node 0's keys (docs/scale-out.md)
                shutil.copytree(self.root / "data0" / "keys", self.root / f"data{i}" / "keys")
            process = subprocess.Popen([str(self.binary), "serve"], env=env, stdin=subprocess.DEVNULL,
                                       stderr=open(self.root / f"node{i}.log", "w"))
            self.processes.append(process)
            wait_until(lambda: sock.exists() or process.poll() is not None, 60, f"node {i}")
            if process.poll() is not None:
                raise SystemExit((self.root / f"node{i}.log").read_text()[-2000:])
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        self.processes.append(subprocess.Popen([nginx, "-p", str(self.root), "-c", str(self.root / "nginx.conf")],
                                               stdin=subprocess.DEVNULL))

        def listening() -> bool:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return True
            except OSError:
                return False

        wait_until(listening, 30, "nginx")

    def login(self) -> tuple[str, str]:
        """(access token, refresh cookie) of a new session."""
        body = json.dumps({"username": "bench", "password": PASSWORD}).encode()
        for _ in range(50):
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            connection.request("POST", "/auth/login", body=body, headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            data = response.read()
            connection.close()
            if response.status == 200:
                cookie = next(v.split(";")[0] for k, v in response.getheaders()
                              if k.lower() == "set-cookie" and v.startswith(REFRESH_COOKIE))
                return json.loads(data)["accessToken"], cookie
            time.sleep(0.2)
        raise SystemExit(f"{self.name}: login keeps failing: {response.status} {data[:200]!r}")

    def stop(self) -> None:
        for process in reversed(self.processes):
            stop(process)
        shutil.rmtree(self.root, ignore_errors=True)


def gated(setup: Setup, token: str, duration: int, connections: int) -> dict:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency",
               "-H", f"Authorization: Bearer {token}", f"http://127.0.0.1:{setup.port}/bench/gated"]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: (.*)", output)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
            "failed": (int(non2xx.group(1)) if non2xx else 0) + (1 if errors else 0)}


def refreshes(setup: Setup, threads: int, duration: float) -> dict:
    """THREADS rotation chains, each on its own session and keep-alive connection."""
    cookies = [setup.login()[1] for _ in range(threads)]
    counts, failures = [0] * threads, [0] * threads
    barrier = threading.Barrier(threads + 1)

    def chain(index: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", setup.port, timeout=30)
        cookie = cookies[index]
        barrier.wait()
        stop_at = time.time() + duration
        while time.time() < stop_at:
            connection.request("POST", "/auth/refresh", headers={"Cookie": cookie})
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                failures[index] += 1
                return
            counts[index] += 1
            cookie = next(v.split(";")[0] for k, v in response.getheaders()
                          if k.lower() == "set-cookie" and v.startswith(REFRESH_COOKIE))

    workers = [threading.Thread(target=chain, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    barrier.wait()
    began = time.time()
    for worker in workers:
        worker.join()
    return {"rps": sum(counts) / (time.time() - began), "failed": sum(failures)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32, help="wrk connections for the gated case")
    parser.add_argument("--threads", type=int, default=8, help="refresh chains")
    parser.add_argument("--workers", type=int, default=16, help="fastcgi.workers per node")
    parser.add_argument("--binary", type=Path, default=REPO / ".build" / "release" / "tokengate")
    arguments = parser.parse_args()
    if not arguments.binary.exists():
        raise SystemExit(f"{arguments.binary} is missing: swift build -c release --product tokengate")
    for tool in ("wrk", "psql"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is missing (apt-get install wrk postgresql)")

    postgres = Postgres(Path(tempfile.mkdtemp(prefix="tgscale-pg-", dir="/tmp")))
    setups: list[Setup] = []
    try:
        postgres.start()
        setups = [
            Setup("sqlite-1", arguments.binary, 1, arguments.workers, None),
            Setup("pg-1", arguments.binary, 1, arguments.workers, postgres.create_database("bench_one")),
            Setup("pg-2", arguments.binary, 2, arguments.workers, postgres.create_database("bench_two")),
        ]
        for setup in setups:
            setup.start()
        tokens = {setup.name: setup.login()[0] for setup in setups}
        results = {setup.name: {"refresh": [], "gated": []} for setup in setups}
        for round_number in range(arguments.repeat):
            for setup in setups:
                results[setup.name]["refresh"].append(refreshes(setup, arguments.threads, arguments.duration))
                results[setup.name]["gated"].append(
                    gated(setup, tokens[setup.name], arguments.duration, arguments.connections))
            print(f"round {round_number + 1}/{arguments.repeat} done", file=sys.stderr, flush=True)
    finally:
        for setup in setups:
            setup.stop()
        postgres.stop()
        shutil.rmtree(postgres.root, ignore_errors=True)

    print(f"\n{os.cpu_count()} cores; {arguments.repeat} interleaved rounds of {arguments.duration}s, medians; "
          f"refresh: {arguments.threads} chains; gated: wrk -t2 -c{arguments.connections}; "
          f"fastcgi.workers={arguments.workers} per node")
    print(f"| {'setup':<9} | {'refreshes/s':>11} | {'gated req/s':>11} | {'failed':>6} |")
    print(f"|{'-' * 11}|{'-' * 12}:|{'-' * 12}:|{'-' * 7}:|")
    for name, cases in results.items():
        refresh = statistics.median(r["rps"] for r in cases["refresh"])
        gate = statistics.median(r["rps"] for r in cases["gated"])
        failed = sum(r["failed"] for runs in cases.values() for r in runs)
        print(f"| {name:<9} | {refresh:>11.0f} | {gate:>11.0f} | {failed:>6} |")


if __name__ == "__main__":
    main()
