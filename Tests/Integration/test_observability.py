"""Observability: the monitoring artefacts (deploy/monitoring) against a real scrape, and secrets
never reaching a log, a CLI output or the database in clear.

- The alert rules, the Grafana dashboard, the scrape config and the Monitoring section of
  docs/operations.md name only metrics (and route/outcome label values) that a real
  /auth/metrics exposition has, once traffic has made every counter appear; rate() and
  increase() are used on counters and histograms only.
- The files load (YAML, JSON) and have the expected shape; with promtool installed, the rules,
  their unit tests (prometheus-alerts.test.yml), the scrape config and every dashboard query
  pass promtool as well.
- nginx-metrics.conf, the loopback listener the scrape config targets, works behind a real
  nginx: the exposition on /auth/metrics, nothing else, and only for 127.0.0.1.
- A full session flow (JSON and form logins, wrong and throttled passwords, Bearer and cookie
  use, refresh, reuse detection, logouts, the user CLI) leaves no password, access token,
  refresh token, cookie value or token signature in tokengate's log, nginx's logs, the demo
  upstream's log, the CLI outputs or the data directory (SQLite database and WAL).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import shutil
import socket
import subprocess
import urllib.parse
from pathlib import Path

import pytest
import requests

from harness import REPO, Stack, free_port, wait_for
from session_helpers import (
    ACCESS_COOKIE,
    REFRESH_COOKIE,
    client,
    cookie_header,
    gate,
    login,
    post_login,
    refresh,
    set_cookie_headers,
    set_cookies,
)

MONITORING = REPO / "deploy" / "monitoring"
ALERTS = MONITORING / "prometheus-alerts.yml"
ALERT_TESTS = MONITORING / "prometheus-alerts.test.yml"
SCRAPE = MONITORING / "prometheus-scrape.yml"
DASHBOARD = MONITORING / "grafana-dashboard.json"
NGINX_METRICS = MONITORING / "nginx-metrics.conf"
OPERATIONS = REPO / "docs" / "operations.md"

METRIC_NAME = re.compile(r"\btokengate_[a-z_]+")
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
#: Labels whose values are a small fixed set tokengate defines (route templates, outcomes).
CHECKED_LABELS = ("route", "outcome")


# --- the Prometheus text format ------------------------------------------------------------------

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\S+)?$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


class Exposition:
    """A parsed text exposition: family types, and samples as (name, labels, value)."""

    def __init__(self, text: str):
        self.types: dict[str, str] = {}
        self.samples: list[tuple[str, dict[str, str], float]] = []
        for line in text.splitlines():
            if not line.strip():
                continue
            if line.startswith("#"):
                parts = line.split()
                if len(parts) >= 4 and parts[1] == "TYPE":
                    self.types[parts[2]] = parts[3]
                continue
            match = _SAMPLE.match(line)
            assert match, f"not a sample line of the text format: {line!r}"
            name, labels, value = match.groups()
            self.samples.append((name, dict(_LABEL.findall(labels or "")), float(value)))

    def family(self, name: str) -> str:
        """The family of a sample or series name (a histogram's _bucket/_sum/_count → the histogram)."""
        if name in self.types:
            return name
        for suffix in HISTOGRAM_SUFFIXES:
            base = name[: -len(suffix)]
            if name.endswith(suffix) and self.types.get(base) in ("histogram", "summary"):
                return base
        return name

    @property
    def families(self) -> set[str]:
        return {self.family(name) for name, _, _ in self.samples}

    def label_values(self, label: str) -> set[str]:
        return {labels[label] for _, labels, _ in self.samples if label in labels}


def scrape(stack: Stack) -> Exposition:
    response = client(stack).get(stack.url("/auth/metrics"), timeout=30)
    assert response.status_code == 200, f"/auth/metrics: {response.status_code} {response.text[:300]}"
    assert response.headers.get("Content-Type", "").startswith("text/plain"), response.headers
    return Exposition(response.text)


# --- the artefacts -----------------------------------------------------------------------------

def artefact_files() -> list[Path]:
    return [ALERTS, ALERT_TESTS, SCRAPE, DASHBOARD]


def json_strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for key, item in value.items() for text in json_strings(key) + json_strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in json_strings(item)]
    return []


