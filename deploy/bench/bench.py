#!/usr/bin/env python3
"""tokengate benchmarks through a real nginx on loopback HTTP.

Cases (interleaved, `--repeat` rounds, medians reported):
  return204      nginx answers `return 204` itself (the ceiling)
  gated-nginx    auth_request to an internal `return 204` location (nginx's own gate cost)
  healthz        GET /auth/healthz through FastCGI to tokengate
  gated          auth_request to tokengate /verify, one session's token reused (realistic)
  login          POST /auth/login, correct password (Argon2id m=19456,t=2,p=1 unless overridden)
  refresh        POST /auth/refresh rotation chains (Python client threads, one chain each)

Machine-dependent figures: compare ratios within one run, never absolute numbers across runs.
"""
from __future__ import annotations

import argparse
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_tools() -> None:
    missing = [tool for tool in ("wrk", "nginx") if not shutil.which(tool) and not Path("/usr/sbin/" + tool).exists()]
    if missing:
        print(f"installing {' '.join(missing)} …", flush=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True)


def build() -> Path:
    subprocess.run(["swift", "build", "-c", "release", "--product", "tokengate"], cwd=REPO, check=True)
    return REPO / ".build" / "release" / "tokengate"


class Stack:
    def __init__(self, binary: Path, workers: int):
        self.binary = binary
        self.root = Path(tempfile.mkdtemp(prefix="tgbench-", dir="/tmp"))
        self.port = free_port()
        self.socket = self.root / "tg.sock"
        self.env = dict(os.environ, TOKENGATE_STORAGE_DIRECTORY=str(self.root / "data"),
                        TOKENGATE_FASTCGI_LISTEN=f"unix:{self.socket}",
                        TOKENGATE_FASTCGI_WORKERS=str(workers),
                        TOKENGATE_CONFIG=str(self.root / "empty.conf"),
                        TOKENGATE_THROTTLE_ADDRESS_LIMIT="1000000")
        (self.root / "empty.conf").write_text("")
        (self.root / "ok.txt").write_text("ok\n")
        (self.root / "tokengate").symlink_to(REPO / "deploy" / "nginx")
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.root / name).mkdir()
        template = (REPO / "deploy" / "bench" / "nginx-bench.conf.template").read_text()
        config = (template.replace("@PREFIX@", str(self.root)).replace("@PORT@", str(self.port))
                  .replace("@SOCKET@", str(self.socket))
                  .replace("@USER@", "user root;" if os.geteuid() == 0 else ""))
        (self.root / "nginx.conf").write_text(config)
        self.processes: list[subprocess.Popen] = []

    def start(self) -> None:
        self.tokengate = subprocess.Popen([str(self.binary), "serve"], env=self.env,
                                          stderr=open(self.root / "tokengate.log", "w"))
        self.processes.append(self.tokengate)
        deadline = time.time() + 30
        while not self.socket.exists():
            if time.time() > deadline or self.tokengate.poll() is not None:
                raise SystemExit("tokengate did not start: " + (self.root / "tokengate.log").read_text()[-2000:])
            time.sleep(0.05)
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        self.nginx = subprocess.Popen([nginx, "-p", str(self.root), "-c", str(self.root / "nginx.conf")])
        self.processes.append(self.nginx)
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                break
            except OSError:
                if time.time() > deadline:
                    raise SystemExit("nginx did not start")
                time.sleep(0.05)

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

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(self.root, ignore_errors=True)


def cpu_seconds(pid: int) -> float:
    """CPU time of PID and its child processes (nginx's workers), in seconds."""
    total = 0.0
    children = Path(f"/proc/{pid}/task/{pid}/children")
    pids = [pid] + [int(p) for p in children.read_text().split()] if children.exists() else [pid]
    for each in pids:
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def run_wrk(url: str, duration: int, connections: int, headers: list[str], script: Path | None, pids: list[int]):
    command = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency"]
    for header in headers:
        command += ["-H", header]
    if script:
        command += ["-s", str(script)]
    command.append(url)
    before = sum(cpu_seconds(pid) for pid in pids)
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    cpu = sum(cpu_seconds(pid) for pid in pids) - before
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    total = int(re.search(r"(\d+) requests in", output).group(1))

    def latency(label: str) -> float:
        match = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", output)
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: (.*)", output)
    return {"rps": rps, "p50": latency("50"), "p99": latency("99"), "cpu_us": cpu / max(total, 1) * 1e6,
            "non2xx": int(non2xx.group(1)) if non2xx else 0, "errors": errors.group(1) if errors else ""}


