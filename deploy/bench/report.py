"""The benchmark's output: the table of cases, the goals of issue #9 (met or not), results.json
and a chart (PNG, matplotlib)."""
from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path

#: Case name → what it measures (printed under the table and in docs/benchmarks.md).
CASES = {
    "return204": "nginx `return 204` by itself (the ceiling)",
    "gated-nginx": "auth_request to an internal `return 204`",
    "fcgi-null": "auth_request over FastCGI to a do-nothing C libfcgi responder (the FastCGI floor)",
    "c-ed25519": "same, C responder verifying the Ed25519 JWT with libsodium, token reused",
    "c-ed25519-new": "same, a new token on every request",
    "python": "auth_request to gunicorn + Flask + PyJWT (EdDSA), token reused",
    "python-new": "same, a new token on every request",
    "gated": "auth_request to tokengate /verify (tokengate-gate.conf), token reused",
    "gated-new": "same, a new token on every request (the verified-token cache never hits)",
    "gated-cached": "opt-in tokengate-gate-cached.conf: nginx keeps /verify's 204 for ≤ 1 s",
    "healthz": "GET /auth/healthz over FastCGI (one SQLite read)",
    "login": "POST /auth/login, default Argon2id cost (wrk -c4)",
    "gated-under-login": "gated (token reused) while the login case saturates Argon2id",
    "refresh": "POST /auth/refresh rotation chains, durable SQLite commits (8 client threads)",
}


@dataclass
class Goal:
    number: str
    text: str
    value: float | None
    target: float
    higher_is_better: bool = True
    unit: str = "×"

    @property
    def met(self) -> bool | None:
        if self.value is None:
            return None
        return self.value >= self.target if self.higher_is_better else self.value <= self.target

    def row(self) -> str:
        verdict = {True: "met", False: "NOT met", None: "not measured"}[self.met]
        value = "-" if self.value is None else f"{self.value:.2f}{self.unit}"
        relation = "≥" if self.higher_is_better else "≤"
        return f"{self.number:<4} {self.text:<58} {value:>10} {relation} {self.target:g}{self.unit:<4} {verdict}"


def median(results: dict, case: str, key: str) -> float | None:
    values = [r[key] for r in results.get(case) or [] if key in r]
    return statistics.median(values) if values else None


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


def goals(results: dict, extra: dict) -> list[Goal]:
    m = lambda case, key="rps": median(results, case, key)  # noqa: E731
    ceiling = extra["cores"] / (extra["argon2id_ms"] / 1000) if extra.get("argon2id_ms") else None
    soak = extra.get("soak")
    return [
        Goal("1", "gated / fcgi-null (token reused)", ratio(m("gated"), m("fcgi-null")), 0.95),
        Goal("2", "gated-new / c-ed25519-new (new token each request)", ratio(m("gated-new"), m("c-ed25519-new")), 0.75),
        Goal("3a", "gated / python (token reused)", ratio(m("gated"), m("python")), 6),
        Goal("3b", "gated-new / python-new", ratio(m("gated-new"), m("python-new")), 3),
        Goal("3c", "p99 gated / p99 python", ratio(m("gated", "p99"), m("python", "p99")), 0.25, False),
        Goal("3d", "p99 gated-new / p99 python-new", ratio(m("gated-new", "p99"), m("python-new", "p99")), 0.25, False),
        Goal("4", "gated-cached / return204 (opt-in nginx cache)", ratio(m("gated-cached"), m("return204")), 0.7),
        Goal("5a", f"login / (cores ÷ one Argon2id hash = {ceiling or 0:.0f}/s)", ratio(m("login"), ceiling), 0.9),
        Goal("5b", "p99 gated-under-login / p99 gated", ratio(m("gated-under-login", "p99"), m("gated", "p99")), 3, False),
        Goal("6", "refresh / fcgi-null", ratio(m("refresh"), m("fcgi-null")), 0.25),
        Goal("7a", f"RSS MiB after {extra.get('memory_requests', 0) / 1e6:.2f}M requests (VmRSS)",
             extra["rss_kib"] / 1024 if extra.get("rss_kib") else None, 48, False, " MiB"),
        Goal("7b", "start-up to first served request, median ms", extra.get("startup_ms"), 150, False, " ms"),
        Goal("7c", "soak RSS growth after the first minute (--soak)", soak["growth"] * 100 if soak else None, 5, False,
             " %"),
    ]