def artefact_text(path: Path) -> str:
    """The text of an artefact; a JSON file's strings decoded (its queries' quotes unescaped)."""
    if path.suffix == ".json":
        return "\n".join(json_strings(json.loads(path.read_text())))
    return path.read_text()


def monitoring_section() -> str:
    """The "Monitoring" section that closes docs/operations.md (empty if there is none)."""
    text = OPERATIONS.read_text() if OPERATIONS.exists() else ""
    match = re.search(r"^## Monitoring\s*$(.*?)(?=^## |\Z)", text, flags=re.MULTILINE | re.DOTALL)
    return match.group(1) if match else ""


def load_yaml(path: Path):
    yaml = pytest.importorskip("yaml")
    with open(path) as handle:
        return yaml.safe_load(handle)


def alert_rules() -> list[dict]:
    return [rule for group in load_yaml(ALERTS)["groups"] for rule in group["rules"]]


def dashboard_panels() -> list[dict]:
    """Every panel of the dashboard, rows' nested panels included."""
    found = []

    def walk(panels):
        for panel in panels:
            found.append(panel)
            walk(panel.get("panels", []))

    walk(json.loads(DASHBOARD.read_text())["panels"])
    return found


def dashboard_queries() -> list[str]:
    return [target["expr"] for panel in dashboard_panels() for target in panel.get("targets", [])]


def grafana_to_promql(expr: str) -> str:
    """A dashboard query with Grafana's variables replaced, for promtool."""
    return (expr.replace("$__rate_interval", "5m").replace("$__range", "1h").replace("$__interval", "1m")
            .replace("$instance", ".*"))


def label_matchers(text: str) -> list[tuple[str, str, str]]:
    """(label, operator, value) of every matcher on CHECKED_LABELS in TEXT."""
    pattern = r'\b(%s)\s*(=~|!~|!=|=)\s*"([^"]*)"' % "|".join(CHECKED_LABELS)
    return re.findall(pattern, text)


def test_alert_rules_load_and_are_complete():
    document = load_yaml(ALERTS)
    assert isinstance(document, dict) and document.get("groups"), "prometheus-alerts.yml has no groups"
    names = []
    for group in document["groups"]:
        assert group.get("name") and group.get("rules"), f"group without name or rules: {group}"
        for rule in group["rules"]:
            assert set(rule) <= {"alert", "expr", "for", "keep_firing_for", "labels", "annotations"}, rule
            assert rule.get("alert") and rule.get("expr"), rule
            assert rule.get("labels", {}).get("severity") in ("critical", "warning", "info"), rule["alert"]
            annotations = rule.get("annotations", {})
            assert annotations.get("summary") and annotations.get("description"), (
                f"{rule['alert']} lacks a summary or description annotation")
            names.append(rule["alert"])
    assert len(names) == len(set(names)), f"duplicate alert names: {names}"
    rules = {rule["alert"]: rule for rule in alert_rules()}
    expressions = " ".join(rule["expr"] for rule in rules.values())
    # What the brief asked for is there.
    assert 'up{job="tokengate"} == 0' in expressions
    for metric in ("tokengate_refresh_reuse_detections_total", "tokengate_throttled_total",
                   "tokengate_login_attempts_total", "tokengate_workers_busy", "tokengate_workers",
                   "tokengate_hashing_queued", "tokengate_request_duration_seconds_bucket"):
        assert metric in expressions, f"no alert on {metric}"
    assert re.search(r'histogram_quantile\(0\.99,.*route="/verify"', expressions, flags=re.DOTALL)
    assert re.search(r'tokengate_requests_total\{route="/verify",status=~"5\.\."\}', expressions)


