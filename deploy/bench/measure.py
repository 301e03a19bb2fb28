"""Measurements: wrk runs with CPU time per request, refresh chains, Argon2id's own cost, and
tokengate's resident memory."""
from __future__ import annotations

import ctypes
import ctypes.util
import http.client
import json
import os
import re
import statistics
import subprocess
import threading
import time
from pathlib import Path


def cpu_seconds(pid: int) -> float:
    """CPU time of PID and its child processes (nginx's and gunicorn's workers), in seconds."""
    total = 0.0
    children = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        pids = [pid] + [int(p) for p in children.read_text().split()]
    except OSError:
        pids = [pid]
    for each in pids:
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def run_wrk(url: str, duration: float, connections: int, pids: list[int], headers: tuple[str, ...] = (),
            script: Path | None = None, script_args: tuple[str, ...] = ()) -> dict:
    """One wrk run (-t1); req/s, p50/p99 in ms, server-side CPU µs per request, failures."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{duration:g}s", "--latency", "--timeout", "10s"]
    for header in headers:
        command += ["-H", header]
    if script:
        command += ["-s", str(script)]
    command.append(url)
    if script_args:
        command += ["--", *script_args]
    before = sum(cpu_seconds(pid) for pid in pids)
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    cpu = sum(cpu_seconds(pid) for pid in pids) - before
    total = int(re.search(r"(\d+) requests in", output).group(1))

    def latency(label: str) -> float:
        match = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", output)
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)), "requests": total,
            "p50": latency("50"), "p99": latency("99"), "cpu_us": cpu / max(total, 1) * 1e6,
            "failures": (int(non2xx.group(1)) if non2xx else 0) + (sum(map(int, errors.groups())) if errors else 0)}


def run_concurrently(primary, background) -> dict:
    """Runs BACKGROUND (a callable) in a thread while PRIMARY runs; returns PRIMARY's result
    with the background's under "background"."""
    holder: dict = {}
    thread = threading.Thread(target=lambda: holder.setdefault("result", background()))
    thread.start()
    time.sleep(0.5)  # let the background load build up first
    result = primary()
    thread.join()
    result["background"] = holder.get("result")
    return result


def refresh_chains(port: int, threads: int, duration: float, password: str) -> dict:
    """Each thread logs in once, then rotates its own refresh token as fast as it can."""
    counts, failures, latencies = [0] * threads, [0] * threads, [[] for _ in range(threads)]
    barrier = threading.Barrier(threads + 1)

    def refresh_cookie(response) -> str | None:
        return next((v.split(";")[0] for k, v in response.getheaders()
                     if k.lower() == "set-cookie" and v.startswith("__Secure-refresh=")), None)

    def chain(index: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        body = json.dumps({"username": "bench", "password": password}).encode()
        cookie = None
        for _ in range(50):  # a login can meet a full hashing queue (503): wait and retry
            connection.request("POST", "/auth/login", body=body, headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
            cookie = refresh_cookie(response)
            if cookie:
                break
            time.sleep(0.2)
        try:
            barrier.wait(timeout=60)
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
            cookie = refresh_cookie(response) or cookie

    workers = [threading.Thread(target=chain, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    barrier.wait(timeout=60)
    began = time.time()
    for worker in workers:
        worker.join()
    elapsed = time.time() - began
    merged = sorted(x for chunk in latencies for x in chunk)
    return {"rps": sum(counts) / elapsed, "requests": sum(counts),
            "p50": merged[len(merged) // 2] if merged else 0,
            "p99": merged[int(len(merged) * 0.99)] if merged else 0, "failures": sum(failures)}


def argon2id_hash_ms(memory_kib: int, iterations: int, parallelism: int, runs: int = 15) -> float:
    """Median time of one Argon2id hash through the same libargon2 tokengate links (ctypes)."""
    library = ctypes.CDLL(ctypes.util.find_library("argon2") or "libargon2.so.1")
    size = ctypes.c_size_t
    library.argon2id_hash_raw.argtypes = [ctypes.c_uint32] * 3 + [ctypes.c_char_p, size, ctypes.c_char_p, size,
                                                                  ctypes.c_char_p, size]
    library.argon2id_hash_raw.restype = ctypes.c_int
    password, salt, output = b"bench-password-123", os.urandom(16), ctypes.create_string_buffer(32)
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        code = library.argon2id_hash_raw(iterations, memory_kib, parallelism, password, len(password), salt,
                                         len(salt), output, 32)
        times.append((time.perf_counter() - began) * 1000)
        if code != 0:
            raise SystemExit(f"argon2id_hash_raw failed: {code}")
    return statistics.median(times)


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of PID in KiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0])
    return fields


def paced_script(directory: Path, connections: int, rate: float, header: str) -> Path:
    """A wrk script that holds about RATE requests/s over CONNECTIONS connections (wrk's delay())."""
    script = directory / "paced.lua"
    name, _, value = header.partition(": ")
    script.write_text(f'wrk.headers["{name}"] = "{value}"\n'
                      f"function delay() return {1000.0 * connections / rate:.3f} end\n")
    return script


def soak(url: str, pid: int, pids: list[int], rate: float, minutes: float, header: str, directory: Path) -> dict:
    """MINUTES of about RATE gated requests/s, sampling tokengate's RSS every 10 s."""
    connections = 16
    script = paced_script(directory, connections, rate, header)
    samples: list[tuple[float, int]] = []
    done = threading.Event()

    def sample() -> None:
        began = time.time()
        while not done.wait(10):
            samples.append((time.time() - began, memory_kib(pid)["VmRSS"]))

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        result = run_wrk(url, minutes * 60, connections, pids, script=script)
    finally:
        done.set()
        sampler.join()
    settled = [rss for t, rss in samples if t >= 60] or [rss for _, rss in samples]
    growth = (settled[-1] - settled[0]) / settled[0] if settled else 0.0
    return {"rate": result["rps"], "requests": result["requests"], "samples": samples,
            "first_kib": settled[0] if settled else 0, "last_kib": settled[-1] if settled else 0,
            "max_kib": max(settled) if settled else 0, "growth": growth, "failures": result["failures"]}