def table(results: dict, arguments, extra: dict) -> str:
    lines = [f"wrk -t1 -c{arguments.connections} -d{arguments.duration:g}s (login: -c4), loopback HTTP, "
             f"{arguments.repeat} interleaved round(s), medians; tokengate workers="
             f"{arguments.workers or 'default'}; {extra['cores']} cores",
             f"{'case':<18} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'CPU µs/req':>11} {'vs return204':>13} {'failed':>7}"]
    ceiling = median(results, "return204", "rps")
    for case in CASES:
        if not results.get(case):
            continue
        rps = median(results, case, "rps")
        cpu = median(results, case, "cpu_us") if "cpu_us" in results[case][0] else None
        failed = sum(r.get("failures", 0) for r in results[case])
        lines.append(f"{case:<18} {rps:>9.0f} {median(results, case, 'p50'):>8.2f} {median(results, case, 'p99'):>8.2f} "
                     f"{'-' if cpu is None else f'{cpu:.1f}':>11} "
                     f"{'-' if not ceiling else f'{rps / ceiling:.3f}x':>13} {failed:>7}")
    lines.append("")
    lines.append(f"Argon2id hash (libargon2, m={extra['argon2']}): {extra['argon2id_ms']:.1f} ms; "
                 f"start-up runs: {', '.join(f'{x:.0f}' for x in extra.get('startup_runs', []))} ms; "
                 f"RSS {extra.get('rss_start_kib', 0) / 1024:.1f} MiB after start, "
                 f"{extra.get('rss_kib', 0) / 1024:.1f} MiB (peak {extra.get('hwm_kib', 0) / 1024:.1f}) "
                 f"after {extra.get('memory_requests', 0)} requests")
    if extra.get("soak"):
        s = extra["soak"]
        lines.append(f"soak: {s['rate']:.0f} req/s for {s['minutes']} min, RSS {s['first_kib'] / 1024:.1f} → "
                     f"{s['last_kib'] / 1024:.1f} MiB (max {s['max_kib'] / 1024:.1f}), failures {s['failures']}")
    lines.append("")
    lines.append("goal (issue #9)" + " " * 48 + "value     target  verdict")
    lines += [goal.row() for goal in goals(results, extra)]
    return "\n".join(lines)


def write_outputs(results: dict, arguments, extra: dict, output: Path) -> None:
    output.mkdir(parents=True, exist_ok=True)
    summary = {"cases": {case: {key: median(results, case, key) for key in ("rps", "p50", "p99", "cpu_us")}
                         for case in CASES if results.get(case)},
               "runs": results, "extra": extra,
               "goals": [{"goal": g.number, "text": g.text, "value": g.value, "target": g.target, "met": g.met}
                         for g in goals(results, extra)]}
    (output / "results.json").write_text(json.dumps(summary, indent=2, default=str))
    (output / "table.txt").write_text(table(results, arguments, extra) + "\n")
    chart(results, extra, output / "benchmarks.png")


def chart(results: dict, extra: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cases = [c for c in CASES if results.get(c)]
    rps = [median(results, c, "rps") for c in cases]
    colours = ["#1f77b4" if c.startswith(("gated", "healthz", "login", "refresh")) else "#999999" for c in cases]
    figure, (left, right) = plt.subplots(1, 2, figsize=(13, 6), gridspec_kw={"width_ratios": [3, 2]})
    left.barh(cases[::-1], rps[::-1], color=colours[::-1])
    left.set_xscale("log")
    left.set_xlabel("requests/s (log scale; blue = tokengate, grey = baselines)")
    for y, value in enumerate(rps[::-1]):
        left.text(value, y, f" {value:,.0f}", va="center", fontsize=8)
    left.set_title("Throughput through nginx (wrk -t1, loopback)")
    listed = [g for g in goals(results, extra) if g.value is not None and g.unit == "×"]
    scores = [(g.value / g.target) if g.higher_is_better else (g.target / g.value if g.value else 0) for g in listed]
    right.barh([f"{g.number}" for g in listed][::-1], scores[::-1],
               color=["#2ca02c" if g.met else "#d62728" for g in listed][::-1])
    right.axvline(1.0, color="black", linewidth=1)
    right.set_xlabel("value ÷ target (≥ 1 = goal met)")
    right.set_title("Goals of issue #9 (ratios)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