def test_dashboard_loads_and_every_panel_queries_prometheus():
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard.get("schemaVersion", 0) >= 36, dashboard.get("schemaVersion")
    assert dashboard.get("title") and dashboard.get("uid")
    inputs = {item["name"]: item for item in dashboard.get("__inputs", [])}
    assert inputs.get("DS_PROMETHEUS", {}).get("pluginId") == "prometheus", dashboard.get("__inputs")
    panels = [panel for panel in dashboard_panels() if panel.get("type") != "row"]
    assert len(panels) >= 9, f"only {len(panels)} panels"
    ids = [panel["id"] for panel in dashboard_panels()]
    assert len(ids) == len(set(ids)), f"duplicate panel ids: {ids}"
    for panel in panels:
        assert panel.get("title") and panel.get("gridPos"), panel
        assert panel.get("datasource", {}).get("uid") == "${DS_PROMETHEUS}", panel["title"]
        targets = panel.get("targets")
        assert targets, f"panel {panel['title']!r} has no targets"
        for target in targets:
            assert target.get("expr") and target.get("refId"), (panel["title"], target)
            assert target.get("datasource", {}).get("uid") == "${DS_PROMETHEUS}", (panel["title"], target)
    queries = " ".join(dashboard_queries())
    for metric in ("tokengate_requests_total", "tokengate_request_duration_seconds_bucket",
                   "tokengate_login_attempts_total", "tokengate_refresh_total",
                   "tokengate_refresh_reuse_detections_total", "tokengate_throttled_total",
                   "tokengate_workers_busy", "tokengate_workers", "tokengate_hashing_queued",
                   "tokengate_revoked_sessions"):
        assert re.search(rf"\b{metric}\b", queries), f"no dashboard panel shows {metric}"


def test_scrape_config_matches_the_rules_and_the_metrics_listener():
    config = load_yaml(SCRAPE)
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert "tokengate" in jobs, "the rules match job=\"tokengate\""
    job = jobs["tokengate"]
    assert job.get("metrics_path") == "/auth/metrics"
    listen = re.search(r"^\s*listen\s+([0-9.]+:\d+);", NGINX_METRICS.read_text(), flags=re.MULTILINE)
    assert listen, "nginx-metrics.conf has no `listen ADDRESS:PORT;`"
    targets = [target for static in job["static_configs"] for target in static["targets"]]
    assert targets == [listen.group(1)], (targets, listen.group(1))
    for rule_file in config.get("rule_files", []):
        assert (SCRAPE.parent / rule_file).exists(), rule_file


# --- promtool (optional) -----------------------------------------------------------------------

def promtool(*args: str, cwd: Path = MONITORING) -> subprocess.CompletedProcess:
    found = shutil.which("promtool")
    if not found:
        pytest.skip("promtool is not installed (Debian: apt-get install prometheus)")
    return subprocess.run([found, *args], cwd=cwd, capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)


def test_promtool_checks_and_unit_tests_the_rules():
    for args in (("check", "rules", ALERTS.name), ("test", "rules", ALERT_TESTS.name),
                 ("check", "config", SCRAPE.name)):
        result = promtool(*args)
        assert result.returncode == 0, f"promtool {' '.join(args)}:\n{result.stdout}{result.stderr}"


def test_promtool_parses_every_dashboard_query(tmp_path):
    queries = [grafana_to_promql(expr) for expr in dashboard_queries()]
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:query_{index}", "expr": expr} for index, expr in enumerate(queries)]}]}
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(json.dumps(rules))  # JSON is YAML
    result = promtool("check", "rules", str(path), cwd=tmp_path)
    assert result.returncode == 0, f"a dashboard query is not valid PromQL:\n{result.stdout}{result.stderr}"


# --- every metric the artefacts name exists ----------------------------------------------------

def drive_every_counter(stack: Stack) -> None:
    """Traffic after which every counter the artefacts use has appeared in the exposition."""
    alice, alice_password = "alice", "alice-" + secrets.token_urlsafe(12)
    bob = "bob"
    stack.add_user(alice, alice_password)
    stack.add_user(bob, "bob-" + secrets.token_urlsafe(12))

    logged_in = login(stack, alice, alice_password)
    assert logged_in.status_code == 200, logged_in.text  # login success
    access = logged_in.json()["accessToken"]
    first_refresh = set_cookies(logged_in)[REFRESH_COOKIE].value

    statuses = [login(stack, bob, "wrong-" + secrets.token_urlsafe(8)).status_code for _ in range(3)]
    assert statuses == [401, 401, 429], statuses  # invalid_credentials twice, then locked out (limit 2)

    gated = gate(stack, "/app/", token=access)  # /verify 200, then the upstream
    assert gated.status_code == 200, gated.text
    assert client(stack).get(stack.url("/auth/healthz"), timeout=30).status_code == 200
    assert client(stack).get(stack.url("/auth/no-such-endpoint"), timeout=30).status_code == 404  # unmatched

    rotated = refresh(stack, first_refresh)
    assert rotated.status_code == 200, rotated.text  # rotated
    reused = refresh(stack, first_refresh)
    assert reused.status_code == 401 and reused.json().get("error") == "refresh_reused", reused.text

    # The gate now refuses the revoked session's token (and /verify has a 401 too).
    assert gate(stack, "/app/", token=access).status_code == 401