def refresh_chains(stack: Stack, threads: int, duration: float, password: str) -> dict:
    """Each thread logs in once, then rotates its own refresh token as fast as it can."""
    counts, failures, latencies = [0] * threads, [0] * threads, [[] for _ in range(threads)]
    start_barrier = threading.Barrier(threads + 1)

    def chain(index: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=30)
        body = json.dumps({"username": "bench", "password": password}).encode()
        cookie = None
        for _ in range(50):  # a login can meet a full hashing queue (503): wait and retry
            connection.request("POST", "/auth/login", body=body, headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
            cookie = next((v.split(";")[0] for k, v in response.getheaders()
                           if k.lower() == "set-cookie" and v.startswith("__Secure-refresh=")), None)
            if cookie:
                break
            time.sleep(0.2)
        try:
            start_barrier.wait(timeout=60)
        except threading.BrokenBarrierError:
            return
        if cookie is None:
            failures[index] += 1
            return
        stop_at = time.time() + duration
        while time.time() < stop_at:
            began = time.perf_counter()
            connection.request("POST", "/auth/refresh", headers={"Cookie": cookie})
            response = connection.getresponse()
            response.read()
            latencies[index].append((time.perf_counter() - began) * 1000)
            if response.status != 200:
                failures[index] += 1
                continue
            counts[index] += 1
            cookie = next((v.split(";")[0] for k, v in response.getheaders()
                           if k.lower() == "set-cookie" and v.startswith("__Secure-refresh=")), cookie)

    workers = [threading.Thread(target=chain, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    start_barrier.wait(timeout=60)
    began = time.time()
    for worker in workers:
        worker.join()
    elapsed = time.time() - began
    merged = sorted(x for chunk in latencies for x in chunk)
    return {"rps": sum(counts) / elapsed, "p50": merged[len(merged) // 2] if merged else 0,
            "p99": merged[int(len(merged) * 0.99)] if merged else 0, "failures": sum(failures)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--skip-build", action="store_true")
    arguments = parser.parse_args()

    ensure_tools()
    binary = REPO / ".build" / "release" / "tokengate" if arguments.skip_build else build()
    stack = Stack(binary, arguments.workers)
    try:
        password = "bench-password-123"
        stack.cli("user", "add", "bench", "--password-stdin", stdin=password + "\n")
        stack.start()
        response, data = stack.request("POST", "/auth/login", json.dumps({"username": "bench", "password": password}).encode(),
                                       {"Content-Type": "application/json"})
        assert response.status == 200, data
        token = json.loads(data)["accessToken"]
        login_script = stack.root / "login.lua"
        login_script.write_text(
            'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
            f'wrk.body = \'{{"username":"bench","password":"{password}"}}\'\n')
        base = f"http://127.0.0.1:{stack.port}"
        bearer = [f"Authorization: Bearer {token}"]
        cases = {
            "return204": (base + "/bench/return204", [], None),
            "gated-nginx": (base + "/bench/gated-nginx", [], None),
            "healthz": (base + "/auth/healthz", [], None),
            "gated": (base + "/bench/gated", bearer, None),
            "login": (base + "/auth/login", [], login_script),
        }
        pids = [stack.tokengate.pid, stack.nginx.pid]
        results: dict[str, list[dict]] = {name: [] for name in cases}
        results["refresh"] = []
        for round_number in range(arguments.repeat):
            for name, (url, headers, script) in cases.items():
                connections = 4 if name == "login" else arguments.connections
                results[name].append(run_wrk(url, arguments.duration, connections, headers, script, pids))
            results["refresh"].append(refresh_chains(stack, 8, arguments.duration, password))
            print(f"round {round_number + 1}/{arguments.repeat} done", file=sys.stderr, flush=True)

        def median(name: str, key: str) -> float:
            return statistics.median(r[key] for r in results[name])

        print(f"\nwrk -t1 -c{arguments.connections} -d{arguments.duration}s (login: -c4), loopback HTTP, "
              f"{arguments.repeat} interleaved rounds, medians; tokengate workers={arguments.workers}")
        print(f"{'case':<12} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'CPU µs/req':>11} {'vs return204':>13}")
        ceiling = median("return204", "rps")
        for name in list(cases) + ["refresh"]:
            cpu = f"{median(name, 'cpu_us'):.1f}" if "cpu_us" in results[name][0] else "-"
            print(f"{name:<12} {median(name, 'rps'):>10.0f} {median(name, 'p50'):>8.2f} {median(name, 'p99'):>8.2f} "
                  f"{cpu:>11} {median(name, 'rps') / ceiling:>12.2f}x")
        bad = {name: sum(r.get("non2xx", 0) + r.get("failures", 0) for r in runs) for name, runs in results.items()}
        print("non-2xx/failed responses:", ", ".join(f"{k}={v}" for k, v in bad.items()))
        print(f"gated / gated-nginx = {median('gated', 'rps') / median('gated-nginx', 'rps'):.2f}")
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
