#!/usr/bin/env python3
"""tokengate benchmarks through a real nginx on loopback HTTP, against baselines built here.

Cases (report.CASES) run interleaved, `--repeat` rounds, medians reported. Then: tokengate is
driven to at least `--memory-requests` requests and its RSS read from /proc; start-up is timed
from exec to the first answered FastCGI request; `--soak` adds 10 minutes at half the gated
peak with RSS sampled every 10 s. Prints the table and the goals of issue #9 (met or not) and
writes results.json, table.txt and benchmarks.png into `--output`.

Machine-dependent figures: compare ratios within one run, never absolute numbers across runs.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import measure  # noqa: E402
import report  # noqa: E402
from stack import REPO, WORK, Stack, build_baselines, measure_startup  # noqa: E402

PASSWORD = "bench-password-123"
#: Distinct tokens for the new-token cases; more than the verified-token cache holds (10,000
#: by default), which empties itself when full, so a token coming round again is never a hit.
TOKEN_COUNT = 60_000


def build(skip: bool) -> Path:
    if not skip:
        subprocess.run(["swift", "build", "-c", "release", "--product", "tokengate"], cwd=REPO, check=True)
    return REPO / ".build" / "release" / "tokengate"


def login(stack: Stack) -> str:
    response, data = stack.request("POST", "/auth/login", json.dumps({"username": "bench", "password": PASSWORD}).encode(),
                                   {"Content-Type": "application/json"})
    assert response.status == 200, data
    return json.loads(data)["accessToken"]


def check_cases(stack: Stack, token: str, other: str) -> None:
    """Every gate answers 200 with a valid token and 401 without one or with a forged one, so the
    benchmark never measures a path that lets everything through."""
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    for path in ("/bench/gated", "/bench/gated-cached", "/bench/c-ed25519", "/bench/python"):
        for credential, expected in ((token, 200), (other, 200), (None, 401), (forged, 401)):
            headers = {"Authorization": f"Bearer {credential}"} if credential else {}
            response, _ = stack.request("GET", path, headers=headers)
            if response.status != expected:
                raise SystemExit(f"{path} answered {response.status} instead of {expected} "
                                 f"({'no token' if not credential else 'forged' if credential == forged else 'token'})")


def run_cases(stack: Stack, arguments, token: str, tokens: Path) -> tuple[dict, int]:
    base = f"http://127.0.0.1:{stack.port}"
    bearer = (f"Authorization: Bearer {token}",)
    script = Path(__file__).resolve().parent / "tokens.lua"
    login_script = stack.root / "login.lua"
    login_script.write_text('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                            f'wrk.body = \'{{"username":"bench","password":"{PASSWORD}"}}\'\n')
    pids = stack.pids()
    c = arguments.connections
    d = arguments.duration
    next_token = {"gated-new": 1}  # tokengate must meet each token once; the baselines cache nothing

    def wrk(path: str, connections: int = c, headers=(), run_script=None, args=()):
        return lambda: measure.run_wrk(base + path, d, connections, pids, headers, run_script, args)

    def fresh(case: str, path: str):
        def run():
            first = next_token.get(case, 1)
            result = measure.run_wrk(base + path, d, c, pids, (), script, (str(tokens), str(first)))
            if case in next_token:
                next_token[case] = (first + result["requests"] - 1) % TOKEN_COUNT + 1
            return result
        return run

    login_load = wrk("/auth/login", 4, run_script=login_script)
    cases = {
        "return204": wrk("/bench/return204"),
        "gated-nginx": wrk("/bench/gated-nginx"),
        "fcgi-null": wrk("/bench/fcgi-null"),
        "c-ed25519": wrk("/bench/c-ed25519", headers=bearer),
        "c-ed25519-new": fresh("c-ed25519-new", "/bench/c-ed25519"),
        "python": wrk("/bench/python", headers=bearer),
        "python-new": fresh("python-new", "/bench/python"),
        "gated": wrk("/bench/gated", headers=bearer),
        "gated-new": fresh("gated-new", "/bench/gated"),
        "gated-cached": wrk("/bench/gated-cached", headers=bearer),
        "healthz": wrk("/auth/healthz"),
        "login": login_load,
        "gated-under-login": lambda: measure.run_concurrently(wrk("/bench/gated", headers=bearer), login_load),
        "refresh": lambda: measure.refresh_chains(stack.port, 8, d, PASSWORD),
    }
    only = set(arguments.cases.split(",")) if arguments.cases else set(cases)
    results: dict[str, list[dict]] = {name: [] for name in cases if name in only}
    served = 0  # requests that reached tokengate
    for round_number in range(arguments.repeat):
        for name, run in cases.items():
            if name not in only:
                continue
            result = run()
            results[name].append(result)
            if name.startswith(("gated", "healthz", "login", "refresh")) and name != "gated-cached":
                served += result["requests"] + (result.get("background") or {}).get("requests", 0)
        print(f"round {round_number + 1}/{arguments.repeat} done", file=sys.stderr, flush=True)
    return results, served


def memory_after(stack: Stack, arguments, token: str, served: int) -> dict:
    """Tops tokengate up to --memory-requests gated requests, then reads its RSS."""
    url = f"http://127.0.0.1:{stack.port}/bench/gated"
    pid = stack.processes["tokengate"].pid
    while served < arguments.memory_requests:
        result = measure.run_wrk(url, 20, arguments.connections, stack.pids(), (f"Authorization: Bearer {token}",))
        served += result["requests"]
        print(f"memory: {served} requests served", file=sys.stderr, flush=True)
    memory = measure.memory_kib(pid)
    return {"rss_kib": memory["VmRSS"], "hwm_kib": memory["VmHWM"], "memory_requests": served}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=5, help="seconds per case and round (default 5)")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=0, help="tokengate FastCGI workers (0 = its default)")
    parser.add_argument("--cases", default="", help="comma-separated subset of the cases")
    parser.add_argument("--memory-requests", type=int, default=1_000_000,
                        help="requests tokengate serves before its RSS is read (0 = skip)")
    parser.add_argument("--startup-runs", type=int, default=7)
    parser.add_argument("--soak", action="store_true", help="also 10 min at half the gated peak, RSS every 10 s")
    parser.add_argument("--soak-minutes", type=float, default=10)
    parser.add_argument("--binary", type=Path, help="a tokengate binary to use instead of building one")
    parser.add_argument("--skip-build", action="store_true", help="use .build/release/tokengate as it is")
    parser.add_argument("--output", type=Path, default=WORK / "results", help="results.json, table.txt, benchmarks.png")
    parser.add_argument("--chart", type=Path, help="also copy the chart here (e.g. docs/benchmarks.png)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs)")
    arguments = parser.parse_args()

    began = time.time()
    binary = arguments.binary or build(arguments.skip_build)
    stack = Stack(binary, arguments.workers, build_baselines(), sys.executable)
    try:
        stack.cli("user", "add", "bench", "--password-stdin", stdin=PASSWORD + "\n")
        stack.start()
        token = login(stack)
        tokens = stack.root / "tokens.txt"
        stack.mint_tokens(token, TOKEN_COUNT, tokens)
        check_cases(stack, token, tokens.read_text().split("\n", 1)[0])
        rss_start_kib = measure.memory_kib(stack.processes["tokengate"].pid)["VmRSS"]
        results, served = run_cases(stack, arguments, token, tokens)
        argon2 = {"memory": 19456, "iterations": 2, "parallelism": 1}
        extra = {"cores": os.cpu_count() or 1, "rss_start_kib": rss_start_kib, "argon2": "{memory} KiB, t={iterations}, p={parallelism}".format(**argon2),
                 "argon2id_ms": measure.argon2id_hash_ms(argon2["memory"], argon2["iterations"], argon2["parallelism"])}
        if arguments.memory_requests:
            extra.update(memory_after(stack, arguments, token, served))
        if arguments.soak:
            peak = report.median(results, "gated", "rps") or 5000
            extra["soak"] = measure.soak(f"http://127.0.0.1:{stack.port}/bench/gated", stack.processes["tokengate"].pid,
                                         stack.pids(), peak / 2, arguments.soak_minutes, f"Authorization: Bearer {token}",
                                         stack.root)
            extra["soak"]["minutes"] = arguments.soak_minutes
            memory = measure.memory_kib(stack.processes["tokengate"].pid)
            extra.update(rss_after_soak_kib=memory["VmRSS"])
        if arguments.startup_runs:
            runs = measure_startup(binary, stack.env, stack.root, arguments.startup_runs)
            extra.update(startup_runs=runs, startup_ms=sorted(runs)[len(runs) // 2])
        extra["binary"] = str(binary)
        extra["elapsed_s"] = round(time.time() - began)
        text = report.table(results, arguments, extra)
        print("\n" + text)
        report.write_outputs(results, arguments, extra, arguments.output)
        if arguments.chart and arguments.chart.resolve() != (arguments.output / "benchmarks.png").resolve():
            shutil.copyfile(arguments.output / "benchmarks.png", arguments.chart)
        print(f"\nwrote {arguments.output}/results.json, table.txt, benchmarks.png in {extra['elapsed_s']} s")
    finally:
        stack.stop(keep=arguments.keep)
        if arguments.keep:
            print(f"kept {stack.root}", file=sys.stderr)


if __name__ == "__main__":
    main()