def test_every_metric_in_the_artefacts_is_exported(make_stack):
    stack = make_stack(env={"TOKENGATE_THROTTLE_USER_LIMIT": "2", "TOKENGATE_REFRESH_REUSE_GRACE": "0s"})
    drive_every_counter(stack)
    scrape(stack)  # so that route="/metrics" is counted by the next one
    exposition = scrape(stack)

    missing_types = sorted({name for name, _, _ in exposition.samples} - {
        name for name, _, _ in exposition.samples if exposition.family(name) in exposition.types})
    assert not missing_types, f"samples without a # TYPE line: {missing_types}"

    sources = {path.name: artefact_text(path) for path in artefact_files()}
    sources["docs/operations.md (Monitoring)"] = monitoring_section()
    problems = []
    for source, text in sources.items():
        for name in sorted(set(METRIC_NAME.findall(text))):
            if exposition.family(name) not in exposition.types:
                problems.append(f"{source}: {name} is not exported")
    assert not problems, "\n".join(problems) + "\n\nexported: " + ", ".join(sorted(exposition.families))

    # Label values the artefacts select on are values tokengate really uses.
    exported_values = {label: exposition.label_values(label) for label in CHECKED_LABELS}
    for source, text in sources.items():
        for label, operator, value in label_matchers(text):
            wanted = value.split("|") if operator in ("=~", "!~") else [value]
            for literal in wanted:
                if re.fullmatch(r"[A-Za-z0-9_/.\-]+", literal) and literal not in exported_values[label]:
                    problems.append(f"{source}: {label}{operator}\"{value}\": no series has {label}=\"{literal}\"")
    assert not problems, "\n".join(problems) + f"\n\nexported: {exported_values}"

    # rate()/increase() only on counters and histogram series, never on gauges.
    for source, text in sources.items():
        for function, name in re.findall(r"\b(rate|irate|increase)\(\s*(tokengate_[a-z_]+)", text):
            family = exposition.family(name)
            kind = exposition.types.get(family)
            if kind not in ("counter", "histogram") or (kind == "histogram" and name == family):
                problems.append(f"{source}: {function}({name}) on a {kind}")
    assert not problems, "\n".join(problems)

    # The traffic above is what these series say.
    def value(name: str, **labels: str) -> float:
        return sum(v for n, ls, v in exposition.samples if n == name and all(ls.get(k) == x for k, x in labels.items()))

    assert value("tokengate_refresh_reuse_detections_total") == 1
    assert value("tokengate_throttled_total") == 1
    assert value("tokengate_login_attempts_total", outcome="invalid_credentials") == 2
    assert value("tokengate_refresh_total", outcome="rotated") == 1
    assert value("tokengate_requests_total", route="/verify", status="204") == 1  # 204: allowed
    assert value("tokengate_request_duration_seconds_count", route="/verify") == 2
    assert value("tokengate_workers") >= 1
    assert value("tokengate_revoked_sessions") >= 1


# --- the loopback metrics listener (nginx-metrics.conf) ----------------------------------------

def raw_http(port: int, request: bytes, source: str = "127.0.0.1") -> tuple[int, bytes]:
    """One plain HTTP/1.0 request to 127.0.0.1:PORT from the loopback address SOURCE."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.bind((source, 0))
        sock.connect(("127.0.0.1", port))
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    status = int(data.split(b" ", 2)[1])
    return status, data.partition(b"\r\n\r\n")[2]


def test_metrics_listener_serves_only_the_exposition_only_to_loopback(stack):
    listen_line = re.search(r"^(\s*listen\s+)127\.0\.0\.1:\d+;", NGINX_METRICS.read_text(), flags=re.MULTILINE)
    assert listen_line, "nginx-metrics.conf should listen on 127.0.0.1"
    port = free_port()
    snippet = stack.root / "tokengate-metrics.conf"
    snippet.write_text(NGINX_METRICS.read_text().replace(listen_line.group(0), f"{listen_line.group(1)}127.0.0.1:{port};"))
    config = stack.root / "metrics-nginx.conf"
    temp_paths = "".join(f"    {name}_temp_path {stack.root / directory};\n" for name, directory in (
        ("client_body", "client_body"), ("proxy", "proxy"), ("fastcgi", "fastcgi"), ("uwsgi", "uwsgi"),
        ("scgi", "scgi")))
    config.write_text(
        "daemon off;\nmaster_process off;\nworker_processes 1;\n"
        f"pid {stack.root / 'metrics-nginx.pid'};\nerror_log {stack.root / 'metrics-nginx-error.log'} warn;\n"
        "events { worker_connections 64; }\n"
        "http {\n"
        f"    access_log {stack.root / 'metrics-nginx-access.log'};\n{temp_paths}"
        # What tokengate-upstream.conf defines on a server, with the stack's socket.
        f"    upstream tokengate {{ server unix:{stack.socket_path}; keepalive 2; }}\n"
        f"    include {snippet};\n"
        "}\n")
    check = subprocess.run([str(stack.nginx), "-t", "-p", f"{stack.root}/", "-c", str(config)],
                           capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert check.returncode == 0, f"nginx -t with nginx-metrics.conf:\n{check.stderr}"
    with open(stack.root / "metrics-nginx.stderr", "ab") as errors:
        process = subprocess.Popen([str(stack.nginx), "-p", f"{stack.root}/", "-c", str(config)],
                                   stdin=subprocess.DEVNULL, stdout=errors, stderr=errors, cwd=stack.root)
    try:
        def listening() -> bool:
            assert process.poll() is None, (stack.root / "metrics-nginx.stderr").read_text()
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return True
            except OSError:
                return False

        wait_for(listening, 15, message=f"the metrics listener on 127.0.0.1:{port}")
        http = requests.Session()
        http.trust_env = False  # no proxy from the environment for a loopback address
        try:
            response = http.get(f"http://127.0.0.1:{port}/auth/metrics", timeout=30)
        finally:
            http.close()
        assert response.status_code == 200, response.text[:300]
        assert response.headers["Content-Type"].startswith("text/plain")
        assert "tokengate_workers" in Exposition(response.text).families

        for path in ("/auth/login", "/auth/healthz", "/auth/.well-known/jwks.json", "/", "/metrics"):
            status, _ = raw_http(port, f"GET {path} HTTP/1.0\r\nHost: x\r\n\r\n".encode())
            assert status == 404, f"the metrics listener answers {status} on {path}"
        status, _ = raw_http(port, b"POST /auth/metrics HTTP/1.0\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        assert status == 403, f"POST /auth/metrics: {status}"
        try:
            status, _ = raw_http(port, b"GET /auth/metrics HTTP/1.0\r\nHost: x\r\n\r\n", source="127.0.0.2")
        except OSError as error:
            pytest.skip(f"cannot connect from 127.0.0.2: {error}")
        assert status == 403, f"/auth/metrics from 127.0.0.2 answered {status}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


# --- secrets never reach logs or the database --------------------------------------------------

class Secrets:
    """Every secret a flow used or received, and the responses it came in."""

    def __init__(self):
        self.passwords: set[str] = set()
        self.tokens: set[str] = set()  # access and refresh tokens, cookie values

    def password(self, prefix: str, special: bool = False) -> str:
        value = f"{prefix}-{secrets.token_urlsafe(12)}"
        if special:
            value += ' "q" \\ & = % + ü;'  # quoting, form encoding and UTF-8 must not hide it
        self.passwords.add(value)
        return value

    def collect(self, response: requests.Response) -> requests.Response:
        for header in set_cookie_headers(response):
            value = header.split(";", 1)[0].partition("=")[2].strip()
            if value:
                self.tokens.add(value)
        if response.headers.get("Content-Type", "").startswith("application/json"):
            try:
                body = response.json()
            except ValueError:
                body = None
            if isinstance(body, dict):
                for key in ("accessToken", "refreshToken", "access_token", "refresh_token"):
                    if isinstance(body.get(key), str) and body[key]:
                        self.tokens.add(body[key])
        return response

    def refresh_tokens(self) -> set[str]:
        return {token for token in self.tokens if "." not in token}

    def needles(self) -> dict[str, bytes]:
        """description → bytes that must appear nowhere (with the encodings a log might use)."""
        found: dict[str, bytes] = {}
        for password in self.passwords:
            variants = {
                password,
                json.dumps(password)[1:-1],
                json.dumps(password, ensure_ascii=False)[1:-1],
                password.replace("\\", "\\\\").replace('"', '\\"'),
                urllib.parse.quote(password, safe=""),
                urllib.parse.quote_plus(password),
            }
            for index, variant in enumerate(sorted(variants)):
                found[f"password {password[:8]}… (form {index})"] = variant.encode()
        for token in self.tokens:
            found[f"token {token[:10]}…"] = token.encode()
            parts = token.split(".")
            if len(parts) == 3 and parts[2]:
                found[f"signature of token {token[:10]}…"] = parts[2].encode()
            elif len(parts) == 1 and len(token) >= 40:
                raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
                found[f"raw bytes of refresh token {token[:10]}…"] = raw
                found[f"hex of refresh token {token[:10]}…"] = raw.hex().encode()
        return found


def leaks(where: str, data: bytes, needles: dict[str, bytes]) -> list[str]:
    return [f"{what} in {where}" for what, needle in needles.items() if needle in data]


def test_secrets_never_reach_logs_cli_output_or_the_database(make_stack):
    stack = make_stack(env={"TOKENGATE_THROTTLE_USER_LIMIT": "2", "TOKENGATE_REFRESH_REUSE_GRACE": "0s"})
    found = Secrets()
    cli_outputs: list[str] = []
    origin = f"https://127.0.0.1:{stack.port}"

    def cli(*args: str, input: str | None = None) -> subprocess.CompletedProcess:
        result = stack.cli(*args, input=input)
        cli_outputs.append(f"$ tokengate {' '.join(args)}\n{result.stdout}{result.stderr}")
        assert result.returncode == 0, f"tokengate {' '.join(args)}: {result.returncode} {result.stderr}{result.stdout}"
        return result

    # Users from the CLI, passwords on standard input.
    alice_password = found.password("alice", special=True)
    bob_password = found.password("bob")
    cli("user", "add", "alice", "--name", "Alice", "--role", "user", "--password-stdin", input=alice_password + "\n")
    cli("user", "add", "bob", "--role", "user", "--role", "admin", "--password-stdin", input=bob_password + "\n")
    cli("user", "add", "dave", "--password-stdin", input=found.password("dave") + "\n")

    # JSON login, and a form login that returns cookies on a 303.
    alice = found.collect(login(stack, "alice", alice_password, headers={"Origin": origin}))
    assert alice.status_code == 200, alice.text
    alice_access = alice.json()["accessToken"]
    alice_refresh = set_cookies(alice)[REFRESH_COOKIE].value
    bob = found.collect(post_login(stack, data={"username": "bob", "password": bob_password, "rd": "/app/"},
                                   allow_redirects=False))
    assert bob.status_code == 303 and bob.headers["Location"] == "/app/", bob.text
    bob_cookies = set_cookies(bob)
    bob_access, bob_refresh = bob_cookies[ACCESS_COOKIE].value, bob_cookies[REFRESH_COOKIE].value

    # Wrong passwords: JSON, form, an unknown user, a malformed body, and a lockout.
    assert login(stack, "alice", found.password("wrong-json", special=True)).status_code == 401
    wrong_form = post_login(stack, data={"username": "bob", "password": found.password("wrong-form", special=True),
                                         "rd": "/app/"}, allow_redirects=False)
    assert wrong_form.status_code == 303 and "error=invalid_credentials" in wrong_form.headers["Location"]
    assert login(stack, "nobody", found.password("wrong-unknown")).status_code == 401
    broken = post_login(stack, data=f'{{"username":"alice","password":"{found.password("broken-json")}"',
                        headers={"Content-Type": "application/json"})
    assert broken.status_code == 400, broken.text
    throttled = [login(stack, "dave", found.password("wrong-dave")).status_code for _ in range(3)]
    assert throttled == [401, 401, 429], throttled

    # The access token as Bearer (/auth/me, a gated location) and as the access cookie.
    me = client(stack).get(stack.url("/auth/me"), headers={"Authorization": f"Bearer {alice_access}"}, timeout=30)
    assert me.status_code == 200 and me.json()["username"] == "alice", me.text
    for response in (gate(stack, "/app/", token=alice_access),
                     gate(stack, "/app/", cookie=cookie_header(access=bob_access, refresh=bob_refresh))):
        assert response.status_code == 200, response.text
        # The upstream never sees a token either.
        assert not leaks("the gated upstream's view of the request", response.content, found.needles())

    # Refresh (cookie), then the spent token again: reuse detection revokes alice's session.
    rotated = found.collect(refresh(stack, alice_refresh, headers={"Origin": origin}))
    assert rotated.status_code == 200, rotated.text
    reused = found.collect(refresh(stack, alice_refresh))
    assert reused.status_code == 401 and reused.json()["error"] == "refresh_reused", reused.text

    # A new session for alice, ended by logout (refresh cookie); bob's ended by logout?scope=all (Bearer).
    again = found.collect(login(stack, "alice", alice_password))
    assert again.status_code == 200, again.text
    logout = found.collect(client(stack).post(
        stack.url("/auth/logout"), headers={"Cookie": cookie_header(refresh=set_cookies(again)[REFRESH_COOKIE].value)},
        timeout=30))
    assert logout.status_code == 204, logout.text
    logout_all = found.collect(client(stack).post(
        stack.url("/auth/logout?scope=all"), headers={"Authorization": f"Bearer {bob_access}"}, timeout=30))
    assert logout_all.status_code == 204, logout_all.text

    # A new password from the CLI; the new one works, and a page navigation refreshes.
    alice_new_password = found.password("alice-new", special=True)
    cli("user", "passwd", "alice", "--password-stdin", input=alice_new_password + "\n")
    fresh = found.collect(login(stack, "alice", alice_new_password))
    assert fresh.status_code == 200, fresh.text
    navigation = found.collect(client(stack).get(
        stack.url("/auth/refresh?rd=/app/"), timeout=30, allow_redirects=False,
        headers={"Cookie": cookie_header(refresh=set_cookies(fresh)[REFRESH_COOKIE].value)}))
    assert navigation.status_code == 303 and navigation.headers["Location"] == "/app/", navigation.text
    assert set(set_cookies(navigation)) == {ACCESS_COOKIE, REFRESH_COOKIE}
    cli("user", "list")
    cli("session", "list", "--all")

    assert len(found.passwords) >= 9 and len(found.tokens) >= 8, (found.passwords, found.tokens)
    needles = found.needles()

    # The data directory while tokengate runs (recent pages are in the WAL), then after its stop.
    def data_files() -> dict[str, bytes]:
        return {str(path.relative_to(stack.root)): path.read_bytes()
                for path in sorted(stack.data_dir.rglob("*")) if path.is_file()}

    problems: list[str] = []
    running_files = data_files()
    assert "data/tokengate.sqlite" in running_files, sorted(running_files)
    for name, data in running_files.items():
        problems += leaks(f"{name} (tokengate running)", data, needles)
    assert stack.stop_tokengate() == 0, stack.log_tail()
    stopped_files = data_files()
    for name, data in stopped_files.items():
        problems += leaks(f"{name} (tokengate stopped)", data, needles)

    # Sanity: the bytes read are the store (refresh tokens as SHA-256 hex, Argon2id hashes).
    store = b"".join(running_files.values()) + b"".join(stopped_files.values())
    assert hashlib.sha256(alice_refresh.encode()).hexdigest().encode() in store, "no refresh-token hash in the store"
    assert b"$argon2id$" in store, "no Argon2id hash in the store"

    # Every log of the stack: tokengate's, nginx's access and error logs, the demo upstream's.
    log = stack.log_text()
    for marker in ("msg=request", "request.route=/login", "request.route=/verify", "request.route=/refresh",
                   "request.route=/logout", "audit.kind=refresh.reused", "audit.kind=login.failed"):
        assert marker in log, f"tokengate's log has no {marker!r}: is this the right log?"
    logs = sorted(path for path in stack.root.iterdir()
                  if path.is_file() and (path.suffix == ".log" or path.name.endswith(".stderr")))
    assert {"tokengate.log", "nginx-access.log", "nginx-error.log"} <= {path.name for path in logs}, logs
    assert "POST /auth/login" in (stack.root / "nginx-access.log").read_text()
    for path in logs:
        problems += leaks(path.name, path.read_bytes(), needles)
    for output in cli_outputs:
        problems += leaks(f"the output of `{output.splitlines()[0][2:]}`", output.encode(), needles)

    assert not problems, "secrets leaked:\n" + "\n".join(sorted(set(problems)))
